r"""Array-path linear algebra shared by the GPU simulators, and the linear-attention fit.

Written against an array namespace ``xp`` (:mod:`~rmt_icl.simulate.device`): the Cholesky
solve with the CPU path's fallbacks (:func:`solve_psd`), Gram accumulation by GEMM,
``vec H = x_q (x) h``, the device memory plan of a linear-attention fit
(:func:`plan_linear_attention`) and the fit itself (:func:`fit_linear_attention`), used by
:func:`rmt_icl.simulate.linear_attention.simulate_point` and by the random transformer's
linear model (:mod:`~rmt_icl.simulate.xp_engine`) on the GPU.
"""

from __future__ import annotations

import math
import time

import numpy as np

from rmt_icl.core.errors import MemoryBudgetError
from rmt_icl.simulate.data import Prompts
from rmt_icl.simulate.device import (
    ArrayDevice,
    device_memory_budget,
    linalg_errors,
    scipy_modules,
    synchronize,
    to_device,
    to_host,
)
from rmt_icl.simulate.ridge import prefer_dual

__all__ = ["F8", "MIN_ROWS", "device_prompts", "fit_linear_attention", "flat", "gram_add",
           "largest", "plan_linear_attention", "raise_budget", "solve_psd", "vec_h"]

#: bytes per float64
F8 = 8
#: smallest number of prompts per chunk
MIN_ROWS = 32


# ----------------------------------------------------------------------------- memory


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def raise_budget(items: dict, budget: int, what: str):
    """Raise :class:`~rmt_icl.core.errors.MemoryBudgetError` naming ``what`` and the itemised
    device memory ``items`` (name -> bytes)."""
    total = int(sum(items.values()))
    parts = ", ".join(f"{k} {_gib(v)}" for k, v in items.items() if v)
    raise MemoryBudgetError(
        f"{what} would need about {_gib(total)} of device memory ({parts}), more than the "
        f"memory budget of {_gib(budget)}; reduce d, tau, the width or n_test, or set "
        f"memory_budget (bytes; default: a share of the free device memory)")


def largest(fits, lo: int, hi: int) -> int | None:
    """Largest integer ``x`` in ``[lo, hi]`` with ``fits(x)`` (monotone), None if none."""
    lo = max(1, min(lo, hi))
    if not fits(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def plan_linear_attention(n: int, d: int, dual: bool, chunk: int | None, avail: int):
    """Bytes of the linear transformer's fit and its Gram's rows per chunk (None: no fit).

    The ``n x n`` kernel (dual) or ``D x D`` Gram (primal), its accumulation buffer or
    Cholesky factor, and two more for the eigendecomposition fallback of a singular system;
    plus one ``vec H`` chunk in the primal.
    """
    D = d * (d + 1)
    p = n if dual else D
    fixed = 4 * F8 * p * p + F8 * n * (2 * d + 2)
    if dual:
        return (fixed, n) if fixed <= avail else (fixed, None)

    def need(r):
        return fixed + F8 * r * D

    rows = chunk or largest(lambda r: need(r) <= avail, min(n, MIN_ROWS), n)
    return need(rows or min(n, MIN_ROWS)), (rows if rows and need(rows) <= avail else None)


# ----------------------------------------------------------------------------- linear algebra


def solve_psd(xp, gram, rhs, ridge: float, *, fallback: bool):
    """Solve ``(gram + ridge I) x = rhs`` by Cholesky; ``gram`` (symmetric PSD) is overwritten.

    If the factorisation fails: with ``fallback`` the minimum-norm solution through an
    eigendecomposition (eigenvalues below ``p eps max`` dropped, as
    :class:`~rmt_icl.simulate.ridge.EigenRidge`); otherwise
    :class:`numpy.linalg.LinAlgError`.
    """
    p = gram.shape[0]
    diag = gram.reshape(-1)[:: p + 1]
    diag += ridge
    linalg, _ = scipy_modules(xp)
    x = None
    try:
        with linalg_errors(xp):
            upper = xp.linalg.cholesky(gram).T      # U^T U = gram; Fortran-ordered, no copy
        z = linalg.solve_triangular(upper, rhs, trans="T")        # U^T z = rhs
        x = linalg.solve_triangular(upper, z)                     # U x = z
        del upper, z
        if not bool(xp.isfinite(x).all()):
            x = None
    except np.linalg.LinAlgError:
        x = None
    if x is not None:
        return x
    if not fallback:
        raise np.linalg.LinAlgError(
            f"Gram + ridge I is not numerically positive definite (ridge={ridge}); increase "
            "the ridge")
    w, v = xp.linalg.eigh(gram)
    w = xp.maximum(w, 0.0)
    cutoff = p * np.finfo(np.float64).eps * float(w.max())
    inv = xp.where(w > cutoff, 1.0 / xp.where(w > cutoff, w, 1.0), 0.0)
    return v @ ((v.T @ rhs) * inv)


def gram_add(xp, gram, a, b, tmp):
    """``gram + a @ b`` (``a @ b`` alone when ``gram`` is None), in place through ``tmp``."""
    if gram is None:
        return a @ b
    xp.matmul(a, b, out=tmp)
    gram += tmp
    return gram


def vec_h(xp, xq, h, out):
    """``vec H = x_q (x) h`` of each row into ``out`` (shape ``(m, d (d+1))``)."""
    m, d = xq.shape
    xp.multiply(xq[:, :, None], h[:, None, :], out=out.reshape(m, d, d + 1))
    return out


def flat(buf, shape):
    """A C-contiguous view of the first ``prod(shape)`` entries of the 1-d buffer ``buf``."""
    return buf[: math.prod(shape)].reshape(shape)


def device_prompts(xp, prompts: Prompts):
    """``(x_q, h, y)`` of ``prompts`` as arrays of ``xp``."""
    return to_device(xp, prompts.xq), to_device(xp, prompts.h), to_device(xp, prompts.y)


# ----------------------------------------------------------------------------- linear attention


def fit_linear_attention(dev: ArrayDevice, prompts: Prompts, ridge: float, *,
                         method: str = "auto", rows: int | None = None, budget=None,
                         timings: dict | None = None) -> np.ndarray:
    """``Gamma`` of linear attention fitted on the device; returned on the host.

    The estimator of :func:`rmt_icl.simulate.linear_attention.fit_linear_attention` (penalty
    ``(n/d) lambda ||Gamma||_F^2``; dual ``n x n`` kernel when ``method`` is ``"dual"`` or
    ``"auto"`` with ``n < D``, else the ``D x D`` Gram of ``vec H`` accumulated by GEMM over
    ``rows`` prompts per chunk), always in float64.

    Parameters
    ----------
    dev : ArrayDevice
    prompts : Prompts
    ridge : float
        ``lambda >= 0``.
    method : {"auto", "primal", "dual"}
    rows : int, optional
        Prompts per chunk of the primal Gram; planned from the memory budget if None (the
        memory is checked either way, before anything is allocated).
    budget : int, optional
        Memory budget in bytes (default :func:`~rmt_icl.simulate.device.device_memory_budget`).
    timings : dict, optional
        Receives the seconds of ``"gram"`` and ``"solve"``.

    Raises
    ------
    rmt_icl.core.errors.MemoryBudgetError
        The Gram and its solve do not fit the budget (raised before allocating).
    """
    xp = dev.xp
    ridge = float(ridge)
    n, d = prompts.xq.shape
    D = d * (d + 1)
    dual = prefer_dual(n, D) if method == "auto" else method == "dual"
    budget = device_memory_budget(xp, budget)
    need, rows = plan_linear_attention(n, d, dual, rows, budget)
    if rows is None:
        raise_budget({"linear transformer Gram, solve and prompts": need}, budget,
                     f"the linear-transformer fit at d={d}, n={n}, D={D}")
    t0 = time.perf_counter()
    xq, h, y = device_prompts(xp, prompts)
    mu = (n / d) * ridge
    if dual:
        mat = xq @ xq.T
        mat *= h @ h.T
        rhs = y
    else:
        mat = None
        tmp = xp.empty((D, D)) if rows < n else None
        work = xp.empty(min(rows, n) * D)
        rhs = xp.zeros(D)
        for lo in range(0, n, rows):
            hi = min(n, lo + rows)
            vh = vec_h(xp, xq[lo:hi], h[lo:hi], flat(work, (hi - lo, D)))
            mat = gram_add(xp, mat, vh.T, vh, tmp)
            rhs += vh.T @ y[lo:hi]
        del tmp, work
    synchronize(xp)
    t1 = time.perf_counter()
    sol = solve_psd(xp, mat, rhs, mu, fallback=True)
    del mat
    gamma = (xq * sol[:, None]).T @ h if dual else sol.reshape(d, d + 1)
    gamma = to_host(gamma)
    if timings is not None:
        timings["gram"] = timings.get("gram", 0.0) + (t1 - t0)
        timings["solve"] = timings.get("solve", 0.0) + (time.perf_counter() - t1)
    return gamma
