"""Hermite expansions of activations: the public entry points of :mod:`rmt_icl.hermite`.

Conventions: ``z ~ N(0, 1)``, probabilists' Hermite polynomials ``He_k`` (``He_0 = 1``,
``He_1 = z``, ``He_{k+1} = z He_k - k He_{k-1}``, ``E[He_i He_j] = i! δ_ij``), pre-activation
``u = √v z`` and

    c_k = E[σ(√v z) He_k(z)] / k!,    σ(√v z) = Σ_k c_k He_k(z)  in L²,
    E σ² = Σ_k k! c_k²,               c*_P = sqrt(E σ² - Σ_{k≤P} k! c_k²).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rmt_icl.core.checks import as_float_array
from rmt_icl.hermite._validate import MAX_DEGREE, check_degree, check_variance
from rmt_icl.hermite.activations import Activation, get_activation
from rmt_icl.hermite.kernels import hermite_series, mehler_series
from rmt_icl.hermite.mp import mp_hermite
from rmt_icl.hermite.quadrature import quadrature_moments

METHODS = ("auto", "closed_form", "quadrature", "mpmath")
_EPS = float(np.finfo(float).eps)
#: k! for k = 0..MAX_DEGREE as float64 (exact up to rounding of the last bit)
FACTORIALS = np.array([float(math.factorial(k)) for k in range(MAX_DEGREE + 1)])
SQRT_FACTORIALS = np.sqrt(FACTORIALS)


@dataclass(frozen=True, eq=False)
class HermiteExpansion:
    """Degree-P Hermite expansion of ``σ(√v z)``, ``z ~ N(0, 1)``.

    Attributes
    ----------
    activation : str
        Name of the activation.
    params : dict
        Its parameters.
    degree : int
        P.
    variance : float
        v, the variance of the pre-activation ``u = √v z``.
    coefficients : ndarray
        ``c_0..c_P``, ``c_k = E[σ(√v z) He_k(z)]/k!`` (read-only float64).
    residual : float
        ``c*_P = sqrt(E σ² - Σ_{k≤P} k! c_k²)``.
    residuals : ndarray
        ``c*_0..c*_P`` (cumulative residuals, non-increasing).
    second_moment : float
        ``E σ(√v z)²``.
    error : float
        Estimate of the achieved absolute error, the largest over the ``c_k``, ``c*_P`` and
        ``E σ²``.
    method : str
        ``"closed_form"``, ``"quadrature"`` or ``"mpmath"``.
    info : dict
        Diagnostics: ``s_err`` (error estimates of the orthonormal coefficients ``√(k!) c_k``),
        ``panels``/``levels`` (quadrature), ``residual_by`` (closed form: ``"tail sum"`` or
        ``"difference"``), ``precision``/``mp`` (mpmath path).
    """

    activation: str
    params: dict
    degree: int
    variance: float
    coefficients: np.ndarray
    residual: float
    residuals: np.ndarray
    second_moment: float
    error: float
    method: str
    info: dict = field(default_factory=dict, repr=False)

    @property
    def energies(self) -> np.ndarray:
        """``k! c_k²`` for k = 0..P (their sum plus ``c*_P²`` is ``E σ²``: Parseval)."""
        return FACTORIALS[: self.degree + 1] * self.coefficients * self.coefficients

    def __call__(self, z, out=None) -> np.ndarray:
        """Evaluate the truncated series ``Σ_{k≤P} c_k He_k(z)`` (see :func:`hermite_series`)."""
        return hermite_series(z, self.coefficients, out=out)

    def as_dict(self) -> dict:
        """Plain-Python summary (for JSON output)."""
        return {
            "activation": self.activation,
            "params": dict(self.params),
            "degree": self.degree,
            "variance": self.variance,
            "method": self.method,
            "coefficients": self.coefficients.tolist(),
            "energies": self.energies.tolist(),
            "residuals": self.residuals.tolist(),
            "residual": self.residual,
            "second_moment": self.second_moment,
            "error": self.error,
        }


def _check_kinks(kinks) -> tuple:
    if kinks is None or (isinstance(kinks, (tuple, list)) and len(kinks) == 0):
        return ()
    return tuple(float(k) for k in np.atleast_1d(as_float_array("kinks", kinks)).ravel())


def _resolve(activation, params) -> Activation:
    if params:
        return get_activation(activation, **dict(params))
    return get_activation(activation)


def _frozen(a) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def _finish(act, p, v, c, r2, m2, err, method, info, r2_err, s_err) -> HermiteExpansion:
    info = dict(info, s_err=_frozen(s_err))
    e = FACTORIALS[: p + 1] * c * c
    # c*_k² = c*_P² + Σ_{k<j≤P} j! c_j²  (no cancellation)
    rk2 = r2 + np.concatenate([np.cumsum(e[::-1])[::-1][1:], [0.0]])
    res = float(math.sqrt(max(r2, 0.0)))
    res_err = r2_err / (res + math.sqrt(r2_err)) if r2_err > 0 else 0.0
    return HermiteExpansion(
        activation=act.name,
        params=dict(act.params),
        degree=p,
        variance=v,
        coefficients=_frozen(c),
        residual=res,
        residuals=_frozen(np.sqrt(np.maximum(rk2, 0.0))),
        second_moment=float(m2),
        error=float(max(err, res_err)),
        method=method,
        info=info,
    )


def _closed(act: Activation, p: int, v: float) -> HermiteExpansion:
    c_all, m2 = act.closed_form(MAX_DEGREE, v)
    c_all = np.asarray(c_all, dtype=np.float64)
    if len(c_all) < MAX_DEGREE + 1:  # finite (polynomial) expansion
        c_all = np.concatenate([c_all, np.zeros(MAX_DEGREE + 1 - len(c_all))])
    e_all = (FACTORIALS * c_all) * c_all
    c = c_all[: p + 1].copy()
    tail = e_all[p + 1 :]
    last = float(e_all[-10:].sum())
    total = float(e_all[::-1].sum())
    if last <= 1e-17 * max(float(m2), 1e-300) and abs(total - m2) <= 1e-13 * abs(m2):
        # the series has converged within 170 terms (and adds up to E σ²): sum the tail directly
        r2 = float(tail[::-1].sum())
        r2_err = 8 * _EPS * r2 + last
        how = "tail sum"
    else:
        r2 = float(m2) - float(e_all[: p + 1].sum())
        r2_err = (p + 4) * _EPS * float(m2)
        how = "difference"
    k = np.arange(p + 1)
    c_err = (k + 4) * _EPS * np.abs(c)
    err = max(float(np.max(c_err)), 4 * _EPS * abs(float(m2)))
    s_err = c_err * np.sqrt(FACTORIALS[: p + 1])
    return _finish(act, p, v, c, r2, m2, err, "closed_form", {"residual_by": how}, r2_err, s_err)


def _quadrature(act, p, v, tol, kinks) -> HermiteExpansion:
    q = quadrature_moments(act, p, v, tol=tol, kinks=kinks)
    sq = SQRT_FACTORIALS[: p + 1]
    c = q.s / sq
    c_err = float(np.max(q.s_err / sq))
    err = max(c_err, q.second_moment_err)
    info = {"panels": q.panels, "levels": q.levels, "coefficient_error": c_err}
    return _finish(act, p, v, c, q.residual_sq, q.second_moment, err, "quadrature", info,
                   q.residual_sq_err, q.s_err)


def _mpmath(act, p, v, precision, kinks) -> HermiteExpansion:
    r = mp_hermite(act, p, v, precision=precision, kinks=kinks)
    c = np.array([float(x) for x in r.coefficients])
    r2 = float(r.residual) ** 2
    err = max(float(r.error), 10.0 ** (-precision) * max(1.0, float(r.second_moment)))
    # float64 rounding of the returned values dominates at precision >= 16
    err = max(err, _EPS * float(np.max(np.abs(c))))
    sq = SQRT_FACTORIALS[: p + 1]
    s_err = _EPS * np.abs(c) * sq + float(r.error) * sq
    return _finish(act, p, v, c, r2, float(r.second_moment), err, "mpmath",
                   {"precision": precision, "mp": r}, 2 * _EPS * r2, s_err)


def hermite_expansion(
    activation,
    degree,
    *,
    variance=1.0,
    method: str = "auto",
    tol: float = 1e-13,
    precision: int = 30,
    kinks=(),
    params=None,
) -> HermiteExpansion:
    """Degree-P Hermite expansion of ``σ(√v z)``, ``z ~ N(0,1)``: coefficients, residual, E σ².

    ``c_k = E[σ(√v z) He_k(z)]/k!`` (probabilists' ``He_k``), ``E σ² = E[σ(√v z)²]`` and
    ``c*_P = sqrt(E σ² - Σ_{k≤P} k! c_k²)``, so that ``σ(√v z) = Σ_{k≤P} c_k He_k(z) + c*_P ξ``
    with ξ uncorrelated with ``He_0..He_P`` and ``E ξ² = 1``.

    Parameters
    ----------
    activation : str, Activation or callable
        A registered name (see :func:`get_activation`), an :class:`Activation`, or any numpy
        callable ``σ(u)``.
    degree : int
        P, in ``[0, 170]`` (``k!`` overflows float64 beyond 170).
    variance : float
        v in ``(0, inf)``: the pre-activation is ``u = √v z``.
    method : {"auto", "closed_form", "quadrature", "mpmath"}
        ``auto`` uses the closed form when one is registered, else the adaptive quadrature.
        ``mpmath`` is the arbitrary-precision reference path (slow; results rounded to float64).
    tol : float
        Quadrature target: absolute error of each ``√(k!) c_k``, relative to ``max(1, |σ|)``
        near the origin. In ``[1e-15, 1e-3]``.
    precision : int
        Decimal digits of the mpmath path, in ``[10, 1000]``.
    kinks : sequence of float
        Extra breakpoints in pre-activation units (kinks or jumps of a user callable).
    params : dict, optional
        Parameters of a registered activation, e.g. ``{"slope": 0.1}`` for ``leaky_relu``.

    Returns
    -------
    HermiteExpansion
        With ``coefficients``, ``residual``, ``residuals``, ``second_moment``, ``error`` (estimate
        of the achieved absolute error) and ``method``.

    Raises
    ------
    ValueError
        Bad activation/degree/variance/method/tol/precision, an activation returning NaN/inf on
        the quadrature nodes, or one growing too fast for ``E σ²`` to exist.
    rmt_icl.core.errors.ConvergenceError
        The adaptive quadrature did not reach ``tol``.

    Examples
    --------
    >>> e = hermite_expansion("relu", 4)
    >>> e.coefficients.round(6).tolist()
    [0.398942, 0.5, 0.199471, 0.0, -0.016623]
    """
    act = _resolve(activation, params)
    p = check_degree(degree)
    v = check_variance(variance)
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    kinks = _check_kinks(kinks)
    if method == "auto":
        method = "closed_form" if act.closed_form is not None else "quadrature"
    if method == "closed_form":
        if act.closed_form is None:
            raise ValueError(
                f"method='closed_form' is not available for activation {act.name!r}; allowed "
                "methods for it: 'auto', 'quadrature', 'mpmath'"
            )
        return _closed(act, p, v)
    if method == "quadrature":
        t = float(tol)
        if not 1e-15 <= t <= 1e-3:
            raise ValueError(f"tol must lie in [1e-15, 1e-3], got {tol!r}")
        return _quadrature(act, p, v, t, kinks)
    return _mpmath(act, p, v, precision, kinks)


def hermite_coefficients(activation, degree, *, variance=1.0, **kwargs) -> np.ndarray:
    """Hermite coefficients ``c_0..c_P`` of ``σ(√v z)``, ``z ~ N(0,1)``.

    ``c_k = E[σ(√v z) He_k(z)] / k!`` with probabilists' ``He_k``, so that
    ``σ(√v z) = Σ_k c_k He_k(z)`` in L²(N(0,1)).

    Parameters
    ----------
    activation : str, Activation or callable
        Registered name or numpy callable (see :func:`get_activation`).
    degree : int
        P in ``[0, 170]``.
    variance : float
        v in ``(0, inf)``.
    **kwargs
        ``method``, ``tol``, ``precision``, ``kinks``, ``params``: see :func:`hermite_expansion`.
        ``method="mpmath", precision=30`` gives the arbitrary-precision reference (rounded to
        float64).

    Returns
    -------
    ndarray
        float64 array of shape ``(P+1,)``.
    """
    e = hermite_expansion(activation, degree, variance=variance, **kwargs)
    return np.array(e.coefficients)


def hermite_residual(activation, degree, *, variance=1.0, **kwargs) -> float:
    """Residual ``c*_P = sqrt(E[σ(√v z)²] - Σ_{k≤P} k! c_k²)``.

    The standard deviation of the part of ``σ(√v z)`` that the degree-P Hermite polynomial
    leaves out. Computed without cancellation: by quadrature of ``(σ - Σ c_k He_k)²``, or, for a
    closed form, by summing the tail ``Σ_{k>P} k! c_k²`` when it converges within 170 terms.

    Parameters
    ----------
    activation, degree, variance, **kwargs
        As for :func:`hermite_expansion`.

    Returns
    -------
    float
    """
    return hermite_expansion(activation, degree, variance=variance, **kwargs).residual


def _auto_degree_expansion(act, v, rmax, kwargs):
    """Expansion whose Mehler tail bound at |ρ| ≤ rmax is below 1e-14 · max(1, E σ²)."""
    for pmax in (40, 100, MAX_DEGREE):
        e = hermite_expansion(act, pmax, variance=v, **kwargs)
        target = 1e-14 * max(1.0, e.second_moment)
        k = np.arange(pmax + 1)
        bound = e.residuals**2 * rmax ** (k + 1.0)
        ok = np.nonzero(bound <= target)[0]
        if ok.size:
            return e, int(ok[0])
    return e, MAX_DEGREE


def dual_kernel(
    activation,
    rho,
    *,
    variance=1.0,
    degree=None,
    return_bound: bool = False,
    **kwargs,
):
    """Dual kernel ``E[σ(u) σ(u')]`` for jointly Gaussian ``u, u'`` by the Mehler series.

    ``u = √v z``, ``u' = √v z'`` with ``z, z'`` standard Gaussians of correlation ρ. Mehler's
    formula gives

        E[σ(u) σ(u')] = Σ_{k≥0} k! c_k² ρ^k,

    truncated at ``k = P``; the tail is bounded by the residual,
    ``|Σ_{k>P} k! c_k² ρ^k| ≤ c*_P² |ρ|^{P+1}``.

    Parameters
    ----------
    activation : str, Activation or callable
        As for :func:`hermite_expansion`.
    rho : array_like
        Correlations in ``[-1, 1]``, any shape.
    variance : float
        v in ``(0, inf)`` (``v = 1``: standard Gaussians).
    degree : int, optional
        Truncation P in ``[0, 170]``. ``None`` picks the smallest P whose tail bound at
        ``max|ρ|`` is below ``1e-14 · max(1, E σ²)`` (at most 170; at ``|ρ| = 1`` slowly decaying
        expansions such as relu's stop at 170 and the bound says how far off that is).
    return_bound : bool
        Also return the error bound.
    **kwargs
        ``method``, ``tol``, ``params`` ...: see :func:`hermite_expansion`.

    Returns
    -------
    values : ndarray
        ``Σ_{k≤P} k! c_k² ρ^k``, float64, shape of ``rho``.
    bound : ndarray, only if ``return_bound``
        ``c*_P² |ρ|^{P+1}`` plus the propagated error estimate of the coefficients.
    """
    act = _resolve(activation, kwargs.pop("params", None))
    v = check_variance(variance)
    r = as_float_array("rho", rho)
    if r.size and np.max(np.abs(r)) > 1.0:
        raise ValueError(f"rho must lie in [-1, 1], got values up to {float(np.max(np.abs(r)))!r}")
    if degree is None:
        rmax = float(np.max(np.abs(r))) if r.size else 0.0
        e, p = _auto_degree_expansion(act, v, rmax, kwargs)
    else:
        p = check_degree(degree)
        e = hermite_expansion(act, p, variance=v, **kwargs)
    energies = e.energies[: p + 1]
    values = mehler_series(r, energies)
    if r.ndim == 0:
        values = values[()]
    if not return_bound:
        return values
    absr = np.abs(r)
    res2 = float(e.residuals[p]) ** 2
    # coefficient errors: δ(s_k²) ≤ 2|s_k| δs_k + δs_k² with s_k = √(k!) c_k
    sq = SQRT_FACTORIALS[: p + 1]
    s = sq * np.abs(e.coefficients[: p + 1])
    ds = e.info["s_err"][: p + 1]
    de = 2.0 * s * ds + ds * ds
    bound = res2 * absr ** (p + 1) + mehler_series(absr, de)
    return values, (bound[()] if r.ndim == 0 else bound)
