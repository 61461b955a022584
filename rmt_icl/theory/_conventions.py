"""The calling convention shared by the theory modules: checked sizes, broadcasting, outputs.

Public theory functions take the arguments that define the model positionally and the ratios or
sizes as keyword-only arguments (a ratio function may take ``d`` after its ratios, only to give
a finite-d option such as a numeric y^2-column scale its meaning); they work on flat float64
arrays and return a numpy float for scalar input and an array of the broadcast shape otherwise.
"""

from __future__ import annotations

import numpy as np

from rmt_icl.core.checks import check_int, check_nonnegative


def check_sizes(n, d, noise_var) -> tuple[int, int, float]:
    """``(n, d, sigma^2)`` checked: integers ``n, d >= 1`` and a float ``noise_var >= 0``."""
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=1)
    return n, d, float(check_nonnegative("noise_var", noise_var))


def broadcast_flat(*arrays):
    """``(shape, [flat float64 arrays])`` of the arguments broadcast against each other."""
    arrays = np.broadcast_arrays(*arrays)
    shape = arrays[0].shape
    return shape, [np.ascontiguousarray(a, dtype=np.float64).ravel() for a in arrays]


def shape_out(values, shape):
    """``values`` reshaped to ``shape``; a numpy float (not a 0-d array) when ``shape == ()``."""
    out = np.reshape(values, shape)
    return out[()] if out.ndim == 0 else out


def scalar_or_array(values):
    """A numpy float for 0-d input, else the array itself (for results computed by broadcasting)."""
    out = np.asarray(values)
    return out[()] if out.ndim == 0 else out
