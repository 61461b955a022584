"""One-layer linear self-attention: tokens, parametrisations, forward pass, analytic gradients.

Token layout (one prompt, d covariates, n context pairs): the (d+1) x (n+1) matrix::

    E = [ x_1 ... x_n  x_q ]
        [ y_1 ... y_n   0  ]

whose last column is the query with its label slot **masked to 0**. The query does not attend
to itself (J = diag(1, ..., 1, 0) removes its column from the key/value sum) and there is no
softmax or other normalisation besides 1/n.

Two parametrisations:

* :class:`MergedLSA` (Zhang-Frei-Bartlett, Ahn et al.): f(E) = E + W^{PV} E J (E^T W^{KQ} E)/n,
  y_hat = [f(E)]_{d+1, n+1} = p^T G Q e_q, with G = (1/n) sum_{i<=n} e_i e_i^T, p the last row of
  W^{PV} (the only part that matters) and Q = W^{KQ}. Gamma_eff = p_y Q_xx + p_x q_yx^T.
* :class:`MahankaliLSA` (Mahankali et al.): y_hat = rho^T sum_{i<=n} (W_V e_i)(W_K e_i)^T W_Q e_q
  = v^T G_D M e_q, v = W_V^T rho, M = W_K^T W_Q, G_D = n G (no 1/n).
  Gamma_eff = n (v_y M_xx + v_x m_yx^T).

In both, y_hat = h^T Gamma_eff x_q + (a label-free term) + (a term quadratic in the labels); the
last two vanish at the optimum for sign-symmetric task laws. Losses are batch means of
(y_hat - y_q)^2 (no factor 1/2); gradients are exact (hand-derived, checked against finite
differences in the tests).
"""

from __future__ import annotations

import numpy as np

from rmt_icl.core.checks import as_float_array, check_nonnegative

__all__ = ["make_tokens", "gram", "query_token", "MergedLSA", "MahankaliLSA"]


def _check_prompts(X, y, xq):
    X = as_float_array("X", X)
    y = as_float_array("y", y)
    xq = as_float_array("xq", xq)
    if X.ndim != 3:
        raise ValueError(f"X must have shape (B, n, d), got {X.shape}")
    B, n, d = X.shape
    if y.shape != (B, n):
        raise ValueError(f"y must have shape ({B}, {n}) to match X, got {y.shape}")
    if xq.shape != (B, d):
        raise ValueError(f"xq must have shape ({B}, {d}) to match X, got {xq.shape}")
    return X, y, xq


def make_tokens(X, y, xq) -> np.ndarray:
    """Token matrices E of shape (B, d+1, n+1): context columns (x_i; y_i), query (x_q; 0).

    Parameters
    ----------
    X : array_like, shape (B, n, d)
    y : array_like, shape (B, n)
    xq : array_like, shape (B, d)
    """
    X, y, xq = _check_prompts(X, y, xq)
    B, n, d = X.shape
    E = np.zeros((B, d + 1, n + 1))
    E[:, :d, :n] = X.transpose(0, 2, 1)
    E[:, d, :n] = y
    E[:, :d, n] = xq
    return E


def gram(X, y) -> np.ndarray:
    """G = (1/n) sum_{i<=n} e_i e_i^T with e_i = (x_i; y_i); shape (B, d+1, d+1)."""
    n = X.shape[1]
    Z = np.concatenate([X, y[:, :, None]], axis=2)
    return np.matmul(Z.transpose(0, 2, 1), Z) / n


def query_token(xq) -> np.ndarray:
    """e_q = (x_q; 0), shape (B, d+1)."""
    return np.concatenate([xq, np.zeros((xq.shape[0], 1))], axis=1)


class _LSABase:
    """Shared plumbing: a dict of float64 parameter arrays, updated in place by optimisers."""

    names: tuple[str, ...] = ()

    def __init__(self, **params):
        self.params = {k: np.array(as_float_array(k, params[k]), dtype=np.float64)
                       for k in self.names}

    @property
    def d(self) -> int:
        return self.params[self.names[-1]].shape[0] - 1

    def copy(self):
        return type(self)(**{k: v.copy() for k, v in self.params.items()})

    def predict(self, X, y, xq) -> np.ndarray:
        """y_hat for prompts X (B, n, d), y (B, n), xq (B, d)."""
        X, y, xq = _check_prompts(X, y, xq)
        return self.predict_gram(gram(X, y), query_token(xq))

    def loss_and_grad(self, G, eq, yq):
        """Batch-mean squared error and its exact gradient (dict keyed like ``params``)."""
        raise NotImplementedError  # pragma: no cover - interface


class MergedLSA(_LSABase):
    """Merged LSA with parameters p in R^{d+1} (last row of W^{PV}) and Q = W^{KQ}.

    y_hat = p^T G Q e_q. With r = y_hat - y_q the batch-mean loss mean(r^2) has gradients
    grad_p = 2 mean(r G Q e_q) and grad_Q = 2 mean(r (G p) e_q^T) (G is symmetric).
    """

    names = ("p", "Q")

    @classmethod
    def init(cls, rng: np.random.Generator, d: int, scale: float = 0.01) -> MergedLSA:
        """i.i.d. N(0, scale^2) entries."""
        scale = float(check_nonnegative("init_scale", scale))
        return cls(p=scale * rng.standard_normal(d + 1),
                   Q=scale * rng.standard_normal((d + 1, d + 1)))

    @classmethod
    def init_zfb(cls, rng: np.random.Generator, d: int, scale: float = 0.01) -> MergedLSA:
        """Zhang-Frei-Bartlett initialisation: p = scale e_{d+1}, Q = scale [[T T^T, 0], [0, 0]],
        T a random d x d Gaussian matrix with ||T T^T||_F = 1 (so p_x = 0, q_yx = 0 at start)."""
        scale = float(check_nonnegative("init_scale", scale))
        T = rng.standard_normal((d, d))
        TT = T @ T.T
        p = np.zeros(d + 1)
        p[d] = scale
        Q = np.zeros((d + 1, d + 1))
        Q[:d, :d] = scale * TT / np.linalg.norm(TT)
        return cls(p=p, Q=Q)

    @classmethod
    def from_weights(cls, w_pv, w_kq) -> MergedLSA:
        """From full (d+1) x (d+1) matrices W^{PV}, W^{KQ} (only W^{PV}'s last row is used)."""
        return cls(p=np.asarray(w_pv, dtype=np.float64)[-1], Q=w_kq)

    def forward_tokens(self, E, w_pv=None) -> np.ndarray:
        """Literal matrix form f(E) = E + W^{PV} E J (E^T W^{KQ} E)/n, shape (B, d+1, n+1).

        ``w_pv`` is the full W^{PV} (default: zeros with last row p). For tests and
        documentation; training uses the equivalent :meth:`predict_gram`.
        """
        E = as_float_array("E", E)
        d1 = E.shape[1]
        n = E.shape[2] - 1
        if w_pv is None:
            w_pv = np.zeros((d1, d1))
            w_pv[-1] = self.params["p"]
        J = np.eye(n + 1)
        J[n, n] = 0.0
        att = np.einsum("bai,ac,bcj->bij", E, self.params["Q"], E)  # E^T W^{KQ} E
        return E + np.einsum("ac,bcj,jk,bkl->bal", w_pv, E, J, att) / n

    def predict_gram(self, G, eq) -> np.ndarray:
        return np.einsum("a,bac,cd,bd->b", self.params["p"], G, self.params["Q"], eq)

    def loss_and_grad(self, G, eq, yq):
        p, Q = self.params["p"], self.params["Q"]
        u = np.einsum("bac,bc->ba", G, eq @ Q.T)  # G Q e_q
        r = u @ p - yq
        B = r.size
        gp = 2.0 * (r @ u) / B
        Gp = G @ p  # (B, d+1)
        gQ = 2.0 * np.einsum("b,ba,bc->ac", r, Gp, eq) / B
        return float(np.mean(r * r)), {"p": gp, "Q": gQ}

    def gamma_eff(self) -> np.ndarray:
        """Gamma_eff = p_y Q_xx + p_x q_yx^T (q_yx^T = last row of Q, first d entries)."""
        p, Q = self.params["p"], self.params["Q"]
        d = p.size - 1
        return p[d] * Q[:d, :d] + np.outer(p[:d], Q[d, :d])

    def even_part(self) -> tuple[float, float]:
        """``||p_x|| ||Q_xx||_F, |p_y| ||q_yx||``: label-free and label-quadratic weights (-> 0)."""
        p, Q = self.params["p"], self.params["Q"]
        d = p.size - 1
        return (float(np.linalg.norm(p[:d]) * np.linalg.norm(Q[:d, :d])),
                float(abs(p[d]) * np.linalg.norm(Q[d, :d])))


class MahankaliLSA(_LSABase):
    """Mahankali et al.'s LSA with W_K, W_Q, W_V in R^{(d+1) x (d+1)} and read-out rho.

    y_hat = v^T G_D M e_q, v = W_V^T rho, M = W_K^T W_Q, G_D = sum_{i<=n} e_i e_i^T = n G.
    Gradients by the chain rule: with a = G_D M e_q, grad_v = 2 mean(r a),
    grad_M = 2 mean(r (G_D v) e_q^T); then grad_rho = W_V grad_v, grad_{W_V} = rho grad_v^T,
    grad_{W_K} = W_Q grad_M^T, grad_{W_Q} = W_K grad_M.

    ``n`` (the context length) is stored because G_D = n G.
    """

    names = ("rho", "W_V", "W_K", "W_Q")

    def __init__(self, n: int, **params):
        super().__init__(**params)
        self.n = int(n)

    def copy(self):
        return type(self)(self.n, **{k: v.copy() for k, v in self.params.items()})

    @property
    def d(self) -> int:
        return self.params["rho"].size - 1

    @classmethod
    def init(cls, rng: np.random.Generator, d: int, n: int, scale: float = 0.01) -> MahankaliLSA:
        """i.i.d. N(0, scale^2) entries."""
        scale = float(check_nonnegative("init_scale", scale))
        m = d + 1
        return cls(n, rho=scale * rng.standard_normal(m),
                   W_V=scale * rng.standard_normal((m, m)),
                   W_K=scale * rng.standard_normal((m, m)),
                   W_Q=scale * rng.standard_normal((m, m)))

    def _vM(self):
        P = self.params
        return P["W_V"].T @ P["rho"], P["W_K"].T @ P["W_Q"]

    def predict_gram(self, G, eq) -> np.ndarray:
        v, M = self._vM()
        return self.n * np.einsum("a,bac,cd,bd->b", v, G, M, eq)

    def loss_and_grad(self, G, eq, yq):
        P = self.params
        v, M = self._vM()
        a = self.n * np.einsum("bac,bc->ba", G, eq @ M.T)
        r = a @ v - yq
        B = r.size
        gv = 2.0 * (r @ a) / B
        gM = 2.0 * self.n * np.einsum("b,ba,bc->ac", r, G @ v, eq) / B
        grads = {"rho": P["W_V"] @ gv, "W_V": np.outer(P["rho"], gv),
                 "W_K": P["W_Q"] @ gM.T, "W_Q": P["W_K"] @ gM}
        return float(np.mean(r * r)), grads

    def gamma_eff(self) -> np.ndarray:
        """Gamma_eff = n (v_y M_xx + v_x m_yx^T)."""
        v, M = self._vM()
        d = v.size - 1
        return self.n * (v[d] * M[:d, :d] + np.outer(v[:d], M[d, :d]))

    def even_part(self) -> tuple[float, float]:
        v, M = self._vM()
        d = v.size - 1
        return (float(self.n * np.linalg.norm(v[:d]) * np.linalg.norm(M[:d, :d])),
                float(self.n * abs(v[d]) * np.linalg.norm(M[d, :d])))
