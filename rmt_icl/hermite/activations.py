"""Registry of activation functions, with closed-form Hermite expansions where they exist.

Conventions (shared by the whole :mod:`rmt_icl.hermite` package): ``z ~ N(0, 1)``, ``He_k`` are the
probabilists' Hermite polynomials, the pre-activation is ``u = sqrt(v) z`` and

    c_k(v) = E[σ(√v z) He_k(z)] / k!,      E σ² = E[σ(√v z)²].

An :class:`Activation` bundles

* ``func``: the numpy implementation (float64 in, float64 out, elementwise);
* ``kinks``: points ``u`` where σ or one of its low derivatives jumps (the quadrature splits there);
* ``mp_func``: an mpmath implementation for the arbitrary-precision reference path, or ``None``;
* ``closed_form``: ``closed_form(nmax, v) -> (c_0..c_nmax, E σ²)`` where an exact formula exists.

Closed forms (t := scale · √v):

* polynomials ``Σ_m a_m u^m``: ``z^m = Σ_j m!/(j! ((m-j)/2)! 2^{(m-j)/2}) He_j(z)`` (m - j even);
* relu: ``c_0 = t/√(2π)``, ``c_1 = t/2``, ``c_{2m} = t (-1)^{m-1} (2m-3)!! / (√(2π) (2m)!)``,
  odd ``c_{≥3} = 0``, ``E σ² = v/2``; leaky_relu and abs are ``s u + (1-s) relu(u)`` and
  ``2 relu(u) - u``;
* sign: ``c_{2m+1} = 2 (-1)^m (2m-1)!! / (√(2π) (2m+1)!)``, ``E σ² = 1`` (independent of v);
* erf(a u): ``c_{2m+1} = 2t/√(π(1+2t²)) · (-q)^m / (m! (2m+1))``, ``q = t²/(1+2t²)``,
  ``E σ² = (2/π) arcsin(2t²/(1+2t²))``;
* gelu ``uΦ(u)``: with ``w_{2m+1} = A (-s)^m / (m! (2m+1))``, ``A = t/√(2π(1+t²))``,
  ``s = t²/(2(1+t²))``: ``c_0 = tA``, ``c_1 = t/2``, ``c_{2m} = t((2m+1) w_{2m+1} + w_{2m-1})``,
  ``E σ² = t² [1/4 + arcsin(t²/(1+t²))/(2π) + t²/(π(1+t²)√(1+2t²))]``;
* sin(ω u), cos(ω u): ``E[e^{itz} He_k(z)] = (it)^k e^{-t²/2}``, so ``c_k = ± t^k e^{-t²/2}/k!`` on
  odd (sin) or even (cos) k, ``E σ² = (1 ∓ e^{-2t²})/2``.

``tanh``, ``sigmoid``, ``softplus``, ``silu`` and ``elu`` have no closed form used here: they go
through the adaptive quadrature of :mod:`rmt_icl.hermite.quadrature`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import mpmath
import numpy as np
from scipy import special

SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation σ: numpy implementation plus what the Hermite engine knows about it.

    Parameters
    ----------
    name : str
        Registered name (or the callable's ``__name__``).
    func : callable
        Elementwise numpy implementation, float64 array in, float64 array out.
    params : mapping
        Parameters the activation was built with (e.g. ``{"slope": 0.1}``).
    kinks : tuple of float
        Pre-activation points ``u`` where σ, σ' or σ'' is discontinuous. The quadrature splits its
        integration interval at ``u/√v``.
    mp_func : callable or None
        mpmath implementation ``mpf -> mpf`` for the arbitrary-precision reference path.
    closed_form : callable or None
        ``closed_form(nmax, variance) -> (c, second_moment)`` with ``c`` the float64 array
        ``c_0..c_nmax`` of ``c_k = E[σ(√v z) He_k(z)]/k!`` and ``second_moment = E σ(√v z)²``.
    """

    name: str
    func: Callable
    params: Mapping = field(default_factory=dict)
    kinks: tuple = ()
    mp_func: Callable | None = None
    closed_form: Callable | None = None
    key: tuple | None = None  # (name, params) for registered activations; None for callables

    def __call__(self, u):
        return self.func(np.asarray(u, dtype=np.float64))

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name}{', ' + ps if ps else ''})"


# ---------------------------------------------------------------------------------------------
# closed forms: each returns (c_0..c_nmax, E σ²) at variance v


def _asin_ratio(x: float, d: float) -> float:
    """``asin(x)`` given ``x`` and ``d = 1 - x`` (both computed without rounding loss).

    Near 1, ``asin`` amplifies the rounding of x by ``1/√(2d)``; there we use
    ``asin(1 - d) = π/2 - 2 asin(√(d/2))`` instead.
    """
    if x <= 0.5:
        return math.asin(x)
    return 0.5 * math.pi - 2.0 * math.asin(math.sqrt(0.5 * d))


def _alternating_ratios(first: float, ratios: np.ndarray) -> np.ndarray:
    """``[first, first*r_0, first*r_0*r_1, ...]`` computed by a cumulative product."""
    out = np.empty(len(ratios) + 1)
    out[0] = first
    if len(ratios):
        out[1:] = first * np.cumprod(ratios)
    return out


def _relu_unit(nmax: int) -> np.ndarray:
    """Coefficients of relu at unit variance."""
    c = np.zeros(nmax + 1)
    c[0] = 1.0 / SQRT_2PI
    if nmax >= 1:
        c[1] = 0.5
    if nmax >= 2:
        nm = nmax // 2  # even indices 2, 4, ..., 2*nm
        m = np.arange(1, nm, dtype=np.float64)  # ratio c_{2m+2}/c_{2m}, m >= 1
        ratios = -(2 * m - 1) / ((2 * m + 2) * (2 * m + 1))
        c[2 : 2 * nm + 1 : 2] = _alternating_ratios(0.5 / SQRT_2PI, ratios)
    return c


def _closed_relu(nmax: int, v: float):
    return math.sqrt(v) * _relu_unit(nmax), 0.5 * v


def _closed_leaky_relu(slope: float):
    def closed(nmax: int, v: float):
        c = (1.0 - slope) * math.sqrt(v) * _relu_unit(nmax)
        if nmax >= 1:
            c[1] += slope * math.sqrt(v)
        return c, 0.5 * v * (1.0 + slope * slope)

    return closed


def _closed_abs(nmax: int, v: float):
    c = 2.0 * math.sqrt(v) * _relu_unit(nmax)
    if nmax >= 1:
        c[1] = 0.0
    return c, v


def _closed_sign(nmax: int, v: float):
    c = np.zeros(nmax + 1)
    if nmax >= 1:
        nm = (nmax - 1) // 2  # odd indices 1, 3, ..., 2*nm+1
        m = np.arange(0, nm, dtype=np.float64)  # ratio c_{2m+3}/c_{2m+1}
        ratios = -(2 * m + 1) / ((2 * m + 3) * (2 * m + 2))
        c[1 : 2 * nm + 2 : 2] = _alternating_ratios(2.0 / SQRT_2PI, ratios)
    return c, 1.0


def _closed_erf(a: float):
    def closed(nmax: int, v: float):
        t = a * math.sqrt(v)
        t2 = t * t
        q = t2 / (1.0 + 2.0 * t2)
        c = np.zeros(nmax + 1)
        if nmax >= 1:
            nm = (nmax - 1) // 2
            m = np.arange(0, nm, dtype=np.float64)  # ratio c_{2m+3}/c_{2m+1}
            ratios = -q * (2 * m + 1) / ((m + 1) * (2 * m + 3))
            first = 2.0 * t / math.sqrt(math.pi * (1.0 + 2.0 * t2))
            c[1 : 2 * nm + 2 : 2] = _alternating_ratios(first, ratios)
        return c, (2.0 / math.pi) * _asin_ratio(2.0 * t2 / (1.0 + 2.0 * t2), 1.0 / (1.0 + 2.0 * t2))

    return closed


def _closed_gelu(nmax: int, v: float):
    t = math.sqrt(v)
    t2 = t * t
    amp = t / math.sqrt(2.0 * math.pi * (1.0 + t2))
    s = t2 / (2.0 * (1.0 + t2))
    # w_{2m+1} = amp (-s)^m / (m! (2m+1)), m = 0..M
    mmax = nmax // 2 + 1
    m = np.arange(mmax + 1, dtype=np.float64)
    pw = _alternating_ratios(amp, -s / (m[1:]))  # amp (-s)^m / m!
    w = pw / (2 * m + 1)
    c = np.zeros(nmax + 1)
    c[0] = t * amp
    if nmax >= 1:
        c[1] = 0.5 * t
    if nmax >= 2:
        me = np.arange(1, nmax // 2 + 1)
        c[2 * me] = t * ((2 * me + 1) * w[me] + w[me - 1])
    m2 = (
        0.25
        + _asin_ratio(t2 / (1.0 + t2), 1.0 / (1.0 + t2)) / (2.0 * math.pi)
        + t2 / (math.pi * (1.0 + t2) * math.sqrt(1.0 + 2.0 * t2))
    )
    return c, t2 * m2


def _closed_trig(kind: str, freq: float):
    def closed(nmax: int, v: float):
        t = freq * math.sqrt(v)
        k = np.arange(nmax + 1, dtype=np.float64)
        # c_k = t^k e^{-t²/2} / k!  (then signs / parity)
        ratios = t / k[1:]
        mag = _alternating_ratios(math.exp(-0.5 * t * t), ratios)
        c = np.zeros(nmax + 1)
        ki = np.arange(nmax + 1)
        if kind == "sin":
            odd = ki % 2 == 1
            c[odd] = mag[odd] * np.where((ki[odd] // 2) % 2 == 0, 1.0, -1.0)
            m2 = 0.5 * (1.0 - math.exp(-2.0 * t * t))
        else:
            even = ki % 2 == 0
            c[even] = mag[even] * np.where((ki[even] // 2) % 2 == 0, 1.0, -1.0)
            m2 = 0.5 * (1.0 + math.exp(-2.0 * t * t))
        return c, m2

    return closed


def _closed_polynomial(coeffs: tuple):
    def closed(nmax: int, v: float):
        deg = len(coeffs) - 1
        full = np.zeros(max(nmax, deg) + 1)
        sv = math.sqrt(v)
        for mdeg, a in enumerate(coeffs):
            if a == 0.0:
                continue
            for j in range(mdeg % 2, mdeg + 1, 2):
                i = (mdeg - j) // 2
                full[j] += (
                    a * sv**mdeg * math.factorial(mdeg)
                    / (math.factorial(j) * math.factorial(i) * 2.0**i)
                )
        facts = np.array([float(math.factorial(j)) for j in range(len(full))])
        m2 = float(np.sum(facts * full * full))
        return full[: nmax + 1].copy(), m2

    return closed


# ---------------------------------------------------------------------------------------------
# numpy / mpmath implementations


def _np_relu(u):
    return np.maximum(u, 0.0)


def _mp_relu(x):
    return x if x > 0 else mpmath.mpf(0)


def _np_sign(u):
    return np.sign(u)


def _mp_sign(x):
    return mpmath.sign(x)


def _np_sigmoid(u):
    return special.expit(u)


def _mp_sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


def _np_softplus(u):
    return np.logaddexp(0.0, u)


def _mp_softplus(x):
    return mpmath.log1p(mpmath.exp(x)) if x < 0 else x + mpmath.log1p(mpmath.exp(-x))


def _np_gelu(u):
    return u * special.ndtr(u)


def _mp_gelu(x):
    return x * mpmath.ncdf(x)


def _np_silu(u):
    return u * special.expit(u)


def _mp_silu(x):
    return x / (1 + mpmath.exp(-x))


# ---------------------------------------------------------------------------------------------
# factories: name -> (factory(**params) -> Activation), with parameter specs


def _check_real(name: str, value, *, positive: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"parameter {name} must be a real number, got {value!r}") from exc
    if not math.isfinite(x) or (positive and x <= 0):
        rng = "(0, inf)" if positive else "(-inf, inf)"
        raise ValueError(f"parameter {name} must be a finite number in {rng}, got {value!r}")
    return x


def _make_identity():
    return _make_poly_named("identity", (0.0, 1.0))


def _make_quadratic():
    return _make_poly_named("quadratic", (0.0, 0.0, 1.0))


def _make_cubic():
    return _make_poly_named("cubic", (0.0, 0.0, 0.0, 1.0))


def _make_poly_named(name: str, coeffs: tuple, params=None) -> Activation:
    coeffs = tuple(float(a) for a in coeffs)

    def f(u):
        return np.polynomial.polynomial.polyval(u, coeffs)

    def fmp(x):
        acc = mpmath.mpf(0)
        for a in reversed(coeffs):
            acc = acc * x + a
        return acc

    return Activation(name, f, dict(params or {}), (), fmp, _closed_polynomial(coeffs))


def _make_polynomial(coeffs=(0.0, 1.0)):
    if np.ndim(coeffs) == 0:
        coeffs = (coeffs,)
    cs = tuple(_check_real(f"coeffs[{i}]", a) for i, a in enumerate(coeffs))
    if len(cs) == 0 or len(cs) > 31:
        raise ValueError(
            f"parameter coeffs must hold 1 to 31 monomial coefficients a_0..a_m, got {len(cs)}"
        )
    return _make_poly_named("polynomial", cs, {"coeffs": cs})


def _make_relu():
    return Activation("relu", _np_relu, {}, (0.0,), _mp_relu, _closed_relu)


def _make_leaky_relu(slope=0.01):
    s = _check_real("slope", slope)

    def f(u):
        return np.where(u > 0, u, s * u)

    def fmp(x):
        return x if x > 0 else s * x

    return Activation("leaky_relu", f, {"slope": s}, (0.0,), fmp, _closed_leaky_relu(s))


def _make_abs():
    return Activation("abs", np.abs, {}, (0.0,), mpmath.fabs, _closed_abs)


def _make_sign():
    return Activation("sign", _np_sign, {}, (0.0,), _mp_sign, _closed_sign)


def _make_erf(a=1.0):
    a = _check_real("a", a, positive=True)

    def f(u):
        return special.erf(a * u)

    def fmp(x):
        return mpmath.erf(a * x)

    return Activation("erf", f, {"a": a}, (), fmp, _closed_erf(a))


def _make_tanh():
    return Activation("tanh", np.tanh, {}, (), mpmath.tanh, None)


def _make_sigmoid():
    return Activation("sigmoid", _np_sigmoid, {}, (), _mp_sigmoid, None)


def _make_softplus():
    return Activation("softplus", _np_softplus, {}, (), _mp_softplus, None)


def _make_gelu():
    return Activation("gelu", _np_gelu, {}, (), _mp_gelu, _closed_gelu)


def _make_silu():
    return Activation("silu", _np_silu, {}, (), _mp_silu, None)


def _make_elu(alpha=1.0):
    al = _check_real("alpha", alpha)

    def f(u):
        return np.where(u > 0, u, al * np.expm1(np.minimum(u, 0.0)))

    def fmp(x):
        return x if x > 0 else al * mpmath.expm1(x)

    return Activation("elu", f, {"alpha": al}, (0.0,), fmp, None)


def _trig_factory(name, np_func, mp_func):
    """Factory of ``sigma(u) = name(freq u)`` for ``name`` in ``sin``, ``cos``."""

    def make(freq=1.0):
        w = _check_real("freq", freq)

        def f(u):
            return np_func(w * u)

        def fmp(x):
            return mp_func(w * x)

        return Activation(name, f, {"freq": w}, (), fmp, _closed_trig(name, w))

    return make


_make_sin = _trig_factory("sin", np.sin, mpmath.sin)
_make_cos = _trig_factory("cos", np.cos, mpmath.cos)


#: registered name -> (factory, {parameter: default})
REGISTRY: dict[str, tuple[Callable[..., Activation], dict]] = {
    "identity": (_make_identity, {}),
    "relu": (_make_relu, {}),
    "leaky_relu": (_make_leaky_relu, {"slope": 0.01}),
    "abs": (_make_abs, {}),
    "sign": (_make_sign, {}),
    "erf": (_make_erf, {"a": 1.0}),
    "tanh": (_make_tanh, {}),
    "sigmoid": (_make_sigmoid, {}),
    "softplus": (_make_softplus, {}),
    "gelu": (_make_gelu, {}),
    "silu": (_make_silu, {}),
    "elu": (_make_elu, {"alpha": 1.0}),
    "quadratic": (_make_quadratic, {}),
    "cubic": (_make_cubic, {}),
    "polynomial": (_make_polynomial, {"coeffs": (0.0, 1.0)}),
    "sin": (_make_sin, {"freq": 1.0}),
    "cos": (_make_cos, {"freq": 1.0}),
}


def activation_names() -> list[str]:
    """Sorted list of the registered activation names."""
    return sorted(REGISTRY)


def get_activation(name, **params) -> Activation:
    """Build an :class:`Activation` from a registered name (or wrap a callable).

    Parameters
    ----------
    name : str, Activation or callable
        A registered name -- ``identity, relu, leaky_relu (slope), abs, sign, erf (a: σ(u) =
        erf(a u)), tanh, sigmoid, softplus, gelu (u Φ(u), exact erf form), silu (u·sigmoid(u)),
        elu (alpha), quadratic (u²), cubic (u³), polynomial (coeffs = a_0..a_m: Σ a_m u^m),
        sin (freq: sin(freq·u)), cos (freq)`` --, an :class:`Activation` (returned unchanged), or
        any numpy callable ``σ(u)`` (wrapped; ``kinks=`` may list its kinks).
    **params
        Parameters of a registered activation (``slope``, ``a``, ``alpha``, ``coeffs``, ``freq``),
        or ``kinks`` / ``mp_func`` / ``name`` for a wrapped callable.

    Returns
    -------
    Activation
        Callable on numpy arrays, with ``name``, ``params``, ``kinks``, ``mp_func`` and
        ``closed_form``.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones), a non-callable, an unknown parameter or
        a parameter out of range.
    """
    if isinstance(name, Activation):
        if params:
            raise ValueError(
                f"activation: parameters {sorted(params)} cannot be applied to an existing "
                f"Activation {name!r}; call get_activation(name_string, **params)"
            )
        return name
    if isinstance(name, str):
        key = name.strip().lower().replace("-", "_")
        if key not in REGISTRY:
            raise ValueError(
                f"activation must be a callable or one of the registered names "
                f"{activation_names()}, got {name!r}"
            )
        factory, defaults = REGISTRY[key]
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            allowed = sorted(defaults) or "none"
            raise ValueError(
                f"activation {key!r}: unknown parameter(s) {unknown}; allowed parameters: {allowed}"
            )
        act = factory(**params)
        pkey = tuple(sorted((k, v) for k, v in act.params.items()))
        return dataclasses.replace(act, key=(act.name, pkey))
    if callable(name):
        unknown = sorted(set(params) - {"kinks", "mp_func", "name"})
        if unknown:
            raise ValueError(
                f"activation: unknown parameter(s) {unknown} for a callable; allowed: "
                "['kinks', 'mp_func', 'name']"
            )
        return wrap_callable(name, **params)
    raise ValueError(
        f"activation must be a callable or one of the registered names {activation_names()}, "
        f"got {name!r} of type {type(name).__name__}"
    )


def wrap_callable(func, *, kinks=(), mp_func=None, name=None) -> Activation:
    """Wrap a Python/numpy callable ``σ(u)`` as an :class:`Activation` (no closed form).

    ``kinks`` lists known kinks in pre-activation units (optional: the adaptive quadrature finds
    them anyway, only more slowly). ``mp_func`` is an mpmath implementation; if omitted, ``func``
    itself is used for the mpmath path when it accepts and returns mpmath numbers.
    """
    if not callable(func):
        raise ValueError(f"activation must be callable, got {func!r}")
    ks = tuple(sorted(_check_real("kinks", k) for k in np.atleast_1d(kinks))) if kinks else ()
    nm = name or getattr(func, "__name__", None) or type(func).__name__

    def f(u):
        return _apply_vectorised(func, u)

    return Activation(str(nm), f, {}, ks, mp_func if mp_func is not None else _mp_probe(func), None)


def _apply_vectorised(func, u: np.ndarray) -> np.ndarray:
    """Call ``func`` on an array; fall back to elementwise calls if it is not vectorised."""
    try:
        out = np.asarray(func(u), dtype=np.float64)
        if out.shape != u.shape:
            out = np.broadcast_to(out, u.shape).astype(np.float64)
        return out
    except (TypeError, ValueError):
        vec = np.vectorize(lambda x: float(func(float(x))), otypes=[np.float64])
        try:
            return vec(u)
        except Exception as exc:  # noqa: BLE001 -- report any failure of user code as bad input
            raise ValueError(
                f"activation could not be evaluated on float64 inputs: {exc!r}; it must map real "
                "numbers (or numpy arrays) to real numbers"
            ) from exc


def _mp_probe(func):
    """``func`` if it maps an mpf to an mpf (so it can serve the mpmath path), else None."""
    try:
        with mpmath.workdps(20):
            y = func(mpmath.mpf("0.3"))
        return func if isinstance(y, mpmath.mpf) else None
    except Exception:  # noqa: BLE001 -- any failure means: no mpmath implementation
        return None
