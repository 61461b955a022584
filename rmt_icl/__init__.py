"""rmt_icl: asymptotic, random-matrix analysis of in-context learning (ICL).

Three capabilities, each checked against an independent computation:

* :mod:`rmt_icl.hermite` -- Hermite expansions of activations (coefficients, residuals,
  dual kernels), exact to near machine precision;
* :mod:`rmt_icl.theory` -- deterministic-equivalent ICL error formulas (linear attention,
  random transformer, one-step gradient descent);
* :mod:`rmt_icl.simulate` -- a Monte Carlo simulator that grows all sizes along a scaling path
  and reports error bars.

Conventions shared by the whole toolkit (see ``README.md``): covariates ``x ~ N(0, I_d/d)``,
tasks ``w ~ N(0, I_d)``, noise variance ``rho``, ``ell = alpha d`` context length,
``K = kappa d`` pretraining tasks, ``n = tau d^2`` pretraining prompts, MLP width ``k = psi n``.

Public names are imported lazily, so ``import rmt_icl`` is fast and does not trigger numba
compilation.
"""

from __future__ import annotations

from rmt_icl.core.lazy import forbid_renamed, lazy_exports

__version__ = "0.2.0"

# public name -> module that defines it (imported on first access)
_EXPORTS = {
    "hermite_coefficients": "rmt_icl.hermite",
    "hermite_residual": "rmt_icl.hermite",
    "hermite_expansion": "rmt_icl.hermite",
    "dual_kernel": "rmt_icl.hermite",
    "hermite_polynomials": "rmt_icl.hermite",
    "hermite_series": "rmt_icl.hermite",
    "get_activation": "rmt_icl.hermite",
    "get_target": "rmt_icl.core.targets",
    "ScalingPath": "rmt_icl.simulate",
    "reproduce": "rmt_icl.reporting.gallery",
    "run_sweep": "rmt_icl.sweep.run",
    "RmtIclError": "rmt_icl.core.errors",
    "ConvergenceError": "rmt_icl.core.errors",
}
_SUBMODULES = ("core", "hermite", "theory", "simulate", "lsa", "experiments", "sweep",
               "reporting", "cli")

__all__ = sorted(_EXPORTS) + ["__version__"]

#: modules moved by the layered layout of 0.2.0: old name -> new name
RENAMED_MODULES = {
    "rmt_icl.errors": "rmt_icl.core.errors",
    "rmt_icl._checks": "rmt_icl.core.checks",
    "rmt_icl._lazy": "rmt_icl.core.lazy",
    "rmt_icl.simulate.seeding": "rmt_icl.core.seeding",
    "rmt_icl.simulate.targets": "rmt_icl.core.targets",
    "rmt_icl.theory._targets": "rmt_icl.core.targets",
    "rmt_icl.sweep.registry": "rmt_icl.core.registry",
    "rmt_icl.sweep.toy": "a model module of your own, loaded with the spec key 'plugins'",
    "rmt_icl.simulate.runner": "rmt_icl.experiments.runner",
    "rmt_icl.simulate.validation": "rmt_icl.experiments.la_validation",
    "rmt_icl.equivalence": "rmt_icl.experiments.equivalence",
    "rmt_icl.rt_theory_validation": "rmt_icl.experiments.rt_theory",
    "rmt_icl.plotting": "rmt_icl.reporting",
    "rmt_icl.plotting.style": "rmt_icl.reporting.style",
    "rmt_icl.plotting.figure_cli": "rmt_icl.reporting.figure",
    "rmt_icl.plotting.equivalence": "rmt_icl.reporting.equivalence_plot",
    "rmt_icl.gallery": "rmt_icl.reporting.gallery",
}
forbid_renamed(RENAMED_MODULES)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
