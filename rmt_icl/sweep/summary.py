"""Per-point summaries of a sweep's result table: mean, standard error and count."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rmt_icl.core.stats import grouped_mean_se

#: summarised by default when present
DEFAULT_VALUES = ("icl", "idg", "theory_icl", "theory_idg")


def summarise(df: pd.DataFrame, by=None, values=None) -> pd.DataFrame:
    """Mean, standard error and count of each value per group of runs.

    Only runs with ``status == "ok"`` enter the statistics. For a value ``v`` the result has
    ``v_mean``, ``v_se`` (:func:`rmt_icl.core.stats.grouped_mean_se`; NaN with a single run)
    and ``v_count`` (runs where ``v`` is not NaN); plus ``runs`` (ok runs) and ``failed``
    (runs with ``status == "error"``) per group.

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`rmt_icl.sweep.sweep` or :func:`rmt_icl.sweep.load`.
    by : list of str, optional
        Grouping columns; default ``df.attrs["parameters"]`` (one group per point).
    values : list of str, optional
        Columns to summarise; default those of ``icl, idg, theory_icl, theory_idg`` present.

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by the grouping columns.

    Raises
    ------
    ValueError
        A grouping or value column is missing.
    """
    if by is None:
        by = df.attrs.get("parameters")
        if by is None:
            raise ValueError("by is required when df.attrs has no 'parameters' list")
    by = [by] if isinstance(by, str) else list(by)
    if values is None:
        values = [v for v in DEFAULT_VALUES if v in df.columns]
    values = [values] if isinstance(values, str) else list(values)
    missing = [c for c in [*by, *values, "status"] if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the table; it has {list(df.columns)}")
    ok = df[df["status"] == "ok"]
    keys = df[by].drop_duplicates().reset_index(drop=True)
    out = keys.copy()
    g_ok = ok.groupby(by, dropna=False, sort=False)
    runs = g_ok.size().rename("runs")
    failed = df[df["status"] == "error"].groupby(by, dropna=False, sort=False).size()
    out = out.merge(runs.reset_index(), on=by, how="left")
    out = out.merge(failed.rename("failed").reset_index(), on=by, how="left")
    for v in values:
        col = pd.to_numeric(ok[v], errors="coerce").astype(np.float64)
        mean, se, count = grouped_mean_se(col, [ok[b] for b in by])
        stats = pd.DataFrame({f"{v}_mean": mean, f"{v}_se": se, f"{v}_count": count})
        stats = stats.reset_index()
        stats.columns = [*by, f"{v}_mean", f"{v}_se", f"{v}_count"]
        out = out.merge(stats, on=by, how="left")
    for c in ["runs", "failed"] + [f"{v}_count" for v in values]:
        out[c] = out[c].fillna(0).astype(np.int64)
    return out.sort_values(by, ignore_index=True)
