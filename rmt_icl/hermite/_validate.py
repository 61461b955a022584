"""Input checks of the Hermite engine (messages name the parameter and its allowed range).

The lowest module of :mod:`rmt_icl.hermite`: it holds the degree limit :data:`MAX_DEGREE` that
every other module imports.
"""

from __future__ import annotations

import math

from rmt_icl.core.checks import check_int

#: largest degree accepted anywhere in the engine: 170! ≈ 7.3e306 is the last finite factorial
MAX_DEGREE = 170


def check_degree(degree, name: str = "degree") -> int:
    """An integer in ``[0, MAX_DEGREE]`` (170: ``k!`` overflows float64 beyond)."""
    try:
        return check_int(name, degree, minimum=0, maximum=MAX_DEGREE)
    except ValueError as exc:
        raise ValueError(
            f"{exc} (the safe range is [0, {MAX_DEGREE}]: {MAX_DEGREE + 1}! overflows float64)"
        ) from None


def check_variance(variance, name: str = "variance") -> float:
    """A finite float in ``(0, inf)``."""
    try:
        v = float(variance)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number in (0, inf), got {variance!r}") from None
    if not math.isfinite(v) or v <= 0.0:
        raise ValueError(f"{name} must be a finite number in (0, inf), got {variance!r}")
    return v
