r"""Random-feature pre-activations ``u = F vec H_Z``, Hermite-model noise and packed Grams.

Pre-activations (Demir & Dogan 2025; ``docs/theory/random_transformer.md``)
----------------------------------------------------------------------------
* ``vec H_Z = x_q (x) h`` (row-major, ``D = d (d+1)``); the first layer ``F`` is ``k x D`` with
  rows ``f_r ~ N(0, I_D / t)`` (:func:`sample_first_layer`).
* Training prompts have distinct contexts, so their pre-activations are one dgemm per chunk of
  ``m`` prompts, ``U = vec H_chunk F^T`` (``2 m k D`` flops, :func:`preactivations`); neither
  ``vec H`` nor ``U`` is ever formed for all prompts at once.
* Test prompts are drawn with ``Q`` queries per context (same task and context statistic ``h``,
  fresh ``x_q``, label and noise), which lets the rank-one structure ``H_Z = x_q h^T`` pay off:
  with row ``r`` of ``F`` reshaped as ``A_r`` (``d x (d+1)``), ``u_r = x_q^T (A_r h)``, so

      B[i, r, :] = A_r h_i          one dgemm (contexts x (d+1)) @ ((d+1) x k d),
      U[i, q, r] = x_{iq}^T B[i, r] one small batched gemm per context,

  ``2 k D`` flops per *context* plus ``2 k d`` per query instead of ``2 k D`` per query
  (:func:`shared_context_preactivations`). Neuron blocks keep the ``B`` buffer bounded.

Hermite-model noise
-------------------
The Hermite model adds ``c*_p z`` with ``z`` i.i.d. ``N(0, 1)`` per (prompt, neuron).
:class:`NoiseField` generates ``z`` in fixed blocks of rows (or columns), each block from its
own child ``SeedSequence``, so any chunking of the same field gives bit-identical numbers.

Packed Grams
------------
Grams are accumulated with LAPACK's ``dsfrk`` in rectangular full packed (RFP) storage, half a
square matrix (:func:`sfrk_update`), and solved with ``dpftrf``/``dpftrs``
(:func:`rfp_solve`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import lapack

from rmt_icl.core.checks import check_int, check_positive
from rmt_icl.simulate.ridge import solve_spd
from rmt_icl.simulate.rt_resources import CHUNK_BYTES

#: rows (or columns) per independently seeded block of Hermite noise; fixed forever
NOISE_BLOCK = 64


# ----------------------------------------------------------------------------- F and u


def sample_first_layer(rng: np.random.Generator, k: int, D: int, t: float) -> np.ndarray:
    """Random first layer ``F`` (``k x D``, C order) with i.i.d. ``N(0, 1/t)`` entries.

    Parameters
    ----------
    rng : numpy.random.Generator
        The run's ``features`` stream.
    k, D : int
        Width and input dimension ``d (d+1)``.
    t : float
        Normalisation ``Tr Cov(vec H_Z)`` (> 0), so that ``E u_r^2 = 1``.
    """
    k = check_int("k", k, minimum=1)
    D = check_int("D", D, minimum=1)
    t = float(check_positive("t", t))
    f = rng.standard_normal((k, D))
    f *= 1.0 / math.sqrt(t)
    return f


def vec_h(xq: np.ndarray, h: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``vec H_Z = x_q (x) h`` (row-major) for each row, shape ``(m, d (d+1))``.

    ``out`` (C-contiguous, at least ``m d (d+1)`` entries) is reused if given.
    """
    m, d = xq.shape
    D = d * (d + 1)
    if out is None:
        out = np.empty((m, D))
    else:
        out = out.reshape(-1)[: m * D].reshape(m, D)
    np.multiply(xq[:, :, None], h[:, None, :], out=out.reshape(m, d, d + 1))
    return out


def preactivations(F: np.ndarray, xq: np.ndarray, h: np.ndarray, *,
                   out: np.ndarray | None = None,
                   work: np.ndarray | None = None) -> np.ndarray:
    """``U = vec H F^T`` for a chunk of prompts (one dgemm), shape ``(m, k)``.

    Parameters
    ----------
    F : ndarray, shape (k, D)
        First layer (or a block of its rows).
    xq, h : ndarray, shapes (m, d) and (m, d + 1)
        The chunk's queries and attention statistics.
    out : ndarray, optional
        ``(m, k)`` C-contiguous output buffer.
    work : ndarray, optional
        Buffer of at least ``m D`` floats for ``vec H``.
    """
    vh = vec_h(xq, h, out=work)
    return np.matmul(vh, F.T, out=out)


def shared_context_preactivations(F: np.ndarray, h: np.ndarray, xq: np.ndarray, *,
                                  out: np.ndarray | None = None,
                                  block_bytes: int = CHUNK_BYTES) -> np.ndarray:
    """Pre-activations of ``Q`` queries per context through the rank-one route.

    ``U[i, q, r] = x_{iq}^T A_r h_i`` with ``A_r`` row ``r`` of ``F`` reshaped ``d x (d+1)``.

    Parameters
    ----------
    F : ndarray, shape (k, d (d+1)), C order
    h : ndarray, shape (c, d + 1)
        Context statistics.
    xq : ndarray, shape (c, Q, d)
        The queries of each context.
    out : ndarray, optional
        ``(c * Q, k)`` C-contiguous output.
    block_bytes : int
        Size of the ``B = A h`` buffer per neuron block.

    Returns
    -------
    ndarray, shape (c * Q, k)
        Row ``i Q + q`` holds query ``q`` of context ``i``.
    """
    c, Q, d = xq.shape
    k = F.shape[0]
    if out is None:
        out = np.empty((c * Q, k))
    out3 = out.reshape(c, Q, k)
    F3 = F.reshape(k * d, d + 1)
    nb = int(min(k, max(1, block_bytes // (8 * c * d))))
    work = np.empty(c * nb * d)
    for lo in range(0, k, nb):
        hi = min(k, lo + nb)
        b = np.matmul(h, F3[lo * d: hi * d].T, out=work[: c * (hi - lo) * d].reshape(c, -1))
        b3 = b.reshape(c, hi - lo, d)
        # (c, Q, d) @ (c, d, r) -> (c, Q, r): one small gemm per context
        out3[:, :, lo:hi] = np.matmul(xq, b3.transpose(0, 2, 1))
    return out


# ----------------------------------------------------------------------------- noise


class NoiseField:
    """Reproducible ``N(0, 1)`` array of shape ``(rows, cols)``, generated block by block.

    Block ``b`` covers rows ``[b B, (b+1) B)`` (``axis = 0``) or columns (``axis = 1``), with
    ``B =`` :data:`NOISE_BLOCK`, and is drawn from ``SeedSequence(entropy,
    spawn_key = base.spawn_key + key + (b,))`` (SFC64 bit generator, the fastest of NumPy's for
    normal variates). Slices along ``axis`` are therefore identical
    whatever the chunking.

    Parameters
    ----------
    base : numpy.random.SeedSequence
        The role's seed sequence (e.g. of ``stream(run, "hermite_noise_train")``).
    shape : tuple of int
        ``(rows, cols)``.
    axis : {0, 1}
        Direction in which the field is sliced.
    key : tuple of int
        Extra spawn-key entries separating several fields of one role.
    """

    def __init__(self, base: np.random.SeedSequence, shape: tuple, axis: int = 0,
                 key: tuple = ()):
        if axis not in (0, 1):
            raise ValueError(f"axis must be 0 or 1, got {axis!r}")
        self.base = base
        self.shape = (int(shape[0]), int(shape[1]))
        self.axis = axis
        self.key = tuple(key)
        self._cache: tuple[int, np.ndarray] | None = None

    def _block(self, b: int) -> np.ndarray:
        if self._cache is not None and self._cache[0] == b:
            return self._cache[1]
        ss = np.random.SeedSequence(self.base.entropy,
                                    spawn_key=tuple(self.base.spawn_key) + self.key + (b,))
        rng = np.random.Generator(np.random.SFC64(ss))
        length = self.shape[self.axis]
        size = min(NOISE_BLOCK, length - b * NOISE_BLOCK)
        other = self.shape[1 - self.axis]
        blk = rng.standard_normal((size, other) if self.axis == 0 else (other, size))
        self._cache = (b, blk)
        return blk

    def slice(self, lo: int, hi: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows (``axis = 0``) or columns (``axis = 1``) ``lo:hi`` of the field."""
        other = self.shape[1 - self.axis]
        shape = (hi - lo, other) if self.axis == 0 else (other, hi - lo)
        if out is None:
            out = np.empty(shape)
        return copy_blocks(out, lo, hi, NOISE_BLOCK, self.axis, self._block)


def copy_blocks(out, lo: int, hi: int, block: int, axis: int, get_block):
    """Write rows (``axis = 0``) or columns ``lo:hi`` of a field stored in blocks into ``out``.

    Block ``b`` (``get_block(b)``) holds rows or columns ``b*block`` to ``(b+1)*block``; only
    the blocks that meet ``lo:hi`` are asked for, so any chunking reads the same numbers.
    """
    for b in range(lo // block, (hi - 1) // block + 1 if hi > lo else 0):
        blk = get_block(b)
        b0 = b * block
        s0, s1 = max(lo, b0), min(hi, b0 + blk.shape[axis])
        if axis == 0:
            out[s0 - lo: s1 - lo] = blk[s0 - b0: s1 - b0]
        else:
            out[:, s0 - lo: s1 - lo] = blk[:, s0 - b0: s1 - b0]
    return out


# ----------------------------------------------------------------------------- Gram


def rfp_diagonal(n: int) -> np.ndarray:
    """Positions of the diagonal of an ``n x n`` symmetric matrix in LAPACK's rectangular full
    packed (RFP) storage with ``transr='N'``, ``uplo='L'`` (``n (n+1)/2`` entries).

    Even ``n = 2m``: the RFP array is ``(n+1) x m`` (column major); ``A[j, j]`` sits at
    ``(j+1, j)`` for ``j < m`` and at ``(j-m, j-m)`` otherwise. Odd ``n = 2m+1``: ``n x (m+1)``;
    ``(j, j)`` for ``j <= m`` and ``(j-m-1, j-m)`` otherwise.
    """
    j = np.arange(n)
    m = n // 2
    if n % 2 == 0:
        return np.where(j < m, j * (n + 1) + j + 1, (j - m) * (n + 1) + (j - m))
    return np.where(j <= m, j * n + j, (j - m) * n + (j - m - 1))


def sfrk_update(gram: np.ndarray, phi: np.ndarray, *, rows_are_samples: bool) -> np.ndarray:
    """Accumulate a Gram matrix held in RFP storage in place (LAPACK ``dsfrk``, Level 3).

    Parameters
    ----------
    gram : ndarray, shape (p (p+1) / 2,)
        RFP storage (``transr='N'``, ``uplo='L'``) of the ``p x p`` Gram: ``p = k`` with
        ``gram += phi^T phi`` (``rows_are_samples``) or ``p = m`` with ``gram += phi phi^T``.
    phi : ndarray, C order, shape (m, k)
    """
    m, k = phi.shape
    a = phi.T  # Fortran view (k x m), no copy
    p, depth, trans = (k, m, "N") if rows_are_samples else (m, k, "T")
    out = lapack.dsfrk(p, depth, 1.0, a, 1.0, gram, transr="N", uplo="L", trans=trans,
                       overwrite_c=1)
    if out is not gram:  # pragma: no cover - wrapper copied
        gram[...] = out
    return gram


def rfp_solve(gram: np.ndarray, p: int, rhs: np.ndarray, ridge: float) -> np.ndarray:
    """Solve ``(G + ridge I) x = rhs`` for a PSD Gram ``G`` in RFP storage (``dpftrf/dpftrs``).

    With ``ridge > 0`` the factorisation overwrites ``gram``. With ``ridge = 0`` a copy is
    factorised, and if ``G`` is singular the minimum-norm solution is returned
    (:func:`rmt_icl.simulate.ridge.solve_spd` on the unpacked matrix).

    Raises
    ------
    numpy.linalg.LinAlgError
        ``G + ridge I`` numerically not positive definite although ``ridge > 0``.
    """
    a = gram if ridge > 0 else gram.copy()
    a[rfp_diagonal(p)] += ridge
    chol, info = lapack.dpftrf(p, a, transr="N", uplo="L", overwrite_a=1)
    if info == 0:
        x, info = lapack.dpftrs(p, chol, np.asarray(rhs, dtype=np.float64).reshape(p, -1),
                                transr="N", uplo="L")
        if info == 0:
            return x.reshape(np.shape(rhs))
    if ridge > 0:
        raise np.linalg.LinAlgError(
            f"Gram + ridge I is not numerically positive definite (ridge={ridge}, LAPACK "
            f"info={info}); increase the ridge")
    full, _ = lapack.dtfttr(p, gram, transr="N", uplo="L")
    full = np.tril(full) + np.tril(full, -1).T
    return solve_spd(full, rhs, 0.0)
