"""Numba kernels (He_k, Hermite series, Mehler series) and dual-kernel identities."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from numpy.polynomial import hermite_e

from rmt_icl.hermite import (
    MAX_DEGREE,
    dual_kernel,
    hermite_expansion,
    hermite_polynomials,
    hermite_series,
)

RNG = np.random.default_rng(np.random.SeedSequence(20261124))


@pytest.mark.parametrize("degree", [0, 1, 2, 7, 30])
def test_hermite_polynomials_match_numpy(degree):
    u = RNG.standard_normal((37, 23)) * 2.0
    h = hermite_polynomials(u, degree)
    assert h.shape == (degree + 1, 37, 23) and h.dtype == np.float64
    ref = np.moveaxis(hermite_e.hermevander(u, degree), -1, 0)
    scale = np.abs(ref).max(axis=(1, 2), keepdims=True)
    assert np.all(np.abs(h - ref) <= 1e-13 * scale)


def test_hermite_polynomials_out_and_shapes():
    u = np.linspace(-3, 3, 11)
    out = np.empty((5, 11))
    res = hermite_polynomials(u, 4, out=out)
    assert res is out
    np.testing.assert_allclose(res[4], u**4 - 6 * u**2 + 3, rtol=0, atol=1e-12)
    assert hermite_polynomials(2.0, 3).shape == (4,)
    np.testing.assert_allclose(hermite_polynomials(2.0, 3), [1, 2, 3, 2])
    with pytest.raises(ValueError, match="out must be"):
        hermite_polynomials(u, 4, out=np.empty((4, 11)))
    with pytest.raises(ValueError, match="degree"):
        hermite_polynomials(u, -1)
    with pytest.raises(ValueError, match=r"degree must be an integer in \[0, 170\]"):
        hermite_polynomials(u, MAX_DEGREE + 1)


def test_hermite_polynomials_orthogonality_by_gauss_hermite():
    x, w = hermite_e.hermegauss(60)
    w = w / np.sqrt(2 * np.pi)
    h = hermite_polynomials(x, 12)
    gram = (h * w) @ h.T
    fact = np.array([float(np.prod(np.arange(1, k + 1))) for k in range(13)])
    normed = gram / np.sqrt(np.outer(fact, fact))  # E[He_i He_j]/sqrt(i! j!) = δ_ij
    np.testing.assert_allclose(normed, np.eye(13), rtol=0, atol=1e-13)


@pytest.mark.parametrize("shape", [(64, 33), (5,), (3, 4, 5), (0, 4)])
@pytest.mark.parametrize("ncoef", [1, 2, 6, 13])
def test_hermite_series_matches_numpy(shape, ncoef):
    u = RNG.standard_normal(shape) * 1.5
    c = RNG.standard_normal(ncoef)
    got = hermite_series(u, c)
    ref = hermite_e.hermeval(u, c)
    assert got.shape == u.shape and got.dtype == np.float64
    # scale: Σ |c_j| |He_j(u)| bounds the rounding of any evaluation order
    if u.size:
        mag = np.abs(c) @ np.abs(
            np.moveaxis(hermite_e.hermevander(u, ncoef - 1), -1, 0).reshape(ncoef, -1)
        )
        assert np.all(np.abs(got - ref).ravel() <= 1e-14 * (1 + mag))


def test_hermite_series_out_in_place_and_allocation_free():
    u = RNG.standard_normal((500, 400))
    c = hermite_expansion("tanh", 5).coefficients
    ref = hermite_e.hermeval(u, c)
    out = np.empty_like(u)
    hermite_series(u, c, out=out)  # compile / warm up
    tracemalloc.start()
    res = hermite_series(u, c, out=out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert res is out
    assert peak < u.nbytes / 20  # no temporary of the array's size
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-15)
    v = u.copy()
    hermite_series(v, c, out=v)  # in place
    np.testing.assert_allclose(v, ref, rtol=1e-13, atol=1e-15)
    # float32 input is accepted (converted), result float64
    assert hermite_series(u.astype(np.float32), c).dtype == np.float64


def test_hermite_series_bad_input():
    u = np.zeros((3, 3))
    with pytest.raises(ValueError, match="coeffs"):
        hermite_series(u, [])
    with pytest.raises(ValueError, match="coeffs"):
        hermite_series(u, [1.0, np.nan])
    with pytest.raises(ValueError, match="coeffs"):
        hermite_series(u, np.ones(MAX_DEGREE + 2))
    with pytest.raises(ValueError, match="out must be"):
        hermite_series(u, [1.0], out=np.empty((3, 3), dtype=np.float32))


def test_expansion_evaluates_to_activation():
    """Σ c_k He_k(z) → σ(√v z) in L²: the empirical L² gap equals c*_P (quadrature check)."""
    e = hermite_expansion("tanh", 9, variance=1.5)
    # trapezoid rule on a fine uniform grid: spectrally accurate for this smooth decaying integrand
    x = np.linspace(-14, 14, 5601)
    h = x[1] - x[0]
    gap2 = h * np.sum(
        np.exp(-x * x / 2) / np.sqrt(2 * np.pi) * (np.tanh(np.sqrt(1.5) * x) - e(x)) ** 2
    )
    assert abs(np.sqrt(gap2) - e.residual) < 1e-12


# ---------------------------------------------------------------------------------------------
# dual kernel identities


def _arccos1(rho):
    return (np.sqrt(1 - rho**2) + rho * (np.pi - np.arccos(rho))) / (2 * np.pi)


def test_relu_arccos_kernel():
    rho = np.linspace(-1, 1, 41)
    exact = _arccos1(rho)
    for degree in (4, 12, 60, None):
        val, bound = dual_kernel("relu", rho, degree=degree, return_bound=True)
        assert np.all(np.abs(val - exact) <= bound + 1e-15)
    # with the automatic degree, |rho| <= 0.9 is accurate within a bound below 1e-12
    inner = rho[np.abs(rho) <= 0.9]
    val, bound = dual_kernel("relu", inner, return_bound=True)
    assert np.all(np.abs(val - _arccos1(inner)) <= bound) and bound.max() < 1e-12
    # the bound is attained at rho = 1 (all tail terms positive)
    val, bound = dual_kernel("relu", 1.0, degree=10, return_bound=True)
    assert np.isclose(_arccos1(1.0) - val, bound, rtol=1e-10)


@pytest.mark.parametrize("a,variance", [(1.0, 1.0), (0.6, 2.0), (2.0, 0.3)])
def test_erf_kernel(a, variance):
    rho = np.linspace(-0.99, 0.99, 23)
    t2 = a * a * variance
    exact = (2 / np.pi) * np.arcsin(2 * t2 * rho / (1 + 2 * t2))
    val, bound = dual_kernel("erf", rho, variance=variance, params={"a": a}, return_bound=True)
    assert np.all(np.abs(val - exact) <= bound + 1e-15)
    assert np.max(np.abs(val - exact)) < 1e-13


@pytest.mark.parametrize("name", ["tanh", "relu", "sign", "softplus"])
def test_dual_kernel_monte_carlo(name):
    """E[σ(u)σ(u')] against a Monte Carlo mean, within 4.5 standard errors."""
    rho, v, n = 0.6, 1.3, 400_000
    rng = np.random.default_rng(np.random.SeedSequence([7, len(name)]))
    z1 = rng.standard_normal(n)
    z2 = rho * z1 + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    from rmt_icl.hermite import get_activation

    f = get_activation(name)
    prod = f(np.sqrt(v) * z1) * f(np.sqrt(v) * z2)
    mc, se = prod.mean(), prod.std(ddof=1) / np.sqrt(n)
    val, bound = dual_kernel(name, rho, variance=v, return_bound=True)
    assert bound < 1e-12
    assert abs(val - mc) <= 4.5 * se


def test_dual_kernel_at_rho_one_is_second_moment_and_bad_rho():
    e = hermite_expansion("tanh", 5)
    val = dual_kernel("tanh", [0.0, 1.0])
    np.testing.assert_allclose(val, [e.coefficients[0] ** 2, e.second_moment], atol=1e-13)
    with pytest.raises(ValueError, match=r"rho must lie in \[-1, 1\]"):
        dual_kernel("tanh", 1.2)
    with pytest.raises(ValueError, match="rho"):
        dual_kernel("tanh", np.nan)
