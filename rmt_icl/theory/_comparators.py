"""Comparator risks for one-step GD / LSA plots: Bayes ridge, least squares, k-step GD.

Isotropic Gaussian data x ~ N(0, I_d), w ~ N(0, I_d), noise variance sigma^2, context length n.
All risks here are *clean* risks R = E||w_hat - w||^2 (add sigma^2 to compare with the LSA
pretraining loss, which includes the query noise). The zero predictor has R = d. As everywhere in
:mod:`rmt_icl.theory`, the sizes ``n, d`` and ``noise_var`` are keyword-only.

Which are exact and which are Monte Carlo
-----------------------------------------
* least squares (:func:`least_squares_risk`): exact closed form.
* Bayes / posterior-mean ridge (:func:`bayes_ridge_risk`): no finite-n closed form; Monte Carlo
  over Wishart eigenvalues (exact law via the Dumitriu-Edelman bidiagonal model), returned with
  its standard error. :func:`bayes_ridge_risk_mp` is the Marchenko-Pastur approximation.
* k-step GD (:func:`gd_risk`, :func:`optimal_gd_risk`): exact closed form for k = 1
  (L(c) - sigma^2); Monte Carlo over Wishart eigenvalues with its standard error for k >= 2.
  :func:`gd_risk_mp` is the proportional-limit (Marchenko-Pastur) version, accurate to O(1/n)
  relative (checked against the finite-size Monte Carlo in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from rmt_icl.core.checks import as_float_array, check_int, check_nonnegative
from rmt_icl.core.stats import mean_se
from rmt_icl.theory._conventions import check_sizes, scalar_or_array

__all__ = [
    "ComparatorRisk",
    "wishart_eigenvalues",
    "bayes_ridge_risk",
    "bayes_ridge_risk_mp",
    "least_squares_risk",
    "gd_risk",
    "optimal_gd_risk",
    "gd_risk_mp",
]


@dataclass(frozen=True)
class ComparatorRisk:
    """A clean risk with its Monte Carlo standard error (0 for closed forms).

    Attributes
    ----------
    risk : float
    se : float
        Standard error (0.0 if exact).
    method : str
        ``"exact"``, ``"mc"`` (Wishart-eigenvalue Monte Carlo) or ``"mp"``.
    steps : ndarray or None
        GD step sizes used (k-step GD only).
    """

    risk: float
    se: float
    method: str
    steps: np.ndarray | None = None


def wishart_eigenvalues(rng: np.random.Generator, *, n: int, d: int, size: int) -> np.ndarray:
    """Eigenvalues of X^T X, X an n x d standard Gaussian matrix; shape (size, d), ascending.

    Uses the Dumitriu-Edelman beta = 1 bidiagonal model: for p = min(n, d), m = max(n, d), the
    p nonzero eigenvalues are those of B B^T with B bidiagonal, diagonal chi_{m}, chi_{m-1}, ...,
    chi_{m-p+1} and sub-diagonal chi_{p-1}, ..., chi_1. The remaining d - p eigenvalues are 0.
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=1)
    size = check_int("size", size, minimum=1)
    p, m = min(n, d), max(n, d)
    diag = np.sqrt(rng.chisquare(m - np.arange(p), size=(size, p)))
    sub = np.sqrt(rng.chisquare(p - 1 - np.arange(p - 1), size=(size, p - 1))) if p > 1 else None
    # T = B B^T is tridiagonal: T_ii = diag_i^2 + sub_{i-1}^2, T_{i,i+1} = diag_i sub_i
    tdiag = diag**2
    if p > 1:
        tdiag[:, 1:] += sub**2
        toff = diag[:, :-1] * sub
    if p <= 24:  # batched dense LAPACK is fastest for small matrices
        T = np.zeros((size, p, p))
        idx = np.arange(p)
        T[:, idx, idx] = tdiag
        if p > 1:
            T[:, idx[1:], idx[:-1]] = toff
            T[:, idx[:-1], idx[1:]] = toff
        ev = np.linalg.eigvalsh(T)
    else:  # O(p^2) tridiagonal solver per draw
        ev = np.array([linalg.eigvalsh_tridiagonal(tdiag[i], toff[i]) for i in range(size)])
    ev = np.clip(ev, 0.0, None)
    if p < d:
        ev = np.concatenate([np.zeros((size, d - p)), ev], axis=1)
    return ev


def bayes_ridge_risk(*, n, d, noise_var, n_draws: int = 200_000, seed: int = 0,
                     chunk: int = 50_000) -> ComparatorRisk:
    """Clean risk of the Bayes-optimal (posterior-mean) predictor, isotropic data.

        w_B = (X^T X + sigma^2 I)^{-1} X^T y,   R_B = sigma^2 E sum_j 1/(s_j + sigma^2),

    with s_j the eigenvalues of X^T X (so R_B = max(d - n, 0) at sigma = 0). There is no
    finite-n closed form: the expectation is a Monte Carlo average over exact Wishart eigenvalue
    draws (see :func:`wishart_eigenvalues`), reported with its standard error.

    Parameters
    ----------
    n, d : int
        Context length and dimension, >= 1.
    noise_var : float
        sigma^2 >= 0.
    n_draws : int
        Number of Wishart draws.
    seed : int
        Seed of the eigenvalue stream (numpy SeedSequence).
    """
    n, d, s2 = check_sizes(n, d, noise_var)
    n_draws = check_int("n_draws", n_draws, minimum=2)
    if s2 == 0.0:
        return ComparatorRisk(float(max(d - n, 0)), 0.0, "exact")
    rng = np.random.default_rng(np.random.SeedSequence(check_int("seed", seed, minimum=0)))
    vals = []
    for start in range(0, n_draws, chunk):
        ev = wishart_eigenvalues(rng, n=n, d=d, size=min(chunk, n_draws - start))
        vals.append(s2 * np.sum(1.0 / (ev + s2), axis=1))
    r, se = mean_se(np.concatenate(vals))
    return ComparatorRisk(r, se, "mc")


def bayes_ridge_risk_mp(*, n, d, noise_var):
    """Marchenko-Pastur approximation of the Bayes ridge clean risk (vectorised).

    With lambda = sigma^2/n and gamma = d/n::

        R_B ~ d lambda m(-lambda),
        m(-lambda) = [ -(1 - gamma + lambda) + sqrt((1 - gamma + lambda)^2 + 4 gamma lambda) ]
                     / (2 gamma lambda).

    An approximation: 0.2-15 % below the exact finite-size value at d <= 20. Returns a numpy
    float for scalar input, else an array of the broadcast shape.
    """
    n = as_float_array("n", n)
    d = as_float_array("d", d)
    if np.any(n < 1) or np.any(d < 1):
        raise ValueError("n and d must lie in [1, inf)")
    s2 = check_positive_noise(noise_var)
    lam = s2 / n
    g = d / n
    b = 1.0 - g + lam
    m = (-b + np.sqrt(b * b + 4.0 * g * lam)) / (2.0 * g * lam)
    return scalar_or_array(d * lam * m)


def check_positive_noise(noise_var) -> np.ndarray:
    s2 = check_nonnegative("noise_var", noise_var)
    if np.any(s2 == 0):
        raise ValueError("noise_var must lie in (0, inf) for the Marchenko-Pastur formula")
    return s2


def least_squares_risk(*, n, d, noise_var):
    """Clean risk of (min-norm) least squares w_LS = X^+ y, isotropic data; exact (vectorised).

    ::

        n >= d + 2:  R = sigma^2 d / (n - d - 1)              (any Sigma_x, any prior)
        n <= d - 2:  R = (d - n) + sigma^2 n / (d - n - 1)      (min-norm, Sigma_x = Sigma_w = I)
        |n - d| <= 1, sigma > 0:  R = inf;   sigma = 0:  R = max(d - n, 0).

    Parameters
    ----------
    n, d : int or array_like
        >= 1.
    noise_var : float or array_like
        sigma^2 >= 0.

    Returns
    -------
    ndarray or float
        The risk, broadcast over the inputs (a numpy float for scalar input).
    """
    n = as_float_array("n", n)
    d = as_float_array("d", d)
    if np.any(n < 1) or np.any(d < 1):
        raise ValueError("n and d must be integers in [1, inf)")
    s2 = check_nonnegative("noise_var", noise_var)
    n, d, s2 = np.broadcast_arrays(n, d, s2)
    out = np.full(n.shape, np.inf)
    over = n >= d + 2
    under = n <= d - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(over, s2 * d / (n - d - 1.0), out)
        out = np.where(under, (d - n) + s2 * n / (d - n - 1.0), out)
    out = np.where(s2 == 0, np.maximum(d - n, 0.0), out)
    return scalar_or_array(out)


def _gd_terms(ev: np.ndarray, n: int, s2: float, steps: np.ndarray) -> np.ndarray:
    """Per-draw clean risk sum_j [P(s_j)^2 + (sigma^2/n)(1 - P(s_j))^2 / s_j], s = eig(S)."""
    s = ev / n
    P = np.ones_like(s)
    for c in steps:
        P = P * (1.0 - c * s)
    with np.errstate(divide="ignore", invalid="ignore"):
        noise = np.where(s > 0, (1.0 - P) ** 2 / s, 0.0)
    return np.sum(P**2 + (s2 / n) * noise, axis=-1)


def gd_risk(steps, *, n, d, noise_var, n_draws: int = 200_000, seed: int = 0) -> ComparatorRisk:
    """Clean risk of k steps of GD on (1/2n)||Xw - y||^2 from w = 0, isotropic data.

    With S = X^T X / n, s_j = eig(S) and P_k(s) = prod_{t<k} (1 - c_t s),

        R_k = E sum_j [ P_k(s_j)^2 + (sigma^2/n) (1 - P_k(s_j))^2 / s_j ].

    k = 1 is exact: R_1 = L(c) - sigma^2 (see :func:`one_step_gd_loss`). For k >= 2 the
    expectation is a Monte Carlo average over exact Wishart eigenvalue draws, with its standard
    error.

    Parameters
    ----------
    steps : array_like, shape (k,)
        Step sizes c_0, ..., c_{k-1} (canonical 1/n normalisation).
    n, d : int
    noise_var : float
    n_draws, seed : int
        Monte Carlo size and seed (k >= 2 only).
    """
    n, d, s2 = check_sizes(n, d, noise_var)
    steps = as_float_array("steps", steps).ravel()
    if steps.size == 0:
        return ComparatorRisk(float(d), 0.0, "exact", steps)
    if steps.size == 1:
        c = steps[0]
        r = (d / n) * (n + d + 1.0 + s2) * c**2 - 2.0 * d * c + d
        return ComparatorRisk(float(r), 0.0, "exact", steps)
    n_draws = check_int("n_draws", n_draws, minimum=2)
    rng = np.random.default_rng(np.random.SeedSequence(check_int("seed", seed, minimum=0)))
    ev = wishart_eigenvalues(rng, n=n, d=d, size=n_draws)
    r, se = mean_se(_gd_terms(ev, n, s2, steps))
    return ComparatorRisk(r, se, "mc", steps)


def optimal_gd_risk(k, *, n, d, noise_var, constant_step: bool = True, n_draws: int = 100_000,
                    seed: int = 0) -> ComparatorRisk:
    """k-step GD with step size(s) tuned to minimise the clean risk (isotropic data).

    k = 1 is exact (c* = n/(n+d+1+sigma^2)). For k >= 2 the steps (one shared step if
    ``constant_step``, else one per iteration) minimise the Monte Carlo risk of :func:`gd_risk`
    on a fixed set of Wishart draws (common random numbers); the risk is then re-estimated on
    independent draws so that its standard error is honest (not biased by the tuning).
    """
    k = check_int("k", k, minimum=1)
    n, d, s2 = check_sizes(n, d, noise_var)
    c1 = n / (n + d + 1.0 + s2)
    if k == 1:
        return gd_risk([c1], n=n, d=d, noise_var=s2)
    ss = np.random.SeedSequence(check_int("seed", seed, minimum=0))
    tune_ss, eval_ss = ss.spawn(2)
    ev = wishart_eigenvalues(np.random.default_rng(tune_ss), n=n, d=d, size=n_draws)

    def obj(x):
        steps = np.full(k, x[0]) if constant_step else x
        return float(np.mean(_gd_terms(ev, n, s2, steps)))

    x0 = np.full(1 if constant_step else k, c1)
    res = optimize.minimize(obj, x0, method="Nelder-Mead",
                            options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 4000})
    steps = np.full(k, res.x[0]) if constant_step else np.asarray(res.x)
    ev2 = wishart_eigenvalues(np.random.default_rng(eval_ss), n=n, d=d, size=n_draws)
    r, se = mean_se(_gd_terms(ev2, n, s2, steps))
    return ComparatorRisk(r, se, "mc", steps)


def gd_risk_mp(steps, *, n, d, noise_var, nodes: int = 400) -> float:
    """Proportional-limit k-step GD clean risk: E sum_j -> d * integral against Marchenko-Pastur.

    With gamma = d/n and mu_gamma the MP law of the eigenvalues of S = X^T X / n (support
    [(1 - sqrt gamma)^2, (1 + sqrt gamma)^2], plus an atom 1 - 1/gamma at 0 when gamma > 1)::

        R_k ~ d * int P_k(s)^2 dmu_gamma(s)
              + (sigma^2 d / n) * int (1 - P_k(s))^2 / s dmu_gamma(s),

    P_k(s) = prod_t (1 - c_t s). For k = 1 it differs from the exact R_1 by c^2 d/n (the 1/n in
    E tr S^2 = d(1 + gamma + 1/n)); in general the relative error is O(1/n), verified against the
    finite-size Monte Carlo in ``tests/test_one_step_gd_comparators.py``
    (``docs/theory/one_step_gd.md``, "Comparators").
    Evaluated by Gauss-Legendre quadrature in the angle s = a + (b - a)(1 - cos t)/2, which
    removes the square-root edges of the density.

    Parameters
    ----------
    steps : array_like, shape (k,)
        Step sizes (canonical 1/n normalisation).
    n, d : int or float
        Context length and dimension (> 0; only gamma = d/n and the prefactors enter).
    noise_var : float
        sigma^2 >= 0.
    nodes : int
        Quadrature nodes.
    """
    n = float(as_float_array("n", n))
    d = float(as_float_array("d", d))
    if not (n > 0 and d > 0):
        raise ValueError(f"n and d must lie in (0, inf), got n={n}, d={d}")
    s2 = float(check_nonnegative("noise_var", noise_var))
    steps = as_float_array("steps", steps).ravel()
    g = d / n
    a, b = (1 - np.sqrt(g)) ** 2, (1 + np.sqrt(g)) ** 2
    x, wq = np.polynomial.legendre.leggauss(check_int("nodes", nodes, minimum=8))
    t = 0.5 * np.pi * (x + 1.0)
    wt = 0.5 * np.pi * wq
    s = a + 0.5 * (b - a) * (1.0 - np.cos(t))
    # density * ds/dt = ((b - a)^2 / 4) sin^2 t / (2 pi gamma s)
    dens = (b - a) ** 2 / 4.0 * np.sin(t) ** 2 / (2.0 * np.pi * g * s)
    P = np.ones_like(s)
    for c in steps:
        P = P * (1.0 - c * s)
    bulk = np.sum(wt * dens * (P**2 + (s2 / n) * (1.0 - P) ** 2 / s))
    atom = max(0.0, 1.0 - 1.0 / g)  # P(0) = 1, no noise term at s = 0
    return float(d * (bulk + atom))
