"""Training one-layer linear self-attention (LSA) on in-context regression, in plain numpy.

* :mod:`rmt_icl.lsa.model` -- token layout with the masked query, the merged (W^{PV}, W^{KQ})
  and Mahankali (W_K, W_Q, W_V, rho) parametrisations, forward passes, analytic gradients and
  the effective preconditioner Gamma_eff;
* :mod:`rmt_icl.lsa.data` -- prompt distributions (Gaussian covariates with any covariance and
  task prior, or nonlinear targets), fresh batches or a finite task pool, and the theory
  optimum Gamma* / L* each distribution implies;
* :mod:`rmt_icl.lsa.train` -- the pretraining loop (Adam or GD) with divergence detection and a
  held-out evaluation;
* :mod:`rmt_icl.lsa.certificate` -- least squares over all LSA features (a convex relaxation),
  certifying out of sample that no LSA beats Gamma*.

Predictor convention: y_hat = h^T Gamma x_q with h = X^T y / n (see
:mod:`rmt_icl.theory.one_step_gd`).
"""

from __future__ import annotations

from rmt_icl.core.lazy import lazy_exports

_EXPORTS = {
    "make_tokens": "rmt_icl.lsa.model",
    "MergedLSA": "rmt_icl.lsa.model",
    "MahankaliLSA": "rmt_icl.lsa.model",
    "PromptDistribution": "rmt_icl.lsa.data",
    "TaskPool": "rmt_icl.lsa.data",
    "parse_cov": "rmt_icl.lsa.data",
    "train_lsa": "rmt_icl.lsa.train",
    "evaluate_lsa": "rmt_icl.lsa.train",
    "TrainResult": "rmt_icl.lsa.train",
    "relaxation_certificate": "rmt_icl.lsa.certificate",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
