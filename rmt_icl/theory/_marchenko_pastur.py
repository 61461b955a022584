"""Marchenko--Pastur resolvent of the task-pool covariance, with an exact ``kappa = inf``.

Private helper of :mod:`rmt_icl.theory.linear_attention` and of the models built on its fixed
point (:mod:`rmt_icl.theory.random_transformer`). With ``k = kappa d`` tasks ``w_j ~ N(0, I_d)`` and
``W_hat = (1/k) sum_j w_j w_j^T`` (aspect ratio ``d/k = 1/kappa``),

    M_kappa(x) = lim (1/d) tr (W_hat + x I)^{-1},   x > 0,

is the positive root of ``(x/kappa) M^2 + a M - 1 = 0`` with ``a = x + 1 - 1/kappa``:

    M_kappa(x) = 2 / (a + sqrt(a^2 + 4x/kappa))               (a >= 0)
               = kappa (sqrt(a^2 + 4x/kappa) - a) / (2x)       (a < 0, rationalised)

The two expressions are algebraically equal; each is used where it has no cancellation (the
first cancels when ``a < 0``, i.e. ``kappa < 1`` and small ``x``). At ``kappa = inf``,
``M_inf(x) = 1/(1+x)`` exactly (never a sentinel value of kappa).

Derivative (implicit differentiation of the quadratic, using ``a + 2xM/kappa = sqrt(.)``):

    M'_kappa(x) = -M (1 + M/kappa) / sqrt(a^2 + 4x/kappa),     M'_inf(x) = -1/(1+x)^2,

which equals Lu et al.'s form ``-M^2/2 [1 + (x + 1 + 1/kappa)/sqrt(a^2 + 4x/kappa)]`` and has
no cancellation (all terms positive). The complement

    1 - x M_kappa(x) = M / (1 + M/kappa)      ( = lim (1/d) tr W_hat (W_hat + xI)^{-1} )

also follows from the quadratic and is computed in this stable form.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mp_resolvent", "mp_resolvent_derivative", "mp_complement", "mp_all"]


def _parts(x, kappa):
    x = np.asarray(x, dtype=np.float64)
    kappa = np.asarray(kappa, dtype=np.float64)
    x, kappa = np.broadcast_arrays(x, kappa)
    inv_k = 1.0 / kappa  # exactly 0.0 for kappa = inf
    with np.errstate(invalid="ignore"):  # inf/inf at kappa = inf, replaced below
        one_minus_inv_k = np.where(np.isfinite(kappa), (kappa - 1.0) / kappa, 1.0)
    a = x + one_minus_inv_k  # (kappa - 1)/kappa is exact to 1 ulp, also near kappa = 1
    root = np.sqrt(a * a + 4.0 * x * inv_k)
    return x, kappa, inv_k, a, root


def _resolvent_from_parts(x, kappa, inv_k, a, root):
    finite = np.isfinite(kappa)
    out = np.empty(np.shape(x))
    pos = a >= 0
    # a >= 0 (always for kappa >= 1 and for kappa = inf): no cancellation in the denominator.
    sel = pos
    out[sel] = 2.0 / (a[sel] + root[sel])
    # a < 0 (kappa < 1, x < 1/kappa - 1): rationalised form, no cancellation.
    sel = ~pos
    out[sel] = kappa[sel] * (root[sel] - a[sel]) / (2.0 * x[sel])
    # kappa = inf exactly.
    sel = ~finite
    out[sel] = 1.0 / (1.0 + x[sel])
    return out


def mp_resolvent(x, kappa):
    """Marchenko--Pastur resolvent ``M_kappa(x)`` for ``x > 0`` and ``kappa in (0, inf]``.

    Parameters
    ----------
    x : array_like
        Spectral argument, ``x > 0``.
    kappa : array_like
        Task diversity ``k/d``; ``np.inf`` gives ``1/(1+x)`` exactly.

    Returns
    -------
    ndarray
        ``M_kappa(x)`` broadcast over the inputs (float64).
    """
    x, kappa, inv_k, a, root = _parts(x, kappa)
    return _resolvent_from_parts(x, kappa, inv_k, a, root)


def mp_all(x, kappa):
    """Return ``(M, M', 1 - xM)`` at once (shared square root); see the module docstring."""
    x, kappa, inv_k, a, root = _parts(x, kappa)
    m = _resolvent_from_parts(x, kappa, inv_k, a, root)
    finite = np.isfinite(kappa)
    m_over_k = m * inv_k
    dm = np.empty_like(m)
    dm[finite] = -m[finite] * (1.0 + m_over_k[finite]) / root[finite]
    dm[~finite] = -(m[~finite] ** 2)
    comp = m / (1.0 + m_over_k)
    return m, dm, comp


def mp_resolvent_derivative(x, kappa):
    """Derivative ``M'_kappa(x) = -lim (1/d) tr (W_hat + xI)^{-2}`` (negative).

    Parameters
    ----------
    x : array_like
        ``x > 0``.
    kappa : array_like
        ``kappa in (0, inf]``; at ``inf`` returns ``-1/(1+x)^2``.

    Returns
    -------
    ndarray
        ``M'_kappa(x)`` broadcast over the inputs.
    """
    return mp_all(x, kappa)[1]


def mp_complement(x, kappa):
    """Stable ``1 - x M_kappa(x) = M/(1 + M/kappa)``, in ``[0, 1)`` (see module docstring)."""
    return mp_all(x, kappa)[2]
