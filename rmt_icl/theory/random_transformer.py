r"""Deterministic-equivalent ICL error of the random transformer (RT) and its p = 1 model.

The random transformer (Demir & Dogan 2025; ``docs/theory/random_transformer.md``) is

    y_hat(Z) = a^T sigma(F vec H_Z) / sqrt(k),     F in R^{k x D}, rows f_r ~ N(0, I_D / t),

with ``vec H_Z = x_q (x) h in R^D``, ``D = d(d+1)``, ``t = Tr Cov(vec H_Z)`` and ``a`` fitted by
ridge with the toolkit's ``ridge`` = ``lambda_bar``:
``a = (Phi^T Phi + lambda_bar I_k)^{-1} Phi^T y``, ``Phi = sigma(X F^T)/sqrt(k)``. Ratios:
``ell = alpha d``, ``K = kappa d`` tasks, ``n = tau d^2`` prompts, ``k = psi n`` neurons
(``psi`` = ``width_ratio``), so ``k/d^2 -> pi = psi tau`` and ``D/d^2 -> 1``.

``sigma = identity`` and the linear target (docs, section 1)
------------------------------------------------------------
For ``sigma = identity`` the RT is the linear-attention predictor ``x_q^T Gamma h`` with
``vec Gamma = beta = S a``, ``S = F^T/sqrt(k)``: a **sketched ridge regression** on ``vec H``,

    beta = S (S^T A S + lambda_bar I_k)^{-1} S^T b,     A = X^T X,  b = X^T y.

Conditionally on the data ``(A, b)`` the sketch ``S`` is an i.i.d. Gaussian matrix independent
of everything else, so the deterministic equivalents of sketched ridge regression (LeJeune,
Patil, Javanmard, Baraniuk & Tibshirani, arXiv:2211.03751; Patil & LeJeune, arXiv:2310.04357;
equivalently the S-transform renormalisation of Atanasov, Zavatone-Veth & Pehlevan,
arXiv:2405.00592, and Bach, arXiv:2303.01372) hold for **any** data matrix; with
``A_t = A/t``:

* first order: ``S (S^T A S + lambda_bar)^{-1} S^T ~ (A + t mu)^{-1}``, where ``mu`` solves
  ``mu (1 - tr[A_t (A_t + mu)^{-1}]/k) = lambda_bar``;
* second order (derivative of the first order along ``A -> A - z Q``):
  ``E_S beta^T Q beta ~ b^T (A+t mu)^{-1} Q (A+t mu)^{-1} b + gamma_Q ||(A + t mu)^{-1} b||^2``,
  ``gamma_Q = mu^2 tr[(A_t+mu)^{-2} Q]/k / (1 - tr[A_t^2 (A_t+mu)^{-2}]/k)``.

So, given the data, the RT is the linear-attention ridge estimator at the **renormalised**
ridge ``t mu`` plus a variance inflation proportional to its squared norm. The data average is
then Lu et al.'s deterministic equivalent (:mod:`rmt_icl.theory.linear_attention`), whose fixed
point ``eps(lambda)`` also gives the sample degrees of freedom
``df_1 = tr[A (A + (n/d) lambda)^{-1}] = n (1 - lambda/eps)`` and
``df_2 = df_1 + lambda d(df_1)/d lambda``. In units of ``d^2`` the result is:

1. nominal LA ridge ``lambda_0 = (t/d) lambda_bar / tau`` (the link ``lambda_LA = d t
   lambda_bar / n``; ``t/d -> 1 + q*`` for the linear target, ``q* = (1+rho)/alpha``);
2. joint fixed point for ``eps > eps_0`` (``eps_0``: root of ``eps M_kappa(eps + q*) =
   1 - min(tau, pi)``, 0 if ``min(tau, pi) >= 1``), with ``m = M_kappa(eps + q*)``,

       eps (1 - (1 - eps m)/tau) (1 - (1 - eps m)/pi) = lambda_0 ;

3. effective LA ridge ``lambda_eff = eps (1 - (1 - eps m)/tau)`` (Lu's fixed point is then
   solved by ``eps`` at ``lambda_eff``);
4. variance factor ``V = [eps m - lambda_eff eps' (m + eps m')] / (pi - df_2)`` with
   ``eps' = d eps/d lambda = (tau/eps)/(m + eps m' + tau lambda_eff/eps^2)`` and
   ``df_2 = tau (1 - 2 lambda_eff/eps + lambda_eff^2 eps'/eps^2)``;
5. ``e_RT = e_LA(lambda_eff) + (1 + q*) N V``, where ``N = lim ||Gamma_LA||_F^2/d`` is read
   off Lu's formula: ``e_LA = 1 + rho - 2 T + (1 + q*) N`` with ``T = lim tr(G)/d = 1 - nu m``.

Standing: the two ingredients are theorems (sketched-ridge equivalence conditional on the data;
Lu et al.'s equivalence for the data), and their composition was checked by Monte Carlo of the
identity RT with the exact test error (``docs/theory/random_transformer.md``,
``tests/test_theory_random_transformer.py``). What is approximate: finite-``d`` corrections
(the y^2 column of ``vec H`` adds ``d`` of ``D = d^2 + d`` dimensions, Lu's ``O(1/d)`` gap).

The Gaussian-equivalent (p = 1) model (``model="hermite1"``; docs, section 5)
-----------------------------------------------------------------------------
Features ``(mu0 + mu1 F vec H + mu* z)/sqrt(k)`` with ``mu0 = c_0``, ``mu1 = c_1``,
``mu*^2 = c*_1^2`` of the activation and ``z`` fresh noise. Conditionally on the data this is
a Gaussian sketch of the augmented design ``[mu1 X/sqrt(t), mu* I_n]`` (kernel
``K = mu1^2 X X^T/t + mu*^2 I``), so the same two equivalences apply: linear attention at the
effective ridge ``lambda_eff = s (mu + mu*^2)/(tau mu1^2)``, plus variance terms that involve
``||Gamma_LA||^2`` and linear attention's **training error**, taken in the GCV form
``(lambda_eff/eps)^2 e_train-law`` (the one ingredient not supplied by Lu et al.). The
intercept ``mu0`` is one extra sketched column and carries no signal for the zero-mean linear
target; it is dropped. Validated against the simulated p = 1 model (exact errors) for
``kappa = inf``; whether the RT with a nonlinear activation equals its p = 1 model in this limit
is an equivalence question, answered in the next section.

Nonlinear activations and nonlinear targets (``model="rt"`` for every activation; docs, section 6)
--------------------------------------------------------------------------------------------------
Which Hermite degrees survive in the proportional limit ``n, k ~ D ~ d^2``: **degrees 0 and 1
only** (docs, section 6): the equivalent is that of the degree-1 (Gaussian-equivalent) model.
The measured Hermite degree ``p0`` from which the Hermite models match the RT, per scaling
of the y^2 column and activation class, is one stored study up to ``d = 96``:
``docs/equivalence.md``, "p0: the one answer". Conditionally on the data the RT is
random-features ridge with kernel
``sum_j j! c_j^2 r^j``, ``r = <vec H, vec H'>/t = O(1/d)`` off the diagonal; for ``j >= 2`` the
kernel pieces have no O(1) structure beyond their diagonal (which adds ``j! c_j^2`` to the
noise power ``mu*^2 = c*_1^2``) and their mean (a constant mode, negligible next to ``mu0``),
and the target's degree-``j`` component couples to degree ``j`` of ``sigma`` only with strength
``beta_r^j``, ``beta_r ~ N(0, 1/d)``, which is not learnable from ``n ~ D`` samples. Hence the
RT's error equals its p = 1 equivalent with the target reduced to its learnable part:

* labels ``y = E g + a_1 s + (rest) + eps`` with ``a_1 = E[g(s) s]``; the rest is uncorrelated
  with every feature and acts as label noise;
* the context statistic of ``g`` is ``a_1`` times that of a linear target with
  ``q*' = E y^2/(a_1^2 alpha)`` (the mean and the nonlinear part of the labels enter ``h`` as
  isotropic noise);
* the constant mode fits ``E g`` when ``mu0 = c_0 != 0`` (eigenvalue ``n mu0^2 >> lambda_bar``);
  an odd ``sigma`` cannot fit it (the predictor is odd in the query).

In Demir & Dogan's scaling of the y^2 column (``y2_scale="companion"``, the default; docs,
section 10) the y^2 column carries a share ``theta = q^2/(a_1^2 + q/alpha + q^2)`` of the
pre-activation variance; it is a function of the query alone, so the signal block keeps
``mu1^2 (1 - theta)`` and the noise power stays ``c*_1^2``: the same formulas with the
companion ``t/d``. The one new O(1) piece, the quadratic kernel of the queries (weight
``2 c_2^2 theta^2``, zero for odd ``sigma``), is replaced by white noise of the same power,
which is exact to first order in its weight (docs, section 10.2).

So ``e_RT(sigma, g) = a_1^2 e(sigma, linear; alpha', rho')`` with ``rho' = V/a_1^2 - 1``
(``V = Var y`` with an intercept, ``E y^2`` without) and ``alpha' = (1 + rho')/q*'``: Lu's
formula depends on ``alpha`` only through ``q*``, so the query and context roles of the noise
separate through ``alpha'``. Validated against the simulated RT on a grid of activations,
targets, ``tau`` and ``psi`` in both scalings, with the ICL and IDG errors at finite ``kappa``
(:mod:`rmt_icl.experiments.rt_theory`, docs sections 6.4 and 10.4).

Numerical methods: **fixed-point equations** (one scalar equation per grid
point, vectorised safeguarded Newton/bisection in ``log eps`` or ``log mu``; Lu's fixed point
through :mod:`rmt_icl.theory.linear_attention`), **Marchenko--Pastur transforms** (``M_kappa``,
``M'_kappa``) and **low-dimensional Gaussian integrals via the Hermite engine**
(:func:`rmt_icl.hermite.hermite_expansion`: ``c_0, c_1, c*_1`` of ``sigma``; ``E g, a_1, E g^2``
of a target given as a callable or an activation name; the targets of
:mod:`rmt_icl.core.targets` take their stored moments, the ones the simulator samples with).
No Monte Carlo.

Calling convention (all of :mod:`rmt_icl.theory`): ``activation`` and ``target`` are positional;
the ratios are keyword-only, documented in the order ``alpha, tau, kappa, width_ratio, rho,
ridge``; scalar input gives numpy floats, array input arrays of the broadcast shape.

Activations: a name registered in :mod:`rmt_icl.hermite`, an :class:`rmt_icl.hermite.Activation`
(with its parameters) or any callable ``sigma(u)``, all through the Hermite engine (a callable by
adaptive quadrature). Targets: see :mod:`rmt_icl.theory._target_reduction` (shared with linear
attention's ``target=``).

The ridgeless limit (``ridge = 0``; docs, section 7): ``lambda_bar -> 0+`` of the equivalent,
solved directly. It is infinite exactly at the interpolation threshold ``min(k, rank) = n``:
for the identity (any affine ``sigma``) ``min(pi, 1) = tau`` (``k = n <= D`` or ``n = D <= k``),
i.e. ``psi = 1`` with ``tau <= 1`` or ``tau = 1`` with ``psi >= 1``; for a ``sigma`` with
feature noise ``mu* > 0`` the kernel has full rank ``n`` for every ``tau``, and the threshold is
``psi = 1`` (``k = n``) only.

Not covered (raises ``NotImplementedError``): targets with ``a_1 = 0`` (nothing learnable; the
error is that of fitting noise), activations with ``mu1 = 0``, and a target with ``E g != 0``
under a ``sigma`` with ``mu0 = 0`` that is not odd (its constant mode fits the mean partially).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rmt_icl.core.checks import check_nonnegative, check_positive
from rmt_icl.core.errors import ConvergenceError
from rmt_icl.hermite import activation_names, get_activation, hermite_expansion
from rmt_icl.theory._conventions import broadcast_flat, shape_out
from rmt_icl.theory._marchenko_pastur import mp_all
from rmt_icl.theory._root import check_converged, log_newton
from rmt_icl.theory._target_reduction import (
    A1_TOL,
    TargetMoments,
    check_learnable,
    effective_problem,
    target_moments,
)
from rmt_icl.theory.linear_attention import (
    linear_attention_auxiliaries,
    linear_attention_fixed_point,
    linear_attention_icl_error,
    linear_attention_idg_error,
)

__all__ = [
    "SUPPORTED_ACTIVATIONS",
    "SUPPORTED_TARGETS",
    "RandomTransformerAuxiliaries",
    "random_transformer_auxiliaries",
    "random_transformer_icl_error",
    "random_transformer_idg_error",
]

#: activations validated against the simulated RT (any activation with c_1 != 0 is accepted: a
#: registered name, an Activation or a callable; docs sections 6.4 and 8)
SUPPORTED_ACTIVATIONS = ("identity", "relu", "tanh", "erf")
#: targets validated against the simulated RT (any target with E[g(s) s] != 0 is accepted)
SUPPORTED_TARGETS = ("linear", "relu", "tanh")

_RTOL = 1e-14
_MAXITER = 300
_RESIDUAL_TOL = 1e-10


class RandomTransformerAuxiliaries(NamedTuple):
    """Auxiliary quantities of the identity-RT deterministic equivalent (arrays).

    Attributes
    ----------
    error : ndarray
        ICL error ``e_RT`` (noise included).
    la_error : ndarray
        Lu et al.'s ICL error at the renormalised ridge, ``e_LA(lambda_eff)``.
    variance_term : ndarray
        The extra "variance due to the features", ``(1 + q*) N V = e_RT - e_LA(lambda_eff)``
        (``inf``, like ``error`` and ``variance_factor``, at the ridgeless interpolation
        threshold).
    lambda_la_nominal : ndarray
        ``lambda_0 = (t/d) lambda_bar / tau``, the LA ridge the RT tends to as ``psi -> inf``.
    lambda_la_effective : ndarray
        Renormalised LA ridge ``lambda_eff >= lambda_0``.
    epsilon : ndarray
        Joint fixed-point root ``eps`` (= Lu's ``eps`` at ``lambda_eff``).
    variance_factor : ndarray
        ``V = [mu^2 tr (A_t + mu)^{-2}/k] / [1 - df_2/k]`` (dimensionless, ``-> 0`` as
        ``psi -> inf``).
    norm : ndarray
        ``N = lim ||Gamma_LA(lambda_eff)||_F^2 / d``.
    df1 : ndarray
        Sample degrees of freedom ``tr[A (A + t mu)^{-1}] / d^2``.
    df2 : ndarray
        ``tr[A^2 (A + t mu)^{-2}] / d^2``.
    train_error : ndarray or None
        Gaussian-equivalent model only: the deterministic equivalent of linear attention's
        training mean squared error at ``lambda_eff`` (GCV form, ``(lambda_eff/eps)^2`` times
        the error on the training law); ``None`` for the identity (and for an affine
        ``sigma`` at ``ridge = 0``, which takes the identity's limit; NaN there when other
        points of the same call have ``ridge > 0``).
    idg_error : ndarray
        IDG error ``e_IDG`` (test tasks drawn from the pretraining pool; equals ``error`` for
        ``kappa = inf``): the same sketch equivalent with the pool's test covariance
        (docs, section 9).
    la_idg_error : ndarray
        Lu et al.'s IDG error at the renormalised ridge, ``e_LA,IDG(lambda_eff)``.
    target_scale : ndarray
        ``a_1^2 = E[g(s) s]^2``: ``error``, ``la_error``, ``variance_term``, ``train_error``
        and the two IDG errors
        are ``a_1^2`` times those of the effective linear problem (section 6 of the docs); the
        other fields (ridges, ``epsilon``, factors, ``norm``) belong to the effective problem.
    alpha_effective, rho_effective : ndarray
        The effective linear problem's ``alpha' = (1 + rho')/q*'`` and label noise ``rho'``
        (``q*' = E y^2/(a_1^2 alpha)``; ``rho' = V/a_1^2 - 1`` with ``V = Var y`` if the
        constant mode fits the mean, else ``E y^2``). Equal to ``alpha, rho`` for the linear
        target.
    intercept : bool
        Whether the constant mode (``mu0 = c_0 != 0``) fits the target mean ``E g``.
    y2_share : ndarray
        ``theta = 1 - (a_1^2 + q/alpha)/(t/d)``: the share of ``t`` carried by the y^2 column
        (0 in linear-attention scaling, ``q^2/(a_1^2 + q/alpha + q^2)`` in the companion's;
        docs, section 10).
    """

    error: np.ndarray
    la_error: np.ndarray
    variance_term: np.ndarray
    lambda_la_nominal: np.ndarray
    lambda_la_effective: np.ndarray
    epsilon: np.ndarray
    variance_factor: np.ndarray
    norm: np.ndarray
    df1: np.ndarray
    df2: np.ndarray
    train_error: np.ndarray | None = None
    idg_error: np.ndarray | None = None
    la_idg_error: np.ndarray | None = None
    target_scale: np.ndarray | None = None
    alpha_effective: np.ndarray | None = None
    rho_effective: np.ndarray | None = None
    intercept: bool = False
    y2_share: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------
MODELS = ("rt", "hermite1")

#: even Hermite coefficients below this (relative to sqrt(E sigma^2)) count as zero (odd sigma)
_ODD_TOL = 1e-10


class _Reduction(NamedTuple):
    """How an (activation, target) pair maps onto the effective linear problem (docs, 6)."""

    activation: str
    mu1: float  # c_1 of sigma
    mus2: float  # c*_1^2 of sigma: every degree >= 2 acts as independent feature noise
    intercept: bool  # the constant mode fits E g (mu0 != 0)
    mean: float  # E g(s)
    a1: float  # E[g(s) s]
    second: float  # E g(s)^2
    linear: bool = False  # c*_1 = 0: sigma is affine (mu* z vanishes; the identity up to scale)


def _resolve_activation(activation):
    """``(name, Hermite expansion to degree 8)`` of an activation; ``None`` for the identity.

    A name goes through :func:`rmt_icl.hermite.hermite_expansion` as a name (``"linear"`` is
    ``"identity"``); an :class:`rmt_icl.hermite.Activation` (with its parameters) or any
    callable ``sigma(u)`` through the same engine, by quadrature for a callable.
    """
    if isinstance(activation, str):
        a = activation.lower()
        if a == "linear":
            a = "identity"
        if a == "identity":
            return a, None
        if a not in activation_names():
            raise ValueError(f"activation must be a callable, an Activation or one of the "
                             f"registered names {activation_names()}, got {activation!r}")
        return a, hermite_expansion(a, 8)
    if callable(activation):  # an Activation, or a user callable (wrapped by the engine)
        act = get_activation(activation)
        if act.key is not None and act.name == "identity":
            return "identity", None
        return act.name, hermite_expansion(act, 8)
    raise ValueError(f"activation must be a callable, an Activation or one of the registered "
                     f"names {activation_names()}, got {activation!r} of type "
                     f"{type(activation).__name__}")


def _check_model(activation, target, model) -> _Reduction:
    """Resolve the activation's Hermite data and the target's moments; raise if unsupported."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    name_a, exp = _resolve_activation(activation)
    mom = target_moments(target)
    check_learnable(mom, "in the proportional limit the random transformer learns only the part "
                    "of g linear in the query (docs/theory/random_transformer.md, section 6)")
    mean, a1, second = mom.mean, mom.a1, mom.second
    if exp is None:
        return _Reduction("identity", 1.0, 0.0, False, mean, a1, second, True)
    c = np.asarray(exp.coefficients, dtype=np.float64)
    c0, c1, c_star = float(c[0]), float(c[1]), float(exp.residuals[1])
    if not abs(c1) > 1e-12:
        raise NotImplementedError(
            f"the deterministic equivalent needs mu1 = E[sigma(G) G] != 0 (the linear "
            f"component carries everything learnable); activation {name_a!r} has mu1 = {c1!r}"
        )
    size = np.sqrt(exp.second_moment)
    odd = bool(np.all(np.abs(c[0::2]) <= _ODD_TOL * size))
    intercept = bool(abs(c0) > _ODD_TOL * size)
    if not odd and not intercept and abs(mean) > A1_TOL:
        raise NotImplementedError(
            f"activation {name_a!r} has mu0 = 0 but even Hermite components, so its constant "
            f"mode has an O(1) eigenvalue and fits the target mean E g = {mean:.6g} only "
            f"partially; the equivalent covers mu0 != 0 (mean fitted) or odd sigma (mean not "
            f"fitted), or a zero-mean target"
        )
    linear = bool(c_star <= _ODD_TOL * size)
    return _Reduction(name_a, c1, c_star**2, intercept, mean, a1, second, linear)


Y2_SCALES = ("la", "companion")


def _y2_weight(y2_scale, d):
    """``w`` in ``t/d -> a_1^2 + q/alpha + w q^2``: the y^2 column's weight (docs, section 10).

    ``"la"`` (linear-attention scaling, column scale 1): ``w = 0`` in the limit (``1/d`` at
    finite ``d``); ``"companion"`` (scale ``sqrt(d)``, Demir & Dogan): ``w = 1``; a number
    ``c > 0`` is a finite-``d`` scale and needs ``d``: ``w = c^2/d``.
    """
    if isinstance(y2_scale, str):
        key = y2_scale.strip().lower()
        if key not in Y2_SCALES:
            raise ValueError(f"y2_scale must be 'la', 'companion' or a positive number "
                             f"(with d), got {y2_scale!r}")
        return 1.0 if key == "companion" else 0.0
    c = check_positive("y2_scale", y2_scale)
    if d is None:
        raise ValueError(
            f"y2_scale = {y2_scale!r} is a finite-d column scale; pass d (the dimension it "
            f"belongs to) or t_over_d, or use the limits 'la' or 'companion' (a number has "
            f"no meaning as d -> inf)")
    d = check_positive("d", d)
    return c * c / d


def _effective_problem(red: _Reduction, alpha, rho, t_over_d, y2_weight):
    """Map (target, alpha, rho, t/d) to the effective linear problem (docs, sections 6.3, 10).

    :func:`rmt_icl.theory._target_reduction.effective_problem` with the intercept of the
    activation's constant mode (``mu0 != 0``), plus the first layer's normalisation
    ``s' = (t/d)/a_1^2``: ``t/d -> a_1^2 + q/alpha + w q^2`` with the y^2 column's weight
    ``w`` (:func:`_y2_weight`) unless a finite-d value is given. Only the share
    ``1 - theta = (a_1^2 + q/alpha)/(t/d)`` of the pre-activation variance carries the
    context; the y^2 column's share ``theta`` is a function of the query alone (docs,
    section 10).
    Returns ``(alpha', rho', s', a_1^2, theta)``.
    """
    mom = TargetMoments("target", red.mean, red.a1, red.second, False)
    eff = effective_problem(mom, alpha, rho, intercept=red.intercept)
    q = red.second + rho
    signal = 1.0 + eff.q_star  # (a_1^2 + q/alpha)/a_1^2
    s_eff = np.where(np.isnan(t_over_d), signal + y2_weight * q * q / eff.a1sq,
                     t_over_d / eff.a1sq)
    theta = np.clip(1.0 - signal / s_eff, 0.0, 1.0)
    return eff.alpha, eff.rho, s_eff, eff.a1sq, theta


def _validate(alpha, tau, kappa, width_ratio, rho, ridge, t_over_d):
    """Check ranges and broadcast: ``(shape, flat float64 arrays in the argument order)``."""
    alpha = check_positive("alpha", alpha)
    tau = check_positive("tau", tau)
    kappa = check_positive("kappa", kappa, allow_inf=True)
    psi = check_positive("width_ratio", width_ratio, allow_inf=True)
    rho = check_nonnegative("rho", rho)
    ridge = check_nonnegative("ridge", ridge)
    # NaN marks "use the limit a_1^2 + q/alpha" (resolved per target in _effective_problem)
    t_over_d = np.nan if t_over_d is None else check_positive("t_over_d", t_over_d)
    return broadcast_flat(alpha, tau, kappa, psi, rho, ridge, t_over_d)


# --------------------------------------------------------------------------------------------
# solver scaffolding shared by the identity RT and the p = 1 model
# --------------------------------------------------------------------------------------------
def _solve_log_newton(residual, lo, hi, widen, what, *, as_x, as_log):
    """Root of an increasing residual by safeguarded Newton in ``log x`` (flat arrays).

    ``residual(x, sel) -> (g, d g/d log x, scale)`` at the points ``sel``; ``lo`` is the log of
    a lower bracket (``g <= 0``). The upper bracket ``hi`` is kept in the caller's own
    representation (``as_x(hi)`` and ``as_log(hi)`` give ``x`` and ``log x``), widened in place
    by ``widen(hi, bad)`` until ``g(as_x(hi)) >= 0``. The scaled residual at the root is checked
    against ``_RESIDUAL_TOL``; ``what`` names the fixed point in errors.
    """
    for _ in range(200):
        bad = residual(as_x(hi), slice(None))[0] < 0
        if not bad.any():
            break
        widen(hi, bad)
    else:  # pragma: no cover - the residual tends to +inf, cannot happen for valid input
        raise ConvergenceError(f"could not bracket the {what}", residual=float("nan"))
    x, active = log_newton(residual, lo, as_log(hi), rtol=_RTOL, maxiter=_MAXITER)
    g, _, scale = residual(x, slice(None))
    check_converged(np.abs(g) / scale, active, what, tol=_RESIDUAL_TOL)
    return x


def _linear_attention_at(alpha, tau, kappa, rho, lam, eps, what):
    """Lu et al.'s auxiliaries and ICL error at the effective ridge ``lam`` (flat arrays).

    Checks that Lu's fixed point at ``lam`` is the model's root ``eps`` (the two fixed points
    are one equation; a disagreement means a solver failed). Returns ``(aux, e_la)``.
    """
    aux = linear_attention_auxiliaries(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=lam)
    e_la = np.atleast_1d(np.asarray(linear_attention_icl_error(alpha=alpha, tau=tau,
                                                               kappa=kappa, rho=rho, ridge=lam)))
    rel = np.abs(np.atleast_1d(aux.epsilon) - eps) / np.where(eps > 0, eps, 1.0)
    if rel.size and rel.max() > 1e-7:
        raise ConvergenceError(
            f"{what} and linear-attention fixed points disagree (relative {rel.max():.3e})",
            residual=float(rel.max()), where=np.flatnonzero(rel > 1e-7))
    return aux, e_la


def _gamma_norm(e_la, T, rho, q):
    """``N = lim ||Gamma_LA||_F^2/d`` from ``e_LA = 1 + rho - 2 T + (1 + q*) N`` (clipped at 0)."""
    return np.maximum((e_la - 1.0 - rho + 2.0 * T) / (1.0 + q), 0.0)


def _idg_numerator(eps, m, dm, x, eps_x):
    """``x^2 tr[Sigma_pool (A + x)^{-2}] / d^2`` from Lu's fixed point (docs, section 9).

    The training prompts are drawn from the pool law, whose population covariance
    ``Sigma_pool`` has (per query coordinate) the spectrum ``W_hat + q*``; Lu's fixed point is
    the ridge renormalisation ``lam (A + lam)^{-1} ~ eps (Sigma_pool + eps)^{-1}``, so
    ``F = lam tr[Sigma_pool (A + lam)^{-1}]/d^2 = eps (1 - eps m)`` and the squared resolvent
    follows by differentiation: ``F - x eps_x dF/deps`` with ``dF/deps = 1 - 2 eps m -
    eps^2 m'`` (``x`` the ridge variable, ``eps_x = d eps/dx``). For fresh tasks
    (``Sigma_pool = (1 + q*) I``) it is ``(1 + q*)`` times the ICL numerator.
    """
    f = eps * (1.0 - eps * m)
    f_eps = 1.0 - 2.0 * eps * m - eps * eps * dm
    return np.maximum(f - x * eps_x * f_eps, 0.0)


def _la_idg(alpha, tau, kappa, rho, lam, e_la_icl):
    """Lu's IDG error at ``lam`` (flat arrays); the ICL error where ``kappa = inf``."""
    out = np.array(e_la_icl, dtype=float, copy=True)
    pool = ~np.isinf(kappa)
    if pool.any():
        out[pool] = np.atleast_1d(linear_attention_idg_error(
            alpha=alpha[pool], tau=tau[pool], kappa=kappa[pool], rho=rho[pool],
            ridge=lam[pool]))
    return out


# --------------------------------------------------------------------------------------------
# the joint fixed point
# --------------------------------------------------------------------------------------------
def _joint_residual(eps, tau, pi, q, kappa, lam0):
    """``g(eps) = eps (tau-1+E)(pi-1+E)/(tau pi) - lam0`` (E = eps M(eps+q)), ``eps g'``, scale.

    ``pi = inf`` is handled exactly (the last factor is 1). The scale is the size of the terms
    whose rounding limits ``g``: ``lam0`` plus ``eps`` times the magnitudes entering each factor
    (near ``min(tau, pi) = 1 - E`` the factors cancel, and ``|g|/lam0`` cannot be small).
    """
    m, dm, _ = mp_all(eps + q, kappa)
    e_m = eps * m
    de = m + eps * dm  # dE/d eps > 0
    f1 = (tau - 1.0 + e_m) / tau
    inv_pi = 1.0 / pi
    f2 = 1.0 - (1.0 - e_m) * inv_pi
    g = eps * f1 * f2 - lam0
    dg = eps * (f1 * f2 + eps * (de / tau * f2 + f1 * de * inv_pi))  # derivative in log eps
    scale = lam0 + eps * (np.abs(f2) * (np.abs(tau - 1.0) + 1.0) / tau + np.abs(f1) * inv_pi)
    return g, dg, scale


def _solve_joint(tau, pi, q, kappa, lam0, eps0):
    """Vectorised safeguarded Newton (in log eps) for the joint fixed point, ``lam0 > 0``.

    On ``(eps0, inf)`` both factors are positive and increasing (``eps M(eps + q)`` increases
    strictly), so ``g`` increases strictly from ``-lam0`` to ``+inf``: the root is unique.
    Bracket: ``lo = max(eps0, lam0)`` has ``g(lo) < 0`` (each factor is < 1), ``hi`` by doubling.
    """
    lo_eps = np.maximum(eps0, lam0)
    hi_eps = np.maximum(2.0 * lo_eps, 2.0 * (1.0 + q) / np.minimum(tau, pi) + 2.0 * lam0)

    def residual(x, sel):
        return _joint_residual(x, tau[sel], pi[sel], q[sel], kappa[sel], lam0[sel])

    def widen(hi, bad):
        hi[bad] *= 2.0

    return _solve_log_newton(residual, np.log(lo_eps), hi_eps, widen,
                             "random-transformer fixed point", as_x=lambda h: h, as_log=np.log)


def _aux_flat(alpha, tau, kappa, psi, rho, lbar, s):
    q = (1.0 + rho) / alpha
    pi = psi * tau
    lam0 = s * lbar / tau
    tau_min = np.minimum(tau, pi)
    # eps_0: root of eps M(eps + q) = 1 - min(tau, pi) (Lu's ridgeless eps* at tau -> tau_min)
    eps0 = np.asarray(linear_attention_fixed_point(alpha=alpha, tau=tau_min, kappa=kappa, rho=rho,
                                                   ridge=0.0), dtype=float)
    eps0 = np.atleast_1d(eps0)
    eps = _solve_joint(tau, pi, q, kappa, lam0, eps0)
    m, _, _ = mp_all(eps + q, kappa)
    lam_eff = eps * (tau - 1.0 + eps * m) / tau
    lam_eff = np.maximum(lam_eff, lam0)  # mu >= lambda_bar; guards the last ulp

    aux, e_la = _linear_attention_at(alpha, tau, kappa, rho, lam_eff, eps, "joint")
    e_l = np.atleast_1d(aux.epsilon)
    m_l, dm_l, nu_l = np.atleast_1d(aux.m), np.atleast_1d(aux.m_prime), np.atleast_1d(aux.nu)
    # sample degrees of freedom in units of d^2 (tr over D ~ d^2 coordinates)
    de = m_l + e_l * dm_l  # d(eps m)/d eps
    eps_prime = (tau / e_l) / (de + tau * lam_eff / e_l**2)  # d eps / d lambda (Lu's fixed pt)
    r = lam_eff / e_l
    df1 = tau * (1.0 - r)
    df2 = tau * (1.0 - 2.0 * r + r * r * eps_prime)
    # mu^2 tr (A_t + mu)^{-2} / d^2 = lambda^2 tr (Sigma_hat + lambda)^{-2} / d^2
    numer = e_l * m_l - lam_eff * eps_prime * de
    numer = np.maximum(numer, 0.0)
    denom = pi - df2  # > 0 since df2 < df1 < pi
    with np.errstate(divide="ignore"):
        vfac = np.where(np.isinf(pi), 0.0, numer / np.where(np.isinf(pi), 1.0, denom))
    norm = _gamma_norm(e_la, 1.0 - nu_l * m_l, rho, q)
    var_term = (1.0 + q) * norm * vfac
    err = e_la + var_term
    # IDG: Lu's IDG error at lambda_eff plus the sketch variance under the pool's covariance
    e_la_idg = _la_idg(alpha, tau, kappa, rho, lam_eff, e_la)
    numer_idg = _idg_numerator(e_l, m_l, dm_l, lam_eff, eps_prime)
    with np.errstate(divide="ignore"):
        vfac_idg = np.where(np.isinf(pi), 0.0, numer_idg / np.where(np.isinf(pi), 1.0, denom))
    idg = np.where(np.isinf(kappa), err, e_la_idg + norm * vfac_idg)
    return RandomTransformerAuxiliaries(err, e_la, var_term, lam0, lam_eff, eps, vfac, norm,
                                        df1, df2, idg_error=idg, la_idg_error=e_la_idg)


# --------------------------------------------------------------------------------------------
# the Gaussian-equivalent (p = 1) model
# --------------------------------------------------------------------------------------------
def _p1_state(mu, alpha, tau, kappa, rho, q, s, mu1, mus2):
    """Everything explicit in the sketch ridge ``mu`` (units of d^2; docs, section 5).

    ``lam = s (mu + mu*^2)/(tau mu1^2)`` is the effective linear-attention ridge, ``eps`` Lu's
    fixed point there, ``df1 = tr K (K + mu)^{-1} / d^2 = tau - mu s/(mu1^2 eps)`` and
    ``ddf1 = d df1 / d mu``.
    """
    lam = s * (mu + mus2) / (tau * mu1**2)
    eps = np.atleast_1d(np.asarray(linear_attention_fixed_point(alpha=alpha, tau=tau, kappa=kappa,
                                                                rho=rho, ridge=lam),
                                   dtype=np.float64))
    m, dm, _ = mp_all(eps + q, kappa)
    de = m + eps * dm  # d(eps m)/d eps
    eps_mu = (tau / eps) / (de + tau * lam / eps**2) * s / (tau * mu1**2)  # d eps / d mu
    c = s / (mu1**2 * eps)
    df1 = tau - mu * c
    ddf1 = -c + mu * c * eps_mu / eps
    return lam, eps, m, dm, de, eps_mu, df1, ddf1


def _p1_flat(alpha, tau, kappa, psi, rho, lbar, s, mu1, mus2):
    """Deterministic equivalent of the p = 1 Gaussian-equivalent model (flat arrays).

    Unknown: the sketch ridge ``mu``; ``g(mu) = mu (1 - df1(mu)/pi) - lambda_bar = 0`` with
    ``df1`` decreasing in ``mu``, so ``g`` is negative where ``1 - df1/pi <= 0`` and increasing
    elsewhere: a unique root, bracketed by ``[lambda_bar, hi]`` (``g(lambda_bar) < 0``, ``hi`` by
    doubling). Vectorised safeguarded Newton in ``log mu``; each step solves Lu's fixed point at
    ``lam(mu)``.
    """
    q = (1.0 + rho) / alpha
    pi = psi * tau
    inv_pi = 1.0 / pi

    def g(mu, sel):
        st = _p1_state(mu, alpha[sel], tau[sel], kappa[sel], rho[sel], q[sel], s[sel], mu1,
                       mus2)
        df1, ddf1 = st[6], st[7]
        val = mu * (1.0 - df1 * inv_pi[sel]) - lbar[sel]
        dlog = mu * ((1.0 - df1 * inv_pi[sel]) - mu * ddf1 * inv_pi[sel])  # d g / d log mu
        scale = lbar[sel] + mu * (1.0 + np.abs(df1) * inv_pi[sel])
        return val, dlog, scale

    def widen(hi, bad):
        hi[bad] += np.log(4.0)

    mu = _solve_log_newton(g, np.log(lbar), np.log(2.0 * lbar + 1.0), widen, "p = 1 fixed point",
                           as_x=np.exp, as_log=lambda h: h)
    return _p1_at(mu, alpha, tau, kappa, psi, rho, lbar, s, mu1, mus2)


def _p1_at(mu, alpha, tau, kappa, psi, rho, lbar, s, mu1, mus2):
    """The p = 1 equivalent's auxiliaries at a solved sketch ridge ``mu >= 0`` (flat arrays)."""
    q = (1.0 + rho) / alpha
    pi = psi * tau
    lam, eps, m, dm, de, eps_mu, df1, ddf1 = _p1_state(mu, alpha, tau, kappa, rho, q, s, mu1,
                                                        mus2)

    aux, e_la = _linear_attention_at(alpha, tau, kappa, rho, lam, eps, "p = 1")
    # training law = pool tasks: Lu's IDG error tau c(lambda) (the ICL error for fresh tasks)
    e_train_law = _la_idg(alpha, tau, kappa, rho, lam, e_la)
    norm = _gamma_norm(e_la, 1.0 - np.atleast_1d(aux.nu) * m, rho, q)
    df2 = df1 + mu * ddf1  # tr K^2 (K + mu)^{-2} / d^2
    denom = pi - df2
    numer = np.maximum(eps * m - mu * eps_mu * de, 0.0)  # mu^2 tr[P_D (A~ + mu)^{-2}] / d^2
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_den = np.where(np.isinf(pi), 0.0, 1.0 / np.where(np.isinf(pi), 1.0, denom))
    wfac = numer * inv_den
    e_train = (lam / eps) ** 2 * e_train_law  # GCV form of LA's training error
    b = mu + mus2
    noise_norm = mus2 * tau * e_train / b**2  # ||noise block of beta~||^2 / d^2
    noise_var = mus2 * (s * norm / mu1**2 + noise_norm) * inv_den  # test noise block
    var_term = (1.0 + q) * wfac * (norm + mu1**2 * noise_norm / s) + noise_var
    err = e_la + var_term
    # IDG: the signal block's test covariance is the pool's (docs, section 9)
    numer_idg = _idg_numerator(eps, m, dm, mu, eps_mu)
    var_idg = numer_idg * inv_den * (norm + mu1**2 * noise_norm / s) + noise_var
    idg = np.where(np.isinf(kappa), err, e_train_law + var_idg)
    return RandomTransformerAuxiliaries(err, e_la, var_term, s * lbar / tau, lam, eps, wfac,
                                        norm, df1, df2, e_train, idg_error=idg,
                                        la_idg_error=e_train_law)



# --------------------------------------------------------------------------------------------
# the ridgeless limit (ridge = 0; docs, section 7)
# --------------------------------------------------------------------------------------------
def _interpolation_peak(tau, psi, linear: bool):
    """Where the ridgeless error is infinite: ``min(k, rank) = n`` (docs, section 7).

    Identity (and any affine ``sigma``): ``min(pi, 1) = tau``, i.e. ``psi = 1`` with
    ``tau <= 1`` or ``tau = 1`` with ``psi >= 1``. With feature noise (``mu* > 0``) the
    training kernel has full rank ``n``, so only ``psi = 1`` (``k = n``).
    """
    if linear:
        return ((psi == 1.0) & (tau <= 1.0)) | ((tau == 1.0) & (psi >= 1.0))
    return psi == 1.0


def _aux_ridgeless_flat(alpha, tau, kappa, psi, rho):
    """``lambda_bar -> 0+`` of :func:`_aux_flat` (identity ``sigma``; flat arrays).

    The joint fixed point's root tends to ``eps_0`` (root of ``eps M_kappa(eps + q*) = 1 -
    min(tau, pi)``, 0 if ``min(tau, pi) >= 1``); the factor of ``min(tau, pi)`` vanishes, so
    ``lambda_eff -> 0`` for ``tau <= pi`` and ``lambda_eff -> eps_0 (tau - pi)/tau`` for
    ``pi < tau``. Where ``eps_0 = 0`` (``tau > 1``, ``pi >= 1``: the sketch keeps all ``D``
    directions of the data) the variance factor vanishes like ``eps`` and ``df_1, df_2 -> 1``
    (``= D/d^2``): the error is linear attention's least-squares error.
    """
    q = (1.0 + rho) / alpha
    pi = psi * tau
    eps = np.atleast_1d(np.asarray(linear_attention_fixed_point(
        alpha=alpha, tau=np.minimum(tau, pi), kappa=kappa, rho=rho, ridge=0.0), dtype=float))
    narrow = psi < 1.0
    lam_eff = np.where(narrow, eps * (tau - np.where(narrow, pi, tau)) / tau, 0.0)
    peak = _interpolation_peak(tau, psi, True)

    aux, e_la = _linear_attention_at(alpha, tau, kappa, rho, lam_eff, eps, "ridgeless joint")
    m_l, dm_l, nu_l = np.atleast_1d(aux.m), np.atleast_1d(aux.m_prime), np.atleast_1d(aux.nu)
    pos = eps > 0
    e_l = np.where(pos, eps, 1.0)  # placeholder where eps = 0 (limits set below)
    de = m_l + e_l * dm_l
    eps_prime = (tau / e_l) / (de + tau * lam_eff / e_l**2)
    r = lam_eff / e_l
    df1 = np.where(pos, tau * (1.0 - r), 1.0)
    df2 = np.where(pos, tau * (1.0 - 2.0 * r + r * r * eps_prime), 1.0)
    numer = np.where(pos, np.maximum(e_l * m_l - lam_eff * eps_prime * de, 0.0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        vfac = np.where(np.isinf(pi) | ~pos, 0.0, numer / np.where(np.isinf(pi), 1.0, pi - df2))
    vfac[peak] = np.inf
    norm = _gamma_norm(e_la, 1.0 - nu_l * m_l, rho, q)
    with np.errstate(invalid="ignore"):
        var_term = (1.0 + q) * norm * vfac
    var_term[peak] = np.inf
    err = e_la + var_term
    err[peak] = np.inf
    e_la_idg = _la_idg(alpha, tau, kappa, rho, lam_eff, e_la)
    numer_idg = np.where(pos, _idg_numerator(e_l, m_l, dm_l, lam_eff, eps_prime), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        vfac_idg = np.where(np.isinf(pi) | ~pos, 0.0,
                            numer_idg / np.where(np.isinf(pi), 1.0, pi - df2))
        idg = np.where(np.isinf(kappa), err, e_la_idg + norm * vfac_idg)
    idg[peak] = np.inf
    return RandomTransformerAuxiliaries(err, e_la, var_term, np.zeros_like(tau), lam_eff, eps,
                                        vfac, norm, df1, df2, idg_error=idg,
                                        la_idg_error=e_la_idg)


def _p1_ridgeless_residual(eps, pi, q, kappa, c):
    """``g(eps) = eps (eps M(eps + q) - 1 + pi) - c``, ``eps g'`` and the scale of its terms."""
    m, dm, _ = mp_all(eps + q, kappa)
    f = eps * m - 1.0 + pi
    g = eps * f - c
    dg = eps * (f + eps * (m + eps * dm))  # derivative in log eps
    scale = c + eps * (np.abs(pi - 1.0) + 1.0)
    return g, dg, scale


def _p1_ridgeless_flat(alpha, tau, kappa, psi, rho, s, mu1, mus2):
    """``lambda_bar -> 0+`` of :func:`_p1_flat` (``mu* > 0``; flat arrays).

    The outer equation ``mu (1 - df1(mu)/pi) = lambda_bar`` at ``lambda_bar = 0``: for
    ``psi > 1`` (``df1 <= tau < pi``) the root is ``mu = 0`` (ridgeless kernel regression, the
    feature noise ``mu*^2 I_n`` keeping the kernel invertible); for ``psi < 1`` it is the
    ``mu > 0`` with ``df1(mu) = pi``. With ``df1 = tau - mu s/(mu1^2 eps)`` and Lu's fixed point
    ``mu = mu1^2 eps (tau - 1 + eps m)/s - mu*^2`` that is one increasing equation in ``eps``,

        eps (eps M_kappa(eps + q*) - 1 + pi) = s mu*^2 / mu1^2,   eps > eps_0(pi),

    then ``mu = (tau - pi) mu1^2 eps / s``. ``psi = 1``: the error is infinite.
    """
    q = (1.0 + rho) / alpha
    pi = psi * tau
    mu = np.zeros_like(tau)
    below = psi < 1.0
    if below.any():
        a_, t_, k_, r_, p_, q_ = (x[below] for x in (alpha, tau, kappa, rho, pi, q))
        c = s[below] * mus2 / mu1**2
        eps0 = np.atleast_1d(np.asarray(linear_attention_fixed_point(
            alpha=a_, tau=np.minimum(p_, 1.0), kappa=k_, rho=r_, ridge=0.0), dtype=float))
        lo = np.maximum(eps0, 0.5 * c / p_)  # g(lo) < 0: g(eps0) = -c, and g(eps) <= pi eps - c
        hi_eps = 2.0 * lo + 2.0 * (1.0 + q_) / p_ + 2.0 * c / p_

        def residual(x, sel):
            return _p1_ridgeless_residual(x, p_[sel], q_[sel], k_[sel], c[sel])

        def widen(hi, bad):
            hi[bad] *= 2.0

        eps = _solve_log_newton(residual, np.log(lo), hi_eps, widen,
                                "p = 1 ridgeless fixed point", as_x=lambda h: h, as_log=np.log)
        mu[below] = (t_ - p_) * mu1**2 * eps / s[below]
    aux = _p1_at(mu, alpha, tau, kappa, psi, rho, np.zeros_like(tau), s, mu1, mus2)
    peak = _interpolation_peak(tau, psi, False)
    if peak.any():
        for field in ("error", "variance_term", "variance_factor", "idg_error"):
            getattr(aux, field)[peak] = np.inf
    return aux


def _solve_flat(red: _Reduction, alpha, tau, kappa, psi, rho, lbar, s):
    """The equivalent's auxiliaries on flat arrays of the effective problem (any ``ridge``).

    Points with ``ridge > 0`` go through the fixed points of sections 1 and 5 (all of them in
    one vectorised call when no ridge is zero); points with ``ridge = 0`` through the ridgeless
    limits. An affine ``sigma`` (``c*_1 = 0``) has the identity's ridgeless limit (its
    ridge-``lambda_bar`` problem is the identity's at ``lambda_bar/mu1^2``).
    """
    def general(*args):
        if red.activation == "identity":
            return _aux_flat(*args)
        return _p1_flat(*args, red.mu1, red.mus2)

    zero = lbar == 0
    if not zero.any():
        return general(alpha, tau, kappa, psi, rho, lbar, s)
    sub = [x[zero] for x in (alpha, tau, kappa, psi, rho, s)]
    if red.activation == "identity" or red.linear:
        ridgeless = _aux_ridgeless_flat(*sub[:5])
    else:
        ridgeless = _p1_ridgeless_flat(*sub, red.mu1, red.mus2)
    if zero.all():
        return ridgeless
    pos = ~zero
    parts = [(zero, ridgeless),
             (pos, general(*(x[pos] for x in (alpha, tau, kappa, psi, rho, lbar, s))))]
    fields = []
    for name in RandomTransformerAuxiliaries._fields[:13]:
        if all(getattr(p, name) is None for _, p in parts):
            fields.append(None)
            continue
        full = np.full(tau.shape, np.nan)  # NaN: a train error the identity limit does not give
        for where, p in parts:
            if getattr(p, name) is not None:
                full[where] = getattr(p, name)
        fields.append(full)
    return RandomTransformerAuxiliaries(*fields)


_PARAMS_DOC = """
    Parameters
    ----------
    activation : str, Activation or callable
        Activation ``sigma`` with ``c_1 != 0``: ``"identity"`` (alias ``"linear"``), a name
        registered in :mod:`rmt_icl.hermite`, an :class:`rmt_icl.hermite.Activation` (e.g.
        ``get_activation("leaky_relu", slope=0.1)``) or any callable ``sigma(u)`` on float64
        arrays (Hermite coefficients by adaptive quadrature).
    target : str, callable or Target
        Label function ``g`` of ``s = <x, w> ~ N(0, 1)``: a name of :mod:`rmt_icl.core.targets`
        (``"linear"``, ``"relu"``, ``"tanh"``, ``"tanh:A"``, ...; not the one-step-GD/LSA
        ``signed:`` family), another activation name registered in :mod:`rmt_icl.hermite` used
        as a target (``"erf"``, ...), a callable, or a :class:`rmt_icl.core.targets.Target`.
        Needs ``a_1 = E[g(s) s] != 0``.
    alpha : array_like
        Context length ratio ``ell/d``, in ``(0, inf)``.
    tau : array_like
        Pretraining size ratio ``n/d^2``, in ``(0, inf)``.
    kappa : array_like
        Task diversity ``K/d``, in ``(0, inf]`` (``inf``: a fresh task per prompt).
    width_ratio : array_like
        ``psi = k/n``, in ``(0, inf]``; ``inf`` gives linear attention at ridge ``lambda_0``.
    rho : array_like
        Label-noise variance, in ``[0, inf)``.
    ridge : array_like
        The RT ridge ``lambda_bar`` of ``a = (Phi^T Phi + lambda_bar I)^{-1} Phi^T y``, in
        ``[0, inf)`` (the papers' ``lambda = lambda_bar/n``). ``0`` is the ridgeless limit
        ``lambda_bar -> 0+`` (minimum-norm fit), ``inf`` at the interpolation threshold
        (module docstring).
    t_over_d : array_like, optional
        Normalisation ``t/d`` of the first layer (rows of ``F`` are ``N(0, I_D/t)``). Default:
        its limit ``a_1^2 + q/alpha + w q^2`` for the chosen ``y2_scale`` (``w = 0`` for
        ``"la"``, 1 for ``"companion"``; ``1 + (1+rho)/alpha`` for the linear target in
        linear-attention scaling). Pass a finite-``d`` value (e.g. ``t_analytic(d, ...)/d``) to
        evaluate the same equivalent with the exact finite-``d`` ridge link
        ``lambda_0 = (t/d) lambda_bar / tau``. With ``t_over_d`` given, ``y2_scale`` only
        labels the scaling: ``t/d`` fixes the y^2 column's share
        ``theta = 1 - (a_1^2 + q/alpha)/(t/d)``.
    y2_scale : {"la", "companion"} or float
        Scale of the y^2 column of ``H_Z`` (docs, section 10): ``"la"`` (Lu et al.'s
        scaling, column scale 1, share ``theta -> 0``), ``"companion"`` (default; Demir & Dogan's
        ``h = [(1/ell) sum y_i x_i; (1/ell) sum y_i^2]`` with ``Tr Sigma_x ~ d``, i.e. column
        scale ``sqrt(d)``: ``t/d -> a_1^2 + q/alpha + q^2`` and ``theta = q^2/(a_1^2 + q/alpha
        + q^2)``), or a finite-``d`` column scale ``c > 0``, which needs ``d`` (``t/d ->
        a_1^2 + q/alpha + c^2 q^2/d``) or ``t_over_d``.
    d : float, optional
        The dimension a numeric ``y2_scale`` belongs to.
    model : {"rt", "hermite1"}
        ``"rt"`` (default): the random transformer itself. ``"hermite1"``: the
        Gaussian-equivalent (p = 1) model ``mu0 + mu1 F vec H + mu* z`` (``mu0 = c_0``,
        ``mu1 = c_1``, ``mu*^2 = c*_1^2`` from :mod:`rmt_icl.hermite`). The two coincide in
        the proportional limit (degrees >= 2 do not survive; docs, section 6), so they return the
        same numbers; the name documents which model a curve is compared with.

    ``activation`` and ``target`` are positional; every other argument is keyword-only. All
    array arguments broadcast against each other.
"""


def random_transformer_auxiliaries(activation, target, *, alpha, tau, kappa, width_ratio, rho,
                                   ridge, t_over_d=None, y2_scale="companion", d=None,
                                   model="rt") -> RandomTransformerAuxiliaries:
    """All auxiliary quantities of the deterministic equivalent (see the module docstring).

    Returns
    -------
    RandomTransformerAuxiliaries
        Named tuple of arrays broadcast over the arguments, numpy floats for scalar input
        (``train_error`` is ``None`` for the identity activation).
    """
    red = _check_model(activation, target, model)
    if t_over_d is not None and not isinstance(y2_scale, str):
        check_positive("y2_scale", y2_scale)   # a finite-d scale with its t/d: t/d says it all
        y2_weight = 0.0
    else:
        y2_weight = _y2_weight(y2_scale, d)
    shape, (alpha, tau, kappa, psi, rho, lbar, t_over_d) = _validate(
        alpha, tau, kappa, width_ratio, rho, ridge, t_over_d)
    alpha_e, rho_e, s_e, a1sq, theta = _effective_problem(red, alpha, rho, t_over_d, y2_weight)
    aux = _solve_flat(red, alpha_e, tau, kappa, psi, rho_e, lbar, s_e)
    # back to the units of the labels: error-like quantities scale with a_1^2
    aux = aux._replace(error=a1sq * aux.error, la_error=a1sq * aux.la_error,
                       variance_term=a1sq * aux.variance_term,
                       train_error=None if aux.train_error is None else a1sq * aux.train_error,
                       idg_error=a1sq * aux.idg_error, la_idg_error=a1sq * aux.la_idg_error,
                       target_scale=np.full_like(aux.error, a1sq), alpha_effective=alpha_e,
                       rho_effective=rho_e, intercept=red.intercept, y2_share=theta)
    return RandomTransformerAuxiliaries(*(a if a is None or isinstance(a, bool)
                                          else shape_out(a, shape) for a in aux))


def random_transformer_icl_error(activation, target, *, alpha, tau, kappa, width_ratio, rho,
                                 ridge, t_over_d=None, y2_scale="companion", d=None, model="rt"):
    r"""Deterministic-equivalent ICL error of the ridge-trained random transformer.

    For a nonlinear activation and/or target the error is ``a_1^2`` times that of the
    effective linear problem (module docstring; docs, section 6): only Hermite degrees 0 and 1
    of ``sigma`` survive the proportional limit, and ``model="rt"`` equals ``model="hermite1"``
    (the p = 1 Gaussian-equivalent model; docs, section 5).

    For the identity activation and the linear target (docs, section 1) the RT is a Gaussian
    sketch of linear attention, and

    .. math::

        e_{RT} = e_{LA}(\lambda_{eff}) + (1 + q^*)\, N\, V,

    where ``lambda_eff`` is the renormalised linear-attention ridge of the joint fixed point
    ``eps (1 - (1 - eps m)/tau)(1 - (1 - eps m)/pi) = (t/d) lambda_bar / tau`` (``m =
    M_kappa(eps + q*)``, ``pi = psi tau``, ``lambda_eff = eps (1 - (1 - eps m)/tau)``),
    ``e_LA`` is Lu et al.'s ICL error (:func:`rmt_icl.theory.linear_attention_icl_error`),
    ``N = lim ||Gamma_LA||_F^2/d`` and ``V`` the sketch's variance factor (module docstring and
    ``docs/theory/random_transformer.md``). Limits: ``psi -> inf`` gives ``e_LA(lambda_0)``;
    ``ridge -> inf`` gives ``1 + rho``; ``ridge = 0`` is the ridgeless limit, ``inf`` at the
    interpolation threshold ``min(pi, 1) = tau`` (``min(k, D) = n``) for the identity and
    ``psi = 1`` (``k = n``) for a nonlinear ``sigma`` (docs, section 7).

    Methods: one scalar fixed-point equation per point (vectorised safeguarded Newton),
    Marchenko--Pastur transforms, and (``hermite1``) the Hermite engine for ``c_0, c_1, c*_1``;
    no Monte Carlo. Cost: about 10-20 us per grid point (identity), 20-35 us otherwise.

    Returns
    -------
    ndarray or float
        The ICL error (noise included), broadcast over the arguments; a numpy float for scalar
        input; ``inf`` at the ridgeless interpolation threshold.

    Raises
    ------
    NotImplementedError
        For a target with ``a_1 = 0``, an activation with ``c_1 = 0``, or ``E g != 0`` with an
        activation that has ``c_0 = 0`` and is not odd (module docstring, "Not covered").
    ValueError
        If a ratio is out of range or NaN, or the activation or the target is not one (unknown
        name, wrong type, a callable returning non-finite values or growing too fast); the
        message names the parameter (``activation``, ``target``, ``alpha``, ...).
    rmt_icl.core.errors.ConvergenceError
        If a fixed point fails to converge (carries the scaled residual).
    """
    return random_transformer_auxiliaries(activation, target, alpha=alpha, tau=tau, kappa=kappa,
                                          width_ratio=width_ratio, rho=rho, ridge=ridge,
                                          t_over_d=t_over_d, y2_scale=y2_scale, d=d,
                                          model=model).error


def random_transformer_idg_error(activation, target, *, alpha, tau, kappa, width_ratio, rho,
                                 ridge, t_over_d=None, y2_scale="companion", d=None, model="rt"):
    r"""Deterministic-equivalent IDG (in-distribution) error of the random transformer.

    IDG: the test prompt's task is drawn uniformly from the ``K = kappa d`` pretraining tasks
    (fresh covariates and noise); for ``kappa = inf`` it equals the ICL error
    (:func:`random_transformer_icl_error`). Conditionally on the data the RT is a Gaussian
    sketch of linear attention (docs, sections 1 and 9), so

    .. math::

        e_{IDG} = e_{LA,IDG}(\lambda_{eff}) + N\, V_{pool},

    Lu et al.'s IDG error at the same renormalised ridge plus the sketch's variance term
    under the pool's test covariance ``Sigma_pool``: ``V_pool = x^2 tr[Sigma_pool (A +
    x)^{-2}] / (d^2 (pi - df_2))``, where ``x^2 tr[Sigma_pool (A + x)^{-2}]`` follows from
    Lu's fixed point (the training prompts are drawn from the pool law, whose population
    covariance has the spectrum ``W_hat + q*``). The p = 1 model and the nonlinear
    activations and targets reduce as for the ICL error (docs, sections 5, 6 and 9).

    Returns
    -------
    ndarray or float
        The IDG error (noise included), broadcast over the arguments; ``inf`` at the ridgeless
        interpolation threshold.

    Raises
    ------
    NotImplementedError, ValueError, rmt_icl.core.errors.ConvergenceError
        As :func:`random_transformer_icl_error`.
    """
    return random_transformer_auxiliaries(activation, target, alpha=alpha, tau=tau, kappa=kappa,
                                          width_ratio=width_ratio, rho=rho, ridge=ridge,
                                          t_over_d=t_over_d, y2_scale=y2_scale, d=d,
                                          model=model).idg_error


random_transformer_icl_error.__doc__ += _PARAMS_DOC
random_transformer_idg_error.__doc__ += _PARAMS_DOC
random_transformer_auxiliaries.__doc__ += _PARAMS_DOC
