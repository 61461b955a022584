r"""The target reduction shared by the linear-attention and random-transformer equivalents.

Labels ``y = g(s) + eps`` (``s = <x, w> ~ N(0, 1)``, ``Var eps = rho``) seen by a predictor that
is linear in the query ``x_q`` (plus, for the random transformer with ``c_0 != 0``, a constant
mode) reduce to the linear target ``a_1 (s + eps')`` (``docs/theory/random_transformer.md``,
section 6.3):

* labels ``y = E g + a_1 s + r(s) + eps`` with ``a_1 = E[g(s) s]`` and ``E r = E[r s] = 0``;
  the parts that no feature can fit act as label noise, so the query's effective noise is
  ``rho' = V/a_1^2 - 1`` with ``V = Var y`` when the predictor fits the mean (an intercept) and
  ``V = E y^2`` otherwise;
* the context statistic ``h`` is ``a_1`` times that of a linear target with
  ``q*' = E y^2/(a_1^2 alpha)``; Lu et al.'s formulas depend on ``alpha`` only through ``q*``, so
  the effective problem is Lu's at ``alpha' = (1 + rho')/q*'`` and ``rho'``;
* with ``Gamma`` (or the head ``a``) unchanged, the ridge objective is ``a_1^2`` times that of
  the effective problem at ridge ``lambda/a_1^2`` (linear attention; for the random transformer
  the same statement is carried by ``t/d``), and the error is ``a_1^2`` times the effective one.

Targets are resolved here for both theories: names and :class:`~rmt_icl.core.targets.Target`
objects take their stored moments (the ones the simulator samples with); other activation names
of :mod:`rmt_icl.hermite` and callables go through the Hermite engine.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rmt_icl.core.errors import ConvergenceError
from rmt_icl.core.targets import Target, get_target, is_target_name
from rmt_icl.hermite import activation_names, hermite_expansion

#: a target whose linear component |a_1| is below this carries nothing a linear-in-x_q feature
#: can learn; the reduction to the effective linear problem is then undefined
A1_TOL = 1e-8


class TargetMoments(NamedTuple):
    """The Gaussian moments of a target that the reduction uses (``s ~ N(0, 1)``)."""

    name: str
    mean: float  # E g(s)
    a1: float  # E[g(s) s]
    second: float  # E g(s)^2
    is_linear: bool  # the built-in linear target g(s) = s (stored moments 0, 1, 1)


class EffectiveProblem(NamedTuple):
    """The effective linear problem of a target (flat float64 arrays, ``a1sq`` a float)."""

    alpha: np.ndarray  # alpha' = (1 + rho')/q*'
    rho: np.ndarray  # rho' = V/a_1^2 - 1
    q_star: np.ndarray  # q*' = E y^2/(a_1^2 alpha)
    a1sq: float  # a_1^2: errors of the target are a_1^2 times those of the effective problem


_TARGET_HELP = ("a name of rmt_icl.core.targets ('linear', 'relu', 'tanh', 'tanh:A', ...), an "
                "activation name of rmt_icl.hermite used as a label function, a callable g(s) or "
                "a rmt_icl.core.targets.Target")


def _as_target_error(exc: Exception, name: str) -> ValueError:
    """A ValueError of the Hermite engine about a label function, reworded to name ``target``."""
    detail = str(exc).replace("activation", "target").replace("σ", "g")
    if not detail.startswith(f"target {name!r}"):
        detail = f"target {name!r}: {detail}"
    return ValueError(f"{detail} (target must be a label function g(s) of s ~ N(0, 1) with "
                      "finite values and E g(s)^2 < inf)")


def target_moments(target) -> TargetMoments:
    """``(name, E g, a_1 = E[g s], E g^2, is_linear)`` of a target.

    Accepts a name of :mod:`rmt_icl.core.targets` (``"identity"`` is ``"linear"``) or a
    :class:`rmt_icl.core.targets.Target` (or an object with ``mean``, ``a1`` and ``second``
    attributes), which use their stored moments; any other activation name registered in
    :mod:`rmt_icl.hermite`, used as a label function (``"erf"``, ``"gelu"``, ...); or a callable
    ``g``. The last two go through the Hermite engine.

    Raises
    ------
    ValueError
        An unknown name, an object that is neither a name nor a callable, or a callable that
        returns non-finite values or grows too fast for ``E g^2`` to exist (the message names
        ``target``).
    """
    if isinstance(target, str) and target.strip().lower() == "identity":
        target = "linear"
    if is_target_name(target) or isinstance(target, Target):
        target = get_target(target)
    if all(hasattr(target, key) for key in ("mean", "a1", "second")):
        return TargetMoments(getattr(target, "name", "target"), float(target.mean),
                             float(target.a1), float(target.second),
                             bool(getattr(target, "is_linear", False)))
    if isinstance(target, str):
        name = target.lower()
        if name not in activation_names():
            raise ValueError(f"target must be {_TARGET_HELP}; {target!r} is none of these "
                             f"(activation names: {activation_names()})")
        exp = hermite_expansion(name, 1)
    elif callable(target):
        name = getattr(target, "__name__", "callable")
        try:
            exp = hermite_expansion(target, 1)
        except (ValueError, ConvergenceError) as exc:
            raise _as_target_error(exc, name) from exc
    else:
        raise ValueError(f"target must be {_TARGET_HELP}, got {target!r} of type "
                         f"{type(target).__name__}")
    c0, c1 = (float(c) for c in exp.coefficients)
    return TargetMoments(name, c0, c1, float(exp.second_moment), False)


def check_learnable(mom: TargetMoments, why: str) -> None:
    """Raise ``NotImplementedError`` if the target has no linear component (``a_1 = 0``).

    ``why`` says, for the message, why the model learns only the linear component.
    """
    if not abs(mom.a1) > A1_TOL:
        raise NotImplementedError(
            f"target {mom.name!r} has no linear component (a_1 = E[g(s) s] = {mom.a1!r}): "
            f"{why}, so its error is that of fitting pure noise, which the reduction to the "
            f"effective linear problem a_1 (s + eps') does not cover"
        )


def effective_problem(mom: TargetMoments, alpha, rho, *, intercept: bool) -> EffectiveProblem:
    """The effective linear problem of ``mom`` at ``(alpha, rho)`` (module docstring).

    With ``q = E y^2 = E g^2 + rho`` and ``V = Var y = q - (E g)^2`` if the predictor fits the
    mean (``intercept``), else ``V = q``: ``rho' = V/a_1^2 - 1``, ``q*' = q/(a_1^2 alpha)`` and
    ``alpha' = (1 + rho')/q*'``. ``alpha`` and ``rho`` are float64 arrays (or floats).
    """
    a1sq = mom.a1**2
    q = mom.second + rho
    var = q - mom.mean**2 if intercept else q
    rho_eff = var / a1sq - 1.0
    qstar_eff = q / (a1sq * alpha)
    alpha_eff = (1.0 + rho_eff) / qstar_eff
    return EffectiveProblem(alpha_eff, rho_eff, qstar_eff, a1sq)
