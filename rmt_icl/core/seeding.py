"""Reproducible random streams.

Every random number in rmt_icl comes from a :class:`numpy.random.Generator` derived from a
:class:`numpy.random.SeedSequence`; the global NumPy state is never used.

* A *run* of a simulation point is identified by ``(seed, key, run)``: the user seed, a tuple of
  non-negative integers naming the point (empty for a single ``rmt-icl simulate`` call; the
  point index for a sweep), and the run number. :func:`run_seed` maps it to a ``SeedSequence``
  with ``spawn_key = key + (run,)``, so the numbers do not depend on how many runs, workers or
  points exist, nor on the order in which they are computed.
* Inside a run, each *role* (tasks, training prompts, test prompts, the random first layer F,
  the Hermite-model noise, ...) gets its own child stream through :func:`stream`, keyed by a
  fixed role index. This is what gives *common random numbers*: for the same run seed, the
  linear transformer, the random transformer and every Hermite model see the same tasks,
  prompts and F, whichever model is simulated first or alone.
"""

from __future__ import annotations

import numpy as np

from rmt_icl.core.checks import check_int

#: fixed role -> index map; never reorder (it would change every simulated number)
ROLES = {
    "tasks": 0,
    "train": 1,
    "test": 2,
    "test_idg": 3,
    "features": 4,
    "hermite_noise_train": 5,
    "hermite_noise_test": 6,
    "init": 7,
    "batches": 8,
    "step_prompts": 9,
    "step_init": 10,
}


def run_seed(seed: int, run: int = 0, key: tuple[int, ...] = ()) -> np.random.SeedSequence:
    """SeedSequence of one run.

    Parameters
    ----------
    seed : int
        User seed (non-negative).
    run : int
        Run (repeat) number, ``0 <= run``.
    key : tuple of int
        Identifies the point within a sweep; ``()`` for a single point.

    Returns
    -------
    numpy.random.SeedSequence
        ``SeedSequence(seed, spawn_key=key + (run,))``.
    """
    seed = check_int("seed", seed, minimum=0)
    run = check_int("run", run, minimum=0)
    key = tuple(check_int("key", k, minimum=0) for k in key)
    return np.random.SeedSequence(seed, spawn_key=key + (run,))


def stream(run: np.random.SeedSequence, role: str) -> np.random.Generator:
    """Independent generator for one role of a run (see :data:`ROLES`)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}, got {role!r}")
    child = np.random.SeedSequence(
        run.entropy, spawn_key=tuple(run.spawn_key) + (1000 + ROLES[role],)
    )
    return np.random.Generator(np.random.PCG64(child))
