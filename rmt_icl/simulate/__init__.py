"""Monte Carlo simulator: scaling paths -> data -> features -> ridge fit -> exact/empirical error.

Shared pieces
-------------
* :mod:`~rmt_icl.simulate.paths` -- :class:`ScalingPath`, the only place sizes are computed;
* :mod:`~rmt_icl.simulate.data` -- tasks and prompts, the exact O(d)-per-prompt sampler, and
  :func:`sample_training_prompts`, the one definition of a run's pretraining prompts;
* :mod:`~rmt_icl.simulate.ridge` -- primal/dual ridge solvers, regularisation paths;
* :mod:`~rmt_icl.simulate.normalisation` -- ``t = Tr Cov(vec H_Z)`` and ridge-unit conversions.

Linear attention (Lu et al. 2024)
---------------------------------
:mod:`~rmt_icl.simulate.features` (``vec H`` Grams and kernels) ->
:mod:`~rmt_icl.simulate.linear_attention` (fit ``Gamma``, one run) ->
:mod:`~rmt_icl.simulate.test_error` (exact error of a given ``Gamma``).

Random transformer and its Hermite models (Demir & Dogan 2025)
--------------------------------------------------------------
:func:`~rmt_icl.simulate.random_transformer.simulate_models` drives one run; data flows one
way through modules with one job each::

    params, model names --rt_params--> path, sizes, options, canonical names
        --rt_feature_maps--> FeatureMap per RT/Hermite model
        --rt_resources--> memory plan (models per training pass; raises before allocating)
    seed --data.sample_training_prompts--> training prompts, task pool
         --rt_evaluation.sample_test_sets--> ICL (and IDG) test contexts
    training prompts --normalisation--> t
    F (rt_features.sample_first_layer), prompts --rt_fit--> coefficients per model
        (primal or dual packed-Gram ridge; rt_features: pre-activations, noise, Grams)
        and the linear transformer's Gamma (linear_attention)
    test contexts, F, fits --rt_evaluation--> per-context errors per model
        --rt_results--> MultiModelResult (RunInfo, Timings, ModelResult per model)

Data from several sources (:mod:`~rmt_icl.simulate.sources`: training mixture, stratified test
sets, ``t`` under the mixture) and one gradient step on ``F`` before the fit
(:mod:`~rmt_icl.simulate.gradient_step`, ``F_hat = F + eta G``) plug into the same pipeline
(Demir & Dogan, NeurIPS 2025, arXiv:2510.25753); ``docs/companion_model.md``.

:mod:`~rmt_icl.simulate.rt_resources` also holds the chunk sizes and the phase clock.
``simulate_point_rt``, ``simulate_point_hermite`` and ``simulate_point_linear`` are the sweep
point functions (flat dicts, :meth:`MultiModelResult.flat`).

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
    "sample_training_prompts": "rmt_icl.simulate.data",
    "solve_spd": "rmt_icl.simulate.ridge",
    "EigenRidge": "rmt_icl.simulate.ridge",
    "simulate_models": "rmt_icl.simulate.random_transformer",
    "simulate_point_rt": "rmt_icl.simulate.random_transformer",
    "simulate_point_hermite": "rmt_icl.simulate.random_transformer",
    "simulate_point_linear": "rmt_icl.simulate.random_transformer",
    "MultiModelResult": "rmt_icl.simulate.rt_results",
    "ModelResult": "rmt_icl.simulate.rt_results",
    "parse_rt_params": "rmt_icl.simulate.rt_params",
    "parse_models": "rmt_icl.simulate.rt_params",
    "t_analytic": "rmt_icl.simulate.normalisation",
    "t_estimate": "rmt_icl.simulate.normalisation",
    "ridge_la_from_bar": "rmt_icl.simulate.normalisation",
    "la_gram": "rmt_icl.simulate.features",
    "la_kernel": "rmt_icl.simulate.features",
    "fit_linear_attention": "rmt_icl.simulate.linear_attention",
    "linear_attention_errors": "rmt_icl.simulate.linear_attention",
    "simulate_point": "rmt_icl.simulate.linear_attention",
    "linear_attention_test_error": "rmt_icl.simulate.test_error",
    "DataModel": "rmt_icl.simulate.sources",
    "parse_data_model": "rmt_icl.simulate.sources",
    "first_layer_gradient": "rmt_icl.simulate.gradient_step",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
