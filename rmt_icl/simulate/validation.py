"""Simulation-vs-theory tables for validation figures: a list of points -> sweep -> summary.

Figure scripts describe the points they simulate; :func:`sweep_summary` runs them through
:func:`rmt_icl.sweep.sweep` with a durable store (an interrupted figure resumes where it
stopped) and returns one row per point with the mean and standard error over runs of

* ``icl``, ``idg`` and ``gap = icl - idg`` (the task-generalisation gap ``g_task``),
* ``theory_icl``, ``theory_idg`` (the model's theory at the *realised* ratios),

and :func:`max_gap_se` condenses a table to the largest ``|simulation - theory| / SE``, the
number the gallery's ``REPORT.md`` quotes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

#: default root of the figure stores (``results/<figure>/<quick|full>``)
RESULTS_DIR = "results"


def sweep_summary(name: str, points: list[dict], *, model: str = "linear-attention",
                  runs: int, seed: int = 0, quick: bool = True, results_dir=None,
                  backend: str = "processes", workers: int | None = None,
                  progress: bool = False, force_new: bool = True) -> pd.DataFrame:
    """Simulate ``points`` through the sweep engine and summarise each point.

    Parameters
    ----------
    name : str
        Figure name; the store is ``<results_dir>/<name>/<quick|full>``.
    points : list of dict
        Parameter dicts of the model (e.g. ``d, alpha, tau, kappa, rho, ridge``).
    model : str
        Registered model name.
    runs : int
        Independent runs per point.
    seed : int
        Sweep seed.
    quick : bool
        Selects the store's sub-folder (quick and full runs are different specs).
    results_dir : path, optional
        Root folder (default :data:`RESULTS_DIR`).
    backend, workers, progress
        Passed to :func:`rmt_icl.sweep.sweep`.
    force_new : bool
        If the store holds a different spec (the figure's points changed), move it to
        ``superseded/`` and start afresh (default) instead of raising; a store with the same
        spec is always resumed.

    Returns
    -------
    pandas.DataFrame
        One row per point, in the order of ``points``: the point's parameters, ``runs``,
        ``failed``, and ``<v>_mean``, ``<v>_se`` for ``v`` in ``icl, idg, gap, theory_icl,
        theory_idg``, plus the realised sizes ``d, ell, K, n`` of the first run.

    Raises
    ------
    RuntimeError
        If a run failed (the store keeps the error; re-running retries it).
    """
    from rmt_icl.sweep import figure_sweep, summarise

    if not points:
        raise ValueError("points must be a non-empty list of parameter dicts")
    root = Path(results_dir if results_dir is not None else RESULTS_DIR)
    spec = {"name": name, "model": model, "seed": seed, "runs": runs,
            "points": [dict(p) for p in points]}
    df = figure_sweep(spec, name=name, quick=quick, results_dir=root, backend=backend,
                      workers=workers, progress=progress, force_new=force_new)
    df = df.copy()
    df["gap"] = df["icl"] - df["idg"]
    keys = sorted({k for p in points for k in p})
    summ = summarise(df, by=keys, values=["icl", "idg", "gap", "theory_icl", "theory_idg"])
    size_cols = [c for c in ("d", "ell", "K", "n") if c in df.columns and c not in keys]
    sizes = df.groupby(keys, dropna=False)[size_cols].first().reset_index()
    summ = summ.merge(sizes, on=keys, how="left")
    order = pd.DataFrame([{k: p.get(k, np.nan) for k in keys} for p in points])
    order["_order"] = np.arange(len(points))
    summ = order.merge(summ, on=keys, how="left").sort_values("_order")
    return summ.drop(columns="_order").reset_index(drop=True)


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


def isfinite_or_none(x):
    """``float(x)`` if finite else None (JSON-friendly report values)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None
