"""The built-in sweep models of the simulators, each registered with its defaults and check.

====================== ===================================================================
model                  point function
====================== ===================================================================
``linear-attention``   ridge-pretrained linear attention, with its deterministic equivalent
                       (Lu et al. 2024) at the realised ratios as ``theory_icl``/``theory_idg``
``random-transformer`` the random transformer (random frozen first layer, ridge second layer),
                       with its deterministic equivalent (Demir & Dogan 2025) at the realised
                       ratios as ``theory_icl``/``theory_idg``
``hermite``            its Hermite-equivalent model of degree ``degree``
``linear-transformer`` the linear transformer on the random transformer's prompts
====================== ===================================================================

The studies register theirs in their own modules (:mod:`rmt_icl.experiments.equivalence`,
:mod:`rmt_icl.experiments.rt_theory`).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping

from rmt_icl.core.errors import ConvergenceError
from rmt_icl.core.registry import register_model
from rmt_icl.simulate import linear_attention as _la
from rmt_icl.simulate import random_transformer as _rt
from rmt_icl.theory.linear_attention import linear_attention_icl_error, linear_attention_idg_error
from rmt_icl.theory.random_transformer import random_transformer_auxiliaries


def linear_attention_point(params: dict, seed) -> dict:
    """One run of linear attention (:func:`rmt_icl.simulate.linear_attention.simulate_point`)
    plus the deterministic equivalent at the run's realised ratios ``ell/d``, ``K/d``, ``n/d^2``.

    A nonlinear target enters through the theory's target reduction (``target=``). ``theory_icl``
    and ``theory_idg`` are NaN where the theory does not apply (``y2_scale != 1``, or a target
    with ``a_1 = E[g(s) s] = 0``); ``t_theory`` is the time they took.
    """
    out = _la.simulate_point(params, seed)
    path, _, opts = _la.parse_point_params(params)
    t0 = time.perf_counter()
    theory_icl = theory_idg = math.nan
    if opts["y2_scale"] == 1.0:
        kappa = out["kappa_realised"]
        ratios = dict(alpha=out["alpha_realised"], tau=out["tau_realised"],
                      kappa=math.inf if kappa is None else kappa, rho=path.rho,
                      ridge=path.ridge)
        try:
            theory_icl = float(linear_attention_icl_error(opts["target"], **ratios))
            theory_idg = float(linear_attention_idg_error(opts["target"], **ratios))
        except NotImplementedError:  # a_1 = 0: nothing learnable, the reduction is undefined
            pass
    out["theory_icl"], out["theory_idg"] = theory_icl, theory_idg
    out["t_theory"] = time.perf_counter() - t0
    return out


def realised_rt_errors(run: Mapping, activation, target) -> tuple[float, float]:
    """The random transformer's deterministic-equivalent ICL and IDG errors at one run's
    realised ratios, from one solve.

    :func:`rmt_icl.theory.random_transformer_auxiliaries` at ``alpha = ell/d``,
    ``tau = n/d^2``, ``kappa = K/d`` (``inf`` for fresh tasks), ``psi = k/n``, the run's
    ``rho`` and ``lambda_bar``, and ``t_over_d = t/d`` with the run's exact ``t``, so that
    nothing but the limit ``d -> inf`` separates the values from the simulated errors. The
    exact ``t`` includes the y^2 column at the run's scale, so the same call covers both
    scalings (``y2_scale`` 1 or ``sqrt(d)``; docs/theory/random_transformer.md, section 10).

    Parameters
    ----------
    run : mapping
        One run's flat record (:meth:`rmt_icl.simulate.rt_results.MultiModelResult.flat`):
        ``d``, ``alpha_realised``, ``tau_realised``, ``kappa_realised`` (``None``: fresh
        tasks), ``width_ratio_realised``, ``rho``, ``ridge_bar``, ``t`` and ``y2_scale``.
    activation, target
        As for :func:`~rmt_icl.theory.random_transformer_icl_error`.

    Returns
    -------
    icl, idg : float
        The ICL error (fresh test tasks) and the IDG error (pool tasks; equal to the ICL
        error for fresh tasks), noise included.

    Raises
    ------
    NotImplementedError
        The equivalent does not cover the run: data from several or spiked sources or a
        gradient step on ``F`` (the companion model, ``docs/companion_model.md``), or a case
        that :func:`~rmt_icl.theory.random_transformer_icl_error` does not cover (a target
        with ``a_1 = 0`` such as ``he2``, an activation with ``c_1 = 0``, ...).
    """
    if not run.get("isotropic_data", True) or run.get("eta", 0.0) > 0.0:
        raise NotImplementedError(
            "the deterministic equivalent is that of one isotropic source without a gradient "
            "step on F; the companion model has none yet")
    kappa = run["kappa_realised"]
    aux = random_transformer_auxiliaries(
        activation, target, alpha=run["alpha_realised"], tau=run["tau_realised"],
        kappa=math.inf if kappa is None else kappa, width_ratio=run["width_ratio_realised"],
        rho=run["rho"], ridge=run["ridge_bar"], t_over_d=run["t"] / run["d"])
    return float(aux.error), float(aux.idg_error)


def realised_rt_theory(run: Mapping, activation, target, quantity: str = "icl") -> float:
    """One of :func:`realised_rt_errors`: ``quantity`` ``"icl"`` (default) or ``"idg"``."""
    if quantity not in ("icl", "idg"):
        raise ValueError(f"quantity must be 'icl' or 'idg', got {quantity!r}")
    return realised_rt_errors(run, activation, target)[quantity == "idg"]


def random_transformer_point(params: dict, seed) -> dict:
    """One run of the random transformer
    (:func:`rmt_icl.simulate.random_transformer.simulate_point_rt`) plus its deterministic
    equivalent at the run's realised ratios (:func:`realised_rt_theory`).

    ``theory_icl`` and ``theory_idg`` are NaN where the equivalent does not cover the point
    (a target without a linear component such as ``he2``, data sources or a gradient step) or
    its fixed point fails to converge, and ``theory_note`` then says why (empty
    otherwise). ``theory_idg`` equals ``theory_icl`` for fresh tasks (``kappa = inf``, where
    IDG = ICL). ``t_theory`` is
    the time they took. The simulated numbers are those of
    :func:`~rmt_icl.simulate.random_transformer.simulate_point_rt` with the same seed.
    """
    out = _rt.simulate_point_rt(params, seed)
    t0 = time.perf_counter()
    activation = params.get("activation", _rt.POINT_DEFAULTS["activation"])
    target = params.get("target", _rt.POINT_DEFAULTS["target"])
    theory_icl, theory_idg, note = math.nan, math.nan, ""
    try:
        theory_icl, theory_idg = realised_rt_errors(out, activation, target)
    except NotImplementedError as exc:  # its first clause says why
        note = "not covered: " + re.split(r"[:;]", str(exc), maxsplit=1)[0]
    except ConvergenceError as exc:     # keep the simulated run
        note = f"the theory's fixed point did not converge: {exc}"
    out["theory_icl"] = theory_icl
    out["theory_idg"] = theory_idg
    out["theory_note"] = note
    out["t_theory"] = time.perf_counter() - t0
    return out


def _check_la(params: dict) -> None:
    _la.parse_point_params(params)


def _check_rt(params: dict) -> None:
    _rt.parse_rt_params(params)


register_model("linear-attention", linear_attention_point,
               check=_check_la, description="ridge-pretrained linear attention, with theory")
#: the RT family's key defaults: the parameters added after 0.1.0, and y2_scale's old default
#: (its new one is implicit; rmt_icl.simulate.rt_params.Y2_IMPLICIT)
RT_KEY_DEFAULTS = {**_rt.COMPANION_DEFAULTS, **_rt.Y2_KEY_DEFAULT}

register_model("random-transformer", random_transformer_point,
               defaults=RT_KEY_DEFAULTS, implicit=_rt.Y2_IMPLICIT,
               check=_check_rt, description="random transformer (frozen F, ridge head), with "
               "theory")
register_model("hermite", _rt.simulate_point_hermite,
               defaults=RT_KEY_DEFAULTS, implicit=_rt.Y2_IMPLICIT,
               check=_check_rt, description="Hermite-equivalent model of degree 'degree'")
register_model("linear-transformer", _rt.simulate_point_linear,
               defaults=RT_KEY_DEFAULTS, implicit=_rt.Y2_IMPLICIT,
               check=_check_rt, description="linear transformer on the RT's prompts")
