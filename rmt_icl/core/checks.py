"""Input validation shared by the whole package.

Every check raises :class:`ValueError` whose message names the parameter and the allowed range,
so that a user sees *which* argument is wrong and what would be accepted. The checks accept
scalars or arrays and return float64 arrays (or Python scalars for the ``int`` checks).
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def as_float_array(name: str, value, *, allow_inf: bool = False) -> np.ndarray:
    """Convert to a float64 array; reject NaN (always) and +-inf (unless ``allow_inf``)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be a real number or an array of real numbers, got {value!r}"
        ) from exc
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not be NaN")
    if not allow_inf and np.isinf(arr).any():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def check_positive(name: str, value, *, allow_inf: bool = False) -> np.ndarray:
    """``value > 0`` elementwise (``+inf`` allowed only with ``allow_inf``)."""
    arr = as_float_array(name, value, allow_inf=allow_inf)
    if np.any(arr <= 0):
        rng = "(0, inf]" if allow_inf else "(0, inf)"
        raise ValueError(f"{name} must lie in {rng}, got {_show(value)}")
    return arr


def check_nonnegative(name: str, value, *, allow_inf: bool = False) -> np.ndarray:
    """``value >= 0`` elementwise."""
    arr = as_float_array(name, value, allow_inf=allow_inf)
    if np.any(arr < 0):
        rng = "[0, inf]" if allow_inf else "[0, inf)"
        raise ValueError(f"{name} must lie in {rng}, got {_show(value)}")
    return arr


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer (bools rejected) within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    lo = "-inf" if minimum is None else str(minimum)
    hi = "inf" if maximum is None else str(maximum)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value}")
    return value


def check_probability(name: str, value) -> np.ndarray:
    """``0 <= value <= 1`` elementwise."""
    arr = as_float_array(name, value)
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"{name} must lie in [0, 1], got {_show(value)}")
    return arr


def _show(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        v = float(arr)
        return repr(v) if math.isfinite(v) else str(v)
    bad = arr.ravel()[:5]
    return f"array with entries such as {bad.tolist()}"
