"""Random regression targets for one-step GD / LSA (Mahankali et al. 2023, Theorem 3).

A *target* is a random function f: R^d -> R whose law is invariant under f -> f o R (R
orthogonal) and under f -> -f. Each target object knows

* its moments ``E||g_f||^2`` (g_f = E_x[x f(x)]), ``E[f^2 ||x||^2]`` and ``E[f^2]`` for
  x ~ N(0, I_d), which fix the optimal one-step-GD step (see :mod:`rmt_icl.theory.one_step_gd`);
* how to draw tasks (``sample_tasks``) and evaluate f on covariates (``evaluate``), which the
  LSA trainer and the Monte Carlo checks use.

Single-index targets f(x) = s phi(u^T x) (u uniform on the sphere, s = +-1 a fair sign) get their
moments from the probabilists' Hermite coefficients c_k of phi when these are given, and
otherwise from adaptive 1-D Gaussian quadrature (:func:`gaussian_expectation`). The quadrature
helper is deliberately private and swappable for :mod:`rmt_icl.hermite` once that engine is
available.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate, special

from rmt_icl.core.checks import as_float_array

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def gaussian_expectation(fn) -> float:
    """E[fn(z)] for z ~ N(0, 1) by adaptive quadrature on (-inf, 0] and [0, inf).

    Splitting at 0 keeps kinks at the origin (ReLU, |z|) from spoiling the accuracy; the result is
    accurate to ~1e-12 for smooth or piecewise-smooth fn of polynomial growth.
    """

    def integrand(z):
        return fn(z) * math.exp(-0.5 * z * z) / _SQRT_2PI

    lo, _ = integrate.quad(integrand, -np.inf, 0.0, epsabs=1e-13, epsrel=1e-12, limit=400)
    hi, _ = integrate.quad(integrand, 0.0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=400)
    return lo + hi


@dataclass(frozen=True)
class TargetMoments:
    """Moments of a random target under x ~ N(0, I_d) (noise excluded).

    Attributes
    ----------
    g2 : float
        E||g_f||^2 with g_f = E_x[x f(x)] (= E_x[grad f] by Stein's lemma).
    f2x2 : float
        E[f(x)^2 ||x||^2].
    f2 : float
        E[f(x)^2].
    """

    g2: float
    f2x2: float
    f2: float


class Target:
    """Base class. Subclasses implement ``moments``, ``sample_tasks`` and ``evaluate``."""

    name = "target"

    def moments(self, d: int) -> TargetMoments:  # pragma: no cover - interface
        raise NotImplementedError

    def sample_tasks(self, rng: np.random.Generator, size: int, d: int):
        """Draw ``size`` tasks: returns ``(W, s)`` with W of shape (size, d), s of shape (size,)."""
        raise NotImplementedError  # pragma: no cover - interface

    def evaluate(self, W: np.ndarray, s: np.ndarray, X: np.ndarray) -> np.ndarray:
        """f(x) for tasks (W, s) of shape (B, d), (B,) and covariates X of shape (B, m, d)."""
        raise NotImplementedError  # pragma: no cover - interface

    def __repr__(self) -> str:
        return f"<target {self.name}>"


class LinearTarget(Target):
    """f(x) = w^T x with w ~ N(0, I_d): E||g||^2 = d, E[f^2||x||^2] = d(d+2), E[f^2] = d."""

    name = "linear"

    def moments(self, d):
        return TargetMoments(g2=float(d), f2x2=float(d * (d + 2)), f2=float(d))

    def sample_tasks(self, rng, size, d):
        return rng.standard_normal((size, d)), np.ones(size)

    def evaluate(self, W, s, X):
        return np.einsum("bmd,bd->bm", X, W)


class SingleIndexTarget(Target):
    """f(x) = s phi(u^T x), u uniform on S^{d-1}, s = +-1 with probability 1/2 each.

    Parameters
    ----------
    phi : callable
        Vectorised link function R -> R.
    coeffs : sequence of float, optional
        Probabilists' Hermite coefficients of phi (phi = sum_k c_k He_k) if phi is a finite
        Hermite series; the moments are then exact sums. Otherwise 1-D quadrature is used.
    name : str
    """

    def __init__(self, phi, coeffs=None, name="single-index"):
        self.phi = phi
        self.coeffs = None if coeffs is None else as_float_array("coeffs", coeffs).ravel()
        self.name = name
        self._link = None

    def link_moments(self):
        """(c_1, E[phi^2], E[z^2 phi^2]) for z ~ N(0, 1)."""
        if self._link is None:
            if self.coeffs is not None:
                self._link = hermite_link_moments(self.coeffs)
            else:
                phi = self.phi
                self._link = (
                    gaussian_expectation(lambda z: z * float(phi(z))),
                    gaussian_expectation(lambda z: float(phi(z)) ** 2),
                    gaussian_expectation(lambda z: (z * float(phi(z))) ** 2),
                )
        return self._link

    def moments(self, d):
        c1, phi2, z2phi2 = self.link_moments()
        return TargetMoments(g2=c1**2, f2x2=z2phi2 + (d - 1) * phi2, f2=phi2)

    def sample_tasks(self, rng, size, d):
        u = rng.standard_normal((size, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        s = np.where(rng.random(size) < 0.5, -1.0, 1.0)
        return u, s

    def evaluate(self, W, s, X):
        return s[:, None] * self.phi(np.einsum("bmd,bd->bm", X, W))


def hermite_link_moments(coeffs) -> tuple[float, float, float]:
    """(c_1, E[phi^2], E[z^2 phi^2]) of phi = sum_k c_k He_k (probabilists'), z ~ N(0, 1).

    Uses E[He_j He_k] = k! delta_jk and z He_k = He_{k+1} + k He_{k-1}, so that
    E[z^2 phi^2] = sum_m m! (c_{m-1} + (m+1) c_{m+1})^2 with c_{-1} := 0.
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


class He3PerturbedTarget(Target):
    """f(x) = w^T x + beta He_3(w_hat^T x), w ~ N(0, I_d), w_hat = w/||w||.

    Moments (reference section 3.4): E||g||^2 = d, E[f^2] = d + 6 beta^2 and
    E[f^2||x||^2] = d(d+2) + 12 beta E||w|| + beta^2 (6d + 36), with
    E||w|| = sqrt(2) Gamma((d+1)/2) / Gamma(d/2). Heavy-tailed: use many prompts in MC checks.
    """

    def __init__(self, beta: float):
        self.beta = float(as_float_array("beta", beta))
        self.name = f"he3:{self.beta:g}"

    def moments(self, d):
        b = self.beta
        enorm = math.sqrt(2.0) * math.exp(special.gammaln((d + 1) / 2) - special.gammaln(d / 2))
        return TargetMoments(
            g2=float(d),
            f2x2=d * (d + 2) + 12 * b * enorm + b**2 * (6 * d + 36),
            f2=d + 6 * b**2,
        )

    def sample_tasks(self, rng, size, d):
        return rng.standard_normal((size, d)), np.ones(size)

    def evaluate(self, W, s, X):
        z = np.einsum("bmd,bd->bm", X, W)
        zh = z / np.linalg.norm(W, axis=1)[:, None]
        return z + self.beta * (zh**3 - 3 * zh)


def _relu(z):
    return np.maximum(z, 0.0)


def get_target(spec) -> Target:
    """Target from a name, or pass a :class:`Target` through.

    Names: ``linear``; ``relu`` (s ReLU(u^T x)); ``tanh`` or ``tanh:A`` (s tanh(A u^T x), A = 2 by
    default); ``he3:BETA`` (w^T x + BETA He_3(w_hat^T x)); ``cubic`` (s He_3(u^T x)/sqrt(6) + s
    u^T x, a finite Hermite series).
    """
    if isinstance(spec, Target):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"target must be a Target or one of {TARGET_NAMES}, got {spec!r}")
    name, _, arg = spec.strip().lower().partition(":")
    try:
        if name == "linear" and not arg:
            return LinearTarget()
        if name == "relu" and not arg:
            # c_1 = 1/2, E[phi^2] = 1/2, E[z^2 phi^2] = 3/2 (exact)
            t = SingleIndexTarget(_relu, name="relu")
            t._link = (0.5, 0.5, 1.5)
            return t
        if name == "tanh":
            a = float(arg) if arg else 2.0
            return SingleIndexTarget(lambda z: np.tanh(a * z), name=f"tanh:{a:g}")
        if name == "he3":
            return He3PerturbedTarget(float(arg) if arg else 1.0)
        if name == "cubic" and not arg:
            r6 = 1.0 / math.sqrt(6.0)
            return SingleIndexTarget(
                lambda z: z + r6 * (z**3 - 3 * z), coeffs=[0.0, 1.0, 0.0, r6], name="cubic"
            )
    except ValueError as exc:
        raise ValueError(f"target {spec!r}: bad parameter ({exc})") from exc
    raise ValueError(f"target must be one of {TARGET_NAMES}, got {spec!r}")


TARGET_NAMES = ("linear", "relu", "tanh[:A]", "he3[:BETA]", "cubic")

