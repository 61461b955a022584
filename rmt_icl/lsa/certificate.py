"""Convex-relaxation certificate that no one-layer LSA beats the one-step-GD optimum Gamma*.

Every LSA output (merged or Mahankali form) is y_hat = sum_{a<=b, c} theta_{abc} phi_{abc} with the
(d+1)(d+2)/2 * d features

    phi_{abc} = (1/n) sum_{i<=n} e_{i,a} e_{i,b} x_{q,c},   a <= b <= d+1, c <= d,

(e_i = (x_i; y_i); the query label slot is 0, so only the x_q coordinates appear), because
y_hat = p^T G Q e_q is bilinear in G = (1/n) sum e_i e_i^T and x_q. Least squares of y_q on these
features is therefore a convex relaxation of LSA pretraining: its held-out loss is a lower bound
(up to estimation error) for every LSA. The theorem says it equals the loss of h^T Gamma* x_q.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmt_icl.core.checks import check_int
from rmt_icl.core.seeding import run_seed, stream
from rmt_icl.core.stats import mean_se
from rmt_icl.lsa.data import PromptDistribution
from rmt_icl.lsa.model import gram

__all__ = ["RelaxationCertificate", "relaxation_features", "relaxation_certificate"]


@dataclass(frozen=True)
class RelaxationCertificate:
    """Held-out losses of the relaxation and of Gamma*, on the same prompts.

    Attributes
    ----------
    relaxation_loss, gd_loss : float
        Mean squared errors on the held-out prompts (gd_loss: the h^T Gamma x_q predictor).
    diff, diff_se : float
        Paired mean of (relaxation error - Gamma* error) and its standard error.
    n_features, n_train, n_test : int
    """

    relaxation_loss: float
    gd_loss: float
    diff: float
    diff_se: float
    n_features: int
    n_train: int
    n_test: int


def relaxation_features(X, y, xq) -> np.ndarray:
    """Features phi_{abc} = G_{ab} x_{q,c} (a <= b), shape (B, (d+1)(d+2)/2 * d)."""
    G = gram(X, y)
    iu = np.triu_indices(G.shape[1])
    return (G[:, iu[0], iu[1]][:, :, None] * xq[:, None, :]).reshape(X.shape[0], -1)


def relaxation_certificate(dist: PromptDistribution, *, n_train: int = 200_000,
                           n_test: int = 200_000, seed: int = 0, gamma_ref=None,
                           chunk: int = 50_000) -> RelaxationCertificate:
    """Fit the convex relaxation on ``n_train`` prompts and compare it with Gamma* out of sample.

    Parameters
    ----------
    dist : PromptDistribution
    n_train, n_test : int
        Training and held-out prompts (>= 2 each).
    seed : int
        Run seed; training prompts use the ``"train"`` role, held-out ones ``"test"``.
    gamma_ref : array_like (d, d) or None
        Predictor h^T Gamma_ref x_q to compare with (default: the theory's Gamma*).
    chunk : int
        Prompts per vectorised chunk.
    """
    n_train = check_int("n_train", n_train, minimum=2)
    n_test = check_int("n_test", n_test, minimum=2)
    rs = run_seed(seed)
    gamma_star = dist.theory()[0] if gamma_ref is None else np.asarray(gamma_ref, float)
    if gamma_star.shape != (dist.d, dist.d):
        raise ValueError(f"gamma_ref must have shape ({dist.d}, {dist.d}), got "
                         f"{gamma_star.shape}")
    # normal equations accumulated over chunks
    rng = stream(rs, "train")
    A = b = None
    done = 0
    while done < n_train:
        m = min(chunk, n_train - done)
        P = dist.sample(rng, m)
        F = relaxation_features(P.X, P.y, P.xq)
        A = F.T @ F if A is None else A + F.T @ F
        b = F.T @ P.yq if b is None else b + F.T @ P.yq
        done += m
    theta = np.linalg.lstsq(A, b, rcond=None)[0]
    rng = stream(rs, "test")
    diffs, er, eg = [], [], []
    done = 0
    while done < n_test:
        m = min(chunk, n_test - done)
        P = dist.sample(rng, m)
        F = relaxation_features(P.X, P.y, P.xq)
        h = np.einsum("bnd,bn->bd", P.X, P.y) / dist.n
        r_err = (F @ theta - P.yq) ** 2
        g_err = (np.einsum("bi,ij,bj->b", h, gamma_star, P.xq) - P.yq) ** 2
        er.append(r_err)
        eg.append(g_err)
        diffs.append(r_err - g_err)
        done += m
    diff, diff_se = mean_se(np.concatenate(diffs))
    return RelaxationCertificate(
        relaxation_loss=float(np.concatenate(er).mean()), gd_loss=float(np.concatenate(eg).mean()),
        diff=diff, diff_se=diff_se, n_features=int(theta.size), n_train=n_train, n_test=n_test)
