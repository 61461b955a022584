"""Property tests (hypothesis): Parseval, linearity in σ, variance scaling laws."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmt_icl.hermite import activation_names, get_activation, hermite_expansion

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
NAMES = [n for n in activation_names() if n != "polynomial"]
variances = st.floats(0.05, 20.0, allow_nan=False)


@SETTINGS
@given(name=st.sampled_from(NAMES), degree=st.integers(0, 25), v=variances)
def test_parseval_quadrature(name, degree, v):
    """Σ k! c_k² + c*² = E σ², with c*² integrated directly (not defined as the difference)."""
    e = hermite_expansion(name, degree, variance=v, method="quadrature")
    lhs = float(np.sum(e.energies)) + e.residual**2
    assert abs(lhs - e.second_moment) <= 1e-12 * max(1.0, e.second_moment)
    assert np.all(np.diff(e.residuals) <= 1e-15 * max(1.0, e.second_moment))


@SETTINGS
@given(
    name=st.sampled_from([n for n in NAMES if get_activation(n).closed_form]),
    v=variances,
    degree=st.integers(0, 25),
)
def test_closed_form_second_moment_and_parseval(name, v, degree):
    """The closed-form E σ² agrees with quadrature; Parseval holds for the closed form."""
    e = hermite_expansion(name, degree, variance=v)
    q = hermite_expansion(name, degree, variance=v, method="quadrature")
    scale = max(1.0, e.second_moment)
    assert abs(e.second_moment - q.second_moment) <= 1e-12 * scale
    assert abs(float(np.sum(e.energies)) + e.residual**2 - e.second_moment) <= 1e-12 * scale
    assert abs(e.residual - q.residual) <= 1e-10 * scale


@SETTINGS
@given(
    f=st.sampled_from(NAMES),
    g=st.sampled_from(NAMES),
    a=st.floats(-3, 3, allow_nan=False),
    b=st.floats(-3, 3, allow_nan=False),
    v=st.floats(0.2, 5.0),
)
def test_linearity(f, g, a, b, v):
    """c_k(a f + b g) = a c_k(f) + b c_k(g) (the combination goes through the quadrature)."""
    F, G = get_activation(f), get_activation(g)
    combo = get_activation(lambda u: a * F(u) + b * G(u), kinks=F.kinks + G.kinks)
    P = 8
    ec = hermite_expansion(combo, P, variance=v)
    ef, eg = hermite_expansion(F, P, variance=v), hermite_expansion(G, P, variance=v)
    want = a * ef.coefficients + b * eg.coefficients
    tol = 1e-12 * max(1.0, abs(a) + abs(b)) * max(1.0, ef.second_moment, eg.second_moment)
    assert np.max(np.abs(ec.coefficients - want)) <= tol


@SETTINGS
@given(
    name=st.sampled_from(["relu", "leaky_relu", "abs", "sign"]),
    v=variances,
    degree=st.integers(0, 20),
)
def test_homogeneous_scaling(name, v, degree):
    """σ(λu) = λ^h σ(u) (h = 1 for relu/leaky_relu/abs, 0 for sign) ⇒ c_k(v) = v^{h/2} c_k(1)."""
    h = 0.0 if name == "sign" else 1.0
    c1 = hermite_expansion(name, degree, method="quadrature").coefficients
    cv = hermite_expansion(name, degree, variance=v, method="quadrature").coefficients
    np.testing.assert_allclose(cv, v ** (h / 2) * c1, rtol=0, atol=1e-12 * max(1.0, v))


def _rescale(c1: np.ndarray, v: float) -> np.ndarray:
    """He_n(γx) = Σ_i γ^{n-2i} (γ²-1)^i n!/(i!(n-2i)! 2^i) He_{n-2i}(x), γ = √v."""
    gam = math.sqrt(v)
    n = len(c1)
    out = np.zeros(n)
    for m, cm in enumerate(c1):
        for i in range(m // 2 + 1):
            j = m - 2 * i
            out[j] += (
                cm
                * gam**j
                * (gam * gam - 1) ** i
                * math.factorial(m)
                / (math.factorial(i) * math.factorial(j) * 2**i)
            )
    return out


@SETTINGS
@given(
    coeffs=st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=7),
    v=st.floats(0.1, 4.0),
)
def test_polynomial_variance_rescaling(coeffs, v):
    """Quadrature at variance v equals the Hermite rescaling of the variance-1 coefficients."""
    act = get_activation(lambda u: np.polynomial.polynomial.polyval(u, coeffs))
    P = len(coeffs) - 1
    c1 = hermite_expansion(act, P, method="quadrature").coefficients
    cv = hermite_expansion(act, P, variance=v, method="quadrature")
    scale = max(1.0, math.sqrt(cv.second_moment), math.sqrt(v) ** P)
    np.testing.assert_allclose(cv.coefficients, _rescale(c1, v), rtol=0, atol=1e-12 * scale)
    # the registered polynomial's closed form agrees as well
    cf = hermite_expansion("polynomial", P, variance=v, params={"coeffs": tuple(coeffs)})
    np.testing.assert_allclose(cf.coefficients, cv.coefficients, rtol=0, atol=1e-12 * scale)
    assert cv.residual <= 1e-12 * scale**2  # a degree-P polynomial has no residual beyond P
