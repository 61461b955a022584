"""Monte Carlo statistics shared by every simulator and study: the one definition of mean ± SE.

* :func:`mean_se` -- mean and standard error ``std(x, ddof=1)/sqrt(R)`` over ``R`` runs (or
  along an axis), NaN where fewer than two finite values exist;
* :func:`paired_mean_se` -- the same for the run-by-run difference ``a - b`` of two models
  simulated on common random numbers (the paired SE, usually far below the two SEs combined);
* :func:`student_t_threshold` -- the Student-t quantile, in SE units, that matches a normal
  ``z`` when the SE itself is estimated from ``R`` runs;
* :func:`grouped_mean_se` -- :func:`mean_se` for each column of a grouped table (pandas).

Every other module calls these; a test checks that ``std(ddof=1)`` is written nowhere else.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as _stats

from rmt_icl.core.checks import check_positive


def mean_se(values, axis=None):
    """Mean and standard error of the finite values.

    Parameters
    ----------
    values : array_like
        Per-run values. Non-finite entries are ignored (a failed run).
    axis : int, optional
        Reduce along this axis (NaN-aware); default: all values, returning floats.

    Returns
    -------
    mean, se : float or ndarray
        ``mean`` of the finite values (NaN if none) and ``se = std(ddof=1)/sqrt(R)`` with ``R``
        the number of finite values (NaN if ``R < 2``).
    """
    v = np.asarray(values, dtype=np.float64)
    if axis is None:
        v = v[np.isfinite(v)]
        if v.size == 0:
            return math.nan, math.nan
        se = float(np.std(v, ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
        return float(np.mean(v)), se
    v = np.where(np.isfinite(v), v, np.nan)
    count = np.sum(np.isfinite(v), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(v, axis=axis)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        dev = v - np.expand_dims(mean, axis)
        ss = np.nansum(dev * dev, axis=axis)
        se = np.where(count > 1, np.sqrt(ss / np.maximum(count - 1, 1) / np.maximum(count, 1)),
                      np.nan)
    return mean, se


def paired_mean_se(a, b, axis=None):
    """Mean and paired standard error of ``a - b`` (runs on common random numbers).

    Runs where either value is not finite are dropped from both.
    """
    return mean_se(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), axis)


def student_t_threshold(runs, z: float = 2.0):
    """Threshold ``c`` in SE units equivalent to a normal ``z`` with an SE from ``R`` runs.

    ``c = F_t^{-1}(Phi(z); R - 1)``: the Student-t quantile with ``R - 1`` degrees of freedom
    at the one-sided level of ``z``. ``c -> z`` as ``R -> inf``; for ``z = 2`` it is 4.53,
    3.31, 2.65, 2.43, 2.32, 2.18 at ``R`` = 3, 4, 6, 8, 10, 16. ``runs=None`` gives ``z``.

    Raises
    ------
    ValueError
        ``z <= 0`` or fewer than 2 runs.
    """
    z = float(check_positive("z", z))
    if runs is None:
        return np.asarray(z)
    r = np.asarray(runs, dtype=np.float64)
    if np.any(r < 2):
        raise ValueError(f"runs must be >= 2 (a standard error needs 2 runs), got {runs!r}")
    return _stats.t.ppf(_stats.norm.cdf(z), r - 1.0)


def grouped_mean_se(column, groups):
    """Per-group mean, standard error and count of a pandas Series (NaN ignored).

    Parameters
    ----------
    column : pandas.Series
        Values (coerced to float64).
    groups : list of pandas.Series
        Grouping keys, as for :meth:`pandas.Series.groupby` (``dropna=False, sort=False``).

    Returns
    -------
    mean, se, count : pandas.Series
        Indexed by the groups; ``se = std(ddof=1)/sqrt(count)``.
    """
    grouped = column.astype(np.float64).groupby(groups, dropna=False, sort=False)
    count = grouped.count()
    return grouped.mean(), grouped.std(ddof=1) / np.sqrt(count), count
