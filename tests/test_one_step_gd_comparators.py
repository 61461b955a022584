"""Comparator risks (Bayes ridge, least squares, k-step GD) against direct simulation.

The comparators average over Wishart *eigenvalues* (bidiagonal sampler); the checks here
simulate full prompts (X, w, eps) and apply the estimators directly, so both the eigenvalue
sampler and the risk formulas are tested. Tolerances: 4 combined standard errors.
"""

import numpy as np
import pytest

from rmt_icl.core.stats import mean_se
from rmt_icl.theory import (
    bayes_ridge_risk,
    bayes_ridge_risk_mp,
    gd_risk,
    least_squares_risk,
    one_step_gd_loss,
    optimal_gd_risk,
)
from rmt_icl.theory._comparators import wishart_eigenvalues

TOL = 4.0


def _prompts(rng, N, n, d, s2):
    X = rng.standard_normal((N, n, d))
    w = rng.standard_normal((N, d))
    y = np.einsum("bnd,bd->bn", X, w) + np.sqrt(s2) * rng.standard_normal((N, n))
    return X, y, w


@pytest.mark.parametrize("n,d", [(10, 5), (5, 10), (7, 7)])
def test_wishart_eigenvalue_moments(n, d):
    rng = np.random.default_rng([1, n, d])
    ev = wishart_eigenvalues(rng, n=n, d=d, size=50_000)
    assert ev.shape == (50_000, d) and np.all(ev >= 0)
    assert np.sum(ev[0] > 1e-9) == min(n, d)
    m1, se1 = mean_se(ev.sum(1))
    m2, se2 = mean_se((ev**2).sum(1))
    assert abs(m1 - n * d) < TOL * se1
    assert abs(m2 - n * d * (n + d + 1)) < TOL * se2
    # against eigenvalues of explicit X^T X
    X = rng.standard_normal((10_000, n, d))
    ev2 = np.linalg.eigvalsh(np.swapaxes(X, 1, 2) @ X)
    m3, se3 = mean_se(1.0 / (ev.max(1)))
    m4, se4 = mean_se(1.0 / (ev2.max(1)))
    assert abs(m3 - m4) < TOL * np.hypot(se3, se4)


@pytest.mark.parametrize("n,d,s2", [(10, 5, 0.25), (10, 10, 1.0), (5, 8, 0.5)])
def test_bayes_ridge_against_direct_posterior_mean(n, d, s2):
    b = bayes_ridge_risk(n=n, d=d, noise_var=s2, n_draws=50_000, seed=3)
    rng = np.random.default_rng([2, n, d])
    X, y, w = _prompts(rng, 30_000, n, d, s2)
    A = np.swapaxes(X, 1, 2) @ X + s2 * np.eye(d)
    wb = np.linalg.solve(A, np.einsum("bnd,bn->bd", X, y)[..., None])[..., 0]
    m, se = mean_se(np.sum((wb - w) ** 2, axis=1))
    assert abs(b.risk - m) < TOL * np.hypot(b.se, se), (b, m, se)


def test_bayes_ridge_regression_values_and_limits():
    # tabulated values (4e5 draws, SE <= 5e-4); both standard errors enter the tolerance
    for n, d, s2, ref in [(10, 5, 0.25, 0.2671), (20, 10, 1.0, 0.9014)]:
        b = bayes_ridge_risk(n=n, d=d, noise_var=s2, n_draws=40_000, seed=1)
        assert abs(b.risk - ref) < TOL * np.hypot(b.se, 5e-4)
    assert bayes_ridge_risk(n=5, d=8, noise_var=0.0).risk == 3.0
    np.testing.assert_allclose(bayes_ridge_risk_mp(n=[10, 10, 20], d=[5, 10, 20],
                                                   noise_var=[0.25, 0.25, 1.0]),
                               [0.2282, 1.4611, 4.0000], atol=5e-5)
    # the MP formula is an approximation from below at these sizes
    assert bayes_ridge_risk_mp(n=10, d=5, noise_var=0.25) < bayes_ridge_risk(
        n=10, d=5, noise_var=0.25, n_draws=20_000).risk


def test_least_squares_against_direct():
    np.testing.assert_allclose(least_squares_risk(n=[20, 40, 10], d=[5, 10, 20],
                                                  noise_var=[1.0, 0.25, 0.25]),
                               [0.357143, 0.086207, 10.277778], atol=1e-6)
    assert np.isinf(least_squares_risk(n=10, d=10, noise_var=0.5))
    assert np.isinf(least_squares_risk(n=9, d=10, noise_var=0.5))
    assert least_squares_risk(n=8, d=10, noise_var=0.0) == 2.0
    rng = np.random.default_rng(4)
    for n, d, s2 in [(12, 4, 0.5), (5, 12, 0.5)]:
        X, y, w = _prompts(rng, 40_000, n, d, s2)
        Xt = np.swapaxes(X, 1, 2)
        if n > d:
            wls = np.linalg.solve(Xt @ X, (Xt @ y[..., None]))[..., 0]
        else:  # minimum-norm solution X^T (X X^T)^{-1} y
            wls = (Xt @ np.linalg.solve(X @ Xt, y[..., None]))[..., 0]
        m, se = mean_se(np.sum((wls - w) ** 2, axis=1))
        assert abs(m - float(least_squares_risk(n=n, d=d, noise_var=s2))) < TOL * se


def test_k_step_gd_against_direct_iteration():
    n, d, s2, c = 10, 5, 0.25, 0.5
    # k = 1 is exact and equals L(c) - sigma^2
    assert gd_risk([c], n=n, d=d, noise_var=s2).risk == pytest.approx(2.03125, rel=1e-14)
    assert gd_risk([c], n=n, d=d, noise_var=s2).risk == pytest.approx(
        float(one_step_gd_loss(c, n=n, d=d, noise_var=s2)) - s2, rel=1e-14)
    steps = [0.5, 0.3, 0.7]
    g = gd_risk(steps, n=n, d=d, noise_var=s2, n_draws=100_000, seed=5)
    rng = np.random.default_rng(6)
    X, y, w = _prompts(rng, 50_000, n, d, s2)
    S = np.swapaxes(X, 1, 2) @ X / n
    h = np.einsum("bnd,bn->bd", X, y) / n
    wt = np.zeros_like(w)
    for ct in steps:
        wt = wt - ct * (np.einsum("bij,bj->bi", S, wt) - h)
    m, se = mean_se(np.sum((wt - w) ** 2, axis=1))
    assert abs(g.risk - m) < TOL * np.hypot(g.se, se), (g, m, se)
    # reference k = 3 constant-step value 0.9823 +- 0.0011
    g3 = gd_risk([c] * 3, n=n, d=d, noise_var=s2, n_draws=100_000, seed=7)
    assert abs(g3.risk - 0.9823) < TOL * np.hypot(g3.se, 0.0011)


def test_optimal_gd_improves_with_k():
    n, d, s2 = 20, 5, 0.25
    r1 = optimal_gd_risk(1, n=n, d=d, noise_var=s2)
    assert r1.method == "exact"
    assert r1.steps[0] == pytest.approx(n / (n + d + 1 + s2))
    r2 = optimal_gd_risk(2, n=n, d=d, noise_var=s2, n_draws=20_000, seed=1)
    r3 = optimal_gd_risk(3, n=n, d=d, noise_var=s2, constant_step=False, n_draws=20_000, seed=1)
    assert r2.risk < r1.risk - 10 * r2.se
    assert r3.risk < r2.risk
    # k-step GD never beats the Bayes risk
    b = bayes_ridge_risk(n=n, d=d, noise_var=s2, n_draws=20_000, seed=2)
    assert r3.risk > b.risk - TOL * np.hypot(r3.se, b.se)


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: bayes_ridge_risk(n=0, d=5, noise_var=0.1), "n"),
        (lambda: bayes_ridge_risk(n=5, d=5, noise_var=-0.1), "noise_var"),
        (lambda: least_squares_risk(n=5, d=0, noise_var=0.1), "n and d"),
        (lambda: gd_risk([0.5], n=5, d=5, noise_var=-1.0), "noise_var"),
        (lambda: optimal_gd_risk(0, n=5, d=5, noise_var=0.1), "k"),
        (lambda: bayes_ridge_risk_mp(n=5, d=5, noise_var=0.0), "noise_var"),
    ],
)
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_gd_mp_limit_is_the_proportional_limit():
    """The proportional limit: replacing E sum_j by d * MP integral (docs, "Comparators").

    k = 1: the MP value differs from the exact one by exactly c^2 d/n. k = 3: the finite-size MC
    risk per dimension approaches the MP value with an O(1/n) gap (n * gap roughly constant).
    """
    from rmt_icl.theory._comparators import gd_risk_mp

    for n, d, c in [(10, 5, 0.5), (10, 20, 0.3), (10, 10, 0.6)]:
        assert gd_risk_mp([c], n=n, d=d, noise_var=0.25) == pytest.approx(
            gd_risk([c], n=n, d=d, noise_var=0.25).risk - c**2 * d / n, rel=1e-9)
    steps = [0.5, 0.5, 0.5]
    gaps = []
    for n, d, draws in [(40, 20, 6_000), (160, 80, 1_500)]:
        mc = gd_risk(steps, n=n, d=d, noise_var=0.25, n_draws=draws, seed=2)
        gap = (mc.risk - gd_risk_mp(steps, n=n, d=d, noise_var=0.25)) / d
        assert gap > 10 * mc.se / d  # resolved
        gaps.append(n * gap)
    assert 0.5 < gaps[1] / gaps[0] < 2.0  # gap ~ const / n
