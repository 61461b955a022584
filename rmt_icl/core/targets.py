"""Single-index targets ``y = g(<x, w>) + eps`` and their Gaussian moments.

With ``x ~ N(0, I_d/d)`` and a task normalised to ``||w|| = sqrt(d)``, the index
``s = <x, w>`` is exactly ``N(0, 1)``. The moments below (``s ~ N(0, 1)``) enter the
normalisation of the random transformer and the theory formulas:

====================  =========================================================
``mean``              ``E g(s)``
``a1``                ``E[g(s) s] = E g'(s)`` (linear part)
``second``            ``E g(s)^2``
``second_s2``         ``E[g(s)^2 s^2]``
``fourth``            ``E g(s)^4``
====================  =========================================================

Built-in targets: ``linear`` (``g(s) = s``), ``relu``, ``tanh`` and ``he2`` (alias
``quadratic``, ``g(s) = s^2 - 1``). Any callable ``g`` acting elementwise on float64 arrays is
accepted; its moments are computed by adaptive quadrature split at 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import integrate


@dataclass(frozen=True)
class Target:
    """A target function with its Gaussian moments (see the module docstring).

    Attributes
    ----------
    name : str
    func : callable
        Elementwise ``g`` on float64 arrays.
    mean, a1, second, second_s2, fourth : float
        ``E g``, ``E[g s]``, ``E g^2``, ``E[g^2 s^2]``, ``E g^4`` for ``s ~ N(0, 1)``.
    is_linear : bool
        True for ``g(s) = s``; enables the O(d)-per-prompt chi-square sampler.
    """

    name: str
    func: Callable[[np.ndarray], np.ndarray]
    mean: float
    a1: float
    second: float
    second_s2: float
    fourth: float
    is_linear: bool = False

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


def _relu(s):
    return np.maximum(s, 0.0)


def _he2(s):
    return s * s - 1.0


def _identity(s):
    return np.asarray(s, dtype=np.float64)


def gaussian_expectation(f: Callable[[float], float]) -> float:
    """``E f(s)`` for ``s ~ N(0, 1)`` by adaptive quadrature on (-inf, 0] and [0, inf)."""
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


def _builtin(name: str) -> Target:
    if name == "linear":
        return Target("linear", _identity, 0.0, 1.0, 1.0, 3.0, 3.0, is_linear=True)
    if name == "relu":
        return Target("relu", _relu, 1.0 / math.sqrt(2.0 * math.pi), 0.5, 0.5, 1.5, 1.5)
    if name in ("he2", "quadratic"):
        # E(s^2-1)^2 = 2, E[(s^2-1)^2 s^2] = 15 - 6 + 1 = 10, E(s^2-1)^4 = 60
        return Target("he2", _he2, 0.0, 0.0, 2.0, 10.0, 60.0)
    if name == "tanh":
        return Target("tanh", np.tanh, *_moments_by_quadrature(np.tanh))
    raise ValueError(f"target must be one of {sorted(TARGETS)} or a callable, got {name!r}")


#: names accepted by :func:`get_target`
TARGETS = ("linear", "relu", "tanh", "he2", "quadratic")

_CACHE: dict[str, Target] = {}


def get_target(target: str | Callable | Target) -> Target:
    """Resolve a target name or callable to a :class:`Target` with its moments.

    Parameters
    ----------
    target : str, callable or Target
        One of :data:`TARGETS`, or a function ``g`` acting elementwise on float64 arrays.

    Raises
    ------
    ValueError
        Unknown name, non-callable, or a callable returning non-finite values or having no
        finite fourth moment under ``N(0, 1)``.
    """
    if isinstance(target, Target):
        return target
    if isinstance(target, str):
        if target not in _CACHE:
            _CACHE[target] = _builtin(target)
        return _CACHE[target]
    if not callable(target):
        raise ValueError(f"target must be one of {sorted(TARGETS)} or a callable, "
                         f"got {target!r}")
    moments = _moments_by_quadrature(target)
    if not all(math.isfinite(m) for m in moments):
        raise ValueError("target must have finite Gaussian moments up to E g^4")
    name = getattr(target, "__name__", "custom")
    return Target(name, target, *moments)
