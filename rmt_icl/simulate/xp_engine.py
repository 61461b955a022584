r"""The array path of the simulators: the random transformer, its Hermite models and the linear
transformer, written once against an array namespace ``xp`` (CuPy on a GPU, NumPy in the tests).

:func:`rmt_icl.simulate.random_transformer.simulate_models` and
:func:`rmt_icl.simulate.linear_attention.simulate_point` call this module when their ``device``
(:mod:`~rmt_icl.simulate.device`) is the GPU; everything else of a run -- parameters, sizes,
prompts and test sets (drawn on the host), ``t``, the result dataclasses -- is the CPU path's.
The conventions are the CPU path's too:

* pre-activations ``U = vec H F^T`` by GEMM in row chunks, ``vec H = x_q (x) h`` formed
  explicitly (training and test prompts alike: the test route is the explicit one, with the
  same test contexts, ``Q`` queries per context and per-context errors as
  :mod:`~rmt_icl.simulate.rt_evaluation`);
* feature maps: ``sigma`` from :data:`XP_ACTIVATIONS`, or the Hermite series
  ``sum_j c_j He_j(u) + c*_p z`` by the three-term recurrence;
* the unscaled ridge problem of :mod:`~rmt_icl.simulate.rt_fit`: primal ``(S^T S + k lambda_bar
  I) c = S^T y`` for ``k <= n``, dual ``(S S^T + k lambda_bar I) beta = y``, ``c = S^T beta``
  for ``k > n``, with full (not packed) Grams accumulated by GEMM and a Cholesky solve; a
  ridgeless singular Gram gives the minimum-norm solution, a non-positive-definite Gram with
  ``ridge > 0`` raises, as on the CPU;
* the linear transformer (:func:`rmt_icl.simulate.xp_linear.fit_linear_attention`, shared
  with the linear-attention simulator): ``D x D`` Gram of ``vec H`` (or the ``n x n`` kernel
  when ``n < D``, the CPU path's choice), penalty ``(n/d) lambda ||Gamma||_F^2`` as in
  :func:`~rmt_icl.simulate.linear_attention.fit_linear_attention`; its exact errors are
  computed on the host from ``Gamma``.

Sampling (:class:`~rmt_icl.simulate.device.ArrayDevice`)
--------------------------------------------------------
``"host"`` (exact mode): ``F`` from :func:`~rmt_icl.simulate.rt_features.sample_first_layer`
and the Hermite noise from :class:`~rmt_icl.simulate.rt_features.NoiseField` (same blocks,
same orientation: rows in the primal fit and on test, columns in the dual fit), moved to the
device -- the numbers are the CPU path's up to rounding. ``"device"``: ``F`` drawn by
:func:`~rmt_icl.simulate.device.device_generator` on stream ``features``, the noise in blocks
of :data:`DEVICE_NOISE_BLOCK` rows (or columns), block ``b`` keyed by the ``SeedSequence``
child ``(..., b)`` of stream ``hermite_noise_train``/``hermite_noise_test``, so any chunking,
and every model of the run, sees the same noise.

Memory
------
:func:`plan_run` itemises the device memory of a run before anything is allocated -- ``F``
(``8 k D`` bytes), one full Gram (``8 min(n,k)^2``) per model fitted in the same pass, one
Gram-sized workspace (Cholesky factor or accumulation buffer; three more for the
eigendecomposition fallback of a ridgeless solve), chunk buffers -- picks the models per pass
and the chunk sizes that fit the budget
(:func:`~rmt_icl.simulate.device.device_memory_budget`: a share of the free device memory, or
the ``memory_budget`` parameter), and raises :class:`~rmt_icl.core.errors.MemoryBudgetError`
with the itemised sizes otherwise.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from rmt_icl.core.checks import check_positive
from rmt_icl.core.seeding import stream
from rmt_icl.simulate.data import Prompts
from rmt_icl.simulate.device import (
    ArrayDevice,
    device_generator,
    device_memory_budget,
    scipy_modules,
    synchronize,
    to_device,
    to_host,
)
from rmt_icl.simulate.paths import Sizes
from rmt_icl.simulate.ridge import prefer_dual
from rmt_icl.simulate.rt_evaluation import EvaluationSet, context_errors
from rmt_icl.simulate.rt_feature_maps import FeatureMap
from rmt_icl.simulate.rt_features import NoiseField, copy_blocks, sample_first_layer
from rmt_icl.simulate.rt_fit import RandomFeaturesFit
from rmt_icl.simulate.rt_resources import PhaseClock
from rmt_icl.simulate.xp_linear import (
    F8,
    MIN_ROWS,
    device_prompts,
    flat,
    gram_add,
    largest,
    plan_linear_attention,
    raise_budget,
    solve_psd,
    vec_h,
)

__all__ = [
    "DEVICE_NOISE_BLOCK",
    "XP_ACTIVATIONS",
    "DeviceClock",
    "DeviceNoise",
    "DevicePlan",
    "evaluate",
    "fit_random_features",
    "hermite_series",
    "plan_run",
    "xp_feature_map",
]

#: rows (or columns) per independently seeded block of device-drawn Hermite noise
DEVICE_NOISE_BLOCK = 256
#: smallest number of neurons per block of the dual fit
MIN_COLUMNS = 128
#: chunk sizes the plan tries to keep before fitting fewer models per pass
COMFORTABLE = 1024


# ----------------------------------------------------------------------------- feature maps


def _product(first, u, out):
    """``out = first(u, out=out) * u``."""
    first(u, out=out)
    out *= u
    return out


#: registered activations the array path evaluates: name -> ``f(xp, special, u, out, a)``
#: writing ``sigma(u)`` into ``out``, the formulas of :mod:`rmt_icl.hermite.activations`
#: (``special``: ``scipy.special`` or ``cupyx.scipy.special``; ``a``: erf's parameter)
XP_ACTIVATIONS = {
    "identity": lambda xp, special, u, out, a: xp.multiply(u, 1.0, out=out),
    "relu": lambda xp, special, u, out, a: xp.maximum(u, 0.0, out=out),
    "tanh": lambda xp, special, u, out, a: xp.tanh(u, out=out),
    "erf": lambda xp, special, u, out, a: special.erf(u if a == 1.0 else a * u, out=out),
    "gelu": lambda xp, special, u, out, a: _product(special.ndtr, u, out),
    "sigmoid": lambda xp, special, u, out, a: special.expit(u, out=out),
    "softplus": lambda xp, special, u, out, a: xp.logaddexp(0.0, u, out=out),
    "silu": lambda xp, special, u, out, a: _product(special.expit, u, out),
    "abs": lambda xp, special, u, out, a: xp.abs(u, out=out),
}


def _check_activation(act):
    """The array-path kernel of a *registered* activation; ValueError otherwise."""
    name = getattr(act, "name", None)
    key = getattr(act, "key", None)
    params = dict(getattr(act, "params", {}) or {})
    if key is None or name not in XP_ACTIVATIONS or set(params) - {"a"}:
        raise ValueError(
            f"activation {name or act!r} is not supported on the GPU; supported: registered "
            f"{sorted(XP_ACTIVATIONS)} (erf with any a); use device='cpu' for others")
    return XP_ACTIVATIONS[name], float(params.get("a", 1.0))


def hermite_series(xp, u, coeffs, out, work):
    """``sum_j c_j He_j(u)`` by ``He_{j+1} = u He_j - j He_{j-1}`` (the CPU kernel's order).

    Parameters
    ----------
    u, out : arrays of one shape
    coeffs : sequence of float
        ``c_0..c_p``.
    work : list of 3 arrays of ``u``'s shape
        Scratch (two Hermite polynomials and a product).
    """
    c = [float(x) for x in coeffs]
    out.fill(c[0])
    if len(c) == 1:
        return out
    tmp, bufs = work[0], [work[1], work[2]]
    xp.multiply(u, c[1], out=tmp)
    out += tmp
    pm1, p = None, u                       # He_0 = 1 (scalar), He_1 = u
    for k in range(1, len(c) - 1):
        pn = bufs[k % 2]                   # never p (the other buffer) nor u
        if pm1 is None:
            xp.multiply(u, p, out=pn)
            pn -= 1.0
        else:
            xp.multiply(pm1, float(k), out=tmp)      # pm1 may be pn's storage: read first
            xp.multiply(u, p, out=pn)
            pn -= tmp
        xp.multiply(pn, c[k + 1], out=tmp)
        out += tmp
        pm1, p = p, pn
    return out


def xp_feature_map(xp, fm: FeatureMap):
    """``f(u, z, out, work) -> s``: the array-path form of a feature map.

    The RT's ``sigma`` (:data:`XP_ACTIVATIONS`) or the Hermite series plus ``c*_p z``.

    Raises
    ------
    ValueError
        An activation the array path does not implement (the message lists the supported).
    """
    _, special = scipy_modules(xp)
    if fm.degree is None:
        kernel, a = _check_activation(fm.activation)

        def rt(u, z, out, work):
            return kernel(xp, special, u, out, a)
        return rt
    coeffs = [float(c) for c in fm.coefficients]
    residual = float(fm.residual)

    def hermite(u, z, out, work):
        hermite_series(xp, u, coeffs, out, work)
        if fm.needs_noise:
            xp.multiply(z, residual, out=work[0])
            out += work[0]
        return out
    return hermite


# ----------------------------------------------------------------------------- noise


class DeviceNoise:
    """Hermite noise ``z`` of shape ``(rows, cols)`` on the device, sliced along ``axis``.

    ``"host"`` sampling: the CPU path's :class:`~rmt_icl.simulate.rt_features.NoiseField`
    (identical numbers), copied to the device slice by slice. ``"device"`` sampling: blocks of
    :data:`DEVICE_NOISE_BLOCK` rows (``axis = 0``) or columns, block ``b`` drawn by
    :func:`~rmt_icl.simulate.device.device_generator` from ``SeedSequence(base.entropy,
    spawn_key = base.spawn_key + key + (b,))``; slices do not depend on the chunking.
    """

    def __init__(self, dev: ArrayDevice, base: np.random.SeedSequence, shape: tuple,
                 axis: int = 0, key: tuple = ()):
        self.dev = dev
        self.field = NoiseField(base, shape, axis=axis, key=key)    # validates shape, axis
        self._cache = None

    def _block(self, b: int):
        if self._cache is not None and self._cache[0] == b:
            return self._cache[1]
        f = self.field
        ss = np.random.SeedSequence(f.base.entropy, spawn_key=tuple(f.base.spawn_key) + f.key
                                    + (b,))
        size = min(DEVICE_NOISE_BLOCK, f.shape[f.axis] - b * DEVICE_NOISE_BLOCK)
        other = f.shape[1 - f.axis]
        shape = (size, other) if f.axis == 0 else (other, size)
        self._cache = None                          # free the old block first
        blk = device_generator(self.dev.xp, ss).standard_normal(shape)
        self._cache = (b, blk)
        return blk

    def slice(self, lo: int, hi: int, out):
        """Rows (``axis = 0``) or columns ``lo:hi`` of the field, written into ``out``."""
        f = self.field
        if self.dev.sampling == "host":
            out[...] = to_device(self.dev.xp, f.slice(lo, hi))
            return out
        return copy_blocks(out, lo, hi, DEVICE_NOISE_BLOCK, f.axis, self._block)


# ----------------------------------------------------------------------------- memory plan


@dataclass(frozen=True)
class DevicePlan:
    """Device memory of a run and the chunk sizes that fit (:func:`plan_run`).

    Attributes
    ----------
    items : dict
        Name -> bytes at the planned peak.
    budget : int
        The memory budget in bytes.
    group : int
        Random-features models fitted per training pass.
    rows : int
        Prompts per chunk of the primal fit, or per ``vec H`` chunk of the dual fit.
    cols : int
        Neurons per block of the dual fit (``k`` in the primal).
    test_contexts : int
        Test contexts per chunk of the evaluation.
    la_rows : int
        Prompts per chunk of the linear transformer's ``D x D`` Gram.
    """

    items: dict
    budget: int
    group: int = 1
    rows: int = 1
    cols: int = 1
    test_contexts: int = 1
    la_rows: int = 1

    @property
    def total(self) -> int:
        """Planned peak bytes."""
        return int(sum(self.items.values()))


def _per_element_buffers(maps, sampling: str) -> int:
    """Chunk-shaped arrays per element: ``U``, ``S``, map scratch (3 for Hermite series, else
    1) and, with noise, ``z`` (plus its transfer copy in host sampling)."""
    noise = any(fm.needs_noise for fm in maps)
    hermite = any(fm.degree is not None for fm in maps)
    return 2 + (3 if hermite else 1) + (0 if not noise else (2 if sampling == "host" else 1))


def _noise_block_bytes(maps, sampling: str, other: int) -> int:
    """Device-drawn noise: the cached block and the one being drawn."""
    if sampling != "device" or not any(fm.needs_noise for fm in maps):
        return 0
    return 2 * F8 * DEVICE_NOISE_BLOCK * other


def _dual_rows(nb: int, n: int, D: int, cols: int) -> int:
    """Prompts per ``vec H`` chunk of the dual fit: ``vec H`` of all prompts when it is at most
    a quarter of the neuron block's buffers, else that quarter."""
    return int(min(n, max(MIN_ROWS, (nb * n * cols) // (4 * D))))


def plan_run(dev: ArrayDevice, sizes: Sizes, maps: list, linear: bool, n_ctx: int, Q: int,
             ridge: float, chunk: int | None, budget=None) -> DevicePlan:
    """Plan a run's device memory: models per pass and chunk sizes (nothing is allocated).

    Parameters
    ----------
    dev : ArrayDevice
    sizes : rmt_icl.simulate.paths.Sizes
    maps : list of FeatureMap
        The random-features models.
    linear : bool
        Whether the linear transformer is fitted.
    n_ctx, Q : int
        Contexts per test set and queries per context.
    ridge : float
        ``lambda_bar`` (a ridgeless solve may need the eigendecomposition fallback).
    chunk : int or None
        The run's ``chunk`` parameter (rows per chunk; neurons per block in the dual fit).
    budget : int or None
        The ``memory_budget`` parameter (bytes), else
        :func:`~rmt_icl.simulate.device.device_memory_budget`.

    Raises
    ------
    rmt_icl.core.errors.MemoryBudgetError
        Even one model per pass with the smallest chunks does not fit.
    """
    budget = device_memory_budget(dev.xp, budget)
    d, n, D = sizes.d, sizes.n, sizes.D
    k = sizes.k or 0
    items = {"prompts": F8 * (n * (2 * d + 2) + min(n_ctx, 4096) * (Q * (d + 1) + d + 2))}
    what = (f"the random-transformer run at d={d}, n={n}, k={k}, D={D}" if maps
            else f"the linear-transformer run at d={d}, n={n}, D={D}")
    la_need, la_rows = 0, 1
    if linear:
        la_need, la_rows = plan_linear_attention(n, d, prefer_dual(n, D), chunk,
                                                 budget - items["prompts"])
        items["linear transformer Gram and solve"] = la_need
        if la_rows is None:
            raise_budget(items, budget, what)
    if not maps:
        if sum(items.values()) > budget:
            raise_budget(items, budget, what)
        return DevicePlan(items, budget, la_rows=la_rows)

    items["F"] = F8 * k * D
    fixed = items["prompts"] + items["F"]
    nb = _per_element_buffers(maps, dev.sampling)
    m = min(n, k)
    gram = F8 * (m * m + 2 * k)
    gram_ws = F8 * m * m * (1 if ridge > 0 else 3)
    primal = k <= n

    def train_buffers(size):
        """Chunk buffers of the fit: ``size`` prompts (primal) or neurons (dual)."""
        if primal:
            return F8 * size * (D + nb * k) + _noise_block_bytes(maps, dev.sampling, k)
        rv = _dual_rows(nb, n, D, size)
        return F8 * (rv * D + nb * n * size) + _noise_block_bytes(maps, dev.sampling, n)

    width = n if primal else k                       # prompts (primal) or neurons (dual)
    lo = min(width, MIN_ROWS if primal else MIN_COLUMNS)
    group = size = None
    for floor_size in (min(width, COMFORTABLE), lo):
        for g in range(len(maps), 0, -1):
            avail = budget - fixed - g * gram

            def fits(s, avail=avail):
                return train_buffers(s) + max(gram, gram_ws) <= avail
            if chunk:
                s = chunk if fits(min(chunk, width)) else None
            else:
                s = largest(fits, floor_size, width)
            if s is not None:
                group, size = g, min(s, width)
                break
        if group is not None:
            break
    if group is None:
        items["Gram (per model)"] = gram
        items["Gram workspace"] = max(gram, gram_ws)
        items["chunk buffers (smallest)"] = train_buffers(lo)
        raise_budget(items, budget, what)
    if DEVICE_NOISE_BLOCK < size < width and not chunk:
        size -= size % DEVICE_NOISE_BLOCK                # whole noise blocks per chunk
    rows = size if primal else _dual_rows(nb, n, D, size)
    cols = k if primal else size

    coefs = F8 * k * len(maps)
    avail_test = budget - fixed - coefs
    test_noise = _noise_block_bytes(maps, dev.sampling, k)

    def test_fits(c):
        return F8 * c * Q * (D + nb * k + d + 2) + test_noise <= avail_test
    if chunk:
        ctx = max(1, chunk // Q)
        ctx = ctx if test_fits(min(ctx, n_ctx)) else None
    else:
        ctx = largest(test_fits, 1, n_ctx)
    train_peak = group * gram + train_buffers(size) + max(gram, gram_ws)
    test_peak = coefs + (F8 * min(ctx or 1, n_ctx) * Q * (D + nb * k + d + 2) + test_noise)
    items[f"Grams ({group} per pass) and chunk buffers"] = train_peak
    if ctx is None or max(train_peak, test_peak, la_need) + fixed > budget:
        items["test buffers"] = test_peak
        raise_budget(items, budget, what)
    items.pop("linear transformer Gram and solve", None)
    peak = max(train_peak, test_peak, la_need)
    items = {"prompts": items["prompts"], "F": items["F"],
             "peak of fit / linear transformer / test phase": peak}
    return DevicePlan(items, budget, group=group, rows=rows, cols=cols,
                      test_contexts=min(ctx, n_ctx), la_rows=la_rows)


# ----------------------------------------------------------------------------- clock


class DeviceClock(PhaseClock):
    """:class:`~rmt_icl.simulate.rt_resources.PhaseClock` that waits for the device's queued
    work at the start and end of each phase, so the phases time the device's work."""

    def __init__(self, xp):
        super().__init__()
        self.xp = xp

    def __enter__(self):
        synchronize(self.xp)
        super().__enter__()

    def __exit__(self, *exc):
        synchronize(self.xp)
        super().__exit__(*exc)


# ----------------------------------------------------------------------------- linear algebra


class _Buffers:
    """Flat scratch arrays of one phase: ``vec H``, ``U``, ``S``, ``z`` and map scratch."""

    def __init__(self, xp, vh: int, elems: int, noise: bool, scratch: int):
        self.vh = xp.empty(vh)
        self.u = xp.empty(elems)
        self.s = xp.empty(elems)
        self.z = xp.empty(elems) if noise else None
        self.work = [xp.empty(elems) for _ in range(scratch)]

    def views(self, shape):
        """``(U, S, z or None, work)`` viewed with ``shape``."""
        z = flat(self.z, shape) if self.z is not None else None
        return (flat(self.u, shape), flat(self.s, shape), z,
                [flat(w, shape) for w in self.work])


def _scratch(maps) -> int:
    return 3 if any(fm.degree is not None for fm in maps) else 1


# ----------------------------------------------------------------------------- fits


def _fit_primal(dev, plan, maps, kernels, F, train, ridge_s, noise, clock):
    """Primal fit (``k <= n``) over prompt chunks; returns ``(coefs, train_mse)``."""
    xp = dev.xp
    k, D = F.shape
    xq, h, y = train
    n = y.shape[0]
    rows = min(plan.rows, n)
    bufs = _Buffers(xp, rows * D, rows * k, noise is not None, _scratch(maps))
    tmp = xp.empty((k, k)) if rows < n else None
    grams, rhs = [None] * len(maps), [xp.zeros(k) for _ in maps]
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        r = hi - lo
        u, s_out, z, work = bufs.views((r, k))
        with clock("features"):
            vh = vec_h(xp, xq[lo:hi], h[lo:hi], flat(bufs.vh, (r, D)))
            xp.matmul(vh, F.T, out=u)
        if noise is not None:
            with clock("noise"):
                noise.slice(lo, hi, out=z)
        for j, kernel in enumerate(kernels):
            with clock("maps"):
                s = kernel(u, z, s_out, work)
            with clock("gram"):
                grams[j] = gram_add(xp, grams[j], s.T, s, tmp)
                rhs[j] += s.T @ y[lo:hi]
    del bufs, tmp
    coefs, train_mse = [], []
    yy = float(y @ y)
    with clock("solve"):
        for j in range(len(maps)):
            a = solve_psd(xp, grams[j], rhs[j], ridge_s, fallback=ridge_s == 0)
            grams[j] = None
            coefs.append(a)
            train_mse.append(max(0.0, yy - float(a @ rhs[j]) - ridge_s * float(a @ a)) / n)
    return coefs, train_mse


def _fit_dual(dev, plan, maps, kernels, F, train, ridge_s, noise, clock):
    """Dual fit (``k > n``): ``n x n`` Grams over neuron blocks, then ``c = S^T beta`` (the
    pre-activations kept from the first pass when one block holds every neuron)."""
    xp = dev.xp
    k, D = F.shape
    xq, h, y = train
    n = y.shape[0]
    cols, rows = min(plan.cols, k), min(plan.rows, n)
    bufs = _Buffers(xp, rows * D, n * cols, noise is not None, _scratch(maps))
    tmp = xp.empty((n, n)) if cols < k else None
    resident = cols >= k
    vh_ready = False

    def block(c0, c1):
        """``U`` and ``z`` of neurons ``c0:c1`` for all prompts, in the buffers."""
        nonlocal vh_ready
        u, s_out, z, work = bufs.views((n, c1 - c0))
        with clock("features"):
            for lo in range(0, n, rows):
                hi = min(n, lo + rows)
                vh = flat(bufs.vh, (hi - lo, D))
                if not vh_ready:
                    vec_h(xp, xq[lo:hi], h[lo:hi], vh)
                    vh_ready = rows >= n                 # one chunk: vec H computed once
                xp.matmul(vh, F[c0:c1].T, out=u[lo:hi])
        if noise is not None:
            with clock("noise"):
                noise.slice(c0, c1, out=z)
        return u, s_out, z, work

    grams = [None] * len(maps)
    for c0 in range(0, k, cols):
        c1 = min(k, c0 + cols)
        u, s_out, z, work = block(c0, c1)
        for j, kernel in enumerate(kernels):
            with clock("maps"):
                s = kernel(u, z, s_out, work)
            with clock("gram"):
                grams[j] = gram_add(xp, grams[j], s, s.T, tmp)
    tmp = None
    betas = []
    with clock("solve"):
        for j in range(len(maps)):
            betas.append(solve_psd(xp, grams[j], y, ridge_s, fallback=ridge_s == 0))
            grams[j] = None
    coefs = [xp.empty(k) for _ in maps]
    for c0 in range(0, k, cols):                           # second pass: c = S^T beta
        c1 = min(k, c0 + cols)
        u, s_out, z, work = bufs.views((n, c1 - c0)) if resident else block(c0, c1)
        for j, kernel in enumerate(kernels):
            with clock("maps"):
                s = kernel(u, z, s_out, work)
            with clock("solve"):
                coefs[j][c0:c1] = s.T @ betas[j]
    train_mse = [ridge_s * ridge_s * float(b @ b) / n for b in betas]
    return coefs, train_mse


def _first_layer(dev: ArrayDevice, seed, k: int, D: int, t_norm: float):
    """``F`` (``k x D``, entries ``N(0, 1/t)``) on the device, drawn as the sampling mode says."""
    rng = stream(seed, "features")
    if dev.sampling == "host":
        return to_device(dev.xp, sample_first_layer(rng, k, D, t_norm))
    t = float(check_positive("t", t_norm))
    F = device_generator(dev.xp, rng.bit_generator.seed_seq).standard_normal((k, D))
    F *= 1.0 / math.sqrt(t)
    return F


def fit_random_features(dev: ArrayDevice, plan: DevicePlan, maps: list, seed, train: Prompts,
                        sizes: Sizes, t_norm: float, ridge: float,
                        clock: PhaseClock) -> RandomFeaturesFit:
    """Draw ``F`` and fit every map on the device, ``plan.group`` maps per training pass.

    Same arguments (less ``group`` and ``chunk``, which come from ``plan``) and result as
    :func:`rmt_icl.simulate.rt_fit.fit_random_features`; ``F`` and the coefficients are
    arrays of ``dev.xp``.
    """
    xp = dev.xp
    out = RandomFeaturesFit()
    if not maps:
        return out
    kernels = [xp_feature_map(xp, fm) for fm in maps]
    t0 = time.perf_counter()
    k = sizes.k
    out.F = _first_layer(dev, seed, k, sizes.D, t_norm)
    synchronize(xp)
    out.t_first_layer = time.perf_counter() - t0
    base = stream(seed, "hermite_noise_train").bit_generator.seed_seq
    ridge_s = k * ridge                  # the unscaled problem of rt_fit: phi = s / sqrt(k)
    out.solver = "primal" if k <= sizes.n else "dual"
    fit = _fit_primal if out.solver == "primal" else _fit_dual
    data = device_prompts(xp, train)
    for g0 in range(0, len(maps), plan.group):
        group = maps[g0:g0 + plan.group]
        noise = (DeviceNoise(dev, base, (sizes.n, k), axis=0 if out.solver == "primal" else 1)
                 if any(fm.needs_noise for fm in group) else None)
        def fit_group(group=group, g0=g0, noise=noise):
            res = fit(dev, plan, group, kernels[g0:g0 + plan.group], out.F, data, ridge_s,
                      noise, clock)
            synchronize(xp)
            return res

        out.add_group(group, clock, fit_group)
    return out


# ----------------------------------------------------------------------------- evaluation


def _context_errors(dev, plan, test: EvaluationSet, F, fitted, kernels, noise, clock) -> dict:
    """Per-context errors of the random-features models on one test set (explicit route)."""
    xp = dev.xp
    n_ctx, Q, d = test.xq.shape
    k, D = F.shape
    c_ctx = min(plan.test_contexts, n_ctx)
    rows = c_ctx * Q
    bufs = _Buffers(xp, rows * D, rows * k, noise is not None, _scratch([fm for fm, _ in fitted]))
    errs = {fm.name: xp.empty(n_ctx) for fm, _ in fitted}
    for i0 in range(0, n_ctx, c_ctx):
        i1 = min(n_ctx, i0 + c_ctx)
        c, r = i1 - i0, (i1 - i0) * Q
        u, s_out, z, work = bufs.views((r, k))
        with clock("test_features"):
            xq = to_device(xp, test.xq[i0:i1])
            hc = to_device(xp, test.h[i0:i1])
            vh = flat(bufs.vh, (c, Q, d, d + 1))
            xp.multiply(xq[:, :, :, None], hc[:, None, None, :], out=vh)
            xp.matmul(vh.reshape(r, D), F.T, out=u)
        if noise is not None:
            with clock("noise"):
                noise.slice(i0 * Q, i1 * Q, out=z)
        yq = to_device(xp, test.y[i0:i1].reshape(-1))
        for (fm, a), kernel in zip(fitted, kernels, strict=True):
            with clock("maps"):
                s = kernel(u, z, s_out, work)
            with clock("predict"):
                res = yq - s @ a
                errs[fm.name][i0:i1] = xp.mean((res * res).reshape(c, Q), axis=1)
    return {name: to_host(e) for name, e in errs.items()}


def evaluate(dev: ArrayDevice, plan: DevicePlan, seed, tests: dict, F, fitted, gammas: dict,
             clock: PhaseClock) -> dict:
    """Per-context errors of every model on every test set, as
    :func:`rmt_icl.simulate.rt_evaluation.evaluate` returns them (host arrays).

    The random-features models run on the device (Hermite test noise from stream
    ``hermite_noise_test``, one field per test set); the linear transformers' errors are
    computed on the host by the CPU path's code.
    """
    xp = dev.xp
    kernels = [xp_feature_map(xp, fm) for fm, _ in fitted]
    need_noise = any(fm.needs_noise for fm, _ in fitted)
    base = stream(seed, "hermite_noise_test").bit_generator.seed_seq
    errs = {}
    for key, (label, test) in enumerate(tests.items()):
        n_ctx, Q = test.y.shape
        errs[label] = context_errors(test, None, [], gammas, None, None, clock)
        if fitted:
            noise = (DeviceNoise(dev, base, (n_ctx * Q, F.shape[0]), axis=0, key=(key,))
                     if need_noise else None)
            errs[label].update(_context_errors(dev, plan, test, F, fitted, kernels, noise,
                                               clock))
    if "idg" not in errs:
        errs["idg"] = errs["icl"]        # kappa = inf: IDG = ICL by definition
    return errs
