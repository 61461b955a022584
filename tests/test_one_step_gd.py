"""Closed forms of rmt_icl.theory.one_step_gd: regression values, identities, bad input.

Regression values are the closed forms printed to 6 decimals (``docs/theory/one_step_gd.md``;
compared to ~1e-6) and are checked here against an independent route (the general formula vs the
isotropic one, brute-force minimisation, the Hermite series vs quadrature).
"""

import math
import re

import numpy as np
import pytest
from scipy import optimize

from rmt_icl.core.targets import get_target, hermite_link_moments, with_random_sign
from rmt_icl.hermite import hermite_expansion
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
    o = one_step_gd_optimum(n=n, d=d, noise_var=sigma**2)
    assert float(o.step) == pytest.approx(c, abs=1e-6)
    assert float(o.loss) == pytest.approx(L, abs=1e-6)
    assert float(o.clean_loss) == pytest.approx(L - sigma**2, abs=1e-6)
    # the optimum minimises L(c) and L(c*) = L*
    assert float(one_step_gd_loss(o.step, n=n, d=d,
                                  noise_var=sigma**2)) == pytest.approx(float(o.loss), 1e-12)
    res = optimize.minimize_scalar(lambda x: float(one_step_gd_loss(x, n=n, d=d,
                                                                    noise_var=sigma**2)))
    assert res.x == pytest.approx(float(o.step), abs=1e-6)
    # the general-Gaussian formula with identity covariances reproduces the isotropic one
    g = optimal_lsa(np.eye(d), None, n=n, noise_var=sigma**2)
    np.testing.assert_allclose(g.gamma, float(o.step) * np.eye(d), atol=1e-13)
    assert g.loss == pytest.approx(float(o.loss), rel=1e-13)


def test_loss_at_any_step_and_eta():
    np.testing.assert_allclose(one_step_gd_loss([0.25, 0.5, 1.0], n=10, d=5, noise_var=0.25),
                               [3.2578125, 2.28125, 3.375], rtol=1e-14)
    # eta ratio at n=10, d=4, sigma=0.7: 1/15.49
    assert float(one_step_gd_optimum(n=10, d=4, noise_var=0.49).eta) == pytest.approx(1 / 15.49,
                                                                                      rel=1e-13)
    assert float(step_to_unnormalised(0.625, n=10)) == 0.0625
    # vectorised over n
    o = one_step_gd_optimum(n=np.array([10, 20, 40]), d=5, noise_var=0.25)
    assert o.step.shape == (3,) and np.all(np.diff(o.step) > 0)


def test_scaled_priors():
    # prior N(0, I/d) at n=10, d=5, sigma=0.5: c* = 0.579710, L* = 0.670290
    o = optimal_lsa(np.eye(5), np.eye(5) / 5, n=10, noise_var=0.25)
    np.testing.assert_allclose(o.gamma, 0.579710 * np.eye(5), atol=1e-6)
    assert o.loss == pytest.approx(0.670290, abs=1e-6)
    # covariates I/d: Gamma* = nd/(n+d+1+d sigma^2) I, L* = s2 + (d+1+d s2)/(n+d+1+d s2)
    n, d, s2 = 12, 4, 0.3
    o = optimal_lsa(np.eye(d) / d, None, n=n, noise_var=s2)
    den = n + d + 1 + d * s2
    np.testing.assert_allclose(o.gamma, n * d / den * np.eye(d), rtol=1e-13)
    assert o.loss == pytest.approx(s2 + (d + 1 + d * s2) / den, rel=1e-13)
    # tau^2 prior: only sigma^2/tau^2 matters
    tau2 = 2.5
    o = optimal_lsa(np.eye(d), tau2 * np.eye(d), n=n, noise_var=s2)
    c = n / (n + d + 1 + s2 / tau2)
    np.testing.assert_allclose(o.gamma, c * np.eye(d), rtol=1e-13)
    assert o.loss == pytest.approx(d * tau2 * (1 - c) + s2, rel=1e-13)


def test_non_isotropic_regression_values():
    S = np.diag([4.0, 1.0, 0.25])
    o = optimal_lsa(S, "inverse", n=10, noise_var=0.25)
    np.testing.assert_allclose(np.diag(o.gamma), [0.175439, 0.701754, 2.807018], atol=1e-6)
    np.testing.assert_allclose(o.gamma, 0.7017543859649122 * np.linalg.inv(S), rtol=1e-13)
    assert o.loss == pytest.approx(1.144737, abs=1e-6)
    o = optimal_lsa([4.0, 1.0, 0.25], None, n=10, noise_var=0.25)  # diagonal given as a vector
    np.testing.assert_allclose(np.diag(o.gamma), [0.202020, 0.606061, 1.212121], atol=1e-6)
    assert o.loss == pytest.approx(157 / 99, rel=1e-12)


def test_general_gaussian_regression_and_alternative_forms():
    Sx = np.array([[2, 0.5, 0], [0.5, 1, 0.3], [0, 0.3, 0.5]])
    Sw = np.diag([0.5, 1.5, 1.0])
    n, s2 = 10, 0.25
    o = optimal_lsa(Sx, Sw, n=n, noise_var=s2)
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
    assert np.all(lsa_loss(pert, Sx, Sw, n=n, noise_var=s2) > o.loss)
    assert float(lsa_loss(o.gamma, Sx, Sw, n=n, noise_var=s2)) == pytest.approx(o.loss, rel=1e-13)


def test_zfb_preconditioner_and_test_length_risk():
    lam = np.array([2.0, 1.0, 0.5, 0.25])
    N = 8
    o = optimal_lsa(np.diag(lam), None, n=N, noise_var=0.0)
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
        assert float(lsa_loss(o.gamma, np.diag(lam), n=M)) == pytest.approx(R(M), rel=1e-12)
    t = lam.sum()
    r_inf = np.sum(lam * (lam + t) ** 2 / ((N + 1) * lam + t) ** 2)
    assert r_inf == pytest.approx(0.522375, abs=1e-6)
    assert float(lsa_loss(o.gamma, np.diag(lam), n=10**9)) == pytest.approx(r_inf, rel=1e-7)


NONLIN = [  # target, n, d, sigma, c*_f, L*_f
    ("he3:1", 10, 4, 0.0, 0.280584, 8.877663),
    ("he3:-1", 10, 4, 0.0, 0.410508, 8.357970),
    ("signed:relu", 10, 4, 0.3, 0.445633, 0.478592),
    ("signed:relu", 20, 8, 0.0, 0.512821, 0.371795),
    ("signed:tanh:2", 10, 4, 0.2, 0.682466, 0.312095),
]


@pytest.mark.parametrize("target,n,d,sigma,c,L", NONLIN)
def test_nonlinear_regression_values(target, n, d, sigma, c, L):
    o = one_step_gd_nonlinear(target, n=n, d=d, noise_var=sigma**2)
    assert o.step == pytest.approx(c, abs=1e-6)
    assert o.loss == pytest.approx(L, abs=1e-6)
    # the step minimises the nonlinear loss curve
    res = optimize.minimize_scalar(lambda x: float(o.loss_at(x)))
    assert res.x == pytest.approx(o.step, abs=1e-6)


def test_nonlinear_moments_and_linear_limit():
    # He_3 target moments: E||w|| and E[y^2||x||^2]
    m = get_target("he3:1", context="lsa").lsa_moments(4)
    assert m.f2x2 == pytest.approx(106.559654, abs=1e-6)
    assert get_target("he3:-1", context="lsa").lsa_moments(4).f2x2 == pytest.approx(61.440346,
                                                                                     abs=1e-6)
    # relu closed form c*_f = n/(n+2d+3+4 sigma^2 d)
    for n, d, s2 in [(10, 4, 0.09), (20, 5, 0.25)]:
        assert one_step_gd_nonlinear("signed:relu", n=n, d=d, noise_var=s2).step == pytest.approx(
            n / (n + 2 * d + 3 + 4 * s2 * d), rel=1e-13)
    # linear target gives Theorem 1
    o = one_step_gd_nonlinear("linear", n=20, d=5, noise_var=0.25)
    assert o.step == pytest.approx(float(one_step_gd_optimum(n=20, d=5, noise_var=0.25).step),
                                   rel=1e-14)
    assert o.loss == pytest.approx(float(one_step_gd_optimum(n=20, d=5, noise_var=0.25).loss),
                                   rel=1e-14)
    # tanh(2z) link moments (c_1, E phi^2, E[z^2 phi^2]; printed values)
    t = get_target("tanh:2")
    np.testing.assert_allclose([t.a1, t.second, t.second_s2], [0.729478, 0.635261, 0.942252],
                               atol=1e-6)


def test_hermite_series_matches_quadrature():
    # a random finite Hermite series: exact sums vs adaptive quadrature of the same function
    rng = np.random.default_rng(3)
    c = rng.standard_normal(6) / np.sqrt(np.arange(1, 7))
    He = np.polynomial.hermite_e.hermeval
    exact = hermite_link_moments(c)
    t = get_target(lambda z: He(z, c))
    np.testing.assert_allclose(exact, [t.a1, t.second, t.second_s2], rtol=1e-10)
    # ReLU: quadrature reproduces the exact (1/2, 1/2, 3/2)
    t = get_target(lambda z: np.maximum(z, 0))
    np.testing.assert_allclose([t.a1, t.second, t.second_s2], [0.5, 0.5, 1.5], rtol=1e-10)
    # a signed custom link: the one-step-GD moments follow from the link's
    m = with_random_sign(t).lsa_moments(4)
    assert (m.g2, m.f2x2, m.f2) == (t.a1**2, t.second_s2 + 3 * t.second, t.second)


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
        (lambda: one_step_gd_optimum(n=0, d=5, noise_var=0.1), "n"),
        (lambda: one_step_gd_optimum(n=10, d=0, noise_var=0.1), "d"),
        (lambda: one_step_gd_optimum(n=10, d=5, noise_var=-0.1), "noise_var"),
        (lambda: one_step_gd_optimum(n=2.5, d=5, noise_var=0.1), "n"),
        (lambda: one_step_gd_loss(0.5, n=10, d=5, noise_var=-1.0), "noise_var"),
        (lambda: optimal_lsa(np.eye(3), n=0), "n"),
        (lambda: optimal_lsa(np.eye(3), n=10, noise_var=-0.5), "noise_var"),
        (lambda: optimal_lsa(np.diag([1.0, 0.0, 1.0]), n=10), "cov_x"),
        (lambda: optimal_lsa(np.array([[1.0, 2.0], [2.0, 1.0]]), n=10), "cov_x"),
        (lambda: optimal_lsa(np.array([[1.0, 0.5], [0.0, 1.0]]), n=10), "cov_x"),
        (lambda: optimal_lsa(np.ones((2, 3)), n=10), "cov_x"),
        (lambda: optimal_lsa(np.eye(3), np.eye(2), n=10), "cov_w"),
        (lambda: optimal_lsa(np.eye(3), -np.eye(3), n=10), "cov_w"),
        (lambda: optimal_lsa(np.eye(3), "bogus", n=10), "cov_w"),
        (lambda: lsa_loss(np.eye(2), np.eye(3), n=10), "gamma"),
        (lambda: one_step_gd_nonlinear("signed:relu", n=0, d=4, noise_var=0.1), "n"),
        (lambda: one_step_gd_nonlinear("signed:relu", n=10, d=4, noise_var=-0.1), "noise_var"),
        (lambda: one_step_gd_nonlinear("nosuch", n=10, d=4, noise_var=0.1), "target"),
        (lambda: merged_to_gamma(np.ones(3), np.eye(4)), "w_pv"),
        (lambda: gamma_to_merged(np.ones((2, 3))), "gamma"),
    ],
)
def test_bad_input_names_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("old, new", [("relu", "signed:relu"), ("tanh", "signed:tanh:2"),
                                      ("tanh:3", "signed:tanh:3"), ("cubic", "signed:he1+he3")])
def test_old_target_spellings_name_the_new_ones(old, new):
    with pytest.raises(ValueError, match=re.escape(f"now '{new}'")):
        one_step_gd_nonlinear(old, n=10, d=4)
    # the new spelling gives the old numbers (tanh(2z) and z + He_3(z)/sqrt(6), random sign)
    assert get_target(new, context="lsa").lsa_moments(4).g2 > 0


def test_signed_targets_are_refused_outside_the_lsa_model():
    with pytest.raises(ValueError, match="random sign"):
        get_target("signed:relu")
    with pytest.raises(ValueError, match="signed:he2"):
        get_target("he2", context="lsa")


def test_link_moments_agree_with_hermite_engine():
    """rmt_icl.core.targets' moments vs rmt_icl.hermite (c_1 and E[phi^2] of relu, tanh(2z))."""
    e = hermite_expansion("relu", 1)
    t = get_target("relu")
    assert (t.a1, t.second) == pytest.approx((e.coefficients[1], e.second_moment), abs=1e-12)
    e = hermite_expansion("tanh", 1, variance=4.0)
    t = get_target("tanh:2")
    np.testing.assert_allclose((t.a1, t.second), (e.coefficients[1], e.second_moment),
                               atol=1e-11)


def test_non_gaussian_covariates_regression_values():
    from rmt_icl.theory import one_step_gd_non_gaussian

    for n, d, s2, cov, ref in [(10, 10, 0.0, "uniform", 1.515152),
                               (20, 5, 0.25, "uniform", 2.348337),
                               (10, 10, 0.0, "uniform:0.5", 6.060606),
                               (20, 5, 0.25, "uniform:0.5", 8.633094)]:
        assert float(one_step_gd_non_gaussian(cov, n=n, d=d,
                                              noise_var=s2).step) == pytest.approx(ref, abs=1e-6)
    g = one_step_gd_non_gaussian("gaussian", n=20, d=5, noise_var=0.25)
    o = one_step_gd_optimum(n=20, d=5, noise_var=0.25)
    assert float(g.step) == pytest.approx(float(o.step), rel=1e-14)
    assert float(g.loss) == pytest.approx(float(o.loss), rel=1e-14)
    assert float(one_step_gd_non_gaussian("sphere", n=20, d=5,
                                          noise_var=0.25).step) == pytest.approx(
        20 / (20 + 5 - 1 + 0.25), rel=1e-14)
    with pytest.raises(ValueError, match="covariates"):
        one_step_gd_non_gaussian("uniform:-1", n=20, d=5, noise_var=0.25)
    with pytest.raises(ValueError, match="covariates"):
        one_step_gd_non_gaussian((1.0, -2.0), n=20, d=5, noise_var=0.25)
