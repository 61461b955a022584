"""Ridge solvers: primal or dual by shape, one or many ridge values.

For features ``Phi`` (``n x p``), labels ``y`` and ridge ``lam >= 0``::

    a(lam) = argmin_a ||y - Phi a||^2 + lam ||a||^2
           = (Phi^T Phi + lam I_p)^{-1} Phi^T y          (primal, p x p system)
           = Phi^T (Phi Phi^T + lam I_n)^{-1} y          (dual,   n x n system).

The models accumulate the smaller Gram matrix chunk by chunk and call these solvers on it:

* :func:`solve_spd` -- one ridge value, Cholesky (LAPACK ``potrf/potrs``); falls back to a
  symmetric eigendecomposition with pseudo-inverse when ``lam = 0`` and the Gram is singular
  (minimum-norm solution).
* :class:`EigenRidge` -- one eigendecomposition, then any number of ridge values at
  O(p^2) each (the regularisation path).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from rmt_icl.core.checks import check_nonnegative


def prefer_dual(n: int, p: int) -> bool:
    """True when the dual (``n x n``) system is smaller than the primal (``p x p``)."""
    return n < p


def solve_spd(gram: np.ndarray, rhs: np.ndarray, ridge: float, *,
              overwrite: bool = False) -> np.ndarray:
    """Solve ``(gram + ridge I) x = rhs`` for a symmetric positive semi-definite ``gram``.

    Parameters
    ----------
    gram : ndarray, shape (p, p)
        Symmetric PSD matrix (only the lower triangle is read by the Cholesky path).
    rhs : ndarray, shape (p,) or (p, r)
    ridge : float
        ``>= 0``. With ``ridge = 0`` and a singular ``gram``, the minimum-norm solution
        ``gram^+ rhs`` is returned.
    overwrite : bool
        Allow the solver to destroy ``gram`` (saves one p x p copy).
    """
    ridge = float(check_nonnegative("ridge", ridge))
    a = gram if overwrite else gram.copy()
    a.flat[:: a.shape[0] + 1] += ridge
    try:
        # a C-ordered symmetric matrix is passed as its (Fortran-ordered) transpose, whose
        # upper triangle is a's lower triangle: LAPACK then factors in place, with no D x D copy
        if a.flags.c_contiguous and not a.flags.f_contiguous:
            c, low = sla.cho_factor(a.T, lower=False, overwrite_a=True, check_finite=False)
        else:
            c, low = sla.cho_factor(a, lower=True, overwrite_a=True, check_finite=False)
        return sla.cho_solve((c, low), rhs, check_finite=False)
    except np.linalg.LinAlgError:
        if overwrite:
            raise np.linalg.LinAlgError(
                f"gram + ridge*I is not positive definite (ridge={ridge}); use ridge > 0, "
                "or overwrite=False for the minimum-norm fallback") from None
    # singular Gram at (near-)zero ridge: minimum-norm solution by eigendecomposition
    return EigenRidge(gram).solve(rhs, ridge)


class EigenRidge:
    """Eigendecomposition of a symmetric PSD Gram matrix, reused for many ridge values.

    ``(G + lam I)^{-1} b = V diag(1/(s + lam)) V^T b``; eigenvalues below
    ``rcond * max(s)`` are treated as zero (pseudo-inverse) when ``lam = 0``.

    Parameters
    ----------
    gram : ndarray, shape (p, p)
    rcond : float
        Relative cutoff for the pseudo-inverse at ``lam = 0``.
    """

    def __init__(self, gram: np.ndarray, rcond: float | None = None):
        s, v = sla.eigh(gram, check_finite=False, driver="evr")
        self.eigenvalues = np.clip(s, 0.0, None)
        self.eigenvectors = v
        p = gram.shape[0]
        self.rcond = rcond if rcond is not None else p * np.finfo(np.float64).eps

    def solve(self, rhs: np.ndarray, ridges) -> np.ndarray:
        """Solutions for each ridge; shape ``ridges.shape + rhs.shape``."""
        ridges = check_nonnegative("ridges", ridges)
        proj = self.eigenvectors.T @ rhs
        s = self.eigenvalues
        cutoff = self.rcond * (s.max() if s.size else 0.0)
        out = []
        for lam in np.atleast_1d(ridges).ravel():
            denom = s + lam
            inv = np.where(denom > cutoff, 1.0 / np.where(denom > cutoff, denom, 1.0), 0.0)
            scaled = proj * (inv if proj.ndim == 1 else inv[:, None])
            out.append(self.eigenvectors @ scaled)
        return np.asarray(out).reshape(np.shape(ridges) + np.shape(rhs))
