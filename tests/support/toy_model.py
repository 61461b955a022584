"""The ``"toy"`` model: a cheap closed form plus seeded Monte Carlo noise, for tests and demos.

It is **not** a model of in-context learning. It exists so that the sweep machinery (seeding,
backends, the store, resumption) can be exercised and demonstrated in milliseconds.

With ``m = 1/(1 + alpha) + rho`` it returns

* ``icl = m * mean(z_i^2)`` and ``idg = (m + 1/(1 + kappa)) * mean(u_i^2)``, with
  ``z, u ~ N(0, 1)`` of length ``d`` drawn from the run's ``"test"`` and ``"test_idg"``
  streams, so ``E[icl] = theory_icl = m``, ``E[idg] = theory_idg`` and the run-to-run
  standard deviation is ``theory * sqrt(2/d)``;
* ``d`` (the realised size) and ``time_model`` (seconds spent in the model).

Parameters read from ``params`` (others are ignored): ``alpha > 0`` (default 1), ``kappa > 0``
(default 1), ``rho >= 0`` (default 0), integer ``d >= 1`` (default 100), ``sleep >= 0`` seconds
to wait before returning (to imitate an expensive point), ``fail`` (bool: raise ``ValueError``),
``fail_if_exists`` (a path: raise while that file exists) and ``crash`` (bool: end the process
at once with ``os._exit(70)``, as the out-of-memory killer would; for tests of worker deaths).
"""

from __future__ import annotations

import os
import time

import numpy as np

from rmt_icl.core.checks import check_int, check_nonnegative, check_positive
from rmt_icl.core.seeding import stream


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
    alpha = float(check_positive("alpha", params.get("alpha", 1.0)))
    kappa = float(check_positive("kappa", params.get("kappa", 1.0)))
    rho = float(check_nonnegative("rho", params.get("rho", 0.0)))
    d = check_int("d", params.get("d", 100), minimum=1)
    sleep = float(check_nonnegative("sleep", params.get("sleep", 0.0)))
    if params.get("fail", False):
        raise ValueError(f"toy model asked to fail (fail=true) at alpha={alpha}")
    flag = params.get("fail_if_exists")
    if flag and os.path.exists(flag):
        raise ValueError(f"toy model asked to fail while {flag!r} exists")
    theory_icl = 1.0 / (1.0 + alpha) + rho
    theory_idg = theory_icl + 1.0 / (1.0 + kappa)
    z = stream(seed, "test").standard_normal(d)
    u = stream(seed, "test_idg").standard_normal(d)
    if sleep:
        time.sleep(sleep)
    if params.get("crash", False):  # after the sleep, so that other runs can finish first
        os._exit(70)
    return {
        "icl": theory_icl * float(np.mean(z * z)),
        "idg": theory_idg * float(np.mean(u * u)),
        "theory_icl": theory_icl,
        "theory_idg": theory_idg,
        "d": d,
        "time_model": time.perf_counter() - t0,
    }
