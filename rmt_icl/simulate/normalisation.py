"""Normalisation ``t = Tr Cov(vec H_Z)`` of the random first layer, and ridge-unit conversions.

The random transformer draws its first layer ``F`` with rows ``f_r ~ N(0, I_D / t)`` so that
pre-activations ``u = F vec H_Z`` have unit variance on average. Since ``x_q`` is independent
of ``h`` with ``E x_q x_q^T = I_d / d`` and ``E vec H_Z = 0``,

    t = Tr Cov(vec H_Z) = E||x_q||^2 E||h||^2 = E||h_1||^2 + c^2 E h_2^2,

with the attention statistic ``h = [h_1 ; h_2] = [(d/ell) sum_i y_i x_i ; (c/ell) sum_i y_i^2]``
and the y^2-column scale ``c`` (``y2_scale``; 1 is the linear-attention scaling, ``sqrt(d)``
the companion paper's). For normalised tasks (``||w|| = sqrt(d)``, so the index ``s`` is exactly
``N(0, 1)``) and labels ``y = g(s) + eps``, ``Var eps = rho``, the label moments
``a1 = E[g s]``, ``q = E y^2``, ``m22 = E[y^2 s^2]``, ``m4 = E y^4`` give exactly

    E||h_1||^2 = (d/ell) [m22 + (d - 1) q] + (1 - 1/ell) a1^2 d,
    E h_2^2    = m4/ell + (1 - 1/ell) q^2,

(derivation: ``x_i = s_i w/d + x_i^perp``, so ``E[y^2 ||x||^2] = (m22 + (d-1) q)/d`` and
``E[y_i y_j x_i.x_j] = a1^2/d`` for ``i != j``). The value does not depend on the task pool.
:func:`t_estimate` gives the Monte Carlo alternative, the training mean of
``||x_q||^2 ||h||^2`` (the squared norm of ``vec H_Z`` by the Gram identity).

Ridge units
-----------
For the random transformer and the Hermite model the toolkit's ``ridge`` is ``lambda_bar`` in

    a = argmin_a sum_mu (y^mu - a^T phi^mu)^2 + lambda_bar ||a||^2,   phi = sigma(u)/sqrt(k),

i.e. the papers' ``lambda = lambda_bar / n`` in the (1/n)-loss form. Linear attention keeps
Lu et al.'s convention, penalty ``(n/d) lambda_LA ||Gamma||_F^2``. For ``sigma = identity`` and
``k/D -> inf``, ``F^T F / k -> I_D / t`` and the identity RT becomes Lu's estimator with

    lambda_LA = d t lambda_bar / n          (:func:`ridge_la_from_bar`).
"""

from __future__ import annotations

import math

import numpy as np

from rmt_icl.core.checks import check_int, check_nonnegative, check_positive
from rmt_icl.core.stats import mean_se
from rmt_icl.core.targets import get_target


def t_analytic(d: int, ell: int, target, rho: float, *, y2_scale: float = 1.0) -> float:
    """Exact ``t = Tr Cov(vec H_Z)`` for normalised tasks (module docstring).

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    ell : int
        Context length, >= 1.
    target : str, callable or Target
        Label function ``g`` (its Gaussian moments are used).
    rho : float
        Label-noise variance, >= 0.
    y2_scale : float
        Scale ``c`` of the y^2 entry of ``h``, > 0 (1: linear-attention scaling; ``sqrt(d)``:
        companion scaling).

    Returns
    -------
    float
        ``t = (d/ell)[m22 + (d-1) q] + (1 - 1/ell) a1^2 d + c^2 (m4/ell + (1 - 1/ell) q^2)``.

    Examples
    --------
    Linear target, ``rho = 0``: ``t = d/alpha + d(1 + 1/ell) + (1 + 2/ell)`` up to the exact
    finite-``ell`` terms.

    >>> round(t_analytic(32, 64, "tanh", 1e-4), 3)
    18.206
    """
    d = check_int("d", d, minimum=1)
    ell = check_int("ell", ell, minimum=1)
    rho = float(check_nonnegative("rho", rho))
    c = float(check_positive("y2_scale", y2_scale))
    mom = get_target(target).label_moments(rho)
    q, m22, m4, a1 = mom["q"], mom["m22"], mom["m4"], mom["a1"]
    e1 = (d / ell) * (m22 + (d - 1) * q) + (1.0 - 1.0 / ell) * a1 * a1 * d
    e2 = m4 / ell + (1.0 - 1.0 / ell) * q * q
    return float(e1 + c * c * e2)


def t_estimate(xq: np.ndarray, h: np.ndarray) -> tuple[float, float]:
    """Monte Carlo estimate of ``t`` from prompts: the mean of ``||x_q||^2 ||h||^2``.

    Parameters
    ----------
    xq, h : ndarray, shapes (m, d) and (m, d + 1)
        Query covariates and attention statistics of ``m`` prompts.

    Returns
    -------
    (float, float)
        The mean of ``||vec H_Z||^2 = ||x_q||^2 ||h||^2`` and its standard error
        (:func:`rmt_icl.core.stats.mean_se`; NaN for ``m = 1``).
    """
    xq = np.asarray(xq, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    if xq.ndim != 2 or h.ndim != 2 or h.shape != (xq.shape[0], xq.shape[1] + 1):
        raise ValueError(f"xq must have shape (m, d) and h shape (m, d + 1), got {xq.shape} "
                         f"and {h.shape}")
    v = np.einsum("ij,ij->i", xq, xq) * np.einsum("ij,ij->i", h, h)
    return mean_se(v)


def ridge_paper(ridge_bar: float, n: int) -> float:
    """The papers' ``lambda = lambda_bar / n`` (penalty of the (1/n)-loss form)."""
    return float(check_nonnegative("ridge", ridge_bar)) / check_int("n", n, minimum=1)


def ridge_la_from_bar(ridge_bar: float, d: int, n: int, t: float) -> float:
    """Lu's ``lambda_LA = d t lambda_bar / n``: the identity RT's ``k/D -> inf`` limit.

    Parameters
    ----------
    ridge_bar : float
        The RT ridge ``lambda_bar`` (>= 0).
    d, n : int
        Dimension and number of training prompts.
    t : float
        The normalisation used for ``F`` (> 0).
    """
    ridge_bar = float(check_nonnegative("ridge", ridge_bar))
    d = check_int("d", d, minimum=1)
    n = check_int("n", n, minimum=1)
    t = float(check_positive("t", t))
    return d * t * ridge_bar / n


def parse_y2_scale(value, d: int) -> float:
    """The y^2-column scale ``c``: a number > 0, ``"la"`` (1) or ``"companion"`` (``sqrt(d)``).

    ``"companion"`` is Demir & Dogan's statistic ``[(1/ell) sum y_i x_i; (1/ell) sum y_i^2]``
    with ``Tr Sigma_x ~ d`` written in the toolkit's units (x ~ N(0, I/d)); the number is what
    every model of a point (RT, Hermite models, linear transformer, linear attention) uses.
    """
    if isinstance(value, str):
        key = value.strip().lower()
        if key in ("la", "linear-attention", "1"):
            return 1.0
        if key in ("companion", "sqrt_d", "sqrt(d)", "sqrtd"):
            return math.sqrt(d)
        raise ValueError(f"y2_scale must be a positive number, 'la' (1) or 'companion' "
                         f"(sqrt(d)), got {value!r}")
    return float(check_positive("y2_scale", value))
