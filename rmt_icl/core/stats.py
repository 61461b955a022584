"""Monte Carlo statistics shared by every simulator and study: the one definition of mean ± SE.

* :func:`mean_se` -- mean and standard error ``std(x, ddof=1)/sqrt(R)`` over ``R`` runs (or
  along an axis), NaN where fewer than two finite values exist;
* :func:`paired_mean_se` -- the same for the run-by-run difference ``a - b`` of two models
  simulated on common random numbers (the paired SE, usually far below the two SEs combined);
* :func:`student_t_threshold` -- the Student-t quantile, in SE units, that matches a normal
  ``z`` when the SE itself is estimated from ``R`` runs;
* :func:`grouped_mean_se` -- :func:`mean_se` for each column of a grouped table (pandas);
* :func:`simultaneous_t_quantile` -- the two-sided Student-t quantile with a Bonferroni
  correction over ``m`` comparisons, for "every point within its bound" statements;
* :func:`pooled_relative_se` -- the runs' relative scatter pooled over the points of a figure,
  with its degrees of freedom, for points that each have only a few runs.

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


def simultaneous_t_quantile(dof, n_tests: int, level: float = 0.01) -> float:
    r"""Two-sided Student-t quantile with a Bonferroni correction over ``n_tests`` comparisons.

    .. math::

        q = F_t^{-1}\!\left(1 - \frac{\text{level}}{2 m};\ \nu\right),

    so that, when each of ``m`` estimates ``x_i`` has a normal error with a standard error
    estimated on ``nu`` degrees of freedom, ``P(max_i |x_i - mu_i| / se_i > q) <= level``.

    Parameters
    ----------
    dof : float
        Degrees of freedom ``nu > 0`` of the standard errors (``inf``: normal quantile).
    n_tests : int
        Number of simultaneous comparisons ``m >= 1``.
    level : float
        Family-wise probability of rejecting a true hypothesis, in (0, 1).

    Raises
    ------
    ValueError
        ``dof <= 0``, ``n_tests < 1`` or ``level`` outside (0, 1).
    """
    dof = float(dof)
    if not dof > 0:
        raise ValueError(f"dof must be > 0 (degrees of freedom of the SE), got {dof!r}")
    if int(n_tests) != n_tests or n_tests < 1:
        raise ValueError(f"n_tests must be an integer >= 1, got {n_tests!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1) (family-wise error rate), got {level!r}")
    p = 1.0 - level / (2.0 * int(n_tests))
    return float(_stats.norm.ppf(p) if math.isinf(dof) else _stats.t.ppf(p, dof))


def pooled_relative_se(mean, se, runs):
    r"""Standard errors from the runs' relative scatter pooled over points.

    A figure's points often have 2--4 runs each, too few for a per-point Student-t bound to
    mean much. When the relative run-to-run spread ``s_i / |mean_i|`` is about the same across
    the points (the same simulator at nearby parameters), it is pooled:

    .. math::

        \hat v = \frac{\sum_i (R_i - 1)\, R_i\, (se_i / mean_i)^2}{\sum_i (R_i - 1)},
        \qquad se^{pool}_i = \sqrt{\hat v / R_i}\, |mean_i|,

    with ``nu = sum_i (R_i - 1)`` degrees of freedom. Points with fewer than 2 runs, a zero
    mean or a non-finite SE do not enter the pool (their pooled SE is still returned).

    Parameters
    ----------
    mean, se, runs : array_like
        Per-point mean, standard error and number of runs.

    Returns
    -------
    se_pooled : ndarray
        The pooled standard error of each point (NaN if nothing could be pooled).
    dof : int
        Degrees of freedom ``nu`` of the pooled variance (0 if nothing could be pooled).
    """
    mean, se, runs = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                           for a in (mean, se, runs)))
    ok = np.isfinite(mean) & (mean != 0) & np.isfinite(se) & (runs >= 2)
    dof = int(np.sum(runs[ok] - 1))
    if dof == 0:
        return np.full(mean.shape, np.nan), 0
    v = float(np.sum((runs[ok] - 1) * runs[ok] * (se[ok] / mean[ok]) ** 2) / dof)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(v / runs) * np.abs(mean), dof
