"""The ``"toy"`` sweep model, a test fixture: a cheap closed form plus seeded Monte Carlo noise.

It is **not** a model of in-context learning. It exists so that the sweep machinery (seeding,
backends, the store, resumption, worker deaths) can be exercised in milliseconds. Importing
this module registers it as ``"toy"``; a spec loads it with
``plugins = ["tests.support.toy_model"]`` (the checkout's root on ``sys.path``, e.g. through
``PYTHONPATH``).

With ``m = 1/(1 + alpha) + rho`` it returns

* ``icl = m * mean(z_i^2)`` and ``idg = (m + 1/(1 + kappa)) * mean(u_i^2)``, with
  ``z, u ~ N(0, 1)`` of length ``d`` drawn from the run's ``"test"`` and ``"test_idg"``
  streams, so ``E[icl] = theory_icl = m``, ``E[idg] = theory_idg`` and the run-to-run
  standard deviation is ``theory * sqrt(2/d)``;
* ``d`` (the realised size) and ``time_model`` (seconds spent in the model).

Parameters read from ``params`` (others are ignored; defaults in :data:`DEFAULTS`):
``alpha > 0`` (default 1), ``kappa > 0`` (default 1), ``rho >= 0`` (default 0), integer
``d >= 1`` (default 100), ``sleep >= 0`` seconds to wait before returning (to imitate an
expensive point), ``fail`` (bool: raise ``ValueError``), ``fail_if_exists`` (a path: raise
while that file exists) and ``crash`` (bool: end the process at once with ``os._exit(70)``, as
the out-of-memory killer would; for tests of worker deaths). :func:`check_toy` checks the
values before a sweep runs.
"""

from __future__ import annotations

import os
import time

import numpy as np

from rmt_icl.core.checks import check_int, check_nonnegative, check_positive
from rmt_icl.core.registry import register_model
from rmt_icl.core.seeding import stream

#: the registered name
MODEL = "toy"
#: values assumed for absent parameters (dropped from point keys)
DEFAULTS = {"alpha": 1.0, "kappa": 1.0, "rho": 0.0, "d": 100, "sleep": 0.0, "fail": False,
            "fail_if_exists": None, "crash": False}


def check_toy(params: dict) -> dict:
    """The toy's parameters with defaults filled in and values checked.

    Raises
    ------
    ValueError
        ``alpha <= 0``, ``kappa <= 0``, ``rho < 0``, ``d < 1`` or not an integer,
        ``sleep < 0``, or ``fail``/``crash`` not a bool (the message names the parameter).
    """
    p = {**DEFAULTS, **params}
    for flag in ("fail", "crash"):
        if not isinstance(p[flag], bool):
            raise ValueError(f"{flag} must be true or false, got {p[flag]!r}")
    return {
        **p,
        "alpha": float(check_positive("alpha", p["alpha"])),
        "kappa": float(check_positive("kappa", p["kappa"])),
        "rho": float(check_nonnegative("rho", p["rho"])),
        "d": check_int("d", p["d"], minimum=1),
        "sleep": float(check_nonnegative("sleep", p["sleep"])),
    }


def toy_point(params: dict, seed: np.random.SeedSequence) -> dict:
    """One run of the toy model (see the module docstring).

    Parameters
    ----------
    params : dict
        ``alpha``, ``kappa``, ``rho``, ``d``, ``sleep``, ``fail``, ``fail_if_exists``,
        ``crash``.
    seed : numpy.random.SeedSequence
        The run's seed sequence.

    Returns
    -------
    dict
        ``icl``, ``idg``, ``theory_icl``, ``theory_idg``, ``d``, ``time_model``.
    """
    t0 = time.perf_counter()
    p = check_toy(params)
    alpha, kappa, rho, d, sleep = p["alpha"], p["kappa"], p["rho"], p["d"], p["sleep"]
    if p["fail"]:
        raise ValueError(f"toy model asked to fail (fail=true) at alpha={alpha}")
    flag = p["fail_if_exists"]
    if flag and os.path.exists(flag):
        raise ValueError(f"toy model asked to fail while {flag!r} exists")
    theory_icl = 1.0 / (1.0 + alpha) + rho
    theory_idg = theory_icl + 1.0 / (1.0 + kappa)
    z = stream(seed, "test").standard_normal(d)
    u = stream(seed, "test_idg").standard_normal(d)
    if sleep:
        time.sleep(sleep)
    if p["crash"]:  # after the sleep, so that other runs can finish first
        os._exit(70)
    return {
        "icl": theory_icl * float(np.mean(z * z)),
        "idg": theory_idg * float(np.mean(u * u)),
        "theory_icl": theory_icl,
        "theory_idg": theory_idg,
        "d": d,
        "time_model": time.perf_counter() - t0,
    }


register_model(MODEL, toy_point, defaults=DEFAULTS, check=check_toy, overwrite=True,
               description="test fixture: closed form plus seeded noise (not ICL)")
