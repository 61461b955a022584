"""Numba kernels of the Hermite engine (float64 throughout, compiled once and cached on disk).

* :func:`hermite_polynomials` -- ``He_0..He_P(u)`` on large arrays by the three-term recurrence
  ``He_{k+1}(u) = u He_k(u) - k He_{k-1}(u)``;
* :func:`hermite_series` -- ``Σ_j c_j He_j(u)`` elementwise, parallel over the entries of an
  array of any shape (the Hermite-equivalent model applies it to n × k pre-activation matrices),
  allocation-free with ``out=``;
* ``mehler_series`` -- ``Σ_k a_k ρ^k`` (Horner), the dual kernel's Mehler series;
* ``panel_sums`` / ``panel_residual`` -- the inner loops of the adaptive quadrature, which
  accumulate orthonormal Hermite moments panel by panel without building a Vandermonde matrix.

Float64 range. ``He_k`` grows like ``|u|^k`` and ``He_{2m}(0) = (-1)^m (2m-1)!!``; the engine caps
degrees at :data:`MAX_DEGREE` = 170 (``k!`` overflows float64 at ``k = 171``). ``He_170(u)`` is
finite for ``|u| ≲ 60``; beyond that the kernels return ``±inf`` rather than wrapping around.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from rmt_icl.hermite._validate import MAX_DEGREE, check_degree


@nb.njit(cache=True, parallel=True, fastmath=False)
def _hepoly_kernel(u, out):  # pragma: no cover - compiled
    # u: (m,), out: (P+1, m)
    npoly = out.shape[0]
    m = u.shape[0]
    for i in nb.prange(m):
        x = u[i]
        pm1 = 1.0
        out[0, i] = 1.0
        if npoly > 1:
            p = x
            out[1, i] = x
            for k in range(1, npoly - 1):
                pn = x * p - k * pm1
                out[k + 1, i] = pn
                pm1 = p
                p = pn


@nb.njit(cache=True, parallel=True, fastmath=False)
def _heseries_kernel(u, c, out):  # pragma: no cover - compiled
    # u, out: flat (m,) views of C-contiguous arrays; c: (P+1,)
    m = u.shape[0]
    npoly = c.shape[0]
    for j in nb.prange(m):
        x = u[j]
        s = c[0]
        if npoly > 1:
            pm1 = 1.0
            p = x
            s += c[1] * x
            for k in range(1, npoly - 1):
                pn = x * p - k * pm1
                s += c[k + 1] * pn
                pm1 = p
                p = pn
        out[j] = s


@nb.njit(cache=True, parallel=True, fastmath=False)
def _mehler_kernel(rho, a, out):  # pragma: no cover - compiled
    n = rho.shape[0]
    npoly = a.shape[0]
    for i in nb.prange(n):
        x = rho[i]
        s = 0.0
        for k in range(npoly - 1, -1, -1):
            s = s * x + a[k]
        out[i] = s


@nb.njit(cache=True, fastmath=False)
def panel_sums(x, w, f, npoly, m2_weight, out, err, tot):  # pragma: no cover - compiled
    """Orthonormal Hermite moments per panel, for a coarse and a fine rule.

    ``x, w, f`` have shape ``(panels, 3n)``: columns ``0..n-1`` are the n-point Gauss-Legendre
    rule on the whole panel, columns ``n..3n-1`` the same rule on its two halves; ``w`` already
    holds the Gaussian density. ``out[p, r, k]`` (r = 0 coarse, 1 fine) receives
    ``Σ w f h_k(x)`` for ``k < npoly`` with ``h_k = He_k/√(k!)``, and ``out[p, r, npoly] = Σ w f²``.
    ``err[p] = max(max_k |fine - coarse|, m2_weight · |fine - coarse|_{f²})``; ``tot[0]`` and
    ``tot[1]`` receive the sums over panels of the fine values and of ``|fine - coarse|``. Returns
    ``Σ_p err[p]``.
    """
    npan, ncol = x.shape
    n = ncol // 3
    a = np.empty(npoly + 1)
    bq = np.empty(npoly + 1)
    for k in range(1, npoly + 1):
        a[k] = 1.0 / math.sqrt(k)
        bq[k] = math.sqrt((k - 1.0) / k)
    acc = np.empty((2, npoly + 1))
    tot[:, :] = 0.0
    total = 0.0
    for p in range(npan):
        acc[:, :] = 0.0
        for col in range(ncol):
            r = 0 if col < n else 1
            xx = x[p, col]
            fv = f[p, col]
            wf = w[p, col] * fv
            acc[r, npoly] += wf * fv
            acc[r, 0] += wf
            if npoly > 1:
                hm1 = 1.0
                h = xx
                acc[r, 1] += wf * h
                for k in range(2, npoly):
                    hn = xx * h * a[k] - bq[k] * hm1
                    acc[r, k] += wf * hn
                    hm1 = h
                    h = hn
        e = m2_weight * abs(acc[1, npoly] - acc[0, npoly])
        for k in range(npoly + 1):
            out[p, 0, k] = acc[0, k]
            out[p, 1, k] = acc[1, k]
            d = abs(acc[1, k] - acc[0, k])
            tot[0, k] += acc[1, k]
            tot[1, k] += d
            if k < npoly and d > e:
                e = d
        err[p] = e
        total += e
    return total


@nb.njit(cache=True, fastmath=False)
def panel_residual(x, w, f, s, out):  # pragma: no cover - compiled
    """``out[p, r] = Σ w (f - Σ_k s_k h_k(x))²`` per panel for the coarse (r=0) and fine rule.

    Returns ``(Σ_p out[p, 1], Σ_p |out[p, 1] - out[p, 0]|)``.
    """
    npan, ncol = x.shape
    n = ncol // 3
    npoly = s.shape[0]
    a = np.empty(npoly + 1)
    bq = np.empty(npoly + 1)
    for k in range(1, npoly + 1):
        a[k] = 1.0 / math.sqrt(k)
        bq[k] = math.sqrt((k - 1.0) / k)
    tot = 0.0
    dif = 0.0
    for p in range(npan):
        out[p, 0] = 0.0
        out[p, 1] = 0.0
        for col in range(ncol):
            r = 0 if col < n else 1
            xx = x[p, col]
            g = s[0]
            if npoly > 1:
                hm1 = 1.0
                h = xx
                g += s[1] * h
                for k in range(2, npoly):
                    hn = xx * h * a[k] - bq[k] * hm1
                    g += s[k] * hn
                    hm1 = h
                    h = hn
            d = f[p, col] - g
            out[p, r] += w[p, col] * d * d
        tot += out[p, 1]
        dif += abs(out[p, 1] - out[p, 0])
    return tot, dif


# ---------------------------------------------------------------------------------------------
# public wrappers


def _as_c_float64(u) -> np.ndarray:
    """float64, C-contiguous, shape kept (0-d stays 0-d); no copy when already so."""
    ua = np.asarray(u, dtype=np.float64)
    return ua if ua.flags.c_contiguous else np.ascontiguousarray(ua)


def hermite_polynomials(u, degree, out=None) -> np.ndarray:
    """Probabilists' Hermite polynomials ``He_0(u), ..., He_P(u)`` on an array.

    Computed by the three-term recurrence ``He_0 = 1``, ``He_1 = u``,
    ``He_{k+1}(u) = u He_k(u) - k He_{k-1}(u)`` in a parallel numba kernel; for
    ``G ~ N(0,1)``, ``E[He_i(G) He_j(G)] = i! δ_ij``.

    Parameters
    ----------
    u : array_like
        Points, any shape; converted to float64.
    degree : int
        Highest degree P, ``0 <= P <= 170`` (:data:`MAX_DEGREE`).
    out : ndarray, optional
        C-contiguous float64 array of shape ``(P+1,) + u.shape`` to write into.

    Returns
    -------
    ndarray
        Shape ``(P+1,) + u.shape``; entry ``[k, ...]`` is ``He_k(u)``. Values overflow to ``±inf``
        only where ``|He_k(u)| > 1.8e308`` (e.g. ``k = 170`` and ``|u| ≳ 60``).
    """
    p = check_degree(degree)
    ua = _as_c_float64(u)
    shape = (p + 1,) + ua.shape
    if out is None:
        out = np.empty(shape)
    elif (
        not isinstance(out, np.ndarray)
        or out.dtype != np.float64
        or out.shape != shape
        or not out.flags.c_contiguous
    ):
        raise ValueError(
            f"out must be a C-contiguous float64 array of shape {shape}, got "
            f"{getattr(out, 'dtype', type(out))} {getattr(out, 'shape', '')}"
        )
    if ua.size:
        _hepoly_kernel(ua.reshape(-1), out.reshape(p + 1, -1))
    return out


def hermite_series(u, coeffs, out=None) -> np.ndarray:
    """Evaluate the Hermite series ``Σ_{j=0}^{P} c_j He_j(u)`` elementwise (parallel numba kernel).

    Uses the forward recurrence ``He_{k+1} = u He_k - k He_{k-1}`` per element (no temporaries).
    With ``c = hermite_coefficients(σ, P, variance=v)``, ``hermite_series(z, c)`` is the degree-P
    Hermite truncation of ``σ(√v z)`` (its L² error under z ~ N(0,1) is the residual c*_P).

    Parameters
    ----------
    u : array_like
        Points (typically an n × k matrix of standardised pre-activations). Allocation-free when
        ``u`` is a C-contiguous float64 array and ``out`` is given.
    coeffs : array_like
        ``c_0..c_P`` (1-D, finite), ``P <= 170``.
    out : ndarray, optional
        C-contiguous float64 array of ``u``'s shape; may be ``u`` itself (in-place).

    Returns
    -------
    ndarray
        ``Σ_j c_j He_j(u)``, float64, same shape as ``u``.
    """
    c = np.ascontiguousarray(coeffs, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)):
        raise ValueError(
            f"coeffs must be a non-empty 1-D array of finite numbers, got shape {c.shape}"
        )
    if c.size - 1 > MAX_DEGREE:
        raise ValueError(
            f"coeffs must have at most {MAX_DEGREE + 1} entries (degree in [0, {MAX_DEGREE}]), "
            f"got {c.size}"
        )
    ua = _as_c_float64(u)
    if out is None:
        out = np.empty(ua.shape)
    elif (
        not isinstance(out, np.ndarray)
        or out.dtype != np.float64
        or out.shape != ua.shape
        or not out.flags.c_contiguous
    ):
        raise ValueError(
            f"out must be a C-contiguous float64 array of shape {ua.shape}, got "
            f"{getattr(out, 'dtype', type(out))} {getattr(out, 'shape', '')}"
        )
    if ua.size:
        _heseries_kernel(ua.reshape(-1), c, out.reshape(-1))
    return out


def mehler_series(rho: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``Σ_k a_k ρ^k`` elementwise (Horner) for a float64 array ``rho`` of any shape."""
    r = _as_c_float64(rho)
    out = np.empty(r.shape)
    if r.size:
        _mehler_kernel(r.reshape(-1), np.ascontiguousarray(a, dtype=np.float64), out.reshape(-1))
    return out
