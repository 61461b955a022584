"""Hermite expansions of activation functions (``rmt_icl.hermite``).

Conventions: ``z ~ N(0, 1)``; ``He_k`` are the probabilists' Hermite polynomials
(``He_{k+1}(z) = z He_k(z) - k He_{k-1}(z)``, ``E[He_i He_j] = i! δ_ij``); the pre-activation is
``u = √v z`` and

    c_k = E[σ(√v z) He_k(z)] / k!,     c*_P = sqrt(E σ² - Σ_{k≤P} k! c_k²).

Public API
----------
hermite_coefficients, hermite_residual, hermite_expansion (-> HermiteExpansion)
    closed form where registered, else adaptive quadrature (~1e-13 absolute, error reported);
    ``method="mpmath", precision=30`` is the arbitrary-precision reference path.
dual_kernel
    ``E[σ(u)σ(u')]`` by the Mehler series with a rigorous tail bound.
hermite_polynomials, hermite_series
    parallel numba kernels: ``He_0..He_P(u)`` and ``Σ_j c_j He_j(u)`` on large arrays.
get_activation, Activation, activation_names
    the registry of activations.
mp_hermite
    the mpmath path returning mpmath numbers.

Degrees are limited to ``[0, MAX_DEGREE] = [0, 170]`` (``171!`` overflows float64). See
``docs/hermite.md``.
"""

from rmt_icl.hermite._validate import MAX_DEGREE
from rmt_icl.hermite.activations import Activation, activation_names, get_activation
from rmt_icl.hermite.expansion import (
    HermiteExpansion,
    dual_kernel,
    hermite_coefficients,
    hermite_expansion,
    hermite_residual,
)
from rmt_icl.hermite.kernels import hermite_polynomials, hermite_series
from rmt_icl.hermite.mp import mp_hermite

__all__ = [
    "MAX_DEGREE",
    "Activation",
    "HermiteExpansion",
    "activation_names",
    "dual_kernel",
    "get_activation",
    "hermite_coefficients",
    "hermite_expansion",
    "hermite_polynomials",
    "hermite_residual",
    "hermite_series",
    "mp_hermite",
]
