"""Monte Carlo simulator: scaling paths → data → features → ridge fit → exact/empirical error.

Modules (data flows one way):

* :mod:`~rmt_icl.simulate.paths` -- :class:`ScalingPath`, the only place sizes are computed;
* :mod:`~rmt_icl.simulate.data` -- tasks and prompts, exact O(d)-per-prompt sampler;
* :mod:`~rmt_icl.simulate.ridge` -- primal/dual ridge solvers, regularisation paths;
* model modules (linear attention, random transformer, Hermite-equivalent model).

Public names are imported lazily.
"""

from __future__ import annotations

from rmt_icl.core.lazy import lazy_exports

_EXPORTS = {
    "ScalingPath": "rmt_icl.simulate.paths",
    "Sizes": "rmt_icl.simulate.paths",
    "Prompts": "rmt_icl.simulate.data",
    "sample_prompts": "rmt_icl.simulate.data",
    "sample_tasks": "rmt_icl.simulate.data",
    "solve_spd": "rmt_icl.simulate.ridge",
    "EigenRidge": "rmt_icl.simulate.ridge",
    "simulate_models": "rmt_icl.simulate.random_transformer",
    "simulate_point_rt": "rmt_icl.simulate.random_transformer",
    "simulate_point_hermite": "rmt_icl.simulate.random_transformer",
    "simulate_point_linear": "rmt_icl.simulate.random_transformer",
    "t_analytic": "rmt_icl.simulate.normalisation",
    "t_estimate": "rmt_icl.simulate.normalisation",
    "ridge_la_from_bar": "rmt_icl.simulate.normalisation",
    "la_gram": "rmt_icl.simulate.features",
    "la_kernel": "rmt_icl.simulate.features",
    "fit_linear_attention": "rmt_icl.simulate.linear_attention",
    "linear_attention_errors": "rmt_icl.simulate.linear_attention",
    "simulate_point": "rmt_icl.simulate.linear_attention",
    "linear_attention_test_error": "rmt_icl.simulate.test_error",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
