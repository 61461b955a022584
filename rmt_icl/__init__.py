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

from rmt_icl._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_EXPORTS = {
    "hermite_coefficients": "rmt_icl.hermite",
    "hermite_residual": "rmt_icl.hermite",
    "hermite_expansion": "rmt_icl.hermite",
    "dual_kernel": "rmt_icl.hermite",
    "hermite_polynomials": "rmt_icl.hermite",
    "hermite_series": "rmt_icl.hermite",
    "get_activation": "rmt_icl.hermite",
    "ScalingPath": "rmt_icl.simulate",
    "reproduce": "rmt_icl.gallery",
    "RmtIclError": "rmt_icl.errors",
    "ConvergenceError": "rmt_icl.errors",
}
_SUBMODULES = ("hermite", "theory", "simulate", "sweep", "plotting", "lsa", "errors", "cli",
               "gallery")

# `rmt_icl.sweep` is the sweep package, callable as the sweep function itself
__all__ = sorted(_EXPORTS) + ["sweep", "__version__"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
