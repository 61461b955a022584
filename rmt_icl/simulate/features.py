r"""Linear-attention features ``vec H_Z = x_q (x) h`` and their Gram matrices, chunked and in BLAS.

Conventions (Lu et al. 2024; ``docs/theory/linear_attention.md``)
-----------------------------------------------------------------
A prompt enters linear attention only through ``H_Z = x_q h^T`` (``x_q`` in R^d,
``h`` in R^{d+1}), and the prediction is ``y_hat = <Gamma, H_Z>_F = x_q^T Gamma h``. The
vectorisation is **row-major**: ``vec H = x_q (x) h``, entry ``(a, j)`` at position
``a (d+1) + j``, so ``Gamma.reshape(-1)`` pairs with it. ``D = d (d+1)`` features.

Primal Gram without forming the features
----------------------------------------
``G = sum_mu vec H_mu vec H_mu^T`` has entries

    G[(a, j), (b, k)] = sum_mu x_a x_b h_j h_k ,

symmetric in ``a <-> b`` and in ``j <-> k`` *separately*. Only the
``P = d(d+1)/2`` pairs ``a <= b`` and ``Q = (d+1)(d+2)/2`` pairs ``j <= k`` are distinct, so
with ``U[mu, (a<=b)] = x_a x_b`` and ``V[mu, (j<=k)] = h_j h_k`` the compressed Gram
``M = U^T V`` (``P x Q``) holds every entry. It is one dgemm per chunk of prompts,
``2 m P Q ~ m D^2 / 2`` flops for ``m`` prompts -- half the flops of a ``dsyrk`` on the explicit
features (``m D^2``) and a quarter of a plain ``Phi^T Phi`` gemm -- and needs ``O(chunk D)``
working memory. ``M`` is then expanded to the ``D x D`` matrix ``G`` by an ``O(D^2)`` gather.

Dual kernel via the Gram identity
---------------------------------
``<vec H, vec H'> = <x_q, x_q'> <h, h'>``, so ``K = (X_q X_q^T) o (H H^T)`` (Hadamard
product, ``n x n``) costs two ``O(n^2 d)`` products and never forms ``vec H``.

The right-hand side is ``b = sum_mu y_mu vec H_mu = vec( X_q^T diag(y) H )``.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.linalg import blas

from rmt_icl.core.checks import check_int

#: working memory per chunk of prompts (bytes) used to pick the default chunk size
CHUNK_BYTES = 1 << 25


def _pairs(n: int):
    """Indices ``(i, j)`` with ``i <= j`` in row-major order, and the full ``n x n`` pair map."""
    iu, ju = np.triu_indices(n)
    index = np.empty((n, n), dtype=np.intp)
    index[iu, ju] = np.arange(iu.size)
    index[ju, iu] = np.arange(iu.size)
    return iu, ju, index


def _check_xq_h(xq, h):
    xq = np.asarray(xq, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    if xq.ndim != 2 or h.ndim != 2 or h.shape != (xq.shape[0], xq.shape[1] + 1):
        raise ValueError(f"xq and h must have shapes (m, d) and (m, d+1), got {xq.shape} "
                         f"and {h.shape}")
    return xq, h


def _pair_products_t(z: np.ndarray, out: np.ndarray) -> None:
    """``out[pair(a, b), :] = z[:, a] * z[:, b]`` for ``a <= b`` (row-major pair order).

    ``out`` has shape ``(n(n+1)/2, m)`` (pairs x prompts), so every write is contiguous.
    """
    zt = np.ascontiguousarray(z.T)
    n = zt.shape[0]
    off = 0
    for a in range(n):
        np.multiply(zt[a:], zt[a], out=out[off:off + n - a])
        off += n - a


def default_chunk(d: int) -> int:
    """Prompts per chunk: about :data:`CHUNK_BYTES` of work arrays, between 256 and 8192."""
    d = check_int("d", d, minimum=1)
    per_prompt = 8 * (d * (d + 1) // 2 + (d + 1) * (d + 2) // 2)
    return int(min(8192, max(256, CHUNK_BYTES // per_prompt)))


def la_features(xq, h) -> np.ndarray:
    """Explicit features ``vec H = x_q (x) h`` (row-major), shape ``(m, d (d+1))``.

    Only for small problems and tests; the fitting code never forms them.

    Parameters
    ----------
    xq : array_like, shape (m, d)
    h : array_like, shape (m, d + 1)
    """
    xq, h = _check_xq_h(xq, h)
    m, d = xq.shape
    return (xq[:, :, None] * h[:, None, :]).reshape(m, d * (d + 1))


def la_rhs(xq, h, y) -> np.ndarray:
    """``b = sum_mu y_mu vec H_mu`` as the ``d x (d+1)`` matrix ``X_q^T diag(y) H``."""
    xq, h = _check_xq_h(xq, h)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (xq.shape[0],):
        raise ValueError(f"y must have shape ({xq.shape[0]},), got {y.shape}")
    return (xq * y[:, None]).T @ h


def compressed_gram(xq, h, *, chunk: int | None = None, dtype=np.float64) -> np.ndarray:
    """Compressed primal Gram ``M = U^T V`` (module docstring), accumulated chunk by chunk.

    Parameters
    ----------
    xq : array_like, shape (m, d)
        Query covariates.
    h : array_like, shape (m, d + 1)
        Attention statistics.
    chunk : int, optional
        Prompts per chunk (default :func:`default_chunk`). Results agree across chunk sizes up
        to floating-point rounding of the summation order.
    dtype : {numpy.float64, numpy.float32}
        Precision of the accumulation (float32 uses ``sgemm``: about twice as fast, relative
        error ~1e-7; only for the mixed-precision solver, which refines in float64).

    Returns
    -------
    ndarray, shape (d(d+1)/2, (d+1)(d+2)/2), C order
        ``M[(a<=b), (j<=k)] = sum_mu x_a x_b h_j h_k``.
    """
    xq, h = _check_xq_h(xq, h)
    m, d = xq.shape
    chunk = default_chunk(d) if chunk is None else check_int("chunk", chunk, minimum=1)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    gemm = blas.dgemm if dtype == np.float64 else blas.sgemm
    npair_x, npair_h = d * (d + 1) // 2, (d + 1) * (d + 2) // 2
    # out is (Q, P) in Fortran order, i.e. M = out.T is (P, Q) in C order (rows contiguous)
    out = np.zeros((npair_h, npair_x), dtype=dtype, order="F")
    u_t = v_t = None
    for lo in range(0, m, chunk):
        hi = min(m, lo + chunk)
        if u_t is None or u_t.shape[1] != hi - lo:
            u_t = np.empty((npair_x, hi - lo), dtype=dtype)
            v_t = np.empty((npair_h, hi - lo), dtype=dtype)
        _pair_products_t(xq[lo:hi].astype(dtype, copy=False), u_t)
        _pair_products_t(h[lo:hi].astype(dtype, copy=False), v_t)
        # out += v u^T with v = v_t^T, u = u_t^T ("TN" dgemm on Fortran views, no copies)
        out = gemm(1.0, v_t.T, u_t.T, beta=1.0, c=out, trans_a=1, overwrite_c=1)
    return out.T
    return out


@numba.njit(cache=True)
def _expand_kernel(m, sidx, tidx, out):  # pragma: no cover - compiled
    d = sidx.shape[0]
    e = tidx.shape[0]
    for a in range(d):
        for j in range(e):
            row = a * e + j
            for b in range(d):
                s = sidx[a, b]
                base = b * e
                for k in range(e):
                    out[row, base + k] = m[s, tidx[j, k]]


def expand_gram(compressed: np.ndarray, d: int, out: np.ndarray | None = None) -> np.ndarray:
    """Expand the compressed Gram to the full ``D x D`` matrix ``G`` (row-major vec ordering).

    ``G[a (d+1) + j, b (d+1) + k] = M[pair(a, b), pair(j, k)]``: ``O(D^2)`` gathers in a small
    serial numba kernel (a NumPy ``take`` needs index arrays of ``D^2`` entries and is ~6x
    slower; a parallel kernel would leave OpenMP threads spinning against OpenBLAS).
    """
    d = check_int("d", d, minimum=1)
    _, _, sidx = _pairs(d)
    _, _, tidx = _pairs(d + 1)
    e = d + 1
    if compressed.shape != (d * e // 2, e * (e + 1) // 2):
        raise ValueError(f"compressed must have shape ({d * e // 2}, {e * (e + 1) // 2}), "
                         f"got {compressed.shape}")
    D = d * e
    if out is None:
        out = np.empty((D, D), dtype=compressed.dtype)
    elif out.shape != (D, D) or not out.flags.c_contiguous or out.dtype != compressed.dtype:
        raise ValueError(f"out must be a C-contiguous ({D}, {D}) {compressed.dtype} array")
    _expand_kernel(np.ascontiguousarray(compressed), sidx, tidx, out)
    return out


def la_gram(xq, h, *, chunk: int | None = None, dtype=np.float64) -> np.ndarray:
    """Primal Gram ``G = sum_mu vec H_mu vec H_mu^T``, shape ``(D, D)``, ``D = d (d+1)``.

    Computed as :func:`compressed_gram` (one dgemm per chunk, ``~ m D^2/2`` flops, memory
    ``O(D^2 + chunk D)``) followed by :func:`expand_gram`.
    """
    xq, h = _check_xq_h(xq, h)
    return expand_gram(compressed_gram(xq, h, chunk=chunk, dtype=dtype), xq.shape[1])


def la_gram_matvec(xq, h, V) -> np.ndarray:
    r"""``G vec V`` without ``G``: ``sum_mu (x_mu^T V h_mu) x_mu h_mu^T``, shape ``(d, d+1)``.

    ``O(n d^2)`` flops (two BLAS products), float64; used to refine mixed-precision solves.
    """
    xq, h = _check_xq_h(xq, h)
    s = np.einsum("mj,mj->m", xq @ V, h)
    return (xq * s[:, None]).T @ h


def la_kernel(xq, h, xq2=None, h2=None) -> np.ndarray:
    r"""Dual kernel ``K[mu, nu] = <vec H_mu, vec H'_nu> = <x_mu, x'_nu> <h_mu, h'_nu>``.

    ``O(m m' d)`` flops, two BLAS products and a Hadamard product; ``vec H`` is never formed.
    With one argument pair the symmetric ``n x n`` training kernel is returned.
    """
    xq, h = _check_xq_h(xq, h)
    if xq2 is None and h2 is None:
        k = xq @ xq.T
        k *= h @ h.T
        return k
    xq2, h2 = _check_xq_h(xq2, h2)
    k = xq @ xq2.T
    k *= h @ h2.T
    return k


def gram_flops(m: int, d: int) -> float:
    """Floating-point operations of :func:`compressed_gram` for ``m`` prompts: ``2 m P Q``."""
    return 2.0 * m * (d * (d + 1) / 2) * ((d + 1) * (d + 2) / 2)


def gram_memory_bytes(d: int, chunk: int | None = None, itemsize: int = 8) -> int:
    """Peak working memory of :func:`la_gram` in bytes (excluding the prompts).

    ``G`` (``D^2``), the compressed Gram (``P Q``) and one chunk of pair products
    (``chunk (P + Q)``), with ``P = d(d+1)/2``, ``Q = (d+1)(d+2)/2``. A solve with
    :func:`rmt_icl.simulate.ridge.solve_spd` adds one more ``D^2`` copy.
    """
    d = check_int("d", d, minimum=1)
    chunk = default_chunk(d) if chunk is None else check_int("chunk", chunk, minimum=1)
    D = d * (d + 1)
    p, q = d * (d + 1) // 2, (d + 1) * (d + 2) // 2
    return int(itemsize * (D * D + p * q + chunk * (p + q)))
