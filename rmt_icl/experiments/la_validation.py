"""Gap statistics of simulation-vs-theory tables (one row per point, mean and SE over runs).

The tables come from :func:`rmt_icl.reporting.studies.sweep_summary`: for each point the mean
and standard error over runs of ``icl``, ``idg``, ``gap = icl - idg`` (the
task-generalisation gap) and the theory at the realised ratios (``theory_icl``,
``theory_idg``). :func:`max_gap_se` condenses a table to the largest
``|simulation - theory| / SE``, the number the gallery's ``REPORT.md`` quotes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rmt_icl.experiments.verdict import comparison_table, near_threshold

#: the reason recorded for linear-attention points excluded by the threshold rule
NEAR_TAU_ONE = "within 20 % of the interpolation threshold tau = 1 at ridge <= 1e-3"


def gap_in_se(mean, se, theory) -> np.ndarray:
    """``|mean - theory| / se`` elementwise; NaN where ``se`` is 0, NaN, or theory is not
    finite."""
    mean, se, theory = (np.asarray(a, dtype=np.float64) for a in (mean, se, theory))
    ok = np.isfinite(se) & (se > 0) & np.isfinite(theory) & np.isfinite(mean)
    out = np.full(np.broadcast(mean, se, theory).shape, np.nan)
    out[ok] = np.abs(mean[ok] - theory[ok]) / se[ok]
    return out


def max_gap_se(table: pd.DataFrame, quantities=("icl", "idg")) -> float | None:
    """Largest ``|sim - theory| / SE`` over the rows and ``quantities`` of a summary table
    (``gap`` compares with ``theory_icl - theory_idg``); None if nothing is comparable."""
    vals = []
    for q in quantities:
        if q == "gap":
            theory = table["theory_icl_mean"] - table["theory_idg_mean"]
        else:
            theory = table[f"theory_{q}_mean"]
        vals.append(gap_in_se(table[f"{q}_mean"], table[f"{q}_se"], theory))
    vals = np.concatenate([v.ravel() for v in vals]) if vals else np.array([])
    vals = vals[np.isfinite(vals)]
    return float(vals.max()) if vals.size else None


def relative_gap(table: pd.DataFrame, q: str = "icl") -> np.ndarray:
    """``(sim - theory) / theory`` per row (theory at the realised ratios)."""
    theory = table[f"theory_{q}_mean"].to_numpy(dtype=np.float64)
    return (table[f"{q}_mean"].to_numpy(dtype=np.float64) - theory) / theory


def sizes_text(d, runs, extra: str = "") -> str:
    """Short description of simulation sizes for REPORT.md, e.g. ``"d=32, runs=4"``."""
    ds = sorted(set(np.atleast_1d(d).tolist()))
    dtxt = ", ".join(str(int(v)) for v in ds)
    return f"d={dtxt}, runs={runs}" + (f", {extra}" if extra else "")


def la_comparisons(table: pd.DataFrame, quantities=("icl", "idg"),
                   labels=("alpha", "tau", "kappa", "ridge"), *, x: str = "tau") -> pd.DataFrame:
    """The comparison table of a linear-attention figure (:mod:`rmt_icl.experiments.verdict`).

    One row per point of a :func:`rmt_icl.reporting.studies.sweep_summary` table and quantity
    (``"icl"``, ``"idg"``): the simulation's mean and SE over runs against the theory at the
    realised ratios. ``idg`` is skipped at ``kappa = inf``, where it equals ``icl``. Points
    within 20 % of the interpolation threshold ``tau = 1`` at a ridge of at most ``1e-3`` are
    excluded (:func:`rmt_icl.experiments.verdict.near_threshold`); a point whose theory is not
    finite is not covered. The points of one plotted curve -- the same quantity and ``labels``
    except the plotted variable ``x`` -- form one group, within which the runs' relative
    scatter is pooled.
    """
    parts = []
    for q in quantities:
        rows = table if q == "icl" else table[[not math.isinf(k) for k in table["kappa"]]]
        if not len(rows):
            continue
        theory = rows[f"theory_{q}_mean"].to_numpy(np.float64)
        near = near_threshold(rows["tau"], 1.0, rows["ridge"])
        quantity = [f"e_{q.upper()} " + " ".join(f"{k}={r[k]:g}" for k in labels)
                    for _, r in rows.iterrows()]
        group = [f"e_{q.upper()} " + " ".join(f"{k}={r[k]:g}" for k in labels if k != x)
                 for _, r in rows.iterrows()]
        parts.append(comparison_table(
            quantity, rows["d"].to_numpy(), rows["runs"].to_numpy(), rows[f"{q}_mean"],
            rows[f"{q}_se"], theory, covered=np.isfinite(theory),
            excluded=np.where(near, NEAR_TAU_ONE, ""), group=group))
    return pd.concat(parts, ignore_index=True)


def excluded_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a summary table that :func:`la_comparisons` excludes (for marking)."""
    return table[near_threshold(table["tau"], 1.0, table["ridge"])]
