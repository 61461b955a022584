"""Gap statistics of simulation-vs-theory tables (one row per point, mean and SE over runs).

The tables come from :func:`rmt_icl.reporting.studies.sweep_summary`: for each point the mean
and standard error over runs of ``icl``, ``idg``, ``gap = icl - idg`` (the
task-generalisation gap) and the theory at the realised ratios (``theory_icl``,
``theory_idg``). :func:`max_gap_se` condenses a table to the largest
``|simulation - theory| / SE``, the number the gallery's ``REPORT.md`` quotes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
