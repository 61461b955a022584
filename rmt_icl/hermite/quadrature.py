"""Numerical Hermite coefficients: vectorised adaptive composite Gauss-Legendre quadrature.

We compute the orthonormal moments ``s_k = E[σ(√v z) h_k(z)]`` with ``h_k = He_k/√(k!)``, then
``c_k = s_k/√(k!)``, the second moment ``E σ²`` and the residual
``c*_P² = E[(σ - Σ_{k≤P} s_k h_k)²]`` (computed directly, not by the cancelling difference
``E σ² - Σ s_k²``).

Method
------
1. **Truncation.** By Cramér's inequality ``|h_k(z)| e^{-z²/4} ≤ 1.0865`` for every k, so the
   part of any moment beyond ``|z| > L`` is bounded by the envelope ``|σ(√v z)| e^{-z²/4}``. We
   take the smallest L in (10, 12, ..., 60) beyond which the envelope, probed at the candidate
   points, stays below ``1e-17 · max(1, |σ|)`` (σ's typical size near the origin). If none
   qualifies the activation grows too fast for ``E σ²`` to be computed (or to exist):
   ``ValueError``. For the residual integrand ``(σ - Σ_{k≤P} s_k h_k)² φ`` we also need
   ``L ≥ √(4P+2) + 6`` (the Hermite functions ``h_k √φ`` extend to their turning point
   ``√(4k+2)`` and decay like Airy functions beyond it).
2. **Panels.** ``[-L, L]`` is cut into panels of width ≤ 2 with breakpoints at the known kinks
   ``u_i/√v`` (and the extra ``kinks=``). On each panel an n = 16 point Gauss-Legendre rule is
   applied to the whole panel (coarse) and to its two halves (fine); ``|fine - coarse|`` bounds the
   error of the coarse value and so, conservatively, of the fine one that we keep.
3. **Adaptivity.** While the summed estimate exceeds ``tol``, every panel whose estimate exceeds its
   share ``tol · width / (2L)`` is bisected (all such panels at once, one vectorised call of σ per
   level). Unknown kinks and jumps are thus found by bisection: a kink needs ~15 levels, a jump
   ~45 (panels down to ~1e-13 wide), each costing 2 panels.
4. **Error estimate.** The reported error is the summed ``|fine - coarse|`` over the final panels
   (per coefficient, converted to ``c_k``), plus the same for ``E σ²``. For the residual, the
   smaller of that panel estimate and ``|c*² - (E σ² - Σ s_k²)|`` plus the (controlled) error of
   the difference.

Accuracy: about 1e-15 for analytic σ (tanh, sigmoid, softplus, silu, ...) and ≤ ``tol`` (default
1e-13 times ``max(1, |σ|)``) with kinks or jumps, whether or not they are declared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rmt_icl.core.errors import ConvergenceError
from rmt_icl.hermite.activations import Activation
from rmt_icl.hermite.kernels import panel_residual, panel_sums

_N = 16  # Gauss-Legendre points per sub-rule
_L_CANDIDATES = (10.0, 12.0, 14.0, 16.0, 19.0, 22.0, 26.0, 30.0, 36.0, 42.0, 50.0, 60.0)
_PROBE_EXTRA = (70.0, 80.0)
_ENVELOPE_REL = 1e-17
_MAX_LEVELS = 64
_MAX_PANELS = 4000  # active panels per level; more means σ is singular or wildly oscillating
_PANEL_WIDTH = 2.0
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_EPS = float(np.finfo(float).eps)


class QuadratureError(ConvergenceError, ValueError):
    """The adaptive quadrature did not converge: σ is singular, not square-integrable, or too
    rough for the requested ``tol``. Both a :class:`~rmt_icl.core.errors.ConvergenceError` (with
    ``residual`` = the estimated error) and a ``ValueError`` (bad activation)."""


@dataclass(frozen=True)
class QuadratureResult:
    """Orthonormal moments and error estimates (internal)."""

    s: np.ndarray  # s_k = E[σ h_k]
    s_err: np.ndarray
    second_moment: float
    second_moment_err: float
    residual_sq: float
    residual_sq_err: float
    panels: int
    levels: int


@lru_cache(maxsize=8)
def _ref_rule(n: int):
    """Composite reference rule on [-1, 1]: whole (n nodes) then halves (2n nodes)."""
    t, w = np.polynomial.legendre.leggauss(n)
    x = np.concatenate([t, 0.5 * (t - 1.0), 0.5 * (t + 1.0)])
    ww = np.concatenate([w, 0.5 * w, 0.5 * w])
    return x, ww


def _nodes(a: np.ndarray, b: np.ndarray):
    """Nodes and Gaussian-weighted weights of the coarse+fine rules on panels [a_i, b_i]."""
    xr, wr = _ref_rule(_N)
    mid = 0.5 * (a + b)[:, None]
    half = 0.5 * (b - a)[:, None]
    x = mid + half * xr[None, :]
    w = (half * wr[None, :]) * np.exp(-0.5 * x * x) * _INV_SQRT_2PI
    return x, w


@lru_cache(maxsize=256)
def _initial_nodes(L: float, breaks: tuple):
    """Cached nodes/weights of the initial panels and the panel edges (never written to)."""
    edges = _initial_edges(L, breaks)
    x, w = _nodes(edges[:-1], edges[1:])
    return edges, x, w


def _raise_nonfinite(act: Activation, sv: float, z: np.ndarray, f: np.ndarray) -> None:
    bad = ~np.isfinite(f)
    u0 = float((sv * z)[bad].ravel()[0])
    raise ValueError(
        f"activation {act.name!r} returned {f[bad].ravel()[0]} at u = {u0:.6g}; it must return "
        "finite values on the real line (allowed: finite σ(u) with E[σ(√v z)²] < inf)"
    )


def _evaluate(act: Activation, sv: float, z: np.ndarray) -> np.ndarray:
    """σ(√v z) as float64 of z's shape; NaN/inf raise ValueError naming the offending u."""
    with np.errstate(all="ignore"):
        f = np.asarray(act(sv * z), dtype=np.float64)
    if f.shape != z.shape:
        f = np.broadcast_to(f, z.shape).astype(np.float64)
    if not np.isfinite(f.sum()) and not np.all(np.isfinite(f)):
        _raise_nonfinite(act, sv, z, f)
    return f


_CORE = np.array([-3.0, -2.0, -1.0, -0.5, -0.1, 0.1, 0.5, 1.0, 2.0, 3.0])
_CAND = np.array(_L_CANDIDATES + _PROBE_EXTRA)
_PROBE = np.concatenate([_CORE, -_CAND, _CAND])
_PROBE_ENV = np.exp(-0.25 * _PROBE * _PROBE)


_CUTOFF_CACHE: dict = {}


def choose_cutoff(act: Activation, sv: float) -> tuple[float, float]:
    """Return ``(L, scale)``: the truncation point in z and the typical size of σ near 0.

    Cached for registered activations (``act.key`` not None), keyed by (name, params, √v).
    """
    key = None if act.key is None else (act.key, sv)
    if key is not None:
        hit = _CUTOFF_CACHE.get(key)
        if hit is not None:
            return hit
    res = _choose_cutoff(act, sv)
    if key is not None:
        if len(_CUTOFF_CACHE) > 4096:
            _CUTOFF_CACHE.clear()
        _CUTOFF_CACHE[key] = res
    return res


def _choose_cutoff(act: Activation, sv: float) -> tuple[float, float]:
    with np.errstate(all="ignore"):
        f = np.asarray(act(sv * _PROBE), dtype=np.float64)
        if f.shape != _PROBE.shape:
            f = np.broadcast_to(f, _PROBE.shape).astype(np.float64)
        env = np.abs(f) * _PROBE_ENV
    nc, nk = len(_CORE), len(_CAND)
    fc = f[:nc]
    if not np.all(np.isfinite(fc)):
        _raise_nonfinite(act, sv, _CORE, fc)
    scale = max(1.0, float(np.max(np.abs(fc))))
    env = np.where(np.isfinite(env), env, np.inf)  # nan or overflow: grows too fast
    env = np.maximum(env[nc : nc + nk], env[nc + nk :])
    thr = _ENVELOPE_REL * scale
    # suffix maximum: the envelope must stay small from L on
    tail = np.maximum.accumulate(env[::-1])[::-1]
    ok = np.nonzero(tail[: len(_L_CANDIDATES)] <= thr)[0]
    if ok.size == 0:
        raise ValueError(
            f"activation {act.name!r} grows too fast at variance {sv * sv:.6g}: "
            "|σ(√v z)| e^{-z²/4} must fall below "
            f"{thr:.1e} by |z| = {_L_CANDIDATES[-1]:g} (allowed: activations with "
            "E[σ(√v z)²] < inf that decay against the Gaussian weight, e.g. polynomial or "
            "sub-Gaussian growth)"
        )
    return float(_L_CANDIDATES[ok[0]]), scale


def _initial_edges(L: float, breaks) -> np.ndarray:
    npan = int(math.ceil(2 * L / _PANEL_WIDTH))
    edges = np.linspace(-L, L, npan + 1)
    extra = np.array([b for b in breaks if -L < b < L], dtype=np.float64)
    if extra.size:
        edges = np.unique(np.concatenate([edges, extra]))
        keep = np.concatenate([[True], np.diff(edges) > 1e-12 * L])
        edges = edges[keep]
    return edges


def quadrature_moments(
    act: Activation, degree: int, variance: float, *, tol: float = 1e-13, kinks=()
) -> QuadratureResult:
    """Orthonormal Hermite moments of σ(√v z) by adaptive composite Gauss-Legendre quadrature.

    See the module docstring for the method. ``tol`` is the target absolute error of each
    ``s_k = √(k!) c_k``, relative to ``max(1, |σ|)`` near the origin; ``kinks`` are extra
    breakpoints in pre-activation units.
    """
    sv = math.sqrt(variance)
    L, scale = choose_cutoff(act, sv)
    # the residual integrand (σ - Σ s_k h_k)² φ carries the Hermite functions h_k √φ, which live
    # up to their turning point √(4k+2) and decay like Airy functions beyond: keep 6 more units
    L_deg = math.sqrt(4.0 * degree + 2.0) + 6.0
    if L_deg > L:
        L = next(c for c in _L_CANDIDATES if c >= L_deg)
    breaks = tuple(sorted(k / sv for k in tuple(act.kinks) + tuple(kinks)))
    edges, x, w = _initial_nodes(L, breaks)
    a, b = edges[:-1], edges[1:]
    npoly = degree + 1
    tol_abs = tol * scale
    acc = []
    err_acc = 0.0
    level = 0
    while True:
        if level:
            x, w = _nodes(a, b)
        f = _evaluate(act, sv, x)
        sums = np.empty((len(a), 2, npoly + 1))
        err = np.empty(len(a))
        tot = np.empty((2, npoly + 1))
        total = err_acc + panel_sums(x, w, f, npoly, 0.5 / scale, sums, err, tot)
        if total <= tol_abs or level >= _MAX_LEVELS or len(a) > _MAX_PANELS:
            acc.append((x, w, f, sums))
            stuck = total > tol_abs
            break
        width = b - a
        refine = (err > tol_abs * width / (2.0 * L)) & (width > 4e-15 * L)
        if not refine.any():
            acc.append((x, w, f, sums))
            stuck = False
            break
        keep = ~refine
        acc.append((x[keep], w[keep], f[keep], sums[keep]))
        err_acc += float(err[keep].sum())
        level += 1
        ar, br = a[refine], b[refine]
        m = 0.5 * (ar + br)
        a = np.concatenate([ar, m])
        b = np.concatenate([m, br])

    if len(acc) == 1:  # converged on the initial panels: totals come from the kernel
        x, w, f, sums = acc[0]
        fine, dif = tot[0], tot[1]
    else:
        x, w, f, sums = (np.concatenate([t[i] for t in acc]) for i in range(4))
        fine = sums[:, 1, :].sum(axis=0)
        dif = np.abs(sums[:, 1, :] - sums[:, 0, :]).sum(axis=0)
    s = fine[:npoly].copy()
    eps = _EPS
    m2 = float(fine[npoly])
    # rounding floors: sums of ~10³ terms bounded by |σ| h_k φ (|∫σ h_k φ| ≤ √(E σ²))
    m2_err = float(dif[npoly]) + 16.0 * eps * abs(m2)
    s_err = dif[:npoly] + 16.0 * eps * math.sqrt(abs(m2))
    if stuck and max(float(s_err.max()), m2_err / (2.0 * scale)) > 1e3 * tol_abs:
        worst = max(float(s_err.max()), m2_err / (2.0 * scale))
        pe = np.abs(sums[:, 1, :] - sums[:, 0, :]).max(axis=1)
        u_bad = sv * float(x[int(np.argmax(pe))].mean())
        raise QuadratureError(
            f"activation {act.name!r}: adaptive quadrature did not reach tol={tol:g} "
            f"(estimated error {worst:.2e} after {level} bisection levels, worst near "
            f"u = {u_bad:.4g}); σ looks singular, not square-integrable or too rough there "
            "(allowed: piecewise-smooth σ with E[σ(√v z)²] < inf)",
            residual=worst,
            where=u_bad,
        )
    r2, r2_err = panel_residual(x, w, f, s, np.empty((len(x), 2)))
    # the coefficients' own errors enter c*² at second order
    r2_err += float(np.dot(s_err, s_err)) + 4.0 * eps * max(r2, 0.0)
    # second estimate: the difference E σ² - Σ s_k² has a controlled error (but cancels); if the
    # direct value agrees with it, their distance plus that error also bounds the direct value
    r2_sub = m2 - float(np.dot(s, s))
    r2_sub_err = m2_err + float(np.dot(2.0 * np.abs(s) + s_err, s_err)) + (npoly + 2) * eps * m2
    r2_err = min(r2_err, abs(r2 - r2_sub) + r2_sub_err)
    return QuadratureResult(s, s_err, m2, m2_err, max(r2, 0.0), r2_err, len(x), level)
