"""LSA model: token layout, masking, forward-pass equivalences, exact gradients, Gamma_eff."""

import numpy as np
import pytest

from rmt_icl.lsa.data import PromptDistribution, TaskPool, parse_cov
from rmt_icl.lsa.model import MahankaliLSA, MergedLSA, gram, make_tokens, query_token
from rmt_icl.theory import gamma_to_merged, merged_to_gamma


def _batch(seed=0, B=64, n=7, d=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, n, d))
    y = rng.standard_normal((B, n))
    xq = rng.standard_normal((B, d))
    yq = rng.standard_normal(B)
    return X, y, xq, yq


def test_tokens_mask_the_query_label():
    X, y, xq, _ = _batch()
    E = make_tokens(X, y, xq)
    assert E.shape == (64, 4, 8)
    np.testing.assert_array_equal(E[:, 3, 7], 0.0)
    np.testing.assert_array_equal(E[:, :3, 7], xq)
    np.testing.assert_array_equal(E[:, 3, :7], y)
    G = gram(X, y)
    np.testing.assert_allclose(G, np.einsum("bai,bci->bac", E[:, :, :7], E[:, :, :7]) / 7)
    with pytest.raises(ValueError, match="y"):
        make_tokens(X, y[:, :3], xq)
    with pytest.raises(ValueError, match="xq"):
        make_tokens(X, y, xq[:, :2])


def test_merged_forward_matches_matrix_form_and_decomposition():
    X, y, xq, _ = _batch(1)
    rng = np.random.default_rng(2)
    d, n = 3, 7
    w_pv = rng.standard_normal((d + 1, d + 1))
    w_kq = rng.standard_normal((d + 1, d + 1))
    m = MergedLSA.from_weights(w_pv, w_kq)
    E = make_tokens(X, y, xq)
    full = m.forward_tokens(E, w_pv=w_pv)[:, d, n]  # literal f(E), full W^{PV}
    fast = m.predict(X, y, xq)
    np.testing.assert_allclose(full, fast, rtol=1e-12, atol=1e-12)
    # y_hat = h^T Gamma_eff x_q + p_x^T S Q_xx x_q + p_y s_yy q_yx^T x_q
    p, Q = w_pv[-1], w_kq
    h = np.einsum("bnd,bn->bd", X, y) / n
    S = np.einsum("bni,bnj->bij", X, X) / n
    syy = np.mean(y**2, axis=1)
    G = m.gamma_eff()
    np.testing.assert_allclose(G, merged_to_gamma(w_pv, w_kq))
    dec = (np.einsum("bi,ij,bj->b", h, G, xq)
           + np.einsum("i,bij,jk,bk->b", p[:d], S, Q[:d, :d], xq)
           + p[d] * syy * (xq @ Q[d, :d]))
    np.testing.assert_allclose(fast, dec, rtol=1e-11, atol=1e-11)
    # the label slot of the query and W^{KQ}'s last column never matter
    m2 = MergedLSA(p=p, Q=Q + np.outer(rng.standard_normal(d + 1), np.eye(d + 1)[d]))
    np.testing.assert_allclose(m2.predict(X, y, xq), fast, rtol=1e-12)


def test_canonical_weights_give_canonical_predictor():
    X, y, xq, _ = _batch(3)
    rng = np.random.default_rng(4)
    Gam = rng.standard_normal((3, 3))
    for balanced in (False, True):
        m = MergedLSA.from_weights(*gamma_to_merged(Gam, balanced=balanced))
        h = np.einsum("bnd,bn->bd", X, y) / 7
        np.testing.assert_allclose(m.predict(X, y, xq), np.einsum("bi,ij,bj->b", h, Gam, xq),
                                   rtol=1e-12, atol=1e-12)


def test_mahankali_gd_construction():
    # rho = (0; 1), W_V = [[0,0],[0,eta]], W_K = W_Q = [[I,0],[0,0]]: y_hat = eta sum y_i x_i^T x_q
    X, y, xq, _ = _batch(5)
    d, n, eta = 3, 7, 0.37
    P = np.zeros((d + 1, d + 1))
    P[:d, :d] = np.eye(d)
    WV = np.zeros((d + 1, d + 1))
    WV[d, d] = eta
    m = MahankaliLSA(n, rho=np.eye(d + 1)[d], W_V=WV, W_K=P, W_Q=P)
    direct = eta * np.einsum("bnd,bn,bd->b", X, y, xq)
    np.testing.assert_allclose(m.predict(X, y, xq), direct, rtol=1e-12)
    np.testing.assert_allclose(m.gamma_eff(), n * eta * np.eye(d), rtol=1e-14)
    # general weights: y_hat = h^T Gamma_eff x_q + even terms, Gamma_eff = n(v_y M_xx + v_x m_yx^T)
    rng = np.random.default_rng(6)
    m = MahankaliLSA(n, **{k: rng.standard_normal(v.shape) for k, v in m.params.items()})
    v = m.params["W_V"].T @ m.params["rho"]
    M = m.params["W_K"].T @ m.params["W_Q"]
    np.testing.assert_allclose(m.gamma_eff(), n * (v[d] * M[:d, :d] + np.outer(v[:d], M[d, :d])))
    # the odd (degree-1 in labels) part of y_hat is h^T Gamma_eff x_q
    odd = 0.5 * (m.predict(X, y, xq) - m.predict(X, -y, xq))
    h = np.einsum("bnd,bn->bd", X, y) / n
    np.testing.assert_allclose(odd, np.einsum("bi,ij,bj->b", h, m.gamma_eff(), xq), rtol=1e-10)


@pytest.mark.parametrize("kind", ["merged", "mahankali"])
def test_gradients_match_finite_differences(kind):
    X, y, xq, yq = _batch(7, B=32)
    rng = np.random.default_rng(8)
    if kind == "merged":
        m = MergedLSA.init(rng, 3, scale=0.5)
    else:
        m = MahankaliLSA.init(rng, 3, 7, scale=0.5)
    G, eq = gram(X, y), query_token(xq)
    _, grads = m.loss_and_grad(G, eq, yq)
    eps = 1e-6
    for k, arr in m.params.items():
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            lp, _ = m.loss_and_grad(G, eq, yq)
            arr[idx] = old - eps
            lm, _ = m.loss_and_grad(G, eq, yq)
            arr[idx] = old
            num[idx] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(grads[k], num, rtol=1e-6, atol=1e-8, err_msg=k)


def test_prompt_distribution_and_pool():
    rng = np.random.default_rng(9)
    cov = parse_cov("spiked:3", 4)
    np.testing.assert_array_equal(np.diag(cov), [4, 1, 1, 1])
    dist = PromptDistribution(4, 6, 0.1, cov_x=cov)
    P = dist.sample(rng, 50_000)
    assert P.X.shape == (50_000, 6, 4) and P.y.shape == (50_000, 6)
    emp = np.einsum("bni,bnj->ij", P.X, P.X) / (50_000 * 6)
    np.testing.assert_allclose(emp, cov, atol=0.05)
    # y_q variance = tr(Sx Sw) + sigma^2 = 7 + 0.1
    assert np.var(P.yq) == pytest.approx(7.1, rel=0.03)
    pool = TaskPool(dist, 3, np.random.default_rng(1))
    W, _ = pool.draw(rng, 1000)
    assert len(np.unique(W[:, 0])) == 3
    g, L = PromptDistribution(4, 6, 0.1, cov_x=cov, cov_w="inverse").theory()
    np.testing.assert_allclose(g, 6 / (6 + 4 + 1 + 0.1) * np.linalg.inv(cov), rtol=1e-12)


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: PromptDistribution(0, 5), "d"),
        (lambda: PromptDistribution(3, 0), "n"),
        (lambda: PromptDistribution(3, 5, -1.0), "noise_var"),
        (lambda: PromptDistribution(3, 5, cov_x=-np.eye(3)), "cov_x"),
        (lambda: PromptDistribution(3, 5, cov_x=np.eye(2)), "cov_x"),
        (lambda: PromptDistribution(3, 5, cov_x=np.eye(3), target="signed:relu"), "nonlinear"),
        (lambda: parse_cov("spiked:-2", 3), "THETA"),
        (lambda: parse_cov("weird", 3), "cov"),
        (lambda: PromptDistribution(3, 5, target="nope"), "target"),
    ],
)
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()
