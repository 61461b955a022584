"""Execution backends of a sweep: serial, local processes (the default) and Dask.

A backend maps :func:`rmt_icl.sweep.worker.execute_task` over tasks and yields
``(task, outcome)`` pairs **as they complete**, where ``outcome`` is the worker's row (a dict)
or the exception that prevented it from coming back. Workers only compute; the parent process
writes the store. The numbers do not depend on the backend: every run's random stream is keyed
by (sweep seed, point, run), never by the worker or the order of completion.

* ``"serial"`` -- in the calling process, in order; simplest to debug.
* ``"processes"`` -- :class:`concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start
  method (no fork of a threaded parent), one process per core by default. Each worker's BLAS
  and OpenMP pools get ``cores // workers`` threads (``OMP_NUM_THREADS`` etc.) unless the user
  set those variables. A worker death restarts the pool; a run that keeps killing workers is
  recorded as failed (:class:`WorkerDied`).
* ``"dask"`` -- Dask ``distributed`` (optional extra ``rmt_icl[dask]``, imported lazily).
  Give a scheduler address (``"tcp://host:8786"``) or an existing ``distributed.Client``; with
  neither, a :class:`distributed.LocalCluster` with one single-threaded worker process per core
  is started for the duration of the sweep.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import pickle
import tempfile
import uuid
from concurrent.futures.process import BrokenProcessPool

BACKENDS = ("serial", "processes", "dask")
_THREAD_VARS = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
    "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
)


def available_cores() -> int:
    """Cores this process may use (CPU affinity when known)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class SerialBackend:
    """Run every task in the calling process, in order."""

    name = "serial"
    workers = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap_unordered(self, fn, tasks):
        """Yield ``(task, fn(task))`` for each task."""
        for task in tasks:
            try:
                yield task, fn(task)
            except Exception as exc:  # noqa: BLE001 - reported per task by the caller
                yield task, exc


class WorkerDied(RuntimeError):
    """A worker process died (killed, out of memory, crashed) while computing a task."""


class ProcessBackend:
    """Local worker processes (:class:`concurrent.futures.ProcessPoolExecutor`, ``spawn``).

    A worker that dies (killed, out of memory, a crash in compiled code) breaks a process
    pool. The backend then starts a new pool for the tasks not finished yet; each worker
    notes the task it is computing in a marker file, so the tasks that were running when
    the pool broke are known. A task running during ``max_deaths`` breaks is given up:
    its outcome is a :class:`WorkerDied` error (recorded as a failed run). Innocent tasks
    that merely shared the moment of a crash are simply computed again.

    Parameters
    ----------
    workers : int or None
        Number of processes (default: all available cores).
    max_deaths : int
        Pool breaks a task may be running during before it is given up (default 2).
    """

    name = "processes"

    def __init__(self, workers: int | None = None, max_deaths: int = 2):
        self.workers = _check_workers(workers) or available_cores()
        if isinstance(max_deaths, bool) or not isinstance(max_deaths, int) or max_deaths < 1:
            raise ValueError(f"max_deaths must be an integer >= 1, got {max_deaths!r}")
        self.max_deaths = max_deaths

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap_unordered(self, fn, tasks):
        """Yield ``(task, outcome)`` for every task as they complete, surviving worker deaths.

        Raises
        ------
        RuntimeError
            The pool broke while no task was running (workers failed to start, e.g. a
            script without an ``if __name__ == "__main__":`` guard).
        """
        remaining = dict(enumerate(tasks))
        if not remaining:
            return
        _check_picklable(remaining.values())
        deaths: dict = {}
        with tempfile.TemporaryDirectory(prefix="rmt-icl-sweep-") as marker_dir:
            while remaining:
                broken = yield from self._one_pool(fn, remaining, marker_dir)
                if not broken:
                    return
                suspects = _running_tasks(marker_dir)
                if not suspects:
                    raise RuntimeError(
                        "worker processes died before computing anything (a script calling "
                        "sweep() must guard its top-level code with `if __name__ == "
                        "'__main__':`); the runs finished so far are saved"
                    )
                for i in suspects & set(remaining):
                    deaths[i] = deaths.get(i, 0) + 1
                    if deaths[i] >= self.max_deaths:
                        yield remaining.pop(i), WorkerDied(
                            f"the worker process died while computing this run, "
                            f"{deaths[i]} times (killed, out of memory, or crashed)"
                        )

    def _one_pool(self, fn, remaining: dict, marker_dir: str):
        """Run ``remaining`` in a fresh pool; pop finished ones; return True if it broke."""
        n = min(self.workers, len(remaining))
        executor = cf.ProcessPoolExecutor(
            max_workers=n, mp_context=multiprocessing.get_context("spawn")
        )
        for f in os.listdir(marker_dir):
            os.unlink(os.path.join(marker_dir, f))
        clean = False
        try:
            # workers are spawned during submit(); they inherit this environment
            with _thread_env(max(1, available_cores() // n)):
                futures = {
                    executor.submit(_marked_call, fn, t, i, marker_dir): i
                    for i, t in remaining.items()
                }
            broken = False
            for fut in cf.as_completed(futures):  # after a break, every future is done
                i = futures.pop(fut)
                exc = fut.exception()
                if isinstance(exc, BrokenProcessPool):
                    broken = True
                    continue
                yield remaining.pop(i), (exc if exc is not None else fut.result())
            clean = not broken
            return broken
        finally:
            executor.shutdown(wait=clean, cancel_futures=True)


def _marked_call(fn, task, index: int, marker_dir: str):
    """Run ``fn(task)`` in a worker, noting ``index`` in ``marker_dir/<pid>`` meanwhile."""
    marker = os.path.join(marker_dir, str(os.getpid()))
    with open(marker, "w") as fh:
        fh.write(str(index))
    try:
        return fn(task)
    finally:
        with open(marker, "w"):
            pass


def _running_tasks(marker_dir: str) -> set:
    """Indices of the tasks that workers had started and not finished."""
    running = set()
    for name in os.listdir(marker_dir):
        with open(os.path.join(marker_dir, name)) as fh:
            text = fh.read().strip()
        if text:
            running.add(int(text))
    return running


class DaskBackend:
    """Dask ``distributed``: an existing client, a scheduler address, or a LocalCluster.

    Parameters
    ----------
    scheduler : str, distributed.Client or None
        Scheduler address, or a client (left open afterwards). ``None`` starts a
        :class:`distributed.LocalCluster` (closed afterwards).
    workers : int or None
        Worker processes of the LocalCluster (default: all available cores). Not allowed with
        an address or a client: the cluster decides.
    cluster_kwargs : dict, optional
        Extra keyword arguments of the LocalCluster.
    """

    name = "dask"

    def __init__(self, scheduler=None, workers: int | None = None, cluster_kwargs=None):
        self.scheduler = scheduler
        self.workers = _check_workers(workers)
        if scheduler is not None and workers is not None:
            raise ValueError(
                "workers applies to a LocalCluster only; with a scheduler address or a Client "
                "the cluster's own workers are used (drop workers/--workers)"
            )
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self._client = self._cluster = None
        self._own_client = False

    def __enter__(self):
        distributed = _import_distributed()
        if isinstance(self.scheduler, distributed.Client):
            self._client = self.scheduler
        elif self.scheduler is None:
            kwargs = {"n_workers": self.workers or available_cores(), "threads_per_worker": 1}
            kwargs.update(self.cluster_kwargs)
            self._cluster = distributed.LocalCluster(**kwargs)
            self._client = distributed.Client(self._cluster)
            self._own_client = True
        elif isinstance(self.scheduler, str):
            try:
                self._client = distributed.Client(self.scheduler, timeout="30s")
            except OSError as exc:
                raise ValueError(
                    f"cannot reach the Dask scheduler at scheduler={self.scheduler!r}: {exc}"
                ) from exc
            self._own_client = True
        else:
            raise ValueError(
                "scheduler must be an address string, a distributed.Client or None, "
                f"got {self.scheduler!r}"
            )
        return self

    def __exit__(self, *exc):
        if self._own_client:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
        return False

    def imap_unordered(self, fn, tasks):
        """Submit every task to the cluster and yield ``(task, outcome)`` as they complete."""
        distributed = _import_distributed()
        tasks = list(tasks)
        if not tasks:
            return
        token = uuid.uuid4().hex[:8]
        keys = [f"rmt-icl-{t['point_id'][:12]}-run{t['run']}-{token}" for t in tasks]
        futures = self._client.map(fn, tasks, key=keys, pure=False)
        by_key = dict(zip(keys, tasks, strict=True))
        pending = set(futures)
        try:
            for fut, outcome in distributed.as_completed(
                futures, with_results=True, raise_errors=False
            ):
                pending.discard(fut)
                if fut.status != "finished":  # erred (e.g. KilledWorker) or cancelled
                    outcome = _dask_exception(fut, outcome)
                yield by_key[fut.key], outcome
        finally:
            if pending:
                self._client.cancel(list(pending))


def _dask_exception(fut, outcome) -> BaseException:
    """The exception of a failed Dask future (its result is an ``exc_info`` tuple)."""
    if isinstance(outcome, BaseException):
        return outcome
    if isinstance(outcome, tuple) and len(outcome) > 1 and isinstance(outcome[1], BaseException):
        return outcome[1]
    return RuntimeError(f"Dask task {fut.key} ended with status {fut.status!r}: {outcome!r}")


def make_backend(backend="processes", *, workers=None, scheduler=None):
    """Build a backend from its name (or pass an instance through).

    Parameters
    ----------
    backend : {"serial", "processes", "dask"} or backend instance
    workers : int or None
        Worker count (processes, or a Dask LocalCluster).
    scheduler : str, distributed.Client or None
        Dask only.

    Raises
    ------
    ValueError
        Unknown backend name, ``workers < 1``, or ``scheduler`` without ``backend="dask"``.
    """
    if not isinstance(backend, str):
        if not hasattr(backend, "imap_unordered"):
            raise ValueError(f"backend must be one of {list(BACKENDS)} or a backend object")
        return backend
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if scheduler is not None and backend != "dask":
        raise ValueError(f"scheduler is only used by backend='dask', not {backend!r}")
    if backend == "serial":
        _check_workers(workers)
        return SerialBackend()
    if backend == "processes":
        return ProcessBackend(workers)
    return DaskBackend(scheduler, workers)


def _check_workers(workers):
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(
            f"workers must be an integer >= 1 (or None for all cores), got {workers!r}"
        )
    return workers


def _check_picklable(tasks) -> None:
    """Refuse (ValueError) a task whose model cannot be pickled for worker processes."""
    seen = set()
    for task in tasks:
        if task["model"] in seen:
            continue
        seen.add(task["model"])
        try:
            pickle.dumps(task)
        except Exception as exc:  # noqa: BLE001 - pickling raises several types
            raise ValueError(
                f"model {task['model']!r} cannot be sent to worker processes ({exc}); register "
                "a module-level function or a 'module:function' path, or use backend='serial'"
            ) from exc


@contextlib.contextmanager
def _thread_env(threads: int):
    added = [v for v in _THREAD_VARS if v not in os.environ]
    for v in added:
        os.environ[v] = str(threads)
    try:
        yield
    finally:
        for v in added:
            os.environ.pop(v, None)


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ValueError(
            "backend='dask' needs Dask distributed: pip install 'rmt_icl[dask]'"
        ) from exc
    return distributed
