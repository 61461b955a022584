"""Compute one run of one point on a worker and package the outcome as a store row.

:func:`execute_task` is what every backend runs. It never raises for a failure of the model:
the exception becomes a row with ``status="error"``, so one bad point never stops a sweep.
"""

from __future__ import annotations

import datetime
import importlib
import numbers
import os
import socket
import time
import traceback

from rmt_icl import __version__
from rmt_icl.core.registry import resolve_target
from rmt_icl.core.seeding import run_seed
from rmt_icl.simulate.device import use_device

#: outputs every model must return
REQUIRED_OUTPUTS = ("icl", "idg")

_FUNCS: dict = {}


def make_task(point, run: int, seed: int, target, plugins=(), device: str = "cpu") -> dict:
    """The picklable description of one run of ``point`` sent to a worker.

    Parameters
    ----------
    point : rmt_icl.sweep.spec.Point
    run : int
        Run number.
    seed : int
        Sweep seed.
    target : callable or str
        Registry entry of the point's model (see :func:`rmt_icl.core.registry.model_target`).
    plugins : sequence of str
        Modules the worker imports before running the model (the spec's ``plugins``).
    device : {"cpu", "gpu"}
        Where the simulators run (:func:`rmt_icl.simulate.device.use_device`): an execution
        option, never a parameter of the point, so it does not enter keys or seeds.
    """
    params = {k: v for k, v in point.params.items() if k != "model"}
    return {
        "point_id": point.point_id, "model": point.params["model"], "target": target,
        "params": params, "seed": seed, "key": tuple(point.key), "run": run,
        "plugins": tuple(plugins), "device": device,
    }


def execute_task(task: dict) -> dict:
    """Run one task and return its row (``status`` ``"ok"`` or ``"error"``).

    Parameters
    ----------
    task : dict
        As built by :func:`make_task`.

    Returns
    -------
    dict
        ``point_id``, ``run``, ``status``, ``error``, ``traceback``, ``result`` (the model's
        outputs), ``wall_time`` (seconds in the model), ``started_utc``, ``finished_utc``,
        ``host``, ``pid``, ``version``, ``seed``, ``key``.
    """
    row = {
        "point_id": task["point_id"], "run": task["run"], "seed": task["seed"],
        "key": list(task["key"]), "host": socket.gethostname(), "pid": os.getpid(),
        "version": __version__, "started_utc": _now(), "status": "ok", "error": None,
        "traceback": None, "result": {},
    }
    t0 = time.perf_counter()
    try:
        func = _function(task)
        seq = run_seed(task["seed"], task["run"], key=tuple(task["key"]))
        with use_device(task.get("device", "cpu")):
            row["result"] = check_outputs(task["model"], func(dict(task["params"]), seq))
    except Exception as exc:  # noqa: BLE001 - a failing point is recorded, not fatal
        row["status"] = "error"
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc(limit=20)
    row["wall_time"] = time.perf_counter() - t0
    row["finished_utc"] = _now()
    return row


def check_outputs(model: str, out) -> dict:
    """Validate a model's return value: a flat dict of scalars with ``icl`` and ``idg``.

    Returns the dict with numpy scalars converted to Python scalars.

    Raises
    ------
    ValueError
        Not a dict, a missing required output, or a non-scalar value (named).
    """
    if not isinstance(out, dict):
        raise ValueError(f"model {model!r} must return a dict, got {type(out).__name__}")
    missing = [k for k in REQUIRED_OUTPUTS if k not in out]
    if missing:
        raise ValueError(
            f"model {model!r} returned no {missing}; a model must return at least "
            f"{list(REQUIRED_OUTPUTS)} (NaN when not defined)"
        )
    clean = {}
    for k, v in out.items():
        if not isinstance(k, str):
            raise ValueError(f"model {model!r} returned a non-string key {k!r}")
        if hasattr(v, "item") and getattr(v, "shape", None) == ():
            v = v.item()
        if v is None or isinstance(v, (bool, str)):
            clean[k] = v
        elif isinstance(v, numbers.Integral):
            clean[k] = int(v)
        elif isinstance(v, numbers.Real):
            clean[k] = float(v)
        else:
            raise ValueError(
                f"model {model!r} returned {k!r} = {v!r} ({type(v).__name__}); "
                "outputs must be scalars (float, int, bool, str or None)"
            )
    for k in REQUIRED_OUTPUTS:
        if not isinstance(clean[k], float) and not isinstance(clean[k], int):
            raise ValueError(f"model {model!r} returned non-numeric {k!r} = {clean[k]!r}")
        clean[k] = float(clean[k])
    return clean


def _function(task):
    for module in task.get("plugins", ()):  # cached in sys.modules after the first run
        importlib.import_module(module)
    target = task["target"]
    if callable(target):
        return target
    if target not in _FUNCS:  # "module:function" paths, imported once per worker process
        _FUNCS[target] = resolve_target(target, task["model"])
    return _FUNCS[target]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")
