"""One-layer linear self-attention (LSA) = one step of (preconditioned) gradient descent.

Mahankali, Hashimoto, Ma (2023), arXiv:2307.03576; Zhang, Frei, Bartlett (2023),
arXiv:2306.09927; Ahn et al. (2023), arXiv:2306.00297.

Conventions (one predictor convention for the whole module)
-----------------------------------------------------------
A prompt has n context pairs and one query: x_i ~ N(0, Sigma_x), w ~ N(0, Sigma_w),
y_i = w^T x_i + eps_i, eps_i ~ N(0, sigma^2) (``noise_var`` = sigma^2), and the query target
y_q = w^T x_q + eps_q *includes* its noise. With h := (1/n) X^T y the **canonical predictor** is

    y_hat = (1/n) sum_{i<=n} y_i x_i^T Gamma x_q = h^T Gamma x_q,

and the pretraining loss is L(Gamma) = E (y_hat - y_q)^2 (no factor 1/2). Gamma = c I is one GD
step of rate c from w = 0 on (1/2n)||Xw - y||^2; Gamma = c P is GD preconditioned by P. The
*clean* loss is L - sigma^2. Conversions: unnormalised step eta = c/n (y_hat = eta sum_i y_i
x_i^T x_q); merged ZFB/Ahn weights (W^{PV}, W^{KQ}) via :func:`gamma_to_merged`.

Closed forms (``docs/theory/one_step_gd.md``, "Closed forms"; checked by Monte Carlo in the
tests): with C = Sigma_w Sigma_x, a = (tr(Sigma_x Sigma_w) + sigma^2)/n and
K = ((n+1)/n) Sigma_x Sigma_w Sigma_x + a Sigma_x::

    L(Gamma) = tr(Sigma_x Gamma^T K Gamma) - 2 tr(Sigma_x Sigma_w Sigma_x Gamma)
               + tr(Sigma_x Sigma_w) + sigma^2,
    Gamma*   = ( ((n+1)/n) Sigma_x + a Sigma_w^{-1} )^{-1},
    L*       = tr(Sigma_x Sigma_w) - tr(Sigma_x Gamma* Sigma_x Sigma_w) + sigma^2.

Isotropic: c* = n/(n+d+1+sigma^2), L* = sigma^2 + d(d+1+sigma^2)/(n+d+1+sigma^2).

Calling convention (all of :mod:`rmt_icl.theory`): the arguments that define the model (a step
``c``, a matrix ``gamma``, covariances, a target, the covariate law) come first; the sizes and
the noise are keyword-only, documented in the order ``n, d, noise_var``. Scalar sizes give
numpy floats, array sizes arrays of the broadcast shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmt_icl.core.checks import as_float_array, check_int, check_nonnegative
from rmt_icl.core.targets import LSAMoments, get_target
from rmt_icl.theory._conventions import check_sizes, scalar_or_array

__all__ = [
    "OneStepGDOptimum",
    "OptimalLSA",
    "NonlinearOptimum",
    "one_step_gd_optimum",
    "one_step_gd_loss",
    "optimal_lsa",
    "lsa_loss",
    "one_step_gd_nonlinear",
    "one_step_gd_non_gaussian",
    "step_to_unnormalised",
    "gamma_to_merged",
    "merged_to_gamma",
    "resolve_covariances",
]


# ----------------------------------------------------------------------------- input checks
def _check_count(name: str, value) -> np.ndarray:
    """Integer-valued array >= 1 (float64)."""
    arr = as_float_array(name, value)
    if np.any(arr < 1) or np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must be an integer (or integers) in [1, inf), got {value!r}")
    return arr


def _check_cov(name: str, cov, d: int | None = None) -> np.ndarray:
    """A symmetric positive-definite d x d matrix; a 1-D array is read as its diagonal."""
    arr = as_float_array(name, cov)
    if arr.ndim == 1:
        arr = np.diag(arr)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a square (d, d) matrix or a 1-D diagonal, got shape "
                         f"{np.shape(cov)}")
    if d is not None and arr.shape[0] != d:
        raise ValueError(f"{name} must have shape ({d}, {d}) to match cov_x, got {arr.shape}")
    if not np.allclose(arr, arr.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(arr).max())):
        raise ValueError(f"{name} must be symmetric")
    arr = 0.5 * (arr + arr.T)
    lam_min = np.linalg.eigvalsh(arr)[0]
    if not lam_min > 0:
        raise ValueError(
            f"{name} must be positive definite (all eigenvalues in (0, inf)), smallest "
            f"eigenvalue is {lam_min:.6g}"
        )
    return arr


def resolve_covariances(cov_x, cov_w=None):
    """Checked ``(Sigma_x, Sigma_w)`` as (d, d) float64 matrices.

    Parameters
    ----------
    cov_x : array_like, shape (d, d) or (d,)
        Covariate covariance (symmetric positive definite; a 1-D array is a diagonal).
    cov_w : None, "inverse" or array_like, shape (d, d) or (d,)
        Task prior covariance: ``None`` is I_d, ``"inverse"`` is Sigma_x^{-1}.

    Raises
    ------
    ValueError
        A matrix that is not square, symmetric and positive definite, or of the wrong size (the
        message names ``cov_x`` or ``cov_w``).
    """
    sx = _check_cov("cov_x", cov_x)
    d = sx.shape[0]
    if cov_w is None:
        sw = np.eye(d)
    elif isinstance(cov_w, str):
        if cov_w != "inverse":
            raise ValueError(f"cov_w must be None, 'inverse' or a (d, d) matrix, got {cov_w!r}")
        sw = np.linalg.inv(sx)
        sw = 0.5 * (sw + sw.T)
    else:
        sw = _check_cov("cov_w", cov_w, d)
    return sx, sw


# ------------------------------------------------------------------------------- isotropic
@dataclass(frozen=True)
class OneStepGDOptimum:
    """Optimal isotropic one-step GD / LSA (arrays broadcast over the inputs).

    Attributes
    ----------
    step : ndarray or float
        c* = n/(n+d+1+sigma^2) (canonical 1/n normalisation; Gamma* = c* I).
    loss : ndarray or float
        L* = sigma^2 + d(d+1+sigma^2)/(n+d+1+sigma^2) (query noise included).
    clean_loss : ndarray or float
        L* - sigma^2.
    eta : ndarray or float
        Unnormalised step c*/n = 1/(n+d+1+sigma^2).
    """

    step: np.ndarray
    loss: np.ndarray
    clean_loss: np.ndarray
    eta: np.ndarray


def one_step_gd_optimum(*, n, d, noise_var=0.0) -> OneStepGDOptimum:
    """Optimal step and loss of one GD step (= optimal one-layer LSA), isotropic Gaussian data.

    x ~ N(0, I_d), w ~ N(0, I_d), noise variance sigma^2; predictor y_hat = h^T (c I) x_q with
    h = X^T y / n. Minimising L(c) (see :func:`one_step_gd_loss`) gives

        c* = n / (n + d + 1 + sigma^2),
        L* = sigma^2 + d (d + 1 + sigma^2) / (n + d + 1 + sigma^2).

    Parameters
    ----------
    n : int or array_like
        Context length, n >= 1.
    d : int or array_like
        Dimension, d >= 1.
    noise_var : float or array_like
        Label-noise variance sigma^2 >= 0.

    Returns
    -------
    OneStepGDOptimum
        ``step``, ``loss``, ``clean_loss``, ``eta`` broadcast over the inputs (numpy floats for
        scalar input).
    """
    n = _check_count("n", n)
    d = _check_count("d", d)
    s2 = check_nonnegative("noise_var", noise_var)
    denom = n + d + 1.0 + s2
    step = n / denom
    loss = s2 + d * (d + 1.0 + s2) / denom
    return OneStepGDOptimum(step=scalar_or_array(step), loss=scalar_or_array(loss),
                            clean_loss=scalar_or_array(loss - s2),
                            eta=scalar_or_array(1.0 / denom))


def one_step_gd_loss(c, *, n, d, noise_var=0.0):
    """Pretraining loss of one GD step with step c (isotropic Gaussian data).

        L(c) = (d/n)(n + d + 1 + sigma^2) c^2 - 2 d c + d + sigma^2,

    the loss E(h^T (cI) x_q - y_q)^2 with the query noise included (from the Wishart moment
    E[(X^T X)^2] = n(n+d+1) I).

    Parameters
    ----------
    c : float or array_like
        Step size(s) in the canonical 1/n normalisation (any real).
    n, d : int or array_like
        Context length and dimension, >= 1.
    noise_var : float or array_like
        sigma^2 >= 0.

    Returns
    -------
    ndarray or float
        L(c), broadcast over all inputs (a numpy float for scalar input).
    """
    c = as_float_array("c", c)
    n = _check_count("n", n)
    d = _check_count("d", d)
    s2 = check_nonnegative("noise_var", noise_var)
    return scalar_or_array((d / n) * (n + d + 1.0 + s2) * c**2 - 2.0 * d * c + d + s2)


def step_to_unnormalised(c, *, n):
    """Unnormalised step eta = c/n, so that y_hat = eta sum_i y_i x_i^T x_q equals h^T (cI) x_q.

    Parameters
    ----------
    c : float or array_like
        Canonical (1/n-normalised) step.
    n : int or array_like
        Context length >= 1.

    Returns
    -------
    ndarray or float
        eta, broadcast over the inputs (a numpy float for scalar input).
    """
    return scalar_or_array(as_float_array("c", c) / _check_count("n", n))


# ---------------------------------------------------------------------------- general Gaussian
@dataclass(frozen=True)
class OptimalLSA:
    """Optimal one-layer LSA for Gaussian covariates and task prior.

    Attributes
    ----------
    gamma : ndarray, shape (d, d)
        Gamma* (symmetric); the LSA predicts h^T Gamma* x_q.
    loss : float
        L* including the query noise.
    clean_loss : float
        L* - sigma^2.
    n : int
    cov_x, cov_w : ndarray, shape (d, d)
    noise_var : float
    """

    gamma: np.ndarray
    loss: float
    clean_loss: float
    n: int
    cov_x: np.ndarray
    cov_w: np.ndarray
    noise_var: float

    @property
    def preconditioner_eigenvalues(self) -> np.ndarray:
        """Eigenvalues of Gamma*, ascending."""
        return np.linalg.eigvalsh(self.gamma)


def optimal_lsa(cov_x, cov_w=None, *, n, noise_var=0.0) -> OptimalLSA:
    """Optimal Gamma* and loss of a one-layer LSA (= preconditioned one-step GD), Gaussian data.

    x ~ N(0, Sigma_x), w ~ N(0, Sigma_w), y = w^T x + eps with eps ~ N(0, sigma^2). With
    a = (tr(Sigma_x Sigma_w) + sigma^2)/n, the minimiser of L(Gamma) (see :func:`lsa_loss`) is

        Gamma* = ( ((n+1)/n) Sigma_x + a Sigma_w^{-1} )^{-1},
        L*     = tr(Sigma_x Sigma_w) - tr(Sigma_x Gamma* Sigma_x Sigma_w) + sigma^2.

    Special cases: Sigma_w = Sigma_x^{-1} gives Gamma* = c* Sigma_x^{-1} with the isotropic c*
    and L* (Mahankali Thm 2); Sigma_w = I gives the Zhang-Frei-Bartlett / Ahn et al.
    preconditioner ( ((n+1)/n) Sigma + ((tr Sigma + sigma^2)/n) I )^{-1}.

    Parameters
    ----------
    cov_x : array_like, shape (d, d) or (d,)
        Covariate covariance Sigma_x (symmetric positive definite; a 1-D array is a diagonal).
    cov_w : None, "inverse" or array_like, shape (d, d) or (d,)
        Task prior covariance Sigma_w. ``None`` (default) means I_d (ZFB / Ahn et al.);
        ``"inverse"`` means Sigma_x^{-1} (Mahankali Theorem 2).
    n : int
        Context length, n >= 1.
    noise_var : float
        sigma^2 >= 0.

    Returns
    -------
    OptimalLSA
    """
    n = check_int("n", n, minimum=1)
    s2 = float(check_nonnegative("noise_var", noise_var))
    sx, sw = resolve_covariances(cov_x, cov_w)
    a = (np.trace(sx @ sw) + s2) / n
    A = ((n + 1.0) / n) * sx + a * np.linalg.inv(sw)
    A = 0.5 * (A + A.T)
    gamma = np.linalg.inv(A)
    gamma = 0.5 * (gamma + gamma.T)
    loss = float(np.trace(sx @ sw) - np.trace(sx @ gamma @ sx @ sw) + s2)
    return OptimalLSA(gamma=gamma, loss=loss, clean_loss=loss - s2, n=n, cov_x=sx, cov_w=sw,
                      noise_var=s2)


def lsa_loss(gamma, cov_x, cov_w=None, *, n, noise_var=0.0):
    """Pretraining loss L(Gamma) of the canonical LSA predictor y_hat = h^T Gamma x_q.

    ::

        L(Gamma) = tr(Sigma_x Gamma^T K Gamma) - 2 tr(Sigma_x Sigma_w Sigma_x Gamma)
                   + tr(Sigma_x Sigma_w) + sigma^2,
        K = ((n+1)/n) Sigma_x Sigma_w Sigma_x + ((tr(Sigma_x Sigma_w) + sigma^2)/n) Sigma_x.

    For a test prompt length M different from the training length, pass n = M with Gamma fixed.

    Parameters
    ----------
    gamma : array_like, shape (..., d, d)
        One matrix or a stack of matrices (vectorised).
    cov_x, cov_w, n, noise_var
        As in :func:`optimal_lsa`.

    Returns
    -------
    ndarray, shape (...), or float
        The loss of each matrix (a numpy float for one matrix).
    """
    n = check_int("n", n, minimum=1)
    s2 = float(check_nonnegative("noise_var", noise_var))
    sx, sw = resolve_covariances(cov_x, cov_w)
    g = as_float_array("gamma", gamma)
    d = sx.shape[0]
    if g.ndim < 2 or g.shape[-2:] != (d, d):
        raise ValueError(f"gamma must have shape (..., {d}, {d}) to match cov_x, got {g.shape}")
    t = np.trace(sx @ sw)
    K = ((n + 1.0) / n) * sx @ sw @ sx + ((t + s2) / n) * sx
    quad = np.einsum("ij,...kj,kl,...li->...", sx, g, K, g)  # tr(Sx G^T K G)
    lin = np.einsum("ij,...ji->...", sx @ sw @ sx, g)
    return scalar_or_array(quad - 2.0 * lin + t + s2)


def gamma_to_merged(gamma, *, balanced: bool = False):
    """Merged ZFB / Ahn weights (W^{PV}, W^{KQ}) realising y_hat = h^T Gamma x_q.

    In the merged LSA f(E) = E + W^{PV} E J (E^T W^{KQ} E)/n with y_hat = [f(E)]_{d+1, n+1}, the
    effective matrix is Gamma_eff = p_y Q_xx + p_x q_yx^T, where p = last row of W^{PV} and
    Q = W^{KQ}. This returns the minimiser with p_x = 0, q_yx = 0, p_y Q_xx = Gamma:

    * ``balanced=False``: p_y = 1, Q_xx = Gamma;
    * ``balanced=True``: p_y = ||Gamma||_F^{1/2}, Q_xx = Gamma / ||Gamma||_F^{1/2} (the
      gradient-flow limit from a balanced start).

    Parameters
    ----------
    gamma : array_like, shape (d, d)

    Returns
    -------
    (W_PV, W_KQ) : tuple of ndarray, each (d+1, d+1)
    """
    g = as_float_array("gamma", gamma)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"gamma must be a square (d, d) matrix, got shape {g.shape}")
    d = g.shape[0]
    scale = np.sqrt(np.linalg.norm(g)) if balanced else 1.0
    if balanced and scale == 0:
        scale = 1.0
    w_pv = np.zeros((d + 1, d + 1))
    w_kq = np.zeros((d + 1, d + 1))
    w_pv[d, d] = scale
    w_kq[:d, :d] = g / scale
    return w_pv, w_kq


def merged_to_gamma(w_pv, w_kq) -> np.ndarray:
    """Gamma_eff = p_y Q_xx + p_x q_yx^T of merged weights (p = last row of W^{PV}, Q = W^{KQ}).

    Parameters
    ----------
    w_pv : array_like, shape (d+1, d+1) or (d+1,)
        W^{PV}, or directly its last row p.
    w_kq : array_like, shape (d+1, d+1)

    Returns
    -------
    ndarray, shape (d, d)
    """
    q = as_float_array("w_kq", w_kq)
    if q.ndim != 2 or q.shape[0] != q.shape[1] or q.shape[0] < 2:
        raise ValueError(f"w_kq must be a square (d+1, d+1) matrix, got shape {q.shape}")
    p = as_float_array("w_pv", w_pv)
    p = p[-1] if p.ndim == 2 else p
    if p.shape != (q.shape[0],):
        raise ValueError(f"w_pv must be ({q.shape[0]}, {q.shape[0]}) or ({q.shape[0]},), "
                         f"got {np.shape(w_pv)}")
    d = q.shape[0] - 1
    return p[d] * q[:d, :d] + np.outer(p[:d], q[d, :d])


# ---------------------------------------------------------------------------------- nonlinear
@dataclass(frozen=True)
class NonlinearOptimum:
    """Optimal one-step GD for a nonlinear rotation- and sign-symmetric target.

    Attributes
    ----------
    step : float
        c*_f (Gamma* = c*_f I).
    loss : float
        L*_f, query noise included.
    clean_loss : float
        L*_f - sigma^2.
    linear_step : float
        The linear-target formula n/(n+d+1+sigma^2), for comparison.
    moments : LSAMoments
        E||g_f||^2, E[f^2||x||^2], E[f^2] of the target.
    n, d : int
        Context length and dimension of the fit.
    noise_var : float
        sigma^2 of the fit.
    """

    step: float
    loss: float
    clean_loss: float
    linear_step: float
    moments: LSAMoments
    n: int
    d: int
    noise_var: float

    def loss_at(self, c):
        """L_f(c) = E[y_q^2] - 2 c E||g||^2 + c^2 E||h||^2 at the fit's n, d and noise_var.

        Returns a numpy float for scalar ``c``, else an array of its shape.
        """
        m = self.moments
        n, d, noise_var = self.n, self.d, self.noise_var
        c = as_float_array("c", c)
        eh2 = (m.f2x2 + noise_var * d) / n + (n - 1.0) / n * m.g2
        return scalar_or_array(m.f2 + noise_var - 2.0 * c * m.g2 + c**2 * eh2)


def one_step_gd_nonlinear(target, *, n, d, noise_var=0.0) -> NonlinearOptimum:
    """Optimal one-step GD step for y = f(x) + eps, x ~ N(0, I_d) (Mahankali Theorem 3).

    The law of the random target f must be invariant under f -> f o R (R orthogonal) and
    f -> -f; then the optimal LSA is Gamma* = c*_f I with (g_f := E_x[x f(x)])

        E||h||^2 = (1/n) E[y^2 ||x||^2] + ((n-1)/n) E||g_f||^2,
        c*_f = n E||g_f||^2 / ( E[y^2||x||^2] + (n-1) E||g_f||^2 ),
        L*_f = E[y_q^2] - n (E||g_f||^2)^2 / ( E[y^2||x||^2] + (n-1) E||g_f||^2 ),

    with E[y^2||x||^2] = E[f^2||x||^2] + sigma^2 d and E[y_q^2] = E[f^2] + sigma^2. For a
    single-index target f = s phi(u^T x) the moments follow from phi's Hermite coefficients
    (E||g||^2 = c_1^2, E[f^2||x||^2] = E[z^2 phi^2] + (d-1) E[phi^2]) or 1-D quadrature.

    Parameters
    ----------
    target : str, Target or LSAMoments
        A target of the one-step-GD/LSA model (``linear``, ``he3:BETA`` or ``signed:NAME``,
        e.g. ``signed:relu``, ``signed:tanh:2``, ``signed:he1+he3``; see
        :mod:`rmt_icl.core.targets`), a :class:`~rmt_icl.core.targets.Target`, or its moments
        directly.
    n : int
        Context length >= 1.
    d : int
        Dimension >= 1.
    noise_var : float
        sigma^2 >= 0.

    Returns
    -------
    NonlinearOptimum
    """
    n, d, s2 = check_sizes(n, d, noise_var)
    m = (target if isinstance(target, LSAMoments)
         else get_target(target, context="lsa").lsa_moments(d))
    if not m.g2 > 0:
        raise ValueError("target must have E||g_f||^2 > 0 (a nonzero linear component); "
                         f"got {m.g2}")
    ey2x2 = m.f2x2 + s2 * d
    denom = ey2x2 + (n - 1.0) * m.g2
    step = n * m.g2 / denom
    loss = m.f2 + s2 - n * m.g2**2 / denom
    return NonlinearOptimum(step=float(step), loss=float(loss), clean_loss=float(loss - s2),
                            linear_step=n / (n + d + 1.0 + s2), moments=m, n=n, d=d,
                            noise_var=s2)


# ----------------------------------------------------------------- non-Gaussian covariates
def _covariate_moments(covariates, d):
    """(s, q) with E[x x^T] = s I and E[||x||^2 x x^T] = q I."""
    if isinstance(covariates, str):
        name, _, arg = covariates.strip().lower().partition(":")
        if name == "gaussian" and not arg:
            return 1.0, d + 2.0
        if name == "sphere" and not arg:  # uniform on the sphere of radius sqrt(d)
            return 1.0, float(d)
        if name == "uniform":  # i.i.d. U(-A, A) coordinates
            try:
                A = float(arg) if arg else 1.0
            except ValueError:
                A = float("nan")
            if not (np.isfinite(A) and A > 0):
                raise ValueError(f"covariates 'uniform:A' needs A in (0, inf), got {covariates!r}")
            m2, m4 = A**2 / 3.0, A**4 / 5.0
            return m2, m4 + (d - 1) * m2**2
        raise ValueError("covariates must be 'gaussian', 'sphere', 'uniform[:A]' or a pair "
                         f"(s, q), got {covariates!r}")
    sq = as_float_array("covariates", covariates).ravel()
    if sq.shape != (2,) or np.any(sq <= 0):
        raise ValueError("covariates must be a pair (s, q) of positive numbers, got "
                         f"{covariates!r}")
    return float(sq[0]), float(sq[1])


def one_step_gd_non_gaussian(covariates="uniform", *, n, d, noise_var=0.0) -> OneStepGDOptimum:
    """Optimal isotropic one GD step for non-Gaussian covariates with isotropic moments.

    Covariates with E[x x^T] = s I and E[||x||^2 x x^T] = q I (e.g. i.i.d. symmetric
    coordinates), w ~ N(0, I_d), noise sigma^2. Within the class Gamma = c I,

        L(c) = (s d / n) (q + sigma^2 s + (n-1) s^2) c^2 - 2 s^2 d c + s d + sigma^2,
        c*   = s n / (q + (n-1) s^2 + sigma^2 s),
        L*   = s d + sigma^2 - s^3 d n / (q + (n-1) s^2 + sigma^2 s).

    Gaussian: s = 1, q = d + 2 (Theorem 1). U(-A, A)^d: s = A^2/3, q = A^4/5 + (d-1) A^4/9.
    Sphere of radius sqrt(d): s = 1, q = d. (``docs/theory/one_step_gd.md``; MC-checked in the
    tests.)

    Parameters
    ----------
    covariates : str or (s, q)
        ``"gaussian"``, ``"sphere"``, ``"uniform"`` / ``"uniform:A"`` (default A = 1), or the
        moments (s, q) directly.
    n, d : int
        Context length and dimension, >= 1.
    noise_var : float
        sigma^2 >= 0.

    Returns
    -------
    OneStepGDOptimum
    """
    n, d, s2 = check_sizes(n, d, noise_var)
    s, q = _covariate_moments(covariates, d)
    den = q + (n - 1.0) * s**2 + s2 * s
    step = s * n / den
    loss = s * d + s2 - s**3 * d * n / den
    return OneStepGDOptimum(step=np.float64(step), loss=np.float64(loss),
                            clean_loss=np.float64(loss - s2), eta=np.float64(step / n))
