"""Run a sweep: expand the spec, skip what the store already has, compute the rest, record it."""

from __future__ import annotations

import multiprocessing
import sys

import pandas as pd
from tqdm import tqdm

import rmt_icl.experiments  # noqa: F401  (registers the built-in models)
from rmt_icl import __version__
from rmt_icl.core.errors import StoreError
from rmt_icl.core.registry import get_model, model_target
from rmt_icl.simulate.device import check_device, resolve_device
from rmt_icl.sweep.backends import make_backend
from rmt_icl.sweep.spec import load_spec
from rmt_icl.sweep.store import Store
from rmt_icl.sweep.worker import execute_task, make_task


def sweep(
    spec,
    *,
    store,
    backend="processes",
    workers: int | None = None,
    scheduler=None,
    progress: bool = True,
    force_new: bool = False,
    retry_failed: bool = True,
    device: str = "cpu",
) -> pd.DataFrame:
    """Run every (point, run) of ``spec`` that ``store`` does not hold yet, and return all.

    Each run's random stream is ``run_seed(seed, run, key=point.key)`` with a key hashed from
    the point's parameters (see :mod:`rmt_icl.sweep.spec`), so the numbers are bit-identical
    whatever the backend, the worker count, the order of completion or an interruption.

    Parameters
    ----------
    spec : SweepSpec, dict, str or os.PathLike
        The sweep (a TOML path, a dict with the same keys, or a :class:`SweepSpec`); see
        :mod:`rmt_icl.sweep.spec` (its ``plugins`` are imported first, here and by the
        workers).
    store : str, os.PathLike or Store
        Results directory (created if needed; ``results.sqlite`` inside). Re-running with the
        same spec and store computes only the missing runs.
    backend : {"serial", "processes", "dask"} or backend object
        Where to compute (default: local processes on all cores).
    workers : int or None
        Worker processes (``processes``, or a Dask LocalCluster); default all cores.
    scheduler : str, distributed.Client or None
        Dask scheduler address or client (``backend="dask"`` only); ``None`` starts a
        LocalCluster.
    progress : bool
        Show a tqdm bar (points done, ETA, failures) on stderr; never when stderr is not a TTY.
    force_new : bool
        If the store holds another spec (or is corrupt), move it to ``superseded/<time>/``
        and start a new one, instead of refusing.
    retry_failed : bool
        Recompute runs that failed in an earlier invocation (default) or keep their error.
    device : {"cpu", "gpu"}
        Where the simulators run (``"gpu"``: CuPy, see ``docs/gpu.md``). An execution option
        like ``backend``: it never enters point keys or seeds. With ``"gpu"`` the local
        backends run one point at a time (one worker: one device), and the device is checked
        here first, so a missing GPU fails at once; a remote Dask cluster runs as its workers
        were started (one worker per GPU).

    Returns
    -------
    pandas.DataFrame
        One row per (point, run) of the spec: ``point``, every parameter, ``run``, ``status``
        (``"ok"``/``"error"``), ``error``, ``icl``, ``idg``, ``theory_icl``, ``theory_idg``
        (NaN where a model has none), other model outputs, ``wall_time`` (s), ``seed``,
        ``key``, ``version``, ``host``, ``pid``, ``attempts``, ``started_utc``,
        ``finished_utc``, ``point_id``. See :func:`summarise` for means and standard errors.

    Raises
    ------
    ValueError
        Bad spec, unknown or unimportable model or plugin, a point that fails its model's
        parameter check (named with its index and parameters; raised before the store is
        created or touched), bad backend options.
    StoreError
        The store is corrupt, or was created for a different spec (without ``force_new``), or
        another sweep is writing it.
    RuntimeError
        The worker processes could not start (e.g. a script without a ``__main__`` guard);
        every run finished before is kept. (A run that kills its worker -- out of memory,
        a crash -- is recorded as failed instead, see
        :class:`~rmt_icl.sweep.backends.ProcessBackend`.)
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(
            "sweep() was called while a worker process was importing the main script; guard "
            "the script's top-level code with `if __name__ == '__main__':` (the processes "
            "backend starts its workers with 'spawn', which re-imports the main script), or "
            "use backend='serial'"
        )
    spec = load_spec(spec)
    spec.check()  # every point through its model's check, before any store exists
    targets = {}
    for name in spec.models:  # fail fast on unimportable models
        get_model(name)
        targets[name] = model_target(name)
    device = check_device(device)
    if device == "gpu" and not (backend == "dask" and scheduler is not None):
        resolve_device("gpu")  # raises DeviceUnavailableError here, not once per run
        if backend in ("processes", "dask"):
            workers = 1  # one point at a time on the one device
    be = make_backend(backend, workers=workers, scheduler=scheduler)
    with Store(store).lock():  # creating, replacing and writing all happen under the lock
        st = _open_store(store, spec, force_new=force_new)
        try:
            done = st.finished(include_failed=not retry_failed)
            tasks = [
                make_task(p, r, spec.seed, targets[p.params["model"]], spec.plugins, device)
                for p in spec.points
                for r in range(spec.runs)
                if (p.point_id, r) not in done
            ]
            if tasks:
                _compute(st, be, tasks, n_points=len(spec.points), progress=progress)
            return st.frame()
        finally:
            st.close()


def _open_store(store, spec, *, force_new: bool = False) -> Store:
    """Open the store for ``spec``: create it, resume it, or (``force_new``) replace it.

    Call it holding the store's lock. A store of the same spec is resumed. A corrupt store or
    one of a different spec raises :class:`StoreError`, unless ``force_new``, which moves it to
    ``superseded/`` and creates a new one.
    """
    st = Store(store)
    for stale in st.path.parent.glob(f"{st.path.name}.tmp-*"):  # a creation that was killed
        stale.unlink()
    if st.exists():
        try:
            st.check_spec(spec)
        except StoreError:
            st.close()
            if not force_new:
                raise
            st.move_aside()          # another spec, or corrupt: keep it aside, start afresh
            return Store.create(store, spec)
        return st                    # the same spec: resume (with or without force_new)
    return Store.create(store, spec)


def _compute(st: Store, be, tasks: list, *, n_points: int, progress: bool) -> None:
    runs_left = {}
    for t in tasks:
        runs_left[t["point_id"]] = runs_left.get(t["point_id"], 0) + 1
    bar = _bar(n_points, n_points - len(runs_left), progress, be)
    failed = 0
    try:
        with be:
            for task, outcome in be.imap_unordered(execute_task, tasks):
                if isinstance(outcome, BaseException):
                    outcome = _error_row(task, outcome)
                st.record(outcome)
                if outcome["status"] != "ok":
                    failed += 1
                    bar.set_postfix(failed=failed, refresh=False)
                runs_left[task["point_id"]] -= 1
                if runs_left[task["point_id"]] == 0:
                    bar.update(1)
    finally:
        bar.close()


def _error_row(task: dict, exc: BaseException) -> dict:
    """Row for a task whose worker result never came back (e.g. a Dask KilledWorker)."""
    return {
        "point_id": task["point_id"], "run": task["run"], "status": "error",
        "error": f"{type(exc).__name__}: {exc}", "traceback": None, "result": {},
        "wall_time": None, "started_utc": None, "finished_utc": None, "host": None,
        "pid": None, "version": __version__, "seed": task["seed"], "key": list(task["key"]),
    }


def _bar(total: int, initial: int, progress: bool, be):
    """Points done (those already in the store count from the start), ETA, failed runs."""
    quiet = not progress or not sys.stderr.isatty()
    bar = tqdm(
        total=total, initial=initial, unit="pt", desc=f"sweep ({be.name})", disable=quiet,
        file=sys.stderr, dynamic_ncols=True,
    )
    bar.set_postfix(failed=0, refresh=False)
    return bar


#: the top-level spelling ``rmt_icl.run_sweep(spec, store=...)``
run_sweep = sweep
