"""Project exceptions.

Bad *input* raises :class:`ValueError` (or a subclass defined here) whose message names the
parameter and its allowed range. Failures of a numerical method raise :class:`ConvergenceError`
with the residual, never a silent NaN.
"""

from __future__ import annotations


class RmtIclError(Exception):
    """Base class of every exception raised on purpose by rmt_icl."""


class ConvergenceError(RmtIclError, RuntimeError):
    """A fixed-point or root solve did not converge.

    Attributes
    ----------
    residual : float or ndarray
        The residual of the equation at the last iterate (largest over a grid).
    where : object
        Description (or indices) of the offending points, if known.
    """

    def __init__(self, message: str, residual=None, where=None):
        super().__init__(message)
        self.residual = residual
        self.where = where


class MemoryBudgetError(RmtIclError, ValueError):
    """A requested simulation would need more memory than allowed; raised before allocating."""


class DeviceUnavailableError(RmtIclError, RuntimeError):
    """A simulation asked for a device (the GPU) that cannot be used here: CuPy is missing or
    no CUDA device is visible. The message says what to install or check; there is no silent
    fallback to the CPU."""


class TrainingDivergedError(RmtIclError, FloatingPointError):
    """An iterative training loop produced a non-finite loss."""


class StoreError(RmtIclError):
    """A results store is corrupt, truncated, or belongs to a different sweep spec."""
