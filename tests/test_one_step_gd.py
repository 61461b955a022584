"""Closed forms of rmt_icl.theory.one_step_gd: regression values, identities, bad input.

Regression values are from the reference ``one_step_gd_theory.md`` section 6 (closed forms,
compared to ~1e-6 because the reference prints 6 decimals) and checked here against an
independent route (the general formula vs the isotropic one, brute-force minimisation, the
Hermite series vs quadrature).
"""

import math

import numpy as np
import pytest
from scipy import optimize

from rmt_icl.theory import (
    gamma_to_merged,
    lsa_loss,
    merged_to_gamma,
    one_step_gd_loss,
    one_step_gd_nonlinear,
    one_step_gd_optimum,
    optimal_lsa,
    step_to_unnormalised,
)
from rmt_icl.theory._targets import SingleIndexTarget, get_target, hermite_link_moments

ISO = [  # n, d, sigma, c*, L*
    (10, 5, 0.0, 0.625000, 1.875000),
    (20, 5, 0.5, 0.761905, 1.440476),
    (40, 10, 1.0, 0.769231, 3.307692),
    (5, 10, 0.3, 0.310752, 6.982480),
    (10, 3, 0.5, 0.701754, 1.144737),
    (20, 5, 0.0, 0.769231, 1.153846),
]


@pytest.mark.parametrize("n,d,sigma,c,L", ISO)
def test_isotropic_regression_values(n, d, sigma, c, L):
    o = one_step_gd_optimum(n, d, sigma**2)
    assert float(o.step) == pytest.approx(c, abs=1e-6)
    assert float(o.loss) == pytest.approx(L, abs=1e-6)
    assert float(o.clean_loss) == pytest.approx(L - sigma**2, abs=1e-6)
    # the optimum minimises L(c) and L(c*) = L*
    assert float(one_step_gd_loss(o.step, n, d, sigma**2)) == pytest.approx(float(o.loss), 1e-12)
    res = optimize.minimize_scalar(lambda x: float(one_step_gd_loss(x, n, d, sigma**2)))
    assert res.x == pytest.approx(float(o.step), abs=1e-6)
    # the general-Gaussian formula with identity covariances reproduces the isotropic one
    g = optimal_lsa(n, np.eye(d), None, sigma**2)
    np.testing.assert_allclose(g.gamma, float(o.step) * np.eye(d), atol=1e-13)
    assert g.loss == pytest.approx(float(o.loss), rel=1e-13)


def test_loss_at_any_step_and_eta():
    np.testing.assert_allclose(one_step_gd_loss([0.25, 0.5, 1.0], 10, 5, 0.25),
                               [3.2578125, 2.28125, 3.375], rtol=1e-14)
    # eta ratio at n=10, d=4, sigma=0.7: 1/15.49
    assert float(one_step_gd_optimum(10, 4, 0.49).eta) == pytest.approx(1 / 15.49, rel=1e-13)
    assert float(step_to_unnormalised(0.625, 10)) == 0.0625
    # vectorised over n
    o = one_step_gd_optimum(np.array([10, 20, 40]), 5, 0.25)
    assert o.step.shape == (3,) and np.all(np.diff(o.step) > 0)


def test_scaled_priors():
    # prior N(0, I/d) at n=10, d=5, sigma=0.5: c* = 0.579710, L* = 0.670290
    o = optimal_lsa(10, np.eye(5), np.eye(5) / 5, 0.25)
    np.testing.assert_allclose(o.gamma, 0.579710 * np.eye(5), atol=1e-6)
    assert o.loss == pytest.approx(0.670290, abs=1e-6)
    # covariates I/d: Gamma* = nd/(n+d+1+d sigma^2) I, L* = s2 + (d+1+d s2)/(n+d+1+d s2)
    n, d, s2 = 12, 4, 0.3
    o = optimal_lsa(n, np.eye(d) / d, None, s2)
    den = n + d + 1 + d * s2
    np.testing.assert_allclose(o.gamma, n * d / den * np.eye(d), rtol=1e-13)
    assert o.loss == pytest.approx(s2 + (d + 1 + d * s2) / den, rel=1e-13)
    # tau^2 prior: only sigma^2/tau^2 matters
    tau2 = 2.5
    o = optimal_lsa(n, np.eye(d), tau2 * np.eye(d), s2)
    c = n / (n + d + 1 + s2 / tau2)
    np.testing.assert_allclose(o.gamma, c * np.eye(d), rtol=1e-13)
    assert o.loss == pytest.approx(d * tau2 * (1 - c) + s2, rel=1e-13)


def test_non_isotropic_regression_values():
    S = np.diag([4.0, 1.0, 0.25])
    o = optimal_lsa(10, S, "inverse", 0.25)
    np.testing.assert_allclose(np.diag(o.gamma), [0.175439, 0.701754, 2.807018], atol=1e-6)
    np.testing.assert_allclose(o.gamma, 0.7017543859649122 * np.linalg.inv(S), rtol=1e-13)
    assert o.loss == pytest.approx(1.144737, abs=1e-6)
    o = optimal_lsa(10, [4.0, 1.0, 0.25], None, 0.25)  # diagonal given as a vector
    np.testing.assert_allclose(np.diag(o.gamma), [0.202020, 0.606061, 1.212121], atol=1e-6)
    assert o.loss == pytest.approx(157 / 99, rel=1e-12)


def test_general_gaussian_regression_and_alternative_forms():
    Sx = np.array([[2, 0.5, 0], [0.5, 1, 0.3], [0, 0.3, 0.5]])
    Sw = np.diag([0.5, 1.5, 1.0])
    n, s2 = 10, 0.25
    o = optimal_lsa(n, Sx, Sw, s2)
    ref = np.array([[0.385168, -0.177689, 0.067014],
                    [-0.177689, 0.920752, -0.347255],
                    [0.067014, -0.347255, 1.273822]])
    np.testing.assert_allclose(o.gamma, ref, atol=1e-6)
    assert o.loss == pytest.approx(1.096487, abs=1e-6)
    # independent forms: Gamma* = K^{-1} Sx Sw = Sw ((n+1)/n Sx Sw + a I)^{-1}
    a = (np.trace(Sx @ Sw) + s2) / n
    K = (n + 1) / n * Sx @ Sw @ Sx + a * Sx
    np.testing.assert_allclose(o.gamma, np.linalg.solve(K, Sx @ Sw), atol=1e-12)
    np.testing.assert_allclose(o.gamma, Sw @ np.linalg.inv((n + 1) / n * Sx @ Sw + a * np.eye(3)),
                               atol=1e-12)
    # Gamma* is a stationary point: the gradient 2(K G Sx - Sx Sw Sx) vanishes
    np.testing.assert_allclose(K @ o.gamma @ Sx, Sx @ Sw @ Sx, atol=1e-12)
    # and L(Gamma* + perturbation) > L* (vectorised over a stack of perturbations)
    rng = np.random.default_rng(0)
    pert = o.gamma + 0.05 * rng.standard_normal((20, 3, 3))
    assert np.all(lsa_loss(pert, n, Sx, Sw, s2) > o.loss)
    assert float(lsa_loss(o.gamma, n, Sx, Sw, s2)) == pytest.approx(o.loss, rel=1e-13)


def test_zfb_preconditioner_and_test_length_risk():
    lam = np.array([2.0, 1.0, 0.5, 0.25])
    N = 8
    o = optimal_lsa(N, np.diag(lam), None, 0.0)
    np.testing.assert_allclose(np.diag(o.gamma), [0.367816, 0.627451, 0.969697, 1.333333],
                               atol=1e-6)
    assert math.sqrt(np.linalg.norm(o.gamma)) == pytest.approx(1.342372, abs=1e-6)
    w_pv, w_kq = gamma_to_merged(o.gamma, balanced=True)
    assert w_pv[-1, -1] == pytest.approx(1.342372, abs=1e-6)
    np.testing.assert_allclose(merged_to_gamma(w_pv, w_kq), o.gamma, atol=1e-14)

    def R(M):  # reference closed form for the clean test risk at prompt length M
        t = lam.sum()
        gN = (1 + 1 / N) * lam + t / N
        gM = (1 + 1 / M) * lam + t / M
        return np.sum(lam**2 * gM / gN**2 - 2 * lam**2 / gN + lam)

    for M, ref in [(8, 1.325527), (32, 0.723163)]:
        assert R(M) == pytest.approx(ref, abs=1e-6)
        assert float(lsa_loss(o.gamma, M, np.diag(lam))) == pytest.approx(R(M), rel=1e-12)
    t = lam.sum()
    r_inf = np.sum(lam * (lam + t) ** 2 / ((N + 1) * lam + t) ** 2)
    assert r_inf == pytest.approx(0.522375, abs=1e-6)
    assert float(lsa_loss(o.gamma, 10**9, np.diag(lam))) == pytest.approx(r_inf, rel=1e-7)


NONLIN = [  # target, n, d, sigma, c*_f, L*_f
    ("he3:1", 10, 4, 0.0, 0.280584, 8.877663),
    ("he3:-1", 10, 4, 0.0, 0.410508, 8.357970),
    ("relu", 10, 4, 0.3, 0.445633, 0.478592),
    ("relu", 20, 8, 0.0, 0.512821, 0.371795),
    ("tanh", 10, 4, 0.2, 0.682466, 0.312095),
]


@pytest.mark.parametrize("target,n,d,sigma,c,L", NONLIN)
def test_nonlinear_regression_values(target, n, d, sigma, c, L):
    o = one_step_gd_nonlinear(n, target, d, sigma**2)
    assert o.step == pytest.approx(c, abs=1e-6)
    assert o.loss == pytest.approx(L, abs=1e-6)
    # the step minimises the nonlinear loss curve
    res = optimize.minimize_scalar(lambda x: float(o.loss_at(x, n, d, sigma**2)))
    assert res.x == pytest.approx(o.step, abs=1e-6)


def test_nonlinear_moments_and_linear_limit():
    # He_3 target moments: E||w|| and E[y^2||x||^2]
    m = get_target("he3:1").moments(4)
    assert m.f2x2 == pytest.approx(106.559654, abs=1e-6)
    assert get_target("he3:-1").moments(4).f2x2 == pytest.approx(61.440346, abs=1e-6)
    # relu closed form c*_f = n/(n+2d+3+4 sigma^2 d)
    for n, d, s2 in [(10, 4, 0.09), (20, 5, 0.25)]:
        assert one_step_gd_nonlinear(n, "relu", d, s2).step == pytest.approx(
            n / (n + 2 * d + 3 + 4 * s2 * d), rel=1e-13)
    # linear target gives Theorem 1
    o = one_step_gd_nonlinear(20, "linear", 5, 0.25)
    assert o.step == pytest.approx(float(one_step_gd_optimum(20, 5, 0.25).step), rel=1e-14)
    assert o.loss == pytest.approx(float(one_step_gd_optimum(20, 5, 0.25).loss), rel=1e-14)
    # tanh(2z) link moments (reference values)
    np.testing.assert_allclose(get_target("tanh").link_moments(),
                               [0.729478, 0.635261, 0.942252], atol=1e-6)


def test_hermite_series_matches_quadrature():
    # a random finite Hermite series: exact sums vs adaptive quadrature of the same function
    rng = np.random.default_rng(3)
    c = rng.standard_normal(6) / np.sqrt(np.arange(1, 7))
    He = np.polynomial.hermite_e.hermeval
    exact = hermite_link_moments(c)
    quad = SingleIndexTarget(lambda z: He(z, c)).link_moments()
    np.testing.assert_allclose(exact, quad, rtol=1e-10)
    # ReLU: quadrature reproduces the exact (1/2, 1/2, 3/2)
    np.testing.assert_allclose(SingleIndexTarget(lambda z: np.maximum(z, 0)).link_moments(),
                               [0.5, 0.5, 1.5], rtol=1e-10)


def test_merged_conversion_roundtrip():
    rng = np.random.default_rng(1)
    G = rng.standard_normal((4, 4))
    w_pv, w_kq = gamma_to_merged(G)
    np.testing.assert_array_equal(merged_to_gamma(w_pv, w_kq), G)
    assert w_pv[-1, -1] == 1 and np.all(w_kq[-1] == 0) and np.all(w_pv[:-1] == 0)
    # general (p, Q): Gamma_eff = p_y Q_xx + p_x q_yx^T
    p = rng.standard_normal(5)
    Q = rng.standard_normal((5, 5))
    np.testing.assert_allclose(merged_to_gamma(p, Q), p[4] * Q[:4, :4] + np.outer(p[:4], Q[4, :4]))


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: one_step_gd_optimum(0, 5, 0.1), "n"),
        (lambda: one_step_gd_optimum(10, 0, 0.1), "d"),
        (lambda: one_step_gd_optimum(10, 5, -0.1), "noise_var"),
        (lambda: one_step_gd_optimum(2.5, 5, 0.1), "n"),
        (lambda: one_step_gd_loss(0.5, 10, 5, -1.0), "noise_var"),
        (lambda: optimal_lsa(0, np.eye(3)), "n"),
        (lambda: optimal_lsa(10, np.eye(3), noise_var=-0.5), "noise_var"),
        (lambda: optimal_lsa(10, np.diag([1.0, 0.0, 1.0])), "cov_x"),
        (lambda: optimal_lsa(10, np.array([[1.0, 2.0], [2.0, 1.0]])), "cov_x"),
        (lambda: optimal_lsa(10, np.array([[1.0, 0.5], [0.0, 1.0]])), "cov_x"),
        (lambda: optimal_lsa(10, np.ones((2, 3))), "cov_x"),
        (lambda: optimal_lsa(10, np.eye(3), np.eye(2)), "cov_w"),
        (lambda: optimal_lsa(10, np.eye(3), -np.eye(3)), "cov_w"),
        (lambda: optimal_lsa(10, np.eye(3), "bogus"), "cov_w"),
        (lambda: lsa_loss(np.eye(2), 10, np.eye(3)), "gamma"),
        (lambda: one_step_gd_nonlinear(0, "relu", 4, 0.1), "n"),
        (lambda: one_step_gd_nonlinear(10, "relu", 4, -0.1), "noise_var"),
        (lambda: one_step_gd_nonlinear(10, "nosuch", 4, 0.1), "target"),
        (lambda: merged_to_gamma(np.ones(3), np.eye(4)), "w_pv"),
        (lambda: gamma_to_merged(np.ones((2, 3))), "gamma"),
    ],
)
def test_bad_input_names_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_link_moments_agree_with_hermite_engine():
    """The private quadrature helper vs rmt_icl.hermite (c_1 and E[phi^2] of relu, tanh(2z))."""
    hermite = pytest.importorskip("rmt_icl.hermite")
    e = hermite.hermite_expansion("relu", 1)
    assert get_target("relu").link_moments()[:2] == pytest.approx(
        (e.coefficients[1], e.second_moment), abs=1e-12)
    e = hermite.hermite_expansion("tanh", 1, variance=4.0)
    np.testing.assert_allclose(get_target("tanh").link_moments()[:2],
                               (e.coefficients[1], e.second_moment), atol=1e-11)


def test_non_gaussian_covariates_regression_values():
    from rmt_icl.theory import one_step_gd_non_gaussian

    for n, d, s2, cov, ref in [(10, 10, 0.0, "uniform", 1.515152),
                               (20, 5, 0.25, "uniform", 2.348337),
                               (10, 10, 0.0, "uniform:0.5", 6.060606),
                               (20, 5, 0.25, "uniform:0.5", 8.633094)]:
        assert float(one_step_gd_non_gaussian(n, d, s2, cov).step) == pytest.approx(ref, abs=1e-6)
    g = one_step_gd_non_gaussian(20, 5, 0.25, "gaussian")
    o = one_step_gd_optimum(20, 5, 0.25)
    assert float(g.step) == pytest.approx(float(o.step), rel=1e-14)
    assert float(g.loss) == pytest.approx(float(o.loss), rel=1e-14)
    assert float(one_step_gd_non_gaussian(20, 5, 0.25, "sphere").step) == pytest.approx(
        20 / (20 + 5 - 1 + 0.25), rel=1e-14)
    with pytest.raises(ValueError, match="covariates"):
        one_step_gd_non_gaussian(20, 5, 0.25, "uniform:-1")
    with pytest.raises(ValueError, match="covariates"):
        one_step_gd_non_gaussian(20, 5, 0.25, (1.0, -2.0))
