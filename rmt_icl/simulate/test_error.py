r"""Exact (finite-d) ICL / IDG test error of a given linear-attention matrix ``Gamma``.

Reduced model: ``y_hat = x_{ell+1}^T Gamma h`` with ``Gamma in R^{d x (d+1)}`` and
``h = [(d/ell) sum_i y_i x_i ; (1/ell) sum_i y_i^2]``; covariates ``x ~ N(0, I_d/d)``, labels
``y = <x, w> + noise`` (variance ``rho``). For a task with ``||w||^2 = d`` the context moments are
``E h = [w; 1+rho]``, ``E h_x h_x^T = (1+rho)(d/ell) I + (1 + 1/ell) w w^T``,
``E h_x h_y = (1+rho)(1 + 2/ell) w``, ``E h_y^2 = (1+rho)^2 (1 + 2/ell)``, and
``e(Gamma | w) = rho + (1/d) E ||w - Gamma h||^2``. Averaging over a test-task law with mean
``mu`` and second moment ``R`` (``docs/theory/linear_attention.md``)::

    e(Gamma) = 1 + rho - (2/d) tr(Gamma A) + ((1+rho)/d) tr(Gamma B Gamma^T),
    A = [R ; (1+rho) mu^T],
    B = [[(d/ell) I + (1 + 1/ell) R/(1+rho),  (1 + 2/ell) mu      ],
         [(1 + 2/ell) mu^T,                   (1+rho)(1 + 2/ell)  ]].

(The constant ``1 = tr R/d`` uses ``||w||^2 = d``.)
"""

from __future__ import annotations

import numpy as np

from rmt_icl.core.checks import as_float_array, check_nonnegative, check_positive

__all__ = ["linear_attention_test_error"]


def linear_attention_test_error(
    Gamma,
    alpha,
    rho,
    task_mean=None,
    task_second_moment=None,
    ell=None,
    *,
    gaussian_task_correction=False,
):
    r"""Exact expected test error of a given linear-attention matrix ``Gamma`` (no sampling).

    Writing ``Gamma = [G | g]`` (``G`` the first ``d`` columns, ``g`` the last column), ``mu``
    the task mean and ``R`` the task second moment, the error is

    .. math::

        e = 1 + \rho - \frac{2}{d}\big[\mathrm{tr}(G R) + (1+\rho) g^\top\mu\big]
            + \frac{1+\rho}{d}\Big[\frac{d}{\ell}\|G\|_F^2
            + \frac{1 + 1/\ell}{1+\rho}\mathrm{tr}(G R G^\top)
            + 2\big(1 + \tfrac{2}{\ell}\big) g^\top G \mu
            + (1+\rho)\big(1 + \tfrac{2}{\ell}\big)\|g\|^2\Big],

    the expanded form of ``1 + rho - (2/d) tr(Gamma A) + ((1+rho)/d) tr(Gamma B Gamma^T)``
    (module docstring). It is exact at finite ``d`` and ``ell`` for test tasks with
    ``||w||^2 = d`` (e.g. a normalised pool); cost ``O(d^2)`` for ICL and ``O(d^3)`` with a
    second-moment matrix.

    * **ICL** (defaults): ``mu = 0``, ``R = I``.
    * **IDG**: ``mu = (1/k) sum_j w_j``, ``R = (1/k) sum_j w_j w_j^T`` over the pool (tasks
      normalised to ``||w_j||^2 = d`` for exactness).

    Parameters
    ----------
    Gamma : array_like, shape (..., d, d+1)
        One matrix or a stack of them (leading axes are batch axes).
    alpha : float or None
        Context length ratio ``ell/d``; ``I/alpha`` in ``B`` is ``(d/ell) I``. May be None if
        ``ell`` is given. If both are given they must satisfy ``ell = alpha d``.
    rho : float or array_like
        Label-noise variance, ``>= 0``; broadcasts against the batch shape.
    task_mean : array_like, shape (..., d), optional
        Test-task mean ``mu`` (default 0).
    task_second_moment : array_like, shape (..., d, d), optional
        Test-task second moment ``R = E w w^T`` (default ``I_d``); should have trace ``d``.
    ell : float, optional
        Realised context length (default ``alpha d``), used in ``d/ell`` and in the exact
        finite-ell terms ``1/ell``, ``2/ell``.
    gaussian_task_correction : bool, optional
        If True, replace the corner moment ``(1+rho)^2`` of ``E h_y^2`` by ``(1+rho)^2 + 2/d``
        (still times ``1 + 2/ell``): the exact error for Gaussian test tasks ``w ~ N(0, I_d)``
        instead of tasks with ``||w||^2 = d``. Only meaningful for ICL (verified by Monte
        Carlo in the tests). Default False.

    Returns
    -------
    ndarray or float
        The error (including noise ``rho``), one per matrix in the stack.

    Raises
    ------
    ValueError
        On bad shapes, non-positive ``alpha``/``ell``, negative ``rho``, NaN, or inconsistent
        ``alpha`` and ``ell``.
    """
    Gamma = as_float_array("Gamma", Gamma)
    if Gamma.ndim < 2 or Gamma.shape[-1] != Gamma.shape[-2] + 1:
        raise ValueError(f"Gamma must have shape (..., d, d+1), got {Gamma.shape}")
    d = Gamma.shape[-2]
    rho = check_nonnegative("rho", rho)
    if ell is None:
        if alpha is None:
            raise ValueError("alpha must lie in (0, inf) when ell is not given, got None")
        alpha = float(check_positive("alpha", alpha))
        ell = alpha * d
    else:
        ell = float(check_positive("ell", ell))
        if alpha is not None:
            alpha = float(check_positive("alpha", alpha))
            if abs(alpha * d - ell) > 1e-9 * ell:
                raise ValueError(
                    f"ell must equal alpha*d = {alpha * d!r} when both are given, got {ell!r}"
                )
    G = Gamma[..., :, :d]
    g = Gamma[..., :, d]
    inv_l = 1.0 / ell
    one_rho = 1.0 + rho

    if task_second_moment is None:
        tr_GR = np.trace(G, axis1=-2, axis2=-1)
        tr_GRGt = np.sum(G * G, axis=(-2, -1))
    else:
        R = as_float_array("task_second_moment", task_second_moment)
        if R.shape[-2:] != (d, d):
            raise ValueError(f"task_second_moment must have shape (..., {d}, {d}), got {R.shape}")
        tr_GR = np.sum(G * np.swapaxes(R, -1, -2), axis=(-2, -1))
        tr_GRGt = np.sum((G @ R) * G, axis=(-2, -1))
    if task_mean is None:
        g_mu = 0.0
        g_G_mu = 0.0
    else:
        mu = as_float_array("task_mean", task_mean)
        if mu.shape[-1:] != (d,):
            raise ValueError(f"task_mean must have shape (..., {d}), got {mu.shape}")
        g_mu = np.sum(g * mu, axis=-1)
        g_G_mu = np.sum(g * (G @ mu[..., None])[..., 0], axis=-1)

    corner = one_rho**2
    if gaussian_task_correction:
        corner = corner + 2.0 / d
    quad = (
        (d * inv_l) * np.sum(G * G, axis=(-2, -1))
        + (1.0 + inv_l) / one_rho * tr_GRGt
        + 2.0 * (1.0 + 2.0 * inv_l) * g_G_mu
        + corner / one_rho * (1.0 + 2.0 * inv_l) * np.sum(g * g, axis=-1)
    )
    err = one_rho - (2.0 / d) * (tr_GR + one_rho * g_mu) + (one_rho / d) * quad
    err = np.asarray(err, dtype=np.float64)
    return err[()] if err.ndim == 0 else err
