r"""Verdicts: does a figure's simulation agree with its theory?

A figure that compares a deterministic equivalent with Monte Carlo lists its compared points
in a *comparison table* (:func:`comparison_table`), one row per plotted point and quantity:

========== ==============================================================================
column     meaning
========== ==============================================================================
quantity   what is compared, e.g. ``"e_ICL alpha=1 tau=0.5"``
d          the simulation's dimension
runs       independent runs behind ``mean`` and ``se``
mean, se   the simulation's mean and standard error over runs
theory     the theory at the point (at the realised ratios where the figure can)
covered    whether the theory covers the point (``False``: e.g. a target with ``a_1 = 0``)
excluded   the reason the point is excluded from the verdict by a stated rule, else ``""``
group      optional: the plotted curve the point belongs to; the relative scatter of the
           runs is pooled within each group (default: one group)
========== ==============================================================================

:func:`judge` turns the table into a :class:`Verdict`:

``agree``
    every judged point satisfies

    .. math::

        |\bar e_i - e^{th}_i| \le q\, se_i + \frac{c}{d_i^{\,r}}\, |e^{th}_i|,

    where ``q`` is the two-sided Student-t quantile with a Bonferroni correction over the
    ``m`` judged points at family-wise level :data:`LEVEL`
    (:func:`rmt_icl.core.stats.simultaneous_t_quantile`) and ``se_i`` is the larger of the
    point's own SE and the SE from the relative run-to-run scatter pooled over the judged
    points of its group -- its plotted curve, along which the scatter varies little
    (:func:`rmt_icl.core.stats.pooled_relative_se`; ``q`` uses the group's pooled degrees of
    freedom). The second term is the *finite-size allowance*: a relative
    correction ``c / d^r`` (``r = 1`` by default) whose constant is measured by
    :func:`calibrate` -- an upper estimate of the largest finite-size constant among the
    points of each plotted curve (``c_g``; the figure's ``c`` is the largest), fitted to
    independent runs at two or more ``d`` -- and committed with its provenance
    (:class:`Allowance`); it is never chosen to make a verdict pass.
``disagree``
    some judged point lies outside its bound; :attr:`Verdict.worst` lists the worst points.
``not covered``
    the figure compares points, but the theory covers none of them.
``no theory``
    the figure has no theory to compare with (e.g. a study between two simulated models).

Excluded points (:func:`near_threshold`: the point lies within :data:`THRESHOLD_WINDOW`, in
relative distance, of an interpolation threshold with a ridge at most :data:`NEAR_RIDGELESS`,
where the finite-``d`` peak sits ``O(1/d)`` away from the ``d = infinity`` one and the error
is not within any ``c/d`` of the limit) and points the theory does not cover are counted and
reported, never dropped silently; the figures mark them.

:attr:`Verdict.resolution` is the smallest relative error of the theory that the verdict
would detect at one of its points, ``min_i bound_i / |e^th_i|``: a figure whose resolution
is 3 % fails a theory that is 5 % off.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from rmt_icl.core.stats import pooled_relative_se, simultaneous_t_quantile

#: family-wise level of a figure's verdict (probability of "disagree" for a correct theory
#: with no finite-size effect)
LEVEL = 0.01
#: relative distance ``|x / x_c - 1|`` to an interpolation threshold ``x_c`` below which a point
#: with a ridge at most :data:`NEAR_RIDGELESS` is excluded from the verdict
THRESHOLD_WINDOW = 0.2
#: ridges at or below this count as near-ridgeless for :func:`near_threshold`
NEAR_RIDGELESS = 1e-3
#: the columns of a comparison table
COLUMNS = ("quantity", "d", "runs", "mean", "se", "theory", "covered", "excluded")
#: verdict statuses
STATUSES = ("agree", "disagree", "not covered", "no theory", "theory only")
_WORST = 5


@dataclass(frozen=True)
class Allowance:
    """A figure's finite-size allowance ``c / d**rate`` (relative to the theory).

    Attributes
    ----------
    c : float
        The measured constant ``c >= 0`` of the figure (:func:`calibrate`): the largest over
        its curves, used for a curve without its own constant.
    rate : float
        The exponent ``r`` of ``d`` (1: an ``O(1/d)`` correction).
    by_group : dict
        The measured constant of each plotted curve (the comparison table's ``group``), each
        at most ``c``; empty: ``c`` everywhere.
    provenance : dict
        How ``c`` was measured: sizes, runs, seed, commit, command, and the per-size values.
    """

    c: float
    rate: float = 1.0
    by_group: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        values = [self.c, *self.by_group.values()]
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ValueError(f"c (and every by_group value) must be a finite number >= 0, got "
                             f"c={self.c!r}, by_group={self.by_group!r}")
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"rate must be a finite number > 0, got {self.rate!r}")

    def at(self, d, group=None) -> np.ndarray:
        """The relative allowance ``c_g / d**rate`` at dimension(s) ``d`` for curve(s)
        ``group`` (``c`` where a curve has no constant of its own, or ``group`` is None)."""
        d = np.asarray(d, dtype=np.float64)
        if group is None or not self.by_group:
            c = self.c
        else:
            c = np.array([self.by_group.get(str(g), self.c)
                          for g in np.broadcast_to(np.asarray(group, dtype=object), d.shape)
                          .ravel()], dtype=np.float64).reshape(d.shape)
        return c / d ** self.rate

    @classmethod
    def from_dict(cls, data: Mapping) -> Allowance:
        """Read an allowance written by :meth:`to_dict` (e.g. from ``ALLOWANCES.json``)."""
        try:
            return cls(c=float(data["c"]), rate=float(data.get("rate", 1.0)),
                       by_group={str(k): float(v)
                                 for k, v in dict(data.get("by_group", {})).items()},
                       provenance=dict(data.get("provenance", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"an allowance needs a number 'c' >= 0 and optionally 'rate' > 0, "
                             f"'by_group' and 'provenance'; got {dict(data)!r} ({exc})") from exc

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """The verdict of one figure (:func:`judge`).

    Attributes
    ----------
    status : {"agree", "disagree", "not covered", "no theory", "theory only"}
    n_points, n_judged, n_excluded, n_not_covered : int
        Points in the table; judged; excluded by a stated rule; not covered by the theory.
    quantile : float
        The largest Bonferroni Student-t quantile ``q`` over the groups (NaN if nothing was
        judged).
    dof : int
        Degrees of freedom of the pooled SEs, summed over the groups.
    c, rate : float
        The finite-size allowance used (``c = 0`` without one).
    resolution : float
        The smallest relative theory error the verdict detects, ``min_i bound_i/|e^th_i|``.
    worst_ratio : float
        ``max_i |gap_i| / bound_i`` (``<= 1`` iff "agree").
    worst : list of dict
        Up to five judged points with the largest ``|gap| / bound``.
    exclusions : list of str
        The distinct exclusion reasons, with their counts.
    """

    status: str
    n_points: int = 0
    n_judged: int = 0
    n_excluded: int = 0
    n_not_covered: int = 0
    quantile: float = math.nan
    dof: int = 0
    c: float = 0.0
    rate: float = 1.0
    resolution: float = math.nan
    worst_ratio: float = math.nan
    worst: list = field(default_factory=list)
    exclusions: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the verdict is anything but "disagree"."""
        return self.status != "disagree"

    def summary(self) -> str:
        """One line for a report, e.g. ``"agree: 30 judged (worst 0.61 of bound), ..."``."""
        if self.status in ("no theory", "theory only"):
            return self.status
        parts = [f"{self.n_judged} judged"]
        if self.n_judged:
            parts[0] += f" (worst {self.worst_ratio:.2f} of bound)"
        if self.n_excluded:
            parts.append(f"{self.n_excluded} excluded")
        if self.n_not_covered:
            parts.append(f"{self.n_not_covered} not covered")
        text = f"{self.status}: " + ", ".join(parts)
        if self.status == "disagree":
            text += "; worst: " + "; ".join(
                f"{w['quantity']} (d={w['d']}): sim {w['mean']:.4g} vs theory "
                f"{w['theory']:.4g}, {w['ratio']:.2f} x bound" for w in self.worst[:3])
        return text

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def comparison_table(quantity, d, runs, mean, se, theory, *, covered=True,
                     excluded="", group="") -> pd.DataFrame:
    """Build a comparison table (module docstring) from equal-length columns or scalars.

    Parameters
    ----------
    quantity : sequence of str or str
        What each row compares.
    d, runs : array_like of int
        Dimension and number of runs of each row.
    mean, se, theory : array_like
        Simulated mean, its standard error, and the theory.
    covered : array_like of bool
        Whether the theory covers the row (default all).
    excluded : sequence of str or str
        Exclusion reason per row, ``""`` if included (default all included).
    group : sequence of str or str
        The curve of each row, within which the runs' relative scatter is pooled (default one
        group).

    Returns
    -------
    pandas.DataFrame
        The columns :data:`COLUMNS`.
    """
    n = max(len(np.atleast_1d(np.asarray(v, dtype=object)))
            for v in (quantity, d, runs, mean, se, theory, covered, excluded, group))

    def col(v, dtype=None):
        a = np.asarray(v, dtype=dtype if dtype is not None else object)
        if a.ndim == 0:
            a = np.full(n, a.item(), dtype=a.dtype)
        if a.shape != (n,):
            raise ValueError(f"comparison columns must have length {n} or be scalars, "
                             f"got shape {a.shape}")
        return a

    table = pd.DataFrame({
        "quantity": col(quantity).astype(str), "d": col(d, np.int64),
        "runs": col(runs, np.int64), "mean": col(mean, np.float64), "se": col(se, np.float64),
        "theory": col(theory, np.float64), "covered": col(covered, bool),
        "excluded": col(excluded).astype(str), "group": col(group).astype(str)})
    return table


def near_threshold(x, threshold, ridge, *, window: float = THRESHOLD_WINDOW,
                   max_ridge: float = NEAR_RIDGELESS) -> np.ndarray:
    """Whether points lie within ``window`` of an interpolation threshold at a tiny ridge.

    A point is near the threshold ``x_c`` when ``|x / x_c - 1| <= window`` and its ridge is at
    most ``max_ridge``: there the finite-``d`` peak (``n = d(d+1)`` for linear attention,
    ``tau = 1 + 1/d``; ``k = n`` for the random transformer) sits ``O(1/d)`` away from the
    limit's, and the near-ridgeless error varies like ``1/|x - x_c|``, so no ``c/d`` allowance
    covers it.

    Parameters
    ----------
    x, threshold, ridge : array_like
        The ratio along which the threshold lies (e.g. ``tau`` or ``psi``), the threshold's
        value and the ridge, broadcast together.
    window, max_ridge : float
        The relative window and the largest near-ridgeless ridge.

    Returns
    -------
    ndarray of bool
    """
    x, threshold, ridge = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                                for a in (x, threshold, ridge)))
    # a relative tolerance keeps a point on the window's edge (e.g. 0.2 * 6) inside it
    return (np.abs(x / threshold - 1.0) <= window * (1 + 1e-9)) & (ridge <= max_ridge)


def _check_table(points: pd.DataFrame) -> None:
    missing = [c for c in COLUMNS if c not in points.columns]
    if missing:
        raise ValueError(f"points must be a comparison table with columns {COLUMNS}; "
                         f"missing: {missing}")


def _bounds(points: pd.DataFrame, allowance: Allowance | None, level: float):
    """Judged mask, quantiles, total dof, per-row SE used and bound (NaN where not judged)."""
    n = len(points)
    judged = (points["covered"].to_numpy(bool) & (points["excluded"].to_numpy(str) == "")
              & np.isfinite(points["theory"].to_numpy(np.float64))
              & np.isfinite(points["mean"].to_numpy(np.float64)))
    mean = points["mean"].to_numpy(np.float64)
    se = points["se"].to_numpy(np.float64)
    runs = points["runs"].to_numpy(np.float64)
    theory = points["theory"].to_numpy(np.float64)
    groups = (points["group"].to_numpy(str) if "group" in points.columns
              else np.full(n, "", dtype=str))
    m = int(judged.sum())
    q = np.full(n, np.nan)
    se_used = np.full(n, np.nan)
    if m == 0:
        return judged, q, 0, se_used, np.full(n, np.nan)
    dof_total = 0
    for g in np.unique(groups[judged]):
        rows = judged & (groups == g)
        pooled, dof = pooled_relative_se(mean[rows], se[rows], runs[rows])
        if dof == 0:
            raise ValueError(f"points must have at least 2 runs with finite SEs in each group "
                             f"of judged rows (a standard error needs 2 runs); group {g!r} "
                             f"has none")
        q[rows] = simultaneous_t_quantile(dof, m, level)
        se_used[rows] = np.fmax(se[rows], pooled)
        dof_total += dof
    a = (allowance.at(points["d"].to_numpy(np.float64), groups) if allowance is not None
         else 0.0)
    bound = q * se_used + a * np.abs(theory)
    bound[~judged] = np.nan
    return judged, q, dof_total, se_used, bound


def max_gaps(points: pd.DataFrame) -> tuple[float | None, float | None]:
    """The largest ``|mean - theory| / SE`` and ``|mean - theory| / |theory|`` over the judged
    rows of a comparison table (covered, not excluded, finite); None where there are none.

    The SE is the one :func:`judge` uses (the larger of the row's own and its curve's pooled
    SE), so a row whose 2-4 runs happen to agree closely does not report an inflated gap.
    """
    _check_table(points)
    judged, _, _, se_used, _ = _bounds(points, None, LEVEL)
    if not judged.any():
        return None, None
    mean = points["mean"].to_numpy(np.float64)
    theory = points["theory"].to_numpy(np.float64)
    gap = np.abs(mean - theory)
    with_se = judged & np.isfinite(se_used) & (se_used > 0)
    gap_se = float(np.max(gap[with_se] / se_used[with_se])) if with_se.any() else None
    return gap_se, float(np.max(gap[judged] / np.abs(theory[judged])))


def judge(points: pd.DataFrame | None, *, allowance: Allowance | None = None,
          level: float = LEVEL) -> Verdict:
    """The verdict of a comparison table (module docstring).

    Parameters
    ----------
    points : pandas.DataFrame or None
        A comparison table (:func:`comparison_table`); ``None`` or an empty table: the figure
        has no theory ("no theory").
    allowance : Allowance, optional
        The figure's finite-size allowance; without one, ``c = 0``.
    level : float
        Family-wise level of the Bonferroni Student-t bound (default :data:`LEVEL`).

    Returns
    -------
    Verdict

    Raises
    ------
    ValueError
        The table lacks a column, or no judged point has 2 runs.
    """
    if points is None or len(points) == 0:
        return Verdict(status="no theory")
    _check_table(points)
    judged, q, dof, se_used, bound = _bounds(points, allowance, level)
    excl = points["excluded"].to_numpy(str)
    covered = points["covered"].to_numpy(bool)
    reasons = pd.Series(excl[(excl != "") & covered]).value_counts()
    common = dict(n_points=len(points), n_judged=int(judged.sum()),
                  n_excluded=int(((excl != "") & covered).sum()),
                  n_not_covered=int((~covered).sum()),
                  c=allowance.c if allowance is not None else 0.0,
                  rate=allowance.rate if allowance is not None else 1.0,
                  exclusions=[f"{n} x {r}" for r, n in reasons.items()])
    if not judged.any():
        status = "not covered" if not covered.any() else "agree"
        return Verdict(status=status, **common)
    gap = np.abs(points["mean"].to_numpy(np.float64) - points["theory"].to_numpy(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(judged, gap / bound, np.nan)
        resolution = float(np.nanmin(bound / np.abs(points["theory"].to_numpy(np.float64))))
    order = np.argsort(-np.nan_to_num(ratio, nan=-np.inf))[:_WORST]
    worst = [{"quantity": str(points["quantity"].iloc[i]), "d": int(points["d"].iloc[i]),
              "mean": float(points["mean"].iloc[i]), "se": float(se_used[i]),
              "theory": float(points["theory"].iloc[i]), "bound": float(bound[i]),
              "ratio": float(ratio[i])} for i in order if judged[i]]
    worst_ratio = float(np.nanmax(ratio))
    return Verdict(status="agree" if worst_ratio <= 1.0 else "disagree",
                   quantile=float(np.nanmax(q)),
                   dof=int(dof), resolution=resolution, worst_ratio=worst_ratio, worst=worst,
                   **common)


def calibrate(points: pd.DataFrame, *, rate: float = 1.0, level: float = LEVEL,
              z: float = 2.0) -> dict:
    r"""Measure a figure's finite-size constant ``c`` from runs at two or more ``d``.

    For each point judged at every size, the signed relative gap
    ``g_i(d) = (e_i - e^th_i) / |e^th_i|`` is fitted by ``c_i / d^r`` (weighted least squares
    through the origin, weights ``1 / s_i(d)^2`` with ``s_i`` the verdict's relative SE, i.e.
    the larger of the point's own and its curve's pooled SE), and

    .. math::

        c = \max_i\, \big(|\hat c_i| + z\, \mathrm{se}(\hat c_i)\big),

    an upper estimate (``z = 2``) of the largest finite-size constant among the figure's
    points; the same maximum over the points of each plotted curve (the table's ``group``) is
    that curve's constant ``c_g``, which :func:`judge` uses for the curve's points. Fitting
    across the sizes averages the runs' noise, which a single size would put into ``c``; the
    ``z`` term keeps the calibration's own noise from making ``c`` too small.
    The per-size maxima ``c_d = max_i d^r |g_i(d)|`` are returned as a check of the rate:
    roughly constant ``c_d`` supports ``r``; a growing ``c_d`` says the correction decays more
    slowly (then the allowance at larger ``d`` is too small and the verdict there says so).
    The median per-point decay exponent between the smallest and largest size, over points
    resolved (gap above ``q se``) at both, is returned too.

    Parameters
    ----------
    points : pandas.DataFrame
        Comparison tables of the same points (same ``quantity`` labels) at two or more ``d``
        (concatenated), from runs independent of the figure's own (another seed).
    rate : float
        The exponent ``r`` of the allowance ``c / d^r``.
    level : float
        Family-wise level of the bound that decides which gaps are resolved (default
        :data:`LEVEL`).
    z : float
        Standard errors of each fitted ``c_i`` added to it.

    Returns
    -------
    dict
        ``c``, ``rate``, ``by_group`` (``{group: c_g}``), ``c_by_d`` (``{d: c_d}``),
        ``worst`` (the point setting ``c``, with its fitted ``c_i`` and SE),
        ``median_exponent`` (NaN if fewer than 3 points are resolved at both ends) and
        ``n_points`` per size.

    Raises
    ------
    ValueError
        Fewer than two sizes, or the table lacks a column.
    """
    _check_table(points)
    ds = sorted({int(v) for v in points["d"]})
    if len(ds) < 2:
        raise ValueError(f"points must hold two or more sizes d to measure a finite-size "
                         f"constant, got d={ds}")
    c_by_d, rel, fits = {}, {}, []
    for d in ds:
        sub = points[points["d"] == d].reset_index(drop=True)
        judged, q, _, se_used, _ = _bounds(sub, None, level)
        th = np.abs(sub["theory"].to_numpy(np.float64))
        gap = sub["mean"].to_numpy(np.float64) - sub["theory"].to_numpy(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(judged, gap / th, np.nan)
            rel[d] = pd.Series(np.where(judged & (np.abs(gap) > q * se_used), np.abs(g),
                                        np.nan), index=sub["quantity"])
            fits.append(pd.DataFrame({"quantity": sub["quantity"], "x": float(d) ** -rate,
                                      "g": g, "s": se_used / th,
                                      "group": (sub["group"] if "group" in sub.columns
                                                else "")}))
        c_by_d[d] = float(np.nanmax(np.abs(g)) * d ** rate) if judged.any() else 0.0
    fit = pd.concat(fits, ignore_index=True).dropna(subset=["g", "s"])
    fit = fit[fit["s"] > 0]
    best, by_group = {"c": 0.0}, {}
    for (group, label), rows in fit.groupby(["group", "quantity"], sort=False):
        if rows["x"].nunique() < 2:
            continue
        w = 1.0 / rows["s"] ** 2
        sxx = float(np.sum(w * rows["x"] ** 2))
        c_i = float(np.sum(w * rows["x"] * rows["g"]) / sxx)
        se_i = 1.0 / math.sqrt(sxx)
        upper = abs(c_i) + z * se_i
        by_group[str(group)] = max(by_group.get(str(group), 0.0), upper)
        if upper > best["c"]:
            best = {"c": upper, "quantity": str(label), "c_i": c_i, "se": se_i}
    lo, hi = rel[ds[0]], rel[ds[-1]]
    both = lo.index.intersection(hi.index)
    pairs = pd.DataFrame({"lo": lo.loc[~lo.index.duplicated()].reindex(both),
                          "hi": hi.loc[~hi.index.duplicated()].reindex(both)}).dropna()
    exponent = (float(np.median(np.log(pairs["lo"] / pairs["hi"]) / math.log(ds[-1] / ds[0])))
                if len(pairs) >= 3 else math.nan)
    return {"c": best["c"], "rate": float(rate), "worst": best, "by_group": by_group,
            "c_by_d": {str(d): v for d, v in c_by_d.items()}, "median_exponent": exponent,
            "n_points": {str(d): int((points["d"] == d).sum()) for d in ds}}
