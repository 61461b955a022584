"""Hermite engine vs independent references: mpmath at 30 digits, a table of printed values."""

from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import pytest

from rmt_icl.hermite import MAX_DEGREE, get_activation, hermite_expansion

CLOSED = [
    ("relu", {}),
    ("leaky_relu", {"slope": 0.2}),
    ("abs", {}),
    ("sign", {}),
    ("erf", {"a": 0.7}),
    ("gelu", {}),
    ("identity", {}),
    ("quadratic", {}),
    ("cubic", {}),
    ("polynomial", {"coeffs": (0.5, -1.0, 0.25, 0.1)}),
    ("sin", {"freq": 1.3}),
    ("cos", {"freq": 0.8}),
]
NUMERIC = [
    ("tanh", {}),
    ("sigmoid", {}),
    ("softplus", {}),
    ("silu", {}),
    ("elu", {"alpha": 1.0}),
    ("elu", {"alpha": 0.5}),
    ("leaky_relu", {"slope": 0.1}),
]


@functools.cache
def _mp(name, params, degree, variance):
    return hermite_expansion(
        name, degree, variance=variance, method="mpmath", precision=30, params=dict(params)
    )


def _key(params):
    return tuple(sorted(params.items()))


@pytest.mark.parametrize("variance", [1.0, 1.7])
@pytest.mark.parametrize("name,params", CLOSED, ids=[c[0] for c in CLOSED])
def test_closed_form_matches_mpmath(name, params, variance):
    assert get_activation(name, **params).closed_form is not None
    e = hermite_expansion(name, 8, variance=variance, params=params)
    ref = _mp(name, _key(params), 8, variance)
    assert e.method == "closed_form" and ref.method == "mpmath"
    np.testing.assert_allclose(e.coefficients, ref.coefficients, rtol=0, atol=1e-12)
    assert abs(e.second_moment - ref.second_moment) <= 1e-12 * max(1.0, ref.second_moment)
    assert abs(e.residual - ref.residual) <= 1e-12 * max(1.0, ref.second_moment)


@pytest.mark.parametrize("variance", [1.0, 2.5])
@pytest.mark.parametrize("name,params", NUMERIC, ids=[f"{n}{p}" for n, p in NUMERIC])
def test_quadrature_matches_mpmath(name, params, variance):
    e = hermite_expansion(name, 10, variance=variance, method="quadrature", params=params)
    ref = _mp(name, _key(params), 10, variance)
    err = np.abs(e.coefficients - ref.coefficients).max()
    assert err <= 1e-11
    assert abs(e.second_moment - ref.second_moment) <= 1e-11
    assert abs(e.residual - ref.residual) <= 1e-11
    # the reported error estimate covers the achieved error
    assert err <= e.error + 1e-16


def test_mpmath_path_is_self_consistent_across_precisions():
    """30 vs 45 digits agree far beyond float64: the reference is converged."""
    act = get_activation("tanh")
    from rmt_icl.hermite import mp_hermite

    a = mp_hermite(act, 6, 1.3, precision=30)
    b = mp_hermite(act, 6, 1.3, precision=45)
    with mpmath.workdps(40):
        assert max(abs(x - y) for x, y in zip(a.coefficients, b.coefficients, strict=True)) < 1e-28


def test_undeclared_kink_and_jump_found_by_adaptivity():
    """Quadrature without kink information still reaches ~1e-13 on a shifted relu and a step."""
    kink = get_activation(lambda u: np.maximum(u - 0.3, 0.0))
    kink_mp = get_activation(
        lambda u: np.maximum(u - 0.3, 0.0),
        mp_func=lambda x: max(x - mpmath.mpf("0.3"), mpmath.mpf(0)),
        kinks=[0.3],
    )
    step = get_activation(lambda u: np.where(u > 0.7, 1.0, 0.0))
    step_mp = get_activation(
        lambda u: np.where(u > 0.7, 1.0, 0.0),
        mp_func=lambda x: mpmath.mpf(1) if x > mpmath.mpf("0.7") else mpmath.mpf(0),
        kinks=[0.7],
    )
    for f, fmp in ((kink, kink_mp), (step, step_mp)):
        e = hermite_expansion(f, 8, method="quadrature")
        ref = hermite_expansion(fmp, 8, method="mpmath", precision=30)
        err = np.abs(e.coefficients - ref.coefficients).max()
        assert e.info["levels"] > 5  # it had to bisect
        assert err <= 1e-12
        assert err <= e.error + 1e-16
        assert abs(e.residual - ref.residual) <= 1e-12


def test_plain_gauss_hermite_would_fail_on_relu():
    """Sanity check of the premise: 100-node Gauss-Hermite misses relu's c_2 by ~1e-3 or more."""
    x, w = np.polynomial.hermite_e.hermegauss(100)
    w = w / np.sqrt(2 * np.pi)
    c2_gh = np.sum(w * np.maximum(x, 0) * (x**2 - 1)) / 2
    c2 = hermite_expansion("relu", 2, method="quadrature").coefficients[2]
    exact = 1 / (2 * np.sqrt(2 * np.pi))
    assert abs(c2_gh - exact) > 1e-5
    assert abs(c2 - exact) < 1e-14


# tabulated closed-form values, unit variance, printed to 6 decimals:
# E σ², c_0..c_5, c*_1..c*_5
TABLE = {
    "relu": (
        0.500000,
        0.398942,
        0.5,
        0.199471,
        0,
        -0.016623,
        0,
        0.301405,
        0.106149,
        0.106149,
        0.068089,
        0.068089,
    ),
    "tanh": (
        0.394294,
        0,
        0.605706,
        0,
        -0.060599,
        0,
        0.005710,
        0.165576,
        0.165576,
        0.073360,
        0.073360,
        0.038334,
    ),
    "erf": (
        0.464559,
        0,
        0.651470,
        0,
        -0.072386,
        0,
        0.007239,
        0.200364,
        0.200364,
        0.093316,
        0.093316,
        0.049196,
    ),
    "gelu": (
        0.425221,
        0.282095,
        0.5,
        0.211571,
        0,
        -0.014692,
        0,
        0.309264,
        0.078226,
        0.078226,
        0.030635,
        0.030635,
    ),
    "sigmoid": (
        0.293379,
        0.5,
        0.206621,
        0,
        -0.010399,
        0,
        0.000536,
        0.026207,
        0.026207,
        0.006158,
        0.006158,
        0.001840,
    ),
    "softplus": (
        0.921246,
        0.806059,
        0.5,
        0.103310,
        0,
        -0.002600,
        0,
        0.146678,
        0.012977,
        0.012977,
        0.002484,
        0.002484,
    ),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_reference_table(name):
    e = hermite_expansion(name, 5)
    got = np.concatenate([[e.second_moment], e.coefficients, e.residuals[1:]])
    want = np.array(TABLE[name], dtype=float)
    # the table is rounded to 6 decimals: |got - want| <= 5e-7 (+ float slack); for entries of
    # size >= 0.5 this is the requested relative 1e-6
    np.testing.assert_allclose(got, want, rtol=0, atol=5e-7 + 1e-12)


@pytest.mark.parametrize("name", ["relu", "sign", "erf", "gelu", "sin"])
@pytest.mark.parametrize("degree", [60, MAX_DEGREE])
def test_high_degree_quadrature_matches_closed_form(name, degree):
    """Up to the largest degree, the quadrature reproduces the closed forms: the orthonormal
    coefficients √(k!) c_k and every cumulative residual c*_k."""
    cf = hermite_expansion(name, degree, variance=1.3)
    q = hermite_expansion(name, degree, variance=1.3, method="quadrature")
    sq = np.sqrt([float(math.factorial(k)) for k in range(degree + 1)])
    assert np.max(np.abs(cf.coefficients - q.coefficients) * sq) <= 1e-13
    assert np.max(np.abs(cf.residuals - q.residuals)) <= 1e-12
    assert abs(cf.residual - q.residual) <= q.error + 1e-15


@pytest.mark.parametrize(
    "name,variance",
    [
        ("erf", 1e-4),
        ("erf", 1e4),
        ("gelu", 1e-4),
        ("gelu", 1e4),
        ("relu", 1e4),
        ("sin", 25.0),
        ("cos", 1e-4),
    ],
)
def test_closed_forms_at_extreme_variance(name, variance):
    """Closed forms stay accurate far from v = 1 (asin near 1, relu-like tails, t ≫ 1)."""
    e = hermite_expansion(name, 8, variance=variance)
    ref = _mp(name, (), 8, variance)
    scale = max(1.0, math.sqrt(variance))
    assert np.max(np.abs(e.coefficients - ref.coefficients)) <= 1e-13 * scale
    assert abs(e.second_moment - ref.second_moment) <= 1e-14 * max(1.0, ref.second_moment)
    assert abs(e.residual - ref.residual) <= max(e.error, 1e-14 * scale)
    q = hermite_expansion(name, 8, variance=variance, method="quadrature")
    assert np.max(np.abs(q.coefficients - ref.coefficients)) <= 1e-13 * scale
    assert abs(q.residual - ref.residual) <= max(q.error, 1e-14 * scale)
