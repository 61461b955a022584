"""Deterministic-equivalent ICL error formulas, one module per model.

Public names are imported lazily from their modules. Calling convention: the arguments that
define the model (an activation, a target, a step, a matrix, covariances) are positional; the
ratios ``alpha, tau, kappa, width_ratio, rho, ridge`` and the sizes ``n, d, noise_var`` are
keyword-only; scalar input gives numpy floats and array input arrays of the broadcast shape.
Targets are resolved by :func:`rmt_icl.core.targets.get_target`.
"""

from __future__ import annotations

from rmt_icl.core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # linear attention (Lu et al. 2024)
    "linear_attention_icl_error": "rmt_icl.theory.linear_attention",
    "linear_attention_idg_error": "rmt_icl.theory.linear_attention",
    "linear_attention_fixed_point": "rmt_icl.theory.linear_attention",
    "linear_attention_auxiliaries": "rmt_icl.theory.linear_attention",
    # one-layer linear self-attention = one step of GD (Mahankali et al. 2023)
    "one_step_gd_optimum": "rmt_icl.theory.one_step_gd",
    "one_step_gd_loss": "rmt_icl.theory.one_step_gd",
    "optimal_lsa": "rmt_icl.theory.one_step_gd",
    "one_step_gd_nonlinear": "rmt_icl.theory.one_step_gd",
    "one_step_gd_non_gaussian": "rmt_icl.theory.one_step_gd",
    "lsa_loss": "rmt_icl.theory.one_step_gd",
    "step_to_unnormalised": "rmt_icl.theory.one_step_gd",
    "gamma_to_merged": "rmt_icl.theory.one_step_gd",
    "merged_to_gamma": "rmt_icl.theory.one_step_gd",
    "bayes_ridge_risk": "rmt_icl.theory._comparators",
    "bayes_ridge_risk_mp": "rmt_icl.theory._comparators",
    "least_squares_risk": "rmt_icl.theory._comparators",
    "gd_risk": "rmt_icl.theory._comparators",
    "optimal_gd_risk": "rmt_icl.theory._comparators",
    "gd_risk_mp": "rmt_icl.theory._comparators",
    # random transformer (Demir & Dogan 2025) deterministic equivalent
    "random_transformer_icl_error": "rmt_icl.theory.random_transformer",
    "random_transformer_auxiliaries": "rmt_icl.theory.random_transformer",
    "random_transformer_idg_error": "rmt_icl.theory.random_transformer",
}

#: public names that moved out of this package -> their new home
MOVED = {"get_target": "rmt_icl.core.targets.get_target"}

__all__ = sorted(_EXPORTS)


_lazy_getattr, __dir__ = lazy_exports(__name__, _EXPORTS)


def __getattr__(name: str):
    if name in MOVED:  # an ImportError, so that `from rmt_icl.theory import ...` keeps the message
        raise ImportError(f"rmt_icl.theory.{name} was moved: use {MOVED[name]} "
                          "(see CHANGELOG.md)", name=__name__)
    return _lazy_getattr(name)
