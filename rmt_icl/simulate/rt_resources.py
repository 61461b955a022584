r"""What a random-transformer run costs: the memory budget, chunk sizes, the memory plan, a clock.

Memory
------
:func:`memory_budget` (default: half the physical memory, from ``os.sysconf``) and
:func:`check_memory` raise :class:`rmt_icl.core.errors.MemoryBudgetError` *before* anything
large is allocated, with the itemised need in the message. :func:`memory_plan` itemises a
run: ``F`` (``8 k D`` bytes), one packed Gram (``4 min(n,k)^2`` bytes, LAPACK's rectangular
full packed format) per model fitted in the same pass, and chunk buffers (about ``F``'s size
/ 16 each, :func:`chunk_bytes`). Models are fitted in groups when their Grams do not fit the
budget together. A gradient step on ``F`` (:mod:`~rmt_icl.simulate.gradient_step`) is checked
as its own phase, before the fit: the prompts, ``F``, the step prompts, the ``k x D`` gradient
buffer and its chunk buffers.

Chunk sizes
-----------
The feature passes work on chunks whose buffers are about :func:`chunk_bytes`: prompt rows in
the primal fit (:func:`primal_rows`), neuron columns and ``vec H`` rows in the dual fit
(:func:`dual_columns`, :func:`dual_rows`), test contexts in the evaluation
(:func:`contexts_per_chunk`). A run's ``chunk`` parameter overrides them.

Cost
----
``2 n k D`` flops for the training pre-activations (twice in the dual case ``k > n``, where
the ``n x n`` Gram is accumulated over neuron blocks and ``a = Phi^T beta`` needs a second
pass), ``n min(n,k)^2`` per model for the Grams (``dsfrk``), ``min(n,k)^3/3`` per solve
(``dpftrf``), and ``2 k D`` per test context. :class:`PhaseClock` splits the measured time
by kind of work. (Threads: with numba's OpenMP layer, set ``OMP_WAIT_POLICY=PASSIVE`` on a
shared or loaded machine; the default active wait burns ~8 ms of CPU per call of the parallel
Hermite kernel.)
"""

from __future__ import annotations

import os
import time

from rmt_icl.core.checks import check_positive
from rmt_icl.core.errors import MemoryBudgetError
from rmt_icl.simulate.features import gram_memory_bytes
from rmt_icl.simulate.paths import Sizes

__all__ = [
    "CHUNK_BYTES",
    "MEMORY_FRACTION",
    "PHASE_TIMER",
    "PhaseClock",
    "check_memory",
    "chunk_bytes",
    "default_rows",
    "dual_columns",
    "dual_rows",
    "memory_budget",
    "memory_plan",
    "physical_memory_bytes",
    "primal_rows",
    "contexts_per_chunk",
    "step_memory",
]

#: largest target size in bytes of a chunk buffer (pre-activations, features, noise, vec H);
#: see :func:`chunk_bytes`
CHUNK_BYTES = 1 << 25
#: default memory budget as a fraction of the physical memory
MEMORY_FRACTION = 0.5
#: smallest chunks of the feature passes (GEMM efficiency vs buffer memory)
TRAIN_MIN_ROWS = 64
DUAL_MIN_COLUMNS = 256
TEST_MIN_CONTEXTS = 64


# ----------------------------------------------------------------------------- budget


def physical_memory_bytes() -> int:
    """Physical memory of the machine in bytes (``os.sysconf``), or 8 GiB if unknown."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


def memory_budget(budget=None) -> int:
    """The memory budget in bytes: ``budget`` if given (> 0), else half the physical memory."""
    if budget is None:
        return int(MEMORY_FRACTION * physical_memory_bytes())
    return int(check_positive("memory_budget", budget))


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def check_memory(items: dict, budget: int, what: str) -> int:
    """Raise :class:`MemoryBudgetError` if the itemised byte counts exceed ``budget``.

    Parameters
    ----------
    items : dict
        Name -> bytes of each large array that will be allocated.
    budget : int
        Allowed bytes.
    what : str
        Description of the computation for the message (sizes).

    Returns
    -------
    int
        The total number of bytes.
    """
    total = int(sum(items.values()))
    if total > budget:
        parts = ", ".join(f"{k} {_gib(v)}" for k, v in items.items() if v)
        raise MemoryBudgetError(
            f"{what} would need about {_gib(total)} of memory ({parts}), more than the memory "
            f"budget of {_gib(budget)}; reduce d, tau, the width or n_test, or raise "
            f"memory_budget (bytes; default {MEMORY_FRACTION:g} x physical memory "
            f"= {_gib(MEMORY_FRACTION * physical_memory_bytes())})")
    return total


# ----------------------------------------------------------------------------- chunk sizes


def chunk_bytes(k: int, D: int) -> int:
    """Target bytes per chunk buffer: ``F``'s size over 16, clipped to [1 MiB, CHUNK_BYTES].

    Buffers stay a fraction of the unavoidable arrays (``F``, the Gram), while chunks stay large
    enough for efficient GEMMs and few calls of the (parallel) elementwise kernels, whose
    per-call latency dominates small chunks on a loaded machine.
    """
    return int(min(CHUNK_BYTES, max(1 << 20, 8 * k * D // 16)))


def default_rows(width: int, *, lo: int = 64, hi: int = 4096,
                 target: int = CHUNK_BYTES) -> int:
    """Rows per chunk so that a ``rows x width`` float64 buffer is about ``target`` bytes."""
    return int(min(hi, max(lo, target // (8 * max(1, width)))))


def primal_rows(k: int, D: int, chunk: int | None = None) -> int:
    """Prompts per chunk of the primal fit (``chunk`` if given)."""
    return chunk or default_rows(max(D, k), lo=TRAIN_MIN_ROWS, target=chunk_bytes(k, D))


def dual_columns(n: int, k: int, D: int, chunk: int | None = None) -> int:
    """Neurons per block of the dual fit (``chunk`` if given)."""
    return chunk or default_rows(n, lo=DUAL_MIN_COLUMNS, target=chunk_bytes(k, D))


def dual_rows(k: int, D: int) -> int:
    """Prompts per ``vec H`` chunk inside one neuron block of the dual fit."""
    return default_rows(D, target=chunk_bytes(k, D))


def contexts_per_chunk(k: int, D: int, Q: int, chunk: int | None = None) -> int:
    """Test contexts (of ``Q`` queries each) per chunk of the evaluation (``chunk // Q`` rows
    if ``chunk`` is given)."""
    if chunk:
        return max(1, chunk // Q)
    return max(TEST_MIN_CONTEXTS, default_rows(k, target=chunk_bytes(k, D)) // Q)


# ----------------------------------------------------------------------------- the plan


def memory_plan(sizes: Sizes, n_rf: int, linear: bool, n_ctx: int, Q: int, ridge: float,
                chunk: int | None, budget: int, *, step: bool = False) -> tuple[dict, int]:
    """Itemised bytes of a run and the number of Grams fitted per training pass.

    Parameters
    ----------
    sizes : rmt_icl.simulate.paths.Sizes
        The run's sizes (``k`` may be None when ``n_rf = 0``).
    n_rf : int
        Number of random-features models (RT and Hermite).
    linear : bool
        Whether the linear transformer is fitted too.
    n_ctx, Q : int
        Test contexts per test set and queries per context.
    ridge : float
        ``lambda_bar`` (a ridgeless solve factorises a copy of the Gram).
    chunk : int or None
        The run's ``chunk`` parameter.
    budget : int
        Memory budget in bytes.
    step : bool
        Whether ``F`` takes a gradient step before the fit (checked as a phase of its own:
        :func:`step_memory`).

    Returns
    -------
    items : dict
        Name -> bytes (of the fit and evaluation phase).
    group : int
        Models fitted per training pass (>= 1).

    Raises
    ------
    rmt_icl.core.errors.MemoryBudgetError
        Even one model at a time does not fit the budget, or the gradient step does not.
    """
    d, n, D = sizes.d, sizes.n, sizes.D
    k = sizes.k or 0
    f8 = 8
    items = {
        "prompts": f8 * (n * (2 * d + 2) + 2 * n_ctx * (d + 1 + Q * (d + 1))),
    }
    if linear:
        items["linear transformer Gram"] = (2 * f8 * n * n if n < D else gram_memory_bytes(d))
    group = 0
    if n_rf:
        m = min(n, k)
        items["F"] = f8 * k * D
        cb = chunk_bytes(k, D)
        if k <= n:
            train_buf = f8 * primal_rows(k, D, chunk) * (D + 4 * k)
        else:
            train_buf = f8 * (dual_rows(k, D) * D + 4 * n * dual_columns(n, k, D, chunk))
        test_buf = f8 * (4 * contexts_per_chunk(k, D, Q, chunk) * Q * k) + 2 * cb
        items["chunk buffers"] = max(train_buf, test_buf)
        half = m * (m + 1) // 2                        # RFP storage of the Gram
        gram = f8 * (half + 2 * k) + (f8 * half if ridge == 0 else 0)
        fixed = sum(items.values())
        group = int(min(n_rf, max(0, (budget - fixed) // gram)))
        items["Gram (per model)" if group <= 1 else f"Grams ({group} models per pass)"] = \
            gram * max(1, group)
    what = (f"the random-transformer run at d={d}, n={n}, k={k}, D={D}"
            if n_rf else f"the linear-transformer run at d={d}, n={n}, D={D}")
    if step and n_rf:
        check_memory(step_memory(sizes, items["prompts"], chunk), budget,
                     f"the gradient step on F at d={d}, n={n}, k={k}, D={D}")
    check_memory(items, budget, what)
    return items, max(1, group)


def step_memory(sizes: Sizes, prompts: int, chunk: int | None) -> dict:
    """Itemised bytes of the gradient step on ``F``, a phase before the fit.

    ``prompts`` is the bytes of the training prompts and test sets (alive during the step);
    the step adds its ``n`` prompts, the ``k x D`` gradient buffer next to ``F``, and chunk
    buffers of ``vec H``, the pre-activations and two ``rows x k`` temporaries
    (:func:`rmt_icl.simulate.gradient_step.first_layer_gradient`).
    """
    d, n, D, k = sizes.d, sizes.n, sizes.D, sizes.k
    f8 = 8
    rows = primal_rows(k, D, chunk)
    return {"prompts": prompts, "step prompts": f8 * n * (2 * d + 2), "F": f8 * k * D,
            "gradient buffer (k x D)": f8 * k * D,
            "step chunk buffers": f8 * rows * (D + 3 * k)}


# ----------------------------------------------------------------------------- time


#: clock of the ``t_phase_*`` timings (wall time; a benchmark may set ``time.process_time``)
PHASE_TIMER = time.perf_counter


class PhaseClock:
    """Accumulated time per kind of work (:data:`PHASE_TIMER`): ``with clock("gram"): ...``.

    Attributes
    ----------
    t : dict
        Phase -> seconds, for the phases in :attr:`PHASES`.
    """

    PHASES = ("features", "test_features", "noise", "maps", "gram", "solve", "predict", "step")

    def __init__(self):
        self.t = dict.fromkeys(self.PHASES, 0.0)
        self._phase = None

    def __call__(self, phase: str):
        self._phase = phase
        return self

    def __enter__(self):
        self._t0 = PHASE_TIMER()
        self._name = self._phase

    def __exit__(self, *exc):
        self.t[self._name] += PHASE_TIMER() - self._t0
