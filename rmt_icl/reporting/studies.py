"""Running the studies and the figures' simulations through the sweep engine.

Every figure and study keeps its runs in a resumable sweep store:

* a figure's store is ``<results>/<figure name>/<quick|full>`` (:func:`figure_sweep`);
* the equivalence study's stores are ``<store>/<activation>-<target>-<8 hex of the
  configuration>/d<d>-s<seed>/rep<a>-<b>``, one per block of replicates (:func:`study_store`),
  so that adding replicates never changes the old ones.

:func:`sweep_summary` (any model, e.g. linear attention with its theory),
:func:`paired_summary` (the ``rt-paired`` model), :func:`rt_theory_summary` (the
``rt-theory`` grid) and :func:`run_study` (the equivalence study) each return a tidy table
whose statistics come from :mod:`rmt_icl.experiments`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from rmt_icl.core.checks import check_int, check_positive
from rmt_icl.experiments import rt_theory
from rmt_icl.experiments.equivalence import (
    DEFAULT_DS,
    MODEL,
    PAIRED_VALUES,
    StudyResult,
    Z,
    default_runs,
    find_p0,
    gap_table,
    shrink_verdict,
    study_config,
)
from rmt_icl.sweep import summarise, sweep

#: default root of the figure stores (``results/<figure>/<quick|full>``)
RESULTS_DIR = "results"
_BLOCK = re.compile(r"^rep(\d+)-(\d+)$")


def figure_sweep(spec, *, name: str, quick: bool, results_dir=RESULTS_DIR, backend="serial",
                 workers: int | None = None, progress: bool = False,
                 force_new: bool = False) -> pd.DataFrame:
    """Run ``spec`` in the figure store ``<results_dir>/<name>/<quick|full>``; all runs must pass.

    ``backend``, ``workers``, ``progress`` and ``force_new`` are passed to
    :func:`rmt_icl.sweep.sweep`.

    Raises
    ------
    RuntimeError
        A run failed (the store keeps the error; re-running retries it).
    """
    store = Path(results_dir) / name / ("quick" if quick else "full")
    df = sweep(spec, store=store, backend=backend, workers=workers, progress=progress,
               force_new=force_new)
    _require_ok(df, name, store)
    return df


def _require_ok(df: pd.DataFrame, what: str, store) -> None:
    """Raise :class:`RuntimeError` if a run of the sweep table ``df`` failed."""
    bad = df[df["status"] != "ok"]
    if len(bad):
        raise RuntimeError(f"{len(bad)} run(s) of {what} failed, e.g. {bad['error'].iloc[0]}; "
                           f"re-run to retry (store {store})")


def _point_sweep(name: str, points: list[dict], *, model: str, runs: int, seed: int,
                 quick: bool, results_dir, backend, workers, progress, force_new: bool = False,
                 **spec) -> tuple[pd.DataFrame, list[str]]:
    """Sweep the listed ``points`` of ``model`` in a figure store; the runs and the point keys.

    ``spec`` holds further spec keys (e.g. ``share_seeds_across``).
    """
    if not points:
        raise ValueError("points must be a non-empty list of parameter dicts")
    spec = {"name": name, "model": model, "seed": seed, "runs": runs, **spec,
            "points": [dict(p) for p in points]}
    df = figure_sweep(spec, name=name, quick=quick, results_dir=results_dir, backend=backend,
                      workers=workers, progress=progress, force_new=force_new)
    return df, sorted({k for p in points for k in p})


def _in_point_order(summ: pd.DataFrame, df: pd.DataFrame, points: list[dict], keys: list,
                    extra) -> pd.DataFrame:
    """Attach the first run's ``extra`` columns to ``summ`` and order its rows as ``points``."""
    extra = [c for c in extra if c in df.columns and c not in keys]
    first = df.groupby(keys, dropna=False)[extra].first().reset_index()
    summ = summ.merge(first, on=keys, how="left")
    order = pd.DataFrame([{k: p.get(k, np.nan) for k in keys} for p in points])
    order["_order"] = np.arange(len(points))
    summ = order.merge(summ, on=keys, how="left").sort_values("_order")
    return summ.drop(columns="_order").reset_index(drop=True)


def sweep_summary(name: str, points: list[dict], *, model: str = "linear-attention",
                  runs: int, seed: int = 0, quick: bool = True, results_dir=RESULTS_DIR,
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
    results_dir : path
        Root folder of the figure stores (default :data:`RESULTS_DIR`).
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
    df, keys = _point_sweep(name, points, model=model, runs=runs, seed=seed, quick=quick,
                            results_dir=results_dir, backend=backend, workers=workers,
                            progress=progress, force_new=force_new)
    df = df.copy()
    df["gap"] = df["icl"] - df["idg"]
    summ = summarise(df, by=keys, values=["icl", "idg", "gap", "theory_icl", "theory_idg"])
    return _in_point_order(summ, df, points, keys, ("d", "ell", "K", "n"))


def paired_summary(name: str, points: list[dict], *, runs: int, seed: int = 0,
                   quick: bool = True, results_dir=RESULTS_DIR, backend: str = "serial",
                   workers: int | None = None, share_seeds_across=("model",),
                   progress: bool = False) -> pd.DataFrame:
    """Run ``points`` of the ``"rt-paired"`` model through the sweep engine and summarise.

    The store is ``<results_dir>/<name>/<quick|full>`` (resumable). Returns one row per point,
    in the order of ``points``: its parameters, ``runs``, ``<v>_mean`` and ``<v>_se`` (SE over
    runs; for ``diff_*`` the paired SE) for ``v`` in
    :data:`rmt_icl.experiments.equivalence.PAIRED_VALUES`, and ``q`` (``E y^2``), ``n``, ``k``
    of the first run.

    Raises
    ------
    RuntimeError
        A run failed (the store keeps the error; re-running retries it).
    """
    runs = check_int("runs", runs, minimum=2)
    df, keys = _point_sweep(name, points, model="rt-paired", runs=runs, seed=seed, quick=quick,
                            results_dir=results_dir, backend=backend, workers=workers,
                            progress=progress, share_seeds_across=list(share_seeds_across))
    summ = summarise(df, by=keys, values=list(PAIRED_VALUES))
    return _in_point_order(summ, df, points, keys, ("q", "n", "k"))


def rt_theory_summary(name: str, d: int, runs: int, grid: dict, *, quick: bool = True,
                      results_dir=RESULTS_DIR, backend: str = "serial", n_test: int = 16384,
                      test_queries: int = 16, seed: int = 0, force_new: bool = True,
                      scaling: str = "la") -> pd.DataFrame:
    """Run a sub-grid of ``"rt-theory"`` points for a figure and summarise it.

    The store is ``<results_dir>/<name>/<quick|full>`` (resumable); the table is
    :func:`rmt_icl.experiments.rt_theory.summarise`'s. ``seed`` is the sweep seed
    (:func:`rmt_icl.experiments.rt_theory.grid_spec`, >= 0): another seed gives independent
    runs (e.g. to calibrate a finite-size allowance). A store made for another grid, size or
    seed is moved to ``superseded/`` and started afresh (``force_new``, default) or refused
    with :class:`rmt_icl.core.errors.StoreError`; a store of the same spec is resumed.
    ``scaling`` picks the grid's fixed settings (``"la"`` or ``"companion"``, the y^2 column's
    scaling; :func:`rmt_icl.experiments.rt_theory.grid_spec`).
    """
    seed = check_int("seed", seed, minimum=0)
    spec = rt_theory.grid_spec(d, runs, grid=grid, n_test=n_test, test_queries=test_queries,
                               seed=seed, name=name, scaling=scaling)
    return rt_theory.summarise(figure_sweep(spec, name=name, quick=quick,
                                            results_dir=results_dir, backend=backend,
                                            force_new=force_new))


def study_store(store, cfg: dict, d: int, seed: int = 0) -> Path:
    """Folder of the equivalence study's stores of one ``(configuration, d, seed)``.

    The folder is ``<store>/<activation>-<target>-<8 hex of the configuration>/d<d>-s<seed>``;
    it holds one sweep store per block of replicates, ``rep<a>-<b>`` for replicates
    ``a <= r < b``.
    """
    blob = json.dumps({k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v)
                       for k, v in sorted(cfg.items())}, sort_keys=True)
    tag = hashlib.sha256(blob.encode()).hexdigest()[:8]
    return Path(store) / f"{cfg['activation']}-{cfg['target']}-{tag}" / f"d{d}-s{seed}"


def _blocks(folder: Path) -> list[tuple[int, int]]:
    """Existing replicate blocks ``(a, b)`` under ``folder``, sorted."""
    out = []
    if folder.is_dir():
        for sub in folder.iterdir():
            m = _BLOCK.match(sub.name)
            if m and sub.is_dir():
                out.append((int(m.group(1)), int(m.group(2))))
    return sorted(out)


def _replicates(cfg: dict, d: int, runs: int, *, seed, store, backend, workers,
                progress) -> pd.DataFrame:
    """Replicates ``0..runs-1`` at ``d``.

    The existing blocks that start below ``runs`` are completed (resumed); the missing
    replicates are computed as one new block.
    """
    folder = study_store(store, cfg, d, seed)
    frames, end = [], 0
    todo = []
    for a, b in _blocks(folder):
        if a != end or a >= runs:
            break
        todo.append((a, b))
        end = b
    if end < runs:
        todo.append((end, runs))
    for a, b in todo:
        spec = {"name": f"rt-equivalence {cfg['activation']}/{cfg['target']} d={d} "
                        f"replicates {a}..{b - 1}",
                "model": MODEL, "seed": seed, "runs": 1,
                "points": [{"d": d, "replicate": r, **cfg} for r in range(a, b)]}
        block = folder / f"rep{a}-{b}"
        df = sweep(spec, store=block, backend=backend, workers=workers, progress=progress)
        _require_ok(df, spec["name"], block)
        frames.append(df[df["replicate"] < runs])
    return pd.concat(frames, ignore_index=True)


def run_study(activation: str = "relu", target: str = "tanh", *, ds=DEFAULT_DS, runs=None,
              seed: int = 0, store="results/equivalence", backend: str = "processes",
              workers: int | None = None, progress: bool = False, z: float = Z,
              **path) -> StudyResult:
    """Run (or resume) the equivalence study along one scaling path.

    Parameters
    ----------
    activation, target : str
        MLP activation (a name of :func:`rmt_icl.hermite.get_activation`) and target ``g``
        (``linear, relu, tanh, he2``).
    ds : sequence of int
        Dimensions, at least 2 distinct values >= 2.
    runs : int or dict, optional
        Runs per ``d`` (>= 2, so that a paired SE exists), or ``{d: runs}``; default (also for
        a ``d`` missing from the dict) :func:`rmt_icl.experiments.equivalence.default_runs`.
    seed : int
        Sweep seed (>= 0).
    store : path
        Root folder of the study's sweep stores (see :func:`study_store`).
    backend, workers, progress
        Passed to :func:`rmt_icl.sweep.sweep`.
    z : float
        z-score of the criterion (> 0).
    **path
        Overrides of :data:`rmt_icl.experiments.equivalence.DEFAULT_PATH` (``alpha, tau,
        width_ratio`` or ``width_d2``, ``kappa, rho, ridge`` = ``lambda_bar``, ``y2_scale``)
        and ``n_test``, ``max_degree``.

    Returns
    -------
    rmt_icl.experiments.equivalence.StudyResult

    Raises
    ------
    RuntimeError
        A run failed (its store keeps the error; re-running retries it).
    """
    ds = sorted({check_int("d", d, minimum=2) for d in ds})
    if len(ds) < 2:
        raise ValueError(f"ds must hold at least 2 distinct dimensions >= 2, got {ds}")
    seed = check_int("seed", seed, minimum=0)
    check_positive("z", z)
    cfg = study_config(activation, target, path)
    frames = []
    for d in ds:
        r_d = runs.get(d) if isinstance(runs, dict) else runs
        r_d = check_int("runs", default_runs(d) if r_d is None else r_d, minimum=2)
        frames.append(_replicates(cfg, d, r_d, seed=seed, store=store, backend=backend,
                                  workers=workers, progress=progress))
    df = pd.concat(frames, ignore_index=True)
    table = gap_table(df)
    degrees = sorted(int(c[len("diff_herm"):]) for c in df.columns
                     if c.startswith("diff_herm") and c[len("diff_herm"):].isdigit())
    verdicts = {p: shrink_verdict(table["d"], table[f"delta{p}"], table[f"delta{p}_se"], z=z,
                                  runs=table["runs"])
                for p in degrees}
    return StudyResult(config=cfg, runs=df, table=table, verdicts=verdicts,
                       p0=find_p0(verdicts))
