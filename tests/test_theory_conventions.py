"""The calling convention of every public function of :mod:`rmt_icl.theory`.

* The arguments that define the model (an activation, a target, a step, a matrix, covariances)
  are positional; the ratios ``alpha, tau, kappa, width_ratio, rho, ridge`` and the sizes
  ``n, d, noise_var`` are keyword-only, in that documented order, so a positional call of the
  old form raises ``TypeError`` instead of silently swapping ``alpha`` and ``tau``.
* Scalar input gives a numpy float (never a 0-d array), in every numeric field of a result
  tuple; array input gives arrays of the broadcast shape.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from rmt_icl import theory

RATIOS = ("alpha", "tau", "kappa", "width_ratio", "rho", "ridge")
SIZES = ("n", "d", "noise_var")

G3 = np.diag([1.0, 0.5, 0.25])
POINT_LA = dict(alpha=2.0, tau=0.7, kappa=1.5, rho=0.1, ridge=1e-2)
ARRAY_LA = dict(alpha=np.array([1.0, 2.0, 4.0]), tau=np.array([[0.5], [2.0]]), kappa=np.inf,
                rho=0.1, ridge=1e-2)
POINT_RT = dict(alpha=2.0, tau=0.7, kappa=np.inf, width_ratio=1.5, rho=0.1, ridge=1e-2)
ARRAY_RT = dict(POINT_RT, alpha=np.array([1.0, 2.0, 4.0]), tau=np.array([[0.5], [2.0]]))

#: name -> (positional model arguments, scalar keywords, array keywords or None, broadcast shape,
#: a call of the old positional form)
SPECS = {
    "linear_attention_icl_error": ((), POINT_LA, ARRAY_LA, (2, 3),
                                   (0.7, 2.0, 1.5, 0.1, 1e-2)),
    "linear_attention_idg_error": ((), POINT_LA, ARRAY_LA, (2, 3), (0.7, 2.0, 1.5, 0.1, 1e-2)),
    "linear_attention_fixed_point": ((), POINT_LA, ARRAY_LA, (2, 3),
                                     (0.7, 2.0, 1.5, 0.1, 1e-2)),
    "linear_attention_auxiliaries": ((), POINT_LA, ARRAY_LA, (2, 3),
                                     (0.7, 2.0, 1.5, 0.1, 1e-2)),
    "random_transformer_icl_error": (("relu", "linear"), POINT_RT, ARRAY_RT, (2, 3),
                                     ("relu", "linear", 2.0, 0.7, np.inf, 1.5, 0.1, 1e-2)),
    "random_transformer_auxiliaries": (("identity", "linear"), POINT_RT, ARRAY_RT, (2, 3),
                                       ("identity", "linear", 2.0, 0.7, np.inf, 1.5, 0.1, 1e-2)),
    "random_transformer_idg_error": (("relu", "linear"), POINT_RT, ARRAY_RT, (2, 3),
                                     ("relu", "linear", 2.0, 0.7, np.inf, 1.5, 0.1, 1e-2)),
    "one_step_gd_optimum": ((), dict(n=10, d=4, noise_var=0.1),
                            dict(n=np.array([[10], [20]]), d=np.array([3, 4, 5]), noise_var=0.1),
                            (2, 3), (10, 4, 0.1)),
    "one_step_gd_loss": ((0.5,), dict(n=10, d=4, noise_var=0.1),
                         dict(n=np.array([[10], [20]]), d=np.array([3, 4, 5]), noise_var=0.1),
                         (2, 3), (0.5, 10, 4, 0.1)),
    "step_to_unnormalised": ((0.5,), dict(n=10), dict(n=np.array([[10], [20]])), (2, 1),
                             (0.5, 10)),
    "lsa_loss": ((G3, G3), dict(n=10, noise_var=0.1), None, None, (G3, 10, G3)),
    "optimal_lsa": ((G3,), dict(n=10, noise_var=0.1), None, None, (10, G3)),
    "one_step_gd_nonlinear": (("signed:relu",), dict(n=10, d=4, noise_var=0.1), None, None,
                              (10, "signed:relu", 4, 0.1)),
    "one_step_gd_non_gaussian": (("uniform",), dict(n=10, d=4, noise_var=0.1), None, None,
                                 (10, 4, 0.1, "uniform")),
    "bayes_ridge_risk": ((), dict(n=10, d=4, noise_var=0.1, n_draws=200), None, None,
                         (10, 4, 0.1)),
    "bayes_ridge_risk_mp": ((), dict(n=10, d=4, noise_var=0.1),
                            dict(n=np.array([[10], [20]]), d=np.array([3, 4, 5]), noise_var=0.1),
                            (2, 3), (10, 4, 0.1)),
    "least_squares_risk": ((), dict(n=10, d=4, noise_var=0.1),
                           dict(n=np.array([[10], [20]]), d=np.array([3, 4, 5]), noise_var=0.1),
                           (2, 3), (10, 4, 0.1)),
    "gd_risk": (([0.3, 0.4],), dict(n=10, d=4, noise_var=0.1, n_draws=200), None, None,
                (10, 4, 0.1, [0.3, 0.4])),
    "optimal_gd_risk": ((2,), dict(n=10, d=4, noise_var=0.1, n_draws=200), None, None,
                        (10, 4, 0.1, 2)),
    "gd_risk_mp": (([0.3, 0.4],), dict(n=10, d=4, noise_var=0.1), None, None,
                   (10, 4, 0.1, [0.3, 0.4])),
}
#: public functions without ratio or size arguments (matrix conversions)
NO_SIZES = {"gamma_to_merged", "merged_to_gamma"}


def _public_functions():
    names = [n for n in theory.__all__ if inspect.isfunction(getattr(theory, n))]
    return sorted(names)


def _numeric_fields(result):
    """The computed values of a result: itself, or the fields of a named tuple or dataclass."""
    if dataclasses.is_dataclass(result):
        values = [getattr(result, f.name) for f in dataclasses.fields(result)]
    elif isinstance(result, tuple):
        values = list(result)
    else:
        values = [result]
    # skipped: flags, labels, nested moments and the integer sizes a result echoes (n, d)
    return [v for v in values
            if v is not None and not isinstance(v, (bool, int, str, np.bool_))
            and not dataclasses.is_dataclass(v)]


def test_every_public_function_has_a_spec():
    assert set(_public_functions()) == set(SPECS) | NO_SIZES


@pytest.mark.parametrize("name", sorted(SPECS))
def test_ratios_and_sizes_are_keyword_only_in_the_documented_order(name):
    params = inspect.signature(getattr(theory, name)).parameters
    named = [p for p in params if p in RATIOS or p in SIZES]
    assert named, name
    for p in named:
        assert params[p].kind is inspect.Parameter.KEYWORD_ONLY, (name, p)
    order = RATIOS if named[0] in RATIOS else SIZES
    if order is RATIOS and named[-1] == "d":  # a finite-d qualifier, after every ratio
        named = named[:-1]
    assert named == [p for p in order if p in named], (name, named)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_positional_call_of_the_old_form_raises_type_error(name):
    old = SPECS[name][4]
    with pytest.raises(TypeError):
        getattr(theory, name)(*old)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_scalar_input_gives_floats(name):
    model, scalar, _, _, _ = SPECS[name]
    result = getattr(theory, name)(*model, **scalar)
    fields = _numeric_fields(result)
    assert fields, name
    for value in fields:
        if name in ("optimal_lsa", "gd_risk", "optimal_gd_risk") and np.ndim(value) > 0:
            continue  # a matrix Gamma* or a vector of steps, not a per-point quantity
        assert isinstance(value, float) and np.ndim(value) == 0, (name, type(value), value)


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if s[2] is not None))
def test_array_input_gives_arrays_of_the_broadcast_shape(name):
    model, _, array, shape, _ = SPECS[name]
    result = getattr(theory, name)(*model, **array)
    for value in _numeric_fields(result):
        assert isinstance(value, np.ndarray) and value.shape == shape, (name, np.shape(value))


#: the same convention for the optional forms of the model arguments: a nonlinear target of
#: linear attention, a callable activation of the random transformer, and ridge = 0 (the
#: ridgeless limit) -> (positional model arguments, scalar keywords, array keywords)
VARIANTS = {
    "linear_attention_icl_error": (("relu",), dict(POINT_LA, ridge=0.0), ARRAY_LA),
    "linear_attention_idg_error": ((np.tanh,), POINT_LA, dict(ARRAY_LA, ridge=0.0)),
    "random_transformer_icl_error": ((np.tanh, "relu"), dict(POINT_RT, ridge=0.0),
                                     dict(ARRAY_RT, ridge=0.0)),
    "random_transformer_auxiliaries": (("identity", "tanh"), dict(POINT_RT, ridge=0.0),
                                       dict(ARRAY_RT, ridge=np.array([0.0, 1e-2, 0.0]))),
    "random_transformer_idg_error": (("tanh", "relu"), dict(POINT_RT, kappa=1.0,
                                                            y2_scale="companion"),
                                     dict(ARRAY_RT, kappa=1.0, ridge=0.0)),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_optional_model_arguments_keep_the_convention(name):
    model, scalar, array = VARIANTS[name]
    fn = getattr(theory, name)
    for value in _numeric_fields(fn(*model, **scalar)):
        assert isinstance(value, float) and np.ndim(value) == 0, (name, type(value), value)
    for value in _numeric_fields(fn(*model, **array)):
        assert isinstance(value, np.ndarray) and value.shape == (2, 3), (name, np.shape(value))


def test_lsa_loss_of_a_stack_is_an_array():
    assert theory.lsa_loss(np.stack([G3, 2 * G3]), G3, n=10).shape == (2,)
