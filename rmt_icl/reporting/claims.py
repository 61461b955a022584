"""Checking a paper's qualitative claims on paired simulations (figures without a theory).

The companion model's figures (``figures/fig_cm_*.py``) have no deterministic equivalent; their
report rows say instead which of the paper's claims the paired runs support, contradict or
leave unresolved. This module holds what those figures share:

* :func:`store_runs` -- the per-run values of a figure store, as a runs x points array in the
  order of the figure's summary table (for paired differences between points);
* :func:`hermite_claim` -- the paper's claim that the Hermite model matches the RT, judged on
  the per-run log ratios ``log(e_Herm / e_RT)``;
* :func:`format_gap` -- a gap in SE for the claim texts; :func:`claim_summary`, a figure's
  printed summary, one claim a line;
* :func:`error_limits`, :func:`draw_off_scale` -- y limits set by the RT, the linear
  transformer and ``E y^2``, and the Hermite model's means drawn as rings, or as arrows at the
  edge where they blow up beyond those limits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmt_icl.core.stats import mean_se, student_t_threshold
from rmt_icl.experiments.equivalence import max_paired_gap_se
from rmt_icl.sweep import load

#: a resolved Hermite-vs-RT ratio further than this from 1 contradicts the equivalence claim
HERMITE_MATERIAL = 0.05
#: the normal level of "resolved" (Student-t threshold for the runs at hand)
Z = 2.0
#: an off-scale mean is drawn this factor (on a log axis) inside the edge
EDGE = 1.08
#: the markers of off-scale means: above and below the axis
OFF_SCALE = (r"$\uparrow$", r"$\downarrow$")


def store_runs(store: str, results_dir, quick: bool, table, column: str = "icl_rt"):
    """The per-run values of ``column`` in the figure store ``<results_dir>/<store>/<quick|full>``.

    Returns
    -------
    ndarray
        Runs x points, the points in the order of ``table`` (the rows of
        :func:`~rmt_icl.reporting.studies.paired_summary`).

    Raises
    ------
    RuntimeError
        The store's per-run means disagree with the table (the two would not be the same
        runs).
    """
    df = load(Path(results_dir) / store / ("quick" if quick else "full"))
    df = df[df["status"] == "ok"]
    values = df.pivot(index="run", columns="point", values=column).sort_index(axis=1)
    values = values.to_numpy(np.float64)
    if values.shape[1] != len(table) or not np.allclose(
            np.nanmean(values, axis=0), table[f"{column}_mean"].to_numpy(np.float64),
            rtol=1e-12, atol=0.0):
        raise RuntimeError(f"the runs of store {store} do not match its summary table")
    return values


def format_gap(value) -> str:
    """A gap in SE with one decimal, ``"—"`` for None."""
    return "—" if value is None else f"{value:.1f}"


def claim_summary(results: dict) -> str:
    """A figure's printed summary: its ``results["claim_lines"]``, one a line."""
    return "\n".join(f"claim: {line}" for line in results["claim_lines"])


def hermite_claim(table, rt, herm, runs: int, degree: int, *,
                  material: float = HERMITE_MATERIAL, z: float = Z) -> str:
    """The paper's equivalence claim on a figure's points, from the per-run ratios.

    The log of ``e_Herm / e_RT`` (``rt``, ``herm``: runs x points, paired), its mean +- SE
    over runs, is resolved away from 0 beyond the Student-t threshold (normal level ``z``)
    at some points, and by more than ``log(1 + material)`` at some of those (the log scale
    keeps a Hermite error that blows up in every run resolved, where its linear SE would
    not): "contradicts" when any is, else "supports". The text also gives the largest mean
    ratio and the largest paired ``|e_Herm - e_RT| / SE``.
    """
    c = float(student_t_threshold(runs, z))
    mean, se = mean_se(np.log(herm / rt), axis=0)
    resolved = np.abs(mean) > c * se
    n_material = int(np.sum(resolved & (np.abs(mean) > np.log1p(material))))
    ratio = float(np.exp(mean[int(np.nanargmax(np.abs(mean)))]))
    verdict = "contradicts" if n_material else "supports"
    return (f"the Hermite model (p={degree}) matches the RT: e_Herm/e_RT resolved away from 1 "
            f"at {int(resolved.sum())}/{len(table)} points (paired, log scale), by more than "
            f"{100 * material:g} % at {n_material} (largest mean ratio {ratio:.3g}; max "
            f"paired |e_Herm - e_RT| {format_gap(max_paired_gap_se(table))} SE) -- {verdict}")


def error_limits(tab) -> tuple[float, float]:
    """y limits from the RT (mean +- SE), the linear transformer and ``E y^2`` of a paired
    summary table; the Hermite model may blow up at small d or near a peak, and its means
    beyond the limits are drawn by :func:`draw_off_scale`."""
    values = np.concatenate([tab["icl_rt_mean"] - tab["icl_rt_se"],
                             tab["icl_rt_mean"] + tab["icl_rt_se"], tab["icl_linear_mean"],
                             tab["q"]]).astype(np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    return float(values.min()) / 1.25, float(values.max()) * 1.6


def draw_off_scale(ax, x, herm, color, marker, limits) -> bool:
    """The Hermite model's means as open markers, those beyond ``limits`` as arrows just
    inside the edge (:data:`OFF_SCALE`); whether any was beyond."""
    x, herm = np.asarray(x, np.float64), np.asarray(herm, np.float64)
    inside = (herm >= limits[0]) & (herm <= limits[1])
    ax.plot(x[inside], herm[inside], marker, color=color, mfc="none", ms=9, mew=1.0, ls="none",
            zorder=2)
    for sel, edge, tri in ((herm > limits[1], limits[1] / EDGE, OFF_SCALE[0]),
                           (herm < limits[0], limits[0] * EDGE, OFF_SCALE[1])):
        ax.plot(x[sel], np.full(sel.sum(), edge), marker=tri, color=color, ms=11, ls="none",
                zorder=4)
    return bool(((herm > limits[1]) | (herm < limits[0])).any())
