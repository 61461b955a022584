r"""Deterministic-equivalent ICL and IDG errors of ridge-pretrained linear attention.

Theory of Lu, Letey, Zavatone-Veth, Maiti & Pehlevan, "Asymptotic theory of in-context learning
by linear attention" (arXiv:2405.11751; PNAS 2025), in the toolkit's conventions:

* covariates ``x ~ N(0, I_d/d)``, tasks ``w ~ N(0, I_d)``, labels ``y = <x, w> + noise`` with
  noise **variance** ``rho``;
* context length ``ell = alpha d``, ``k = kappa d`` pretraining tasks (``kappa = inf``: a fresh
  task per context), ``n = tau d^2`` pretraining contexts;
* the reduced linear-attention predictor ``y_hat = x_{ell+1}^T Gamma h`` with
  ``Gamma in R^{d x (d+1)}``, fitted by ridge with penalty ``(n/d) lambda ||Gamma||_F^2``
  (``lambda`` is the ``ridge`` argument);
* errors are expected squared query errors **including** the noise (``e >= rho``; the zero
  predictor scores ``1 + rho``), in the limit ``d -> inf`` at fixed ``(tau, alpha, kappa, rho,
  lambda)``. ICL tests on a fresh task, IDG on a task drawn from the pretraining pool.

Formulas (``q* = (1 + rho)/alpha``; ``M_kappa``, ``M'_kappa`` the Marchenko--Pastur resolvent and
its derivative, see :mod:`rmt_icl.theory._marchenko_pastur`):

* fixed point (``lambda > 0``): ``1 - tau + tau lambda/eps = eps M_kappa(eps + q*)``, a unique
  root ``eps > lambda``;
* with ``nu = q* + eps``, ``m = M_kappa(nu)``, ``m' = M'_kappa(nu)``::

      c     = [rho + nu - nu^2 m - eps (1 - 2 nu m - nu^2 m')] / [tau - 1 + 2 eps m + eps^2 m']
      e_ICL = (1 + q*) [1 - 2 nu m - nu^2 m' + c (m + eps m')] - 2 (1 - nu m) + 1 + rho
      e_IDG = tau c

* ridgeless (``lambda -> 0+``) closed forms on both sides of the interpolation threshold
  ``tau = 1``, where both errors diverge (returned as ``inf``).

Standing: the ICL formulas and the ridgeless IDG closed forms come from the authors' public code
and were checked numerically; ``e_IDG = tau c(lambda)`` for ``lambda > 0`` is an *inference*
(see :func:`linear_attention_idg_error`). Details, decisions and measured checks:
``docs/theory/linear_attention.md``.

Nonlinear targets (``target=`` of the ICL and IDG errors): labels ``y = g(s) + eps``,
``s = <x, w> ~ N(0, 1)``. Write ``y = E g + a_1 s + r(s) + eps`` with ``a_1 = E[g(s) s]`` and
``E r = E[r s] = 0``. The predictor ``x_q^T Gamma h`` is linear (odd) in the query and has **no
intercept**: under ``x_q -> -x_q`` (which leaves the law of the data and ``h`` unchanged) the
feature ``x_q (x) h`` flips sign while the even part of ``y_q`` (``E g`` included) does not, so
in the fit and at test that part is sign-symmetric noise of its variance, and the odd rest of
``r`` is uncorrelated with every feature linear in ``x_q`` given the context. On the context side
``h`` is ``a_1`` times the statistic of a linear target whose noise makes ``E y^2`` the label
second moment. Hence the labels act as ``a_1 (s + eps')`` with ``Var eps' = rho' = E y^2/a_1^2 -
1`` (``V = E y^2``, not ``Var y``), ``alpha`` unchanged, and, since ``Gamma`` is unchanged, ridge
``lambda/a_1^2``: ``e(g) = a_1^2 e(alpha, tau, kappa, rho', lambda/a_1^2)``, ICL and IDG alike.
The reduction is the random transformer's (:mod:`rmt_icl.theory._target_reduction`) without an
intercept; ``a_1 = 0`` raises ``NotImplementedError``.

Calling convention (all of :mod:`rmt_icl.theory`): ``target`` (default ``"linear"``) may be
positional; the ratios are keyword-only, documented in the order ``alpha, tau, kappa, rho,
ridge``; scalar input gives a numpy float, array input an array of the broadcast shape.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rmt_icl.core.checks import check_nonnegative, check_positive
from rmt_icl.core.errors import ConvergenceError
from rmt_icl.theory._conventions import broadcast_flat, shape_out
from rmt_icl.theory._marchenko_pastur import mp_all, mp_resolvent
from rmt_icl.theory._root import check_converged, log_newton
from rmt_icl.theory._target_reduction import check_learnable, effective_problem, target_moments

__all__ = [
    "LinearAttentionAuxiliaries",
    "linear_attention_auxiliaries",
    "linear_attention_fixed_point",
    "linear_attention_icl_error",
    "linear_attention_idg_error",
]

_RTOL = 1e-14  # relative tolerance on eps of the root finder
_MAXITER = 200
_RESIDUAL_TOL = 1e-10  # accepted scaled residual of the fixed-point equation


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------
def _validate(alpha, tau, kappa, rho, ridge):
    """Check ranges and broadcast: ``(shape, [tau, alpha, kappa, rho, ridge] flat float64)``.

    The flat arrays come in the order of the internal solvers (``tau`` first).
    """
    alpha = check_positive("alpha", alpha)
    tau = check_positive("tau", tau)
    kappa = check_positive("kappa", kappa, allow_inf=True)
    rho = check_nonnegative("rho", rho)
    ridge = check_nonnegative("ridge", ridge)
    return broadcast_flat(tau, alpha, kappa, rho, ridge)


# --------------------------------------------------------------------------------------------
# fixed point
# --------------------------------------------------------------------------------------------
def _ridgeless_eps(tau, q, kappa):
    """``eps(lambda -> 0+)``: ``(1 - tau)/(tau M_{kappa/tau}(q*))`` for tau < 1, else 0."""
    eps = np.zeros_like(tau)
    below = tau < 1.0
    if below.any():
        t = tau[below]
        eps[below] = (1.0 - t) / (t * mp_resolvent(q[below], kappa[below] / t))
    return eps


def _fixed_point_residual(eps, tau, q, kappa, lam):
    """Return ``f(eps) = eps M(eps+q) - (1 - tau) - tau lam/eps`` and ``eps f'(eps)``."""
    m, dm, _ = mp_all(eps + q, kappa)
    pen = tau * lam / eps
    f = eps * m - (1.0 - tau) - pen
    dfdu = eps * m + eps * eps * dm + pen  # derivative with respect to u = log(eps)
    scale = 1.0 + np.abs(1.0 - tau) + pen
    return f, dfdu, scale


def _solve_ridge_fixed_point(tau, q, kappa, lam):
    """Vectorised safeguarded Newton (in ``log eps``) with a maintained bracket.

    All inputs are flat arrays with ``lam > 0``. ``f(eps) = eps M(eps+q) - 1 + tau -
    tau lam/eps`` increases strictly from ``-inf`` to ``tau``, so the root is unique. Bracket:
    ``f(lam) = lam M(lam+q) - 1 < 0``; by Jensen (the MP law has mean 1, ``s -> eps/(s+q+eps)``
    is convex) ``eps M(eps+q) >= eps/(1+q+eps)``, which gives ``f(hi) >= 0`` for
    ``hi = max(2 lam, 2 (1+q)/tau)``. A Newton step leaving the bracket is replaced by
    bisection in ``log eps``.
    """
    lo = np.log(lam.copy())
    hi_eps = np.maximum(2.0 * lam, 2.0 * (1.0 + q) / tau)
    # Safeguard against rounding at the Jensen bound: expand until f(hi) >= 0.
    for _ in range(64):
        f_hi, _, _ = _fixed_point_residual(hi_eps, tau, q, kappa, lam)
        bad = f_hi < 0
        if not bad.any():
            break
        hi_eps[bad] *= 2.0
    else:  # pragma: no cover - cannot happen for valid input
        raise ConvergenceError("could not bracket the ridge fixed point", residual=float("nan"))
    hi = np.log(hi_eps)

    # Initial guess from the small-lambda asymptotics, clipped into the bracket.
    guess = _ridgeless_eps(tau, q, kappa)  # tau < 1: eps -> eps*
    above = tau > 1.0
    guess[above] = tau[above] * lam[above] / (tau[above] - 1.0)  # tau > 1: eps ~ tau lam/(tau-1)
    near = np.abs(tau - 1.0) < 0.1  # tau ~ 1: eps ~ sqrt(lam / M(q*))
    guess[near] = np.maximum(guess[near], np.sqrt(lam[near] / mp_resolvent(q[near], kappa[near])))
    u = np.clip(np.log(np.maximum(guess, 1e-300)), lo, hi)
    u = np.where((u <= lo) | (u >= hi), 0.5 * (lo + hi), u)

    eps, active = log_newton(
        lambda x, sel: _fixed_point_residual(x, tau[sel], q[sel], kappa[sel], lam[sel]),
        lo, hi, u, rtol=_RTOL, maxiter=_MAXITER)

    f, _, scale = _fixed_point_residual(eps, tau, q, kappa, lam)
    check_converged(np.abs(f) / scale, active, "ridge fixed point", tol=_RESIDUAL_TOL)
    return eps


def _eps_flat(tau, q, kappa, lam):
    eps = _ridgeless_eps(tau, q, kappa)
    pos = lam > 0
    if pos.any():
        try:
            eps[pos] = _solve_ridge_fixed_point(tau[pos], q[pos], kappa[pos], lam[pos])
        except ConvergenceError as exc:  # report flat indices of the caller's broadcast input
            where = None if exc.where is None else np.flatnonzero(pos)[exc.where]
            raise ConvergenceError(str(exc), residual=exc.residual, where=where) from exc
    return eps


# --------------------------------------------------------------------------------------------
# auxiliary quantities and the general-lambda formulas
# --------------------------------------------------------------------------------------------
class LinearAttentionAuxiliaries(NamedTuple):
    """Auxiliary quantities of the linear-attention deterministic equivalent (all arrays).

    Attributes
    ----------
    epsilon : ndarray
        Fixed-point solution ``eps`` (ridgeless: ``eps*`` for ``tau < 1``, 0 for ``tau >= 1``).
    nu : ndarray
        ``nu = q* + eps``.
    m : ndarray
        ``M_kappa(nu)``.
    m_prime : ndarray
        ``M'_kappa(nu)``.
    c : ndarray
        The coefficient ``c`` (``e_IDG = tau c``; ``inf`` at ``tau = 1`` with zero ridge).
    q_star : ndarray
        ``q* = (1 + rho)/alpha``.
    """

    epsilon: np.ndarray
    nu: np.ndarray
    m: np.ndarray
    m_prime: np.ndarray
    c: np.ndarray
    q_star: np.ndarray


def _aux_flat(tau, alpha, kappa, rho, lam):
    q = (1.0 + rho) / alpha
    eps = _eps_flat(tau, q, kappa, lam)
    nu = q + eps
    m, dm, comp = mp_all(nu, kappa)  # comp = 1 - nu m, computed stably
    num = rho + nu * comp - eps * (2.0 * comp - 1.0 - nu * nu * dm)
    den = tau - 1.0 + 2.0 * eps * m + eps * eps * dm
    singular = (lam == 0) & (tau == 1.0)
    c = np.empty_like(tau)
    ok = ~singular
    c[ok] = num[ok] / den[ok]
    c[singular] = np.inf
    return LinearAttentionAuxiliaries(eps, nu, m, dm, c, q), comp


def _icl_general_flat(aux: LinearAttentionAuxiliaries, comp, rho):
    """General-lambda ICL formula (Lu et al. 2024, Result 1) from the auxiliaries."""
    eps, nu, m, dm, c, q = aux
    out = np.full_like(c, np.inf)
    ok = np.isfinite(c)
    e, n_, m_, d_, c_, q_, t_ = eps[ok], nu[ok], m[ok], dm[ok], c[ok], q[ok], comp[ok]
    out[ok] = (
        (1.0 + q_) * (2.0 * t_ - 1.0 - n_ * n_ * d_ + c_ * (m_ + e * d_)) - 2.0 * t_ + 1.0 + rho[ok]
    )
    return out


def linear_attention_fixed_point(*, alpha, tau, kappa, rho, ridge=0.0):
    r"""Solution ``eps`` of the linear-attention ridge fixed point.

    For ``lambda > 0``, ``eps > 0`` is the unique root of

    .. math:: 1 - \tau + \tau\lambda/\varepsilon = \varepsilon\, M_\kappa(\varepsilon + q^*),
              \qquad q^* = (1+\rho)/\alpha,

    found by a vectorised safeguarded Newton iteration in ``log eps`` with a maintained bracket
    ``(lambda, max(2 lambda, 2(1+q*)/tau))`` (relative accuracy ~1e-14). The left side decreases
    from ``+inf`` to ``1 - tau`` and the right side increases from 0 to 1, so the root is unique.
    For ``lambda = 0`` the limit ``lambda -> 0+`` is returned: ``eps* = (1 - tau)/(tau
    M_{kappa/tau}(q*))`` for ``tau < 1`` and 0 for ``tau >= 1``.

    Parameters
    ----------
    alpha : array_like
        Context length ``ell/d``, in ``(0, inf)``.
    tau : array_like
        Pretraining size ``n/d^2``, in ``(0, inf)``.
    kappa : array_like
        Task diversity ``k/d``, in ``(0, inf]`` (``np.inf``: a fresh task per context).
    rho : array_like
        Label-noise variance, in ``[0, inf)``.
    ridge : array_like, optional
        Ridge ``lambda`` of the penalty ``(n/d) lambda ||Gamma||_F^2``, in ``[0, inf)``.

    Returns
    -------
    ndarray or float
        ``eps`` broadcast over the arguments.

    Raises
    ------
    ValueError
        If an argument is out of range or NaN.
    rmt_icl.core.errors.ConvergenceError
        If the root finder fails (carries the scaled residual).
    """
    shape, (tau, alpha, kappa, rho, lam) = _validate(alpha, tau, kappa, rho, ridge)
    q = (1.0 + rho) / alpha
    return shape_out(_eps_flat(tau, q, kappa, lam), shape)


def linear_attention_auxiliaries(*, alpha, tau, kappa, rho,
                                 ridge=0.0) -> LinearAttentionAuxiliaries:
    r"""All auxiliary quantities ``(eps, nu, m, m', c, q*)`` of the deterministic equivalent.

    ``q* = (1+rho)/alpha``; ``eps`` from :func:`linear_attention_fixed_point`; ``nu = q* +
    eps``; ``m = M_kappa(nu)``, ``m' = M'_kappa(nu)``; and

    .. math:: c = \frac{\rho + \nu - \nu^2 m - \varepsilon(1 - 2\nu m - \nu^2 m')}
                       {\tau - 1 + 2\varepsilon m + \varepsilon^2 m'},

    evaluated with the stable complement ``1 - nu m = m/(1 + m/kappa)``. At ``tau = 1`` with
    zero ridge, ``c = inf`` (interpolation peak). The random-transformer equivalent
    (:mod:`rmt_icl.theory.random_transformer`) is built on these quantities.

    Parameters
    ----------
    alpha, tau, kappa, rho, ridge : array_like
        As in :func:`linear_attention_icl_error`.

    Returns
    -------
    LinearAttentionAuxiliaries
        Named tuple ``epsilon, nu, m, m_prime, c, q_star`` of arrays broadcast over the
        arguments (numpy floats for scalar input).
    """
    shape, args = _validate(alpha, tau, kappa, rho, ridge)
    aux, _ = _aux_flat(*args)
    return LinearAttentionAuxiliaries(*(shape_out(a, shape) for a in aux))


# --------------------------------------------------------------------------------------------
# ridgeless closed forms
# --------------------------------------------------------------------------------------------
def _icl_ridgeless_flat(tau, alpha, kappa, rho):
    q = (1.0 + rho) / alpha
    out = np.full_like(tau, np.inf)
    above = tau > 1.0
    if above.any():
        t, qq, r = tau[above], q[above], rho[above]
        m, dm, comp = mp_all(qq, kappa[above])  # comp = 1 - q m
        c = (r + qq * comp) / (t - 1.0)
        out[above] = (1.0 + qq) * (2.0 * comp - 1.0 - qq * qq * dm + m * c) - 2.0 * comp + 1.0 + r
    below = tau < 1.0
    if below.any():
        t, qq, r = tau[below], q[below], rho[below]
        _, _, one_minus_mu = mp_all(qq, kappa[below] / t)  # 1 - mu*, mu* = q M_{kappa/tau}(q)
        mu = 1.0 - one_minus_mu
        out[below] = (
            t * (1.0 + qq) / (1.0 - t) * (1.0 - t * one_minus_mu**2 + mu * (r / qq - 1.0))
            - 2.0 * t * one_minus_mu
            + 1.0
            + r
        )
    return out


def _idg_ridgeless_flat(tau, alpha, kappa, rho):
    q = (1.0 + rho) / alpha
    out = np.full_like(tau, np.inf)
    above = tau > 1.0
    if above.any():
        t, qq = tau[above], q[above]
        _, _, comp = mp_all(qq, kappa[above])
        out[above] = t * (rho[above] + qq * comp) / (t - 1.0)
    below = tau < 1.0
    if below.any():
        t, qq, r, k = tau[below], q[below], rho[below], kappa[below]
        eps = _ridgeless_eps(t, qq, k)
        inv_k = 1.0 / k  # 0 at kappa = inf
        b = eps / (1.0 - t)
        # C = [1 - kappa (1 + kappa b)^-2]^-1, written to be exact at kappa = inf
        C = 1.0 / (1.0 - inv_k / (inv_k + b) ** 2)
        out[below] = t * (
            (qq + eps) ** 2 / eps
            + (r + qq - 2.0 * qq * (1.0 - t) * (qq / eps + 1.0)) / (1.0 - t - C * (1.0 - t) ** 2)
        )
    return out


# --------------------------------------------------------------------------------------------
# public errors
# --------------------------------------------------------------------------------------------
def _by_ridge(alpha, tau, kappa, rho, ridge, ridgeless, general):
    """An error evaluated by its ridgeless closed form where ``ridge == 0``, else generally.

    ``ridgeless(tau, alpha, kappa, rho)`` and ``general(aux, comp, tau, rho)`` (``aux, comp``
    from :func:`_aux_flat`) act on the flat points of each kind; the result has the broadcast
    shape of the arguments.
    """
    shape, (tau, alpha, kappa, rho, lam) = _validate(alpha, tau, kappa, rho, ridge)
    out = np.empty_like(tau)
    zero = lam == 0
    if zero.any():
        out[zero] = ridgeless(tau[zero], alpha[zero], kappa[zero], rho[zero])
    pos = ~zero
    if pos.any():
        aux, comp = _aux_flat(tau[pos], alpha[pos], kappa[pos], rho[pos], lam[pos])
        out[pos] = general(aux, comp, tau[pos], rho[pos])
    return shape_out(out, shape)


_LA_TARGET_REASON = ("linear attention's predictor x_q^T Gamma h is linear in the query and "
                     "learns only the part of g linear in s")


def _with_target(target, alpha, tau, kappa, rho, ridge, ridgeless, general):
    """:func:`_by_ridge` for labels ``y = g(s) + eps`` (module docstring, "Nonlinear targets").

    The built-in linear target is evaluated directly. Any other target is reduced to its
    effective linear problem without an intercept: ``a_1^2 e(alpha', tau, kappa, rho',
    ridge/a_1^2)`` with ``rho' = E y^2/a_1^2 - 1`` and ``alpha' = (1 + rho')/q*'`` (``= alpha``
    up to rounding), by :mod:`rmt_icl.theory._target_reduction`.
    """
    mom = target_moments(target)
    if mom.is_linear:
        return _by_ridge(alpha, tau, kappa, rho, ridge, ridgeless, general)
    check_learnable(mom, _LA_TARGET_REASON)
    shape, (tau, alpha, kappa, rho, lam) = _validate(alpha, tau, kappa, rho, ridge)
    eff = effective_problem(mom, alpha, rho, intercept=False)
    # rho' = E y^2/a_1^2 - 1 >= 0 (Cauchy-Schwarz); clip the rounding of a linear callable
    out = _by_ridge(eff.alpha, tau, kappa, np.maximum(eff.rho, 0.0), lam / eff.a1sq,
                    ridgeless, general)
    return shape_out(eff.a1sq * out, shape)


_PARAMS_DOC = """
    Parameters
    ----------
    target : str, callable or Target, optional
        Label function ``g`` of ``s = <x, w> ~ N(0, 1)``, labels ``y = g(s) + eps``: a name of
        :mod:`rmt_icl.core.targets` (``"linear"``, the default, ``"relu"``, ``"tanh"``,
        ``"tanh:A"``, ...; not the one-step-GD/LSA ``signed:`` family), another activation name
        of :mod:`rmt_icl.hermite` used as a label function, a callable ``g`` or a
        :class:`rmt_icl.core.targets.Target`. A nonlinear target is reduced to the linear one
        (module docstring, "Nonlinear targets"); it needs ``a_1 = E[g(s) s] != 0``.
    alpha : array_like
        Context length ``alpha = ell/d``, in ``(0, inf)``.
    tau : array_like
        Pretraining size ``tau = n/d^2``, in ``(0, inf)``; the interpolation threshold is 1.
    kappa : array_like
        Task diversity ``kappa = k/d``, in ``(0, inf]``; ``np.inf`` means a fresh task for
        every pretraining context (``M_inf(x) = 1/(1+x)``).
    rho : array_like
        Label-noise variance, in ``[0, inf)``.
    ridge : array_like, optional
        Ridge ``lambda >= 0`` of the pretraining penalty ``(n/d) lambda ||Gamma||_F^2``.
        ``0`` (default) means the ridgeless limit ``lambda -> 0+``.

    ``target`` may be positional; all other arguments are keyword-only and broadcast against
    each other (numpy rules).

    Returns
    -------
    ndarray or float
        The error (including the noise ``rho``), broadcast over the arguments; a numpy float
        for scalar input. ``inf`` where ``tau == 1`` and ``ridge == 0``.

    Raises
    ------
    ValueError
        If ``tau``, ``alpha`` or ``kappa`` is not positive, ``rho`` or ``ridge`` is negative,
        or any argument is NaN (or infinite, except ``kappa``), or ``target`` is not a target
        (or returns non-finite values). The message names the parameter.
    NotImplementedError
        For a target with ``a_1 = E[g(s) s] = 0`` (nothing the predictor can learn; the
        reduction divides by ``a_1``).
    rmt_icl.core.errors.ConvergenceError
        If the fixed-point solver fails (carries the scaled residual).
"""


def linear_attention_icl_error(target="linear", *, alpha, tau, kappa, rho, ridge=0.0):
    r"""Deterministic-equivalent ICL test error of ridge-pretrained linear attention.

    ICL: the test task is a fresh ``w ~ N(0, I_d)``. With ``q* = (1+rho)/alpha`` and the
    auxiliaries ``eps, nu = q* + eps, m = M_kappa(nu), m' = M'_kappa(nu), c`` of
    :func:`linear_attention_auxiliaries`,

    .. math::

        e_{ICL} = (1 + q^*)\,[1 - 2\nu m - \nu^2 m' + c\,(m + \varepsilon m')]
                  - 2(1 - \nu m) + 1 + \rho .

    ``ridge > 0`` solves the fixed point (vectorised). ``ridge = 0`` uses the ridgeless closed
    forms (``m* = M_kappa(q*)``, ``mu* = q* M_{kappa/tau}(q*)``):

    * ``tau > 1``: ``(1+q*)[1 - 2q*m* - q*^2 m*' + m*(rho + q* - q*^2 m*)/(tau-1)]
      - 2(1 - q*m*) + 1 + rho``;
    * ``tau < 1``: ``tau(1+q*)/(1-tau) [1 - tau(1-mu*)^2 + mu*(rho/q* - 1)] - 2 tau(1-mu*)
      + 1 + rho``;
    * ``tau = 1``: ``inf`` (sample-wise double-descent peak; any ``ridge > 0`` removes it).

    Standing: authors' public code (Lu et al. 2024, "Result 1"), checked numerically and by
    Monte Carlo (``docs/theory/linear_attention.md``, "ICL error").
    """
    return _with_target(target, alpha, tau, kappa, rho, ridge, _icl_ridgeless_flat,
                        lambda aux, comp, tau, rho: _icl_general_flat(aux, comp, rho))


def linear_attention_idg_error(target="linear", *, alpha, tau, kappa, rho, ridge=0.0):
    r"""Deterministic-equivalent IDG (in-distribution) test error of linear attention.

    IDG: the test task is drawn uniformly from the ``k = kappa d`` pretraining tasks (fresh
    covariates and noise).

    * ``ridge = 0`` (closed forms, authors' public code, checked numerically):
      ``tau > 1``: ``tau (rho + q*(1 - q* m*))/(tau - 1)``;
      ``tau < 1``: with ``eps = eps*`` and ``C = [1 - kappa (1 + kappa eps/(1-tau))^-2]^-1``,
      ``tau [(q*+eps)^2/eps + (rho + q* - 2q*(1-tau)(q*/eps + 1))/(1 - tau - C(1-tau)^2)]``;
      ``tau = 1``: ``inf``. Both branches equal ``tau c`` at ``lambda = 0``.
    * ``ridge > 0``: ``e_IDG = tau c(lambda)`` with ``c`` from
      :func:`linear_attention_auxiliaries`.

    .. warning::

       Standing of the ``ridge > 0`` formula: **inferred, not derived**. No general-ridge IDG
       formula was found in the authors' code; ``tau c(lambda)`` is the natural extension of
       the exact ridgeless identity ``e_IDG = tau c(0)``. Supporting evidence
       (``docs/theory/linear_attention.md``, "IDG error"): at ``kappa = inf`` (where IDG and
       ICL coincide) ``tau c(lambda)`` equals ``e_ICL(lambda)`` to ~1e-12 (also a test of this
       module), and finite-d Monte Carlo at ``lambda in {0.1, 1}`` agrees within 0.2--1.2 % at
       d = 80--100. An independent Monte Carlo verification is the simulation module's job.
    """
    return _with_target(target, alpha, tau, kappa, rho, ridge, _idg_ridgeless_flat,
                        lambda aux, comp, tau, rho: tau * aux.c)


linear_attention_icl_error.__doc__ += _PARAMS_DOC
linear_attention_idg_error.__doc__ += _PARAMS_DOC
