"""Targets: the one table of label functions and their Gaussian moments.

A target is a link ``g`` of a standard Gaussian index ``s ~ N(0, 1)``; labels are
``y = g(s) + eps``. Two data models use the targets:

* **index model** (the simulator :mod:`rmt_icl.simulate`, the random-transformer and
  linear-attention theory): ``x ~ N(0, I_d/d)`` and a task ``w`` with ``||w|| = sqrt(d)``, so
  that ``s = <x, w>`` is exactly ``N(0, 1)`` (the simulator's ``normalise_tasks=False`` keeps
  Gaussian norms, ``w ~ N(0, I_d)``);
* **one-step-GD / LSA model** (:mod:`rmt_icl.theory.one_step_gd`, :mod:`rmt_icl.lsa`;
  Mahankali, Hashimoto & Ma 2023, arXiv:2307.03576, Theorem 3): ``x ~ N(0, I_d)`` and a random
  function ``f`` whose law is invariant under ``f -> f o R`` (``R`` orthogonal) and ``f -> -f``.
  A target's ``lsa_law`` says how such an ``f`` is drawn (``None``: the target is not one of
  this model's).

Target names (:func:`get_target`; names are case-insensitive):

================  ===========================================  ================================
name              function                                     where used
================  ===========================================  ================================
``linear``        ``g(s) = s``                                 simulator, RT and LA theory;
                                                               one-step GD / LSA as
                                                               ``f(x) = w^T x``,
                                                               ``w ~ N(0, Sigma_w)``
``relu``          ``max(s, 0)``                                simulator, RT theory
``tanh``          ``tanh(s)``                                  simulator, RT theory
``tanh:A``        ``tanh(A s)``                                simulator, RT theory
``he2``           ``s^2 - 1`` (alias ``quadratic``)            simulator, RT theory
``he1+he3``       ``s + He_3(s)/sqrt(6)``                      simulator, RT theory
``he3:BETA``      ``s + BETA He_3(s)``                         simulator, RT theory;
                                                               one-step GD / LSA as
                                                               ``w^T x + BETA He_3(w^T x/||w||)``,
                                                               ``w ~ N(0, I_d)``
``signed:NAME``   ``f(x) = e g(u^T x)``: ``g`` the target      one-step GD / LSA only
                  ``NAME``, ``e = +-1`` a fair sign, ``u``
                  uniform on the unit sphere (per task)
callable ``g``    ``g`` (moments by quadrature)                simulator, RT theory
================  ===========================================  ================================

``He_3(s) = s^3 - 3 s``. The random-transformer theory also takes the other activation names of
:mod:`rmt_icl.hermite` as targets (``"erf"``, ...; there ``"cubic"`` is ``He_3``). The
one-step-GD/LSA API used to spell its random-sign targets ``relu``, ``tanh`` (which was
``tanh(2s)``), ``tanh:A`` and ``cubic``; there these spellings raise a ``ValueError`` naming
``signed:relu``, ``signed:tanh:2``, ``signed:tanh:A`` and ``signed:he1+he3``. In the index
model, ``signed:NAME`` raises (the sign is drawn per task, which the simulator and the
index-model theory do not do).

Moments of the link (``s ~ N(0, 1)``), stored on every :class:`Target`:

====================  =========================================================
``mean``              ``E g(s)``
``a1``                ``E[g(s) s] = E g'(s)`` (linear part)
``second``            ``E g(s)^2``
``second_s2``         ``E[g(s)^2 s^2]``
``fourth``            ``E g(s)^4``
====================  =========================================================

They come in closed form for ``linear``, ``relu`` and ``he2``, from the Hermite coefficients for
``he1+he3`` and ``he3:BETA`` (:func:`hermite_link_moments`), and otherwise from adaptive
quadrature split at 0 (:func:`gaussian_expectation`). The one-step-GD moments ``E||g_f||^2``,
``E[f^2 ||x||^2]`` and ``E[f^2]`` (:class:`LSAMoments`) follow from them and the ``lsa_law``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import integrate, special

__all__ = [
    "LSA_LAWS",
    "TARGETS",
    "TARGET_NAMES",
    "LSAMoments",
    "Target",
    "gaussian_expectation",
    "get_target",
    "hermite_link_moments",
    "is_target_name",
    "with_random_sign",
]

#: the plain (parameter-free) built-in names
TARGETS = ("linear", "relu", "tanh", "he2", "quadratic", "he1+he3")
#: every accepted spelling, parametric families included
TARGET_NAMES = (*TARGETS, "tanh:A", "he3:BETA", "signed:NAME")
#: how the one-step-GD / LSA model draws a target's random function (see :class:`Target`)
LSA_LAWS = ("gaussian", "signed")
#: where :func:`get_target` resolves a name (see its docstring)
CONTEXTS = ("index", "lsa")

_FAMILIES = ("linear", "relu", "tanh", "he2", "quadratic", "he1+he3", "he3", "signed")
_SQRT6_INV = 1.0 / math.sqrt(6.0)


@dataclass(frozen=True)
class LSAMoments:
    """Moments of a random target under ``x ~ N(0, I_d)`` (noise excluded).

    Attributes
    ----------
    g2 : float
        ``E||g_f||^2`` with ``g_f = E_x[x f(x)]`` (``= E_x[grad f]`` by Stein's lemma).
    f2x2 : float
        ``E[f(x)^2 ||x||^2]``.
    f2 : float
        ``E[f(x)^2]``.
    """

    g2: float
    f2x2: float
    f2: float


@dataclass(frozen=True)
class Target:
    """A target: the link ``g``, its Gaussian moments and its one-step-GD/LSA law.

    Attributes
    ----------
    name : str
    func : callable
        Elementwise link ``g`` on float64 arrays.
    mean, a1, second, second_s2, fourth : float
        ``E g``, ``E[g s]``, ``E g^2``, ``E[g^2 s^2]``, ``E g^4`` for ``s ~ N(0, 1)``.
    is_linear : bool
        True for ``g(s) = s``; enables the simulator's O(d)-per-prompt chi-square sampler.
    lsa_law : {None, "gaussian", "signed"}
        The random function ``f`` of the one-step-GD / LSA model (``x ~ N(0, I_d)``):
        ``"gaussian"``: ``f(x) = w^T x + beta He_3(w^T x/||w||)``, ``w ~ N(0, I_d)`` (``linear``
        and ``he3:BETA``); ``"signed"``: ``f(x) = e g(u^T x)``, ``e = +-1`` fair, ``u`` uniform on
        the unit sphere; ``None``: not a target of that model.
    beta : float
        The ``He_3`` coefficient of the ``"gaussian"`` law (0 for ``linear``).
    """

    name: str
    func: Callable[[np.ndarray], np.ndarray]
    mean: float
    a1: float
    second: float
    second_s2: float
    fourth: float
    is_linear: bool = False
    lsa_law: str | None = None
    beta: float = 0.0

    def __call__(self, s):
        return self.func(s)

    def label_moments(self, rho: float) -> dict:
        """Moments of ``y = g(s) + eps`` with ``Var eps = rho``.

        Returns ``q = E y^2``, ``m22 = E[y^2 s^2]``, ``m4 = E y^4``, ``a1`` and ``mean``.
        """
        rho = float(rho)
        return {
            "mean": self.mean,
            "a1": self.a1,
            "q": self.second + rho,
            "m22": self.second_s2 + rho,
            "m4": self.fourth + 6.0 * rho * self.second + 3.0 * rho**2,
        }

    # ------------------------------------------------------------ one-step GD / LSA model
    def _require_lsa(self):
        if self.lsa_law not in LSA_LAWS:
            raise ValueError(f"target {self.name!r} has no one-step-GD/LSA law; use "
                             f"'signed:{self.name}' (see rmt_icl.core.targets)")

    def lsa_moments(self, d: int) -> LSAMoments:
        """``E||g_f||^2``, ``E[f^2 ||x||^2]``, ``E[f^2]`` of the one-step-GD/LSA law in dimension d.

        ``"signed"``: ``(a_1^2, E[g^2 s^2] + (d-1) E g^2, E g^2)``. ``"gaussian"``: ``d``,
        ``d(d+2) + 12 beta E||w|| + beta^2 (6d + 36)`` and ``d + 6 beta^2``, with
        ``E||w|| = sqrt(2) Gamma((d+1)/2) / Gamma(d/2)``.
        """
        self._require_lsa()
        if self.lsa_law == "signed":
            return LSAMoments(g2=self.a1**2, f2x2=self.second_s2 + (d - 1) * self.second,
                              f2=self.second)
        b = self.beta
        if b == 0.0:
            return LSAMoments(g2=float(d), f2x2=float(d * (d + 2)), f2=float(d))
        enorm = math.sqrt(2.0) * math.exp(special.gammaln((d + 1) / 2) - special.gammaln(d / 2))
        return LSAMoments(g2=float(d), f2x2=d * (d + 2) + 12 * b * enorm + b**2 * (6 * d + 36),
                          f2=d + 6 * b**2)

    def lsa_tasks(self, rng: np.random.Generator, size: int, d: int):
        """Draw ``size`` tasks of the one-step-GD/LSA law: ``(W, e)``, shapes (size, d), (size,).

        ``"gaussian"``: ``W ~ N(0, I_d)``, ``e = 1``; ``"signed"``: ``W`` rows uniform on the
        unit sphere and ``e = +-1`` with probability 1/2 each.
        """
        self._require_lsa()
        if self.lsa_law == "gaussian":
            return rng.standard_normal((size, d)), np.ones(size)
        u = rng.standard_normal((size, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        e = np.where(rng.random(size) < 0.5, -1.0, 1.0)
        return u, e

    def lsa_labels(self, W: np.ndarray, e: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``f(x)`` for tasks ``(W, e)``, shapes (B, d) and (B,), at covariates X (B, m, d)."""
        self._require_lsa()
        z = np.einsum("bmd,bd->bm", X, W)
        if self.lsa_law == "signed":
            return e[:, None] * self.func(z)
        if self.beta == 0.0:
            return z
        zh = z / np.linalg.norm(W, axis=1)[:, None]
        return z + self.beta * (zh**3 - 3 * zh)


# ------------------------------------------------------------------------------ moments
def gaussian_expectation(f: Callable[[float], float]) -> float:
    """``E f(s)`` for ``s ~ N(0, 1)`` by adaptive quadrature on (-inf, 0] and [0, inf).

    Splitting at 0 keeps kinks at the origin (ReLU, ``|s|``) from spoiling the accuracy; the
    result is accurate to ~1e-12 for smooth or piecewise-smooth ``f`` of polynomial growth.
    """
    w = 1.0 / math.sqrt(2.0 * math.pi)

    def integrand(s):
        return float(f(s)) * w * math.exp(-0.5 * s * s)

    total = 0.0
    for a, b in ((-np.inf, 0.0), (0.0, np.inf)):
        val, _ = integrate.quad(integrand, a, b, epsabs=1e-13, epsrel=1e-12, limit=200)
        total += val
    return total


def _moments_by_quadrature(g: Callable) -> tuple[float, float, float, float, float]:
    def g1(s):
        v = float(np.asarray(g(np.array([s], dtype=np.float64)), dtype=np.float64).reshape(-1)[0])
        if not math.isfinite(v):
            raise ValueError(f"target returned a non-finite value at s = {s!r}")
        return v

    mean = gaussian_expectation(g1)
    a1 = gaussian_expectation(lambda s: g1(s) * s)
    second = gaussian_expectation(lambda s: g1(s) ** 2)
    second_s2 = gaussian_expectation(lambda s: g1(s) ** 2 * s * s)
    fourth = gaussian_expectation(lambda s: g1(s) ** 4)
    return mean, a1, second, second_s2, fourth


def hermite_link_moments(coeffs) -> tuple[float, float, float]:
    """``(c_1, E[g^2], E[s^2 g^2])`` of ``g = sum_k c_k He_k`` (probabilists'), ``s ~ N(0, 1)``.

    Uses ``E[He_j He_k] = k! delta_jk`` and ``s He_k = He_{k+1} + k He_{k-1}``, so that
    ``E[s^2 g^2] = sum_m m! (c_{m-1} + (m+1) c_{m+1})^2`` with ``c_{-1} := 0``.
    """
    c = np.asarray(coeffs, dtype=np.float64).ravel()
    K = c.size
    fact = special.factorial(np.arange(K + 1), exact=False)
    c1 = float(c[1]) if K > 1 else 0.0
    phi2 = float(np.sum(fact[:K] * c**2))
    cp = np.concatenate([[0.0], c, [0.0, 0.0]])  # cp[m] = c_{m-1}
    m = np.arange(K + 1)
    zc = cp[m] + (m + 1) * cp[m + 2]
    z2phi2 = float(np.sum(fact[: K + 1] * zc**2))
    return c1, phi2, z2phi2


def _series_fourth_moment(coeffs) -> float:
    """``E g(s)^4`` of a finite Hermite series: power basis, then ``E s^(2m) = (2m-1)!!``."""
    p4 = np.polynomial.polynomial.polypow(np.polynomial.hermite_e.herme2poly(coeffs), 4)
    k = np.arange(p4.size)
    even = k % 2 == 0
    moments = special.factorial2(np.maximum(k[even] - 1, 0), exact=False)
    return float(np.sum(p4[even] * moments))


def _series_target(name, func, coeffs, **kwargs) -> Target:
    a1, second, second_s2 = hermite_link_moments(coeffs)
    return Target(name, func, float(coeffs[0]), a1, second, second_s2,
                  _series_fourth_moment(coeffs), **kwargs)


# --------------------------------------------------------------------------- built-ins
def _relu(s):
    return np.maximum(s, 0.0)


def _he2(s):
    return s * s - 1.0


def _he1_he3(s):
    return s + _SQRT6_INV * (s**3 - 3 * s)


def _identity(s):
    return np.asarray(s, dtype=np.float64)


def _tanh_scaled(s, a):
    return np.tanh(a * s)


def _he3_link(s, beta):
    return s + beta * (s**3 - 3 * s)


#: old one-step-GD/LSA spellings -> (their new name, what the old name means now)
_OLD_LSA_SPELLINGS = {
    "relu": ("signed:relu", "'relu' names the unsigned link max(s, 0)"),
    "tanh": ("signed:tanh:2", "'tanh' names tanh(s)"),
    "cubic": ("signed:he1+he3", "'cubic' is not a target name (rmt_icl.hermite's 'cubic' is "
              "He_3)"),
}


def _refuse_old_lsa_spelling(spec: str) -> None:
    """Raise if ``spec`` is a one-step-GD/LSA spelling whose meaning changed."""
    key = spec.strip().lower()
    family, _, arg = key.partition(":")
    if key in _OLD_LSA_SPELLINGS:
        new, now = _OLD_LSA_SPELLINGS[key]
    elif family == "tanh":
        a = _param(spec, arg, 1.0)
        new, now = f"signed:tanh:{a:g}", f"'tanh:{a:g}' names the unsigned link tanh({a:g} s)"
    else:
        return
    raise ValueError(f"target {spec!r}: the one-step-GD/LSA random-sign target formerly spelled "
                     f"{spec!r} is now {new!r}; in the one table of targets "
                     f"(rmt_icl.core.targets) {now}")


def _unknown(spec) -> ValueError:
    hint = ""
    if isinstance(spec, str) and spec.strip().lower() == "cubic":
        hint = " ('cubic' was the one-step-GD/LSA spelling of 'signed:he1+he3')"
    return ValueError(f"target must be one of {list(TARGET_NAMES)} or a callable, got "
                      f"{spec!r}{hint}")


def _param(spec: str, arg: str, default: float) -> float:
    if not arg:
        return default
    try:
        value = float(arg)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        raise ValueError(f"target {spec!r}: bad parameter {arg!r} (a finite number)")
    return value


def _builtin(spec: str) -> Target:
    """A target from its normalised (stripped, lower-case) name."""
    family, _, arg = spec.partition(":")
    if family == "signed":
        if not arg:
            raise ValueError(f"target {spec!r}: 'signed:NAME' needs a target NAME")
        return with_random_sign(_resolve(arg))
    if arg and family not in ("tanh", "he3"):
        raise _unknown(spec)
    if family == "linear":
        return Target("linear", _identity, 0.0, 1.0, 1.0, 3.0, 3.0, is_linear=True,
                      lsa_law="gaussian")
    if family == "relu":
        return Target("relu", _relu, 1.0 / math.sqrt(2.0 * math.pi), 0.5, 0.5, 1.5, 1.5)
    if family in ("he2", "quadratic"):
        # E(s^2-1)^2 = 2, E[(s^2-1)^2 s^2] = 15 - 6 + 1 = 10, E(s^2-1)^4 = 60
        return Target("he2", _he2, 0.0, 0.0, 2.0, 10.0, 60.0)
    if family == "he1+he3":
        return _series_target("he1+he3", _he1_he3, [0.0, 1.0, 0.0, _SQRT6_INV])
    if family == "tanh":
        if not arg:
            return Target("tanh", np.tanh, *_moments_by_quadrature(np.tanh))
        a = _param(spec, arg, 1.0)
        func = functools.partial(_tanh_scaled, a=a)  # picklable, unlike a closure
        return Target(f"tanh:{a:g}", func, *_moments_by_quadrature(func))
    if family == "he3":
        beta = _param(spec, arg, 1.0)
        return _series_target(f"he3:{beta:g}", functools.partial(_he3_link, beta=beta),
                              [0.0, 1.0, 0.0, beta], lsa_law="gaussian", beta=beta)
    raise _unknown(spec)


_CACHE: dict[str, Target] = {}


def _resolve(target) -> Target:
    if isinstance(target, Target):
        return target
    if isinstance(target, str):
        key = target.strip().lower()
        if key not in _CACHE:
            _CACHE[key] = _builtin(key)
        return _CACHE[key]
    if not callable(target):
        raise _unknown(target)
    moments = _moments_by_quadrature(target)
    if not all(math.isfinite(m) for m in moments):
        raise ValueError("target must have finite Gaussian moments up to E g^4")
    name = getattr(target, "__name__", "custom")
    return Target(name, target, *moments)


def with_random_sign(target) -> Target:
    """The ``signed`` version of a target: ``f(x) = e g(u^T x)`` in the one-step-GD/LSA model.

    ``e = +-1`` is a fair sign and ``u`` is uniform on the unit sphere, both drawn per task, so
    the law is invariant under ``f -> -f`` (Mahankali et al. 2023, Theorem 3). The link moments
    are those of ``g``. ``get_target("signed:NAME")`` is ``with_random_sign(get_target(NAME))``.
    """
    t = _resolve(target)
    if t.lsa_law == "signed":
        raise ValueError(f"target {t.name!r} already has a random sign")
    return dataclasses.replace(t, name=f"signed:{t.name}", is_linear=False, lsa_law="signed",
                               beta=0.0)


def is_target_name(spec) -> bool:
    """Whether ``spec`` is a string in one of the families of :data:`TARGET_NAMES`."""
    if not isinstance(spec, str):
        return False
    return spec.strip().lower().partition(":")[0] in _FAMILIES


def get_target(target, *, context: str = "index") -> Target:
    """Resolve a target name, callable or :class:`Target` (see the module's table of names).

    Parameters
    ----------
    target : str, callable or Target
        A name of :data:`TARGET_NAMES` (case-insensitive), a function ``g`` acting elementwise
        on float64 arrays, or a :class:`Target`.
    context : {"index", "lsa"}
        ``"index"`` (default): for the simulator and the index-model theory (labels
        ``g(<x, w>)``); a ``signed:`` target raises. ``"lsa"``: for the one-step-GD / LSA model;
        the target must have an ``lsa_law`` (``linear``, ``he3:BETA``, ``signed:NAME``), and the
        old spellings ``relu``, ``tanh``, ``tanh:A``, ``cubic`` raise naming their new ones.

    Raises
    ------
    ValueError
        Unknown name or bad parameter, a target not valid in ``context``, a non-callable, or a
        callable returning non-finite values or having no finite fourth moment under ``N(0, 1)``.
    """
    if context not in CONTEXTS:
        raise ValueError(f"context must be one of {list(CONTEXTS)}, got {context!r}")
    if context == "lsa" and isinstance(target, str):
        _refuse_old_lsa_spelling(target)
    t = _resolve(target)
    if context == "lsa":
        t._require_lsa()
    elif t.lsa_law == "signed":
        raise ValueError(f"target {t.name!r} draws a random sign per task, which only the "
                         "one-step-GD/LSA model does; the simulator and the random-transformer "
                         f"and linear-attention theory take the unsigned {t.name[7:]!r}")
    return t
