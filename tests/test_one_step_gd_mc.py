"""Every one-step-GD closed form against a Monte Carlo line search over the step.

Prompts are simulated here with plain numpy (independently of rmt_icl.lsa). For a family of
predictors y_hat = c * p (p = h^T P x_q for a fixed direction P) the empirical loss is quadratic in
c, so the MC line search is exact: c_hat = mean(p y_q) / mean(p^2). Its standard error follows
from the delta method; tolerances are 4 measured standard errors (seeds are fixed, so the
tests are deterministic; 4 SE keeps a correct formula from failing by chance).
"""

import numpy as np
import pytest

from rmt_icl.core.stats import mean_se
from rmt_icl.core.targets import get_target
from rmt_icl.theory import one_step_gd_loss, one_step_gd_nonlinear, one_step_gd_optimum, optimal_lsa

TOL = 4.0


def _prompts(rng, N, n, d, s2, Lx=None, Lw=None):
    """h (N, d), w (N, d), x_q (N, d), y_q (N,) for linear Gaussian prompts."""
    X = rng.standard_normal((N, n + 1, d))
    w = rng.standard_normal((N, d))
    if Lx is not None:
        X = X @ Lx.T
    if Lw is not None:
        w = w @ Lw.T
    y = np.einsum("bmd,bd->bm", X, w) + np.sqrt(s2) * rng.standard_normal((N, n + 1))
    h = np.einsum("bnd,bn->bd", X[:, :n], y[:, :n]) / n
    return h, w, X[:, n], y[:, n]


def _line_search(p, y):
    """c_hat minimising mean (c p - y)^2, its delta-method SE, and the loss curve pieces."""
    A, B = np.mean(p * y), np.mean(p * p)
    c = A / B
    se = np.std(p * y - c * p * p, ddof=1) / np.sqrt(p.size) / B
    return c, se


@pytest.mark.parametrize("n,d,sigma", [(20, 5, 0.5), (10, 5, 0.0), (5, 10, 0.3)])
def test_isotropic_line_search(n, d, sigma):
    rng = np.random.default_rng([11, n, d])
    s2 = sigma**2
    h, w, xq, yq = _prompts(rng, 100_000, n, d, s2)
    p = np.einsum("bd,bd->b", h, xq)
    c_hat, c_se = _line_search(p, yq)
    o = one_step_gd_optimum(n=n, d=d, noise_var=s2)
    assert abs(c_hat - float(o.step)) < TOL * c_se, (c_hat, float(o.step), c_se)
    # loss at several steps: plain squared error on the same prompts
    for c in [0.5 * float(o.step), float(o.step), 1.3 * float(o.step)]:
        m, se = mean_se((c * p - yq) ** 2)
        assert abs(m - float(one_step_gd_loss(c, n=n, d=d, noise_var=s2))) < TOL * se


def _rb_loss(G, h, w, Sx, s2):
    """Per-prompt loss with the query averaged analytically: (G^T h - w)^T Sx (G^T h - w) + s2."""
    r = h @ G - w  # rows: (G^T h - w)^T
    return np.einsum("bi,ij,bj->b", r, Sx, r) + s2


CASE_SEEDS = {"general": 1, "spiked_identity_prior": 2, "spiked_inverse_prior": 3}
CASES = {
    "general": (np.array([[2, 0.5, 0], [0.5, 1, 0.3], [0, 0.3, 0.5]]), np.diag([0.5, 1.5, 1.0]),
                10, 0.25),
    "spiked_identity_prior": (np.diag([4.0, 1.0, 1.0, 1.0]), np.eye(4), 12, 0.25),
    "spiked_inverse_prior": (np.diag([4.0, 1.0, 1.0, 1.0]), np.diag([0.25, 1, 1, 1]), 12, 0.25),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_general_gaussian_against_mc(case):
    Sx, Sw, n, s2 = CASES[case]
    d = Sx.shape[0]
    o = optimal_lsa(Sx, Sw, n=n, noise_var=s2)
    rng = np.random.default_rng([5, CASE_SEEDS[case]])
    Lx, Lw = np.linalg.cholesky(Sx), np.linalg.cholesky(Sw)
    nb, per = 20, 10_000
    fits, losses = [], []
    ps, ys = [], []
    for _ in range(nb):
        h, w, xq, yq = _prompts(rng, per, n, d, s2, Lx, Lw)
        # least-squares fit of Gamma on this batch: Gamma = E[h h^T]^{-1} E[h w^T]
        fits.append(np.linalg.solve(h.T @ h, h.T @ w))
        losses.append(_rb_loss(o.gamma, h, w, Sx, s2))
        ps.append(np.einsum("bi,ij,bj->b", h, o.gamma, xq))
        ys.append(yq)
    fits = np.array(fits)
    fit, fit_se = fits.mean(0), fits.std(0, ddof=1) / np.sqrt(nb)
    assert np.all(np.abs(fit - o.gamma) < TOL * fit_se), (fit, o.gamma, fit_se)
    m, se = mean_se(np.concatenate(losses))
    assert abs(m - o.loss) < TOL * se
    # line search along the direction Gamma*: optimal multiple is 1
    c_hat, c_se = _line_search(np.concatenate(ps), np.concatenate(ys))
    assert abs(c_hat - 1.0) < TOL * c_se


def test_mahankali_theorem2_is_preconditioned_gd():
    # x ~ N(0, S), w ~ N(0, S^{-1}): Gamma* = c* S^{-1} with the isotropic c*, L*
    S = np.diag([4.0, 1.0, 0.25])
    o = optimal_lsa(S, "inverse", n=10, noise_var=0.25)
    iso = one_step_gd_optimum(n=10, d=3, noise_var=0.25)
    np.testing.assert_allclose(o.gamma, float(iso.step) * np.linalg.inv(S), rtol=1e-13)
    assert o.loss == pytest.approx(float(iso.loss), rel=1e-13)


def _nonlinear_prompts(rng, target, N, n, d, s2):
    t = get_target(target, context="lsa")
    W, s = t.lsa_tasks(rng, N, d)
    X = rng.standard_normal((N, n + 1, d))
    y = t.lsa_labels(W, s, X) + np.sqrt(s2) * rng.standard_normal((N, n + 1))
    h = np.einsum("bnd,bn->bd", X[:, :n], y[:, :n]) / n
    return np.einsum("bd,bd->b", h, X[:, n]), y[:, n]


NONLIN = [  # target, n, d, sigma, chunks of 1e5 prompts, stream key
    ("signed:relu", 10, 4, 0.3, 2, 4), ("signed:tanh:2", 10, 4, 0.2, 2, 4),
    ("signed:he1+he3", 10, 4, 0.5, 2, 5),
    pytest.param("he3:-1", 10, 4, 0.0, 8, 6, marks=pytest.mark.slow),
    pytest.param("signed:relu", 20, 5, 0.5, 8, 4, marks=pytest.mark.slow),
    pytest.param("signed:he1+he3", 20, 5, 0.5, 8, 5, marks=pytest.mark.slow)]


@pytest.mark.parametrize("target,n,d,sigma,chunks,key", NONLIN)
def test_nonlinear_line_search(target, n, d, sigma, chunks, key):
    s2 = sigma**2
    o = one_step_gd_nonlinear(target, n=n, d=d, noise_var=s2)
    rng = np.random.default_rng([7, n, d, key])
    ps, ys = [], []
    for _ in range(chunks):
        p, y = _nonlinear_prompts(rng, target, 100_000, n, d, s2)
        ps.append(p)
        ys.append(y)
    p, y = np.concatenate(ps), np.concatenate(ys)
    c_hat, c_se = _line_search(p, y)
    assert abs(c_hat - o.step) < TOL * c_se, (c_hat, o.step, c_se)
    m, se = mean_se((o.step * p - y) ** 2)
    assert abs(m - o.loss) < TOL * se
    # the MC line search resolves the difference from the linear formula
    assert abs(o.linear_step - c_hat) > 10 * c_se or target == "signed:tanh:2"


@pytest.mark.slow
def test_he3_heavy_tailed_line_search():
    o = one_step_gd_nonlinear("he3:1", n=10, d=4, noise_var=0.0)
    rng = np.random.default_rng(99)
    ps, ys = [], []
    for _ in range(40):
        p, y = _nonlinear_prompts(rng, "he3:1", 100_000, 10, 4, 0.0)
        ps.append(p)
        ys.append(y)
    c_hat, c_se = _line_search(np.concatenate(ps), np.concatenate(ys))
    assert abs(c_hat - o.step) < TOL * c_se


@pytest.mark.parametrize("cov,n,d,sigma", [("uniform", 20, 5, 0.5), ("sphere", 10, 4, 0.3)])
def test_non_gaussian_line_search(cov, n, d, sigma):
    from rmt_icl.theory import one_step_gd_non_gaussian

    s2 = sigma**2
    o = one_step_gd_non_gaussian(cov, n=n, d=d, noise_var=s2)
    rng = np.random.default_rng([13, n, d])
    N = 200_000
    if cov == "uniform":
        X = rng.uniform(-1.0, 1.0, (N, n + 1, d))
    else:
        X = rng.standard_normal((N, n + 1, d))
        X *= np.sqrt(d) / np.linalg.norm(X, axis=2, keepdims=True)
    w = rng.standard_normal((N, d))
    y = np.einsum("bmd,bd->bm", X, w) + sigma * rng.standard_normal((N, n + 1))
    h = np.einsum("bnd,bn->bd", X[:, :n], y[:, :n]) / n
    p = np.einsum("bd,bd->b", h, X[:, n])
    c_hat, c_se = _line_search(p, y[:, n])
    assert abs(c_hat - float(o.step)) < TOL * c_se, (c_hat, float(o.step), c_se)
    m, se = mean_se((float(o.step) * p - y[:, n]) ** 2)
    assert abs(m - float(o.loss)) < TOL * se
