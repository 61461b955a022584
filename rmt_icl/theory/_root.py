"""Vectorised, safeguarded Newton iteration in ``log x`` for monotone scalar equations.

Every fixed point of the theory modules (Lu et al.'s ridge fixed point, the random-transformer
joint fixed point, the p = 1 model's effective ridge) is a root of an increasing function of
``u = log x`` on a known bracket. :func:`log_newton` solves all grid points at once: a Newton
step that leaves the (shrinking) bracket is replaced by bisection in ``u``.
"""

from __future__ import annotations

import numpy as np

from rmt_icl.core.errors import ConvergenceError


def log_newton(func, lo, hi, u0=None, *, rtol: float, maxiter: int):
    """Roots of increasing ``f(x)`` for a batch of points, by safeguarded Newton in ``log x``.

    Parameters
    ----------
    func : callable
        ``func(x, sel) -> (f, df_du, ...)``: the residual at ``x`` for the points with flat
        indices ``sel`` and its derivative with respect to ``u = log x``; extra outputs are
        ignored.
    lo, hi : ndarray
        Brackets in ``u`` with ``f(exp(lo)) <= 0 <= f(exp(hi))`` (not modified).
    u0 : ndarray, optional
        Starting points inside the brackets (default: their midpoints).
    rtol : float
        Converged when a Newton step changes ``u`` (the relative change of ``x``) by less than
        ``rtol`` plus four ulps of ``u``, or when the bracket is that narrow. The ulp term is
        tested before the bracket check: a sub-ulp step lands on the bracket end just updated
        and would otherwise fall back to bisection.
    maxiter : int
        Iteration cap.

    Returns
    -------
    x : ndarray
        ``exp(u)`` at the last iterate.
    unconverged : ndarray of int
        Indices still active after ``maxiter`` iterations (empty on success).
    """
    lo = np.array(lo, dtype=np.float64)
    hi = np.array(hi, dtype=np.float64)
    u = 0.5 * (lo + hi) if u0 is None else np.array(u0, dtype=np.float64)
    active = np.arange(u.size)
    for _ in range(maxiter):
        ua, la, ha = u[active], lo[active], hi[active]
        f, dfdu = func(np.exp(ua), active)[:2]
        la = np.where(f < 0, ua, la)
        ha = np.where(f > 0, ua, ha)
        with np.errstate(divide="ignore", invalid="ignore"):
            un = ua - f / dfdu
        tol = rtol + 4.0 * np.spacing(np.abs(ua))
        small = (np.abs(un - ua) <= tol) | (f == 0)
        outside = ~np.isfinite(un) | (un <= la) | (un >= ha)
        un = np.where(small, ua, np.where(outside, 0.5 * (la + ha), un))
        done = small | (ha - la <= tol)
        u[active], lo[active], hi[active] = un, la, ha
        active = active[~done]
        if active.size == 0:
            break
    return np.exp(u), active


def check_converged(residual: np.ndarray, unconverged: np.ndarray, what: str, *,
                    tol: float) -> None:
    """Raise :class:`~rmt_icl.core.errors.ConvergenceError` unless every point converged.

    Parameters
    ----------
    residual : ndarray
        Scaled residuals ``|f| / scale`` at the returned roots.
    unconverged : ndarray of int
        Indices :func:`log_newton` left active.
    what : str
        Name of the equation, for the message.
    tol : float
        Largest accepted scaled residual.

    The error carries the worst residual and the offending flat indices (the unconverged ones
    if any, else those whose residual exceeds ``tol``).
    """
    if residual.size == 0 or (unconverged.size == 0 and residual.max() <= tol):
        return
    bad = unconverged if unconverged.size else np.flatnonzero(residual > tol)
    raise ConvergenceError(
        f"{what} did not converge at {bad.size} point(s); worst scaled residual "
        f"{residual.max():.3e}",
        residual=float(residual.max()),
        where=bad,
    )
