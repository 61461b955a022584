"""Repeat one parameter point over independent runs and summarise: the ``simulate`` driver.

Any model whose point function follows the sweep contract (``point(params, seed) -> dict``
with at least ``icl`` and ``idg``; see :mod:`rmt_icl.core.registry`) can be run. Run ``r``
uses ``run_seed(seed, r, key)``, so a model sees the same tasks and prompts as any other model
run with the same seed (common random numbers), and run ``r`` does not depend on how many runs
are requested.
"""

from __future__ import annotations

import math
import time

import numpy as np
from tqdm.auto import tqdm

from rmt_icl.core.checks import check_int
from rmt_icl.core.registry import get_model
from rmt_icl.core.seeding import run_seed
from rmt_icl.core.stats import mean_se

#: per-run outputs that are collected as lists and summarised (mean and standard error)
SUMMARISED = ("icl", "idg")


def get_point_function(model):
    """Point function of ``model``: a registered name (:mod:`rmt_icl.core.registry`), or a
    callable passed through.

    Raises
    ------
    ValueError
        Unknown model or a registered model that cannot be imported.
    """
    return model if callable(model) else get_model(model)


def simulate(model, params: dict, *, runs: int = 1, seed: int = 0, key: tuple = (),
             progress: bool = False) -> dict:
    """Run ``runs`` independent Monte Carlo runs of one point and summarise them.

    Parameters
    ----------
    model : str or callable
        Registered model name (e.g. ``"linear-attention"``) or a point function.
    params : dict
        The point's parameters (model-specific; e.g. ``d, alpha, tau, kappa, rho, ridge``).
    runs : int
        Number of independent runs, ``>= 1``.
    seed : int
        User seed, ``>= 0``; run ``r`` uses ``run_seed(seed, r, key)``.
    key : tuple of int
        Point key inside a sweep (``()`` for a single point).
    progress : bool
        Show a progress bar over the runs (``tqdm.auto``: on stderr in a terminal, a widget in
        a notebook). Off by default; ``rmt-icl simulate`` turns it on when stderr is a
        terminal. It does not change the results.

    Returns
    -------
    dict
        ``model``, ``params``, ``runs``, ``seed``; ``per_run`` (``{"icl": [...], "idg":
        [...], "gap": [...]}``, ``gap = icl - idg``); ``icl_mean``, ``icl_se``, ``idg_mean``,
        ``idg_se``, ``gap_mean``, ``gap_se``; ``theory_icl``, ``theory_idg`` (from the first
        run; NaN if the model gives none) and ``theory_note`` (why they are NaN, when the
        model says); ``sizes`` (the integer/size outputs of the first run:
        ``d, ell, K, n, reuse, D, k`` and realised ratios when present); ``timings`` (mean
        seconds per phase over runs, from the model's ``t_*`` outputs) and ``wall_time``.
    """
    runs = check_int("runs", runs, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict, got {type(params).__name__}")
    func = get_point_function(model)
    t0 = time.perf_counter()
    bar = tqdm(range(runs), desc="runs", unit="run", disable=not progress, leave=False)
    outs = [func(dict(params), run_seed(seed, r, tuple(key))) for r in bar]
    wall = time.perf_counter() - t0

    per_run = {k: [float(o[k]) for o in outs] for k in SUMMARISED}
    per_run["gap"] = [a - b for a, b in zip(per_run["icl"], per_run["idg"], strict=True)]
    result = {"model": model if isinstance(model, str) else getattr(model, "__name__", "?"),
              "params": dict(params), "runs": runs, "seed": seed, "per_run": per_run}
    for k, v in per_run.items():
        result[f"{k}_mean"], result[f"{k}_se"] = mean_se(v)
    first = outs[0]
    for k in ("theory_icl", "theory_idg"):
        result[k] = float(first.get(k, math.nan))
    if first.get("theory_note"):
        result["theory_note"] = str(first["theory_note"])
    size_keys = ("d", "ell", "K", "n", "reuse", "D", "k", "alpha_realised", "tau_realised",
                 "kappa_realised", "width_ratio_realised", "method")
    result["sizes"] = {k: first[k] for k in size_keys if k in first}
    phases = sorted({k for o in outs for k in o if k.startswith("t_")})
    result["timings"] = {k[2:]: float(np.mean([o.get(k, 0.0) for o in outs])) for k in phases}
    result["wall_time"] = wall
    return result
