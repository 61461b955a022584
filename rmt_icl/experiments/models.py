"""The built-in sweep models of the simulators, each registered with its defaults and check.

=====================  ===================================================================
model                  point function
=====================  ===================================================================
``linear-attention``   ridge-pretrained linear attention, with its deterministic equivalent
                       (Lu et al. 2024) at the realised ratios as ``theory_icl``/``theory_idg``
``random-transformer`` the random transformer (random frozen first layer, ridge second layer)
``hermite``            its Hermite-equivalent model of degree ``degree``
``linear-transformer`` the linear transformer on the random transformer's prompts
=====================  ===================================================================

The studies register theirs in their own modules (:mod:`rmt_icl.experiments.equivalence`,
:mod:`rmt_icl.experiments.rt_theory`).
"""

from __future__ import annotations

import math
import time

from rmt_icl.core.registry import register_model
from rmt_icl.simulate import linear_attention as _la
from rmt_icl.simulate import random_transformer as _rt
from rmt_icl.theory.linear_attention import linear_attention_icl_error, linear_attention_idg_error


def linear_attention_point(params: dict, seed) -> dict:
    """One run of linear attention (:func:`rmt_icl.simulate.linear_attention.simulate_point`)
    plus the deterministic equivalent at the run's realised ratios ``ell/d``, ``K/d``, ``n/d^2``.

    ``theory_icl`` and ``theory_idg`` are NaN where the theory does not apply (a nonlinear
    target, or ``y2_scale != 1``); ``t_theory`` is the time they took.
    """
    out = _la.simulate_point(params, seed)
    path, _, opts = _la.parse_point_params(params)
    t0 = time.perf_counter()
    theory_icl = theory_idg = math.nan
    if opts["target"].is_linear and opts["y2_scale"] == 1.0:
        kappa = out["kappa_realised"]
        ratios = dict(alpha=out["alpha_realised"], tau=out["tau_realised"],
                      kappa=math.inf if kappa is None else kappa, rho=path.rho,
                      ridge=path.ridge)
        theory_icl = float(linear_attention_icl_error(**ratios))
        theory_idg = float(linear_attention_idg_error(**ratios))
    out["theory_icl"], out["theory_idg"] = theory_icl, theory_idg
    out["t_theory"] = time.perf_counter() - t0
    return out


def _check_la(params: dict) -> None:
    _la.parse_point_params(params)


def _check_rt(params: dict) -> None:
    _rt.parse_rt_params(params)


register_model("linear-attention", linear_attention_point,
               check=_check_la, description="ridge-pretrained linear attention, with theory")
register_model("random-transformer", _rt.simulate_point_rt,
               check=_check_rt, description="random transformer (frozen F, ridge head)")
register_model("hermite", _rt.simulate_point_hermite,
               check=_check_rt, description="Hermite-equivalent model of degree 'degree'")
register_model("linear-transformer", _rt.simulate_point_linear,
               check=_check_rt, description="linear transformer on the RT's prompts")
