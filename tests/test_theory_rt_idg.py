"""The random transformer's IDG error, finite task pools and the companion y^2 scaling.

Exact checks of the formulas (limits, identities), plus Monte Carlo checks at one small size
with tolerances from the measured standard error and the finite-size allowance of the
validation grid (docs/theory/random_transformer.md, sections 9 and 10).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rmt_icl.core.seeding import run_seed
from rmt_icl.core.stats import mean_se
from rmt_icl.experiments.models import realised_rt_theory
from rmt_icl.simulate.random_transformer import simulate_models
from rmt_icl.theory import (
    linear_attention_idg_error,
    random_transformer_auxiliaries,
    random_transformer_icl_error,
    random_transformer_idg_error,
)

GRID = dict(alpha=2.0, tau=np.array([0.5, 2.0, 0.5, 2.0]),
            width_ratio=np.array([0.5, 2.0, 2.0, 0.5]), rho=0.1)


@pytest.mark.parametrize("activation", ["identity", "relu", "tanh", "gelu"])
@pytest.mark.parametrize("ridge", [0.0, 1e-3, 0.1])
def test_idg_tends_to_icl_for_a_large_pool(activation, ridge):
    """kappa -> inf: the pool's covariance becomes isotropic and IDG = ICL (section 9.2)."""
    big = random_transformer_auxiliaries(activation, "linear", kappa=1e9, ridge=ridge, **GRID)
    fresh = random_transformer_auxiliaries(activation, "linear", kappa=np.inf, ridge=ridge,
                                           **GRID)
    assert np.all(fresh.idg_error == fresh.error)          # exactly, by definition
    np.testing.assert_allclose(big.idg_error, fresh.error, rtol=1e-8)
    np.testing.assert_allclose(big.error, fresh.error, rtol=1e-8)


@pytest.mark.parametrize("activation", ["identity", "relu"])
def test_pool_tasks_are_easier_and_the_gap_closes_with_kappa(activation):
    kappas = np.array([0.5, 1.0, 2.0, 8.0, 64.0])
    icl = random_transformer_icl_error(activation, "linear", alpha=2.0, tau=2.0, kappa=kappas,
                                       width_ratio=0.5, rho=0.1, ridge=0.1)
    idg = random_transformer_idg_error(activation, "linear", alpha=2.0, tau=2.0, kappa=kappas,
                                       width_ratio=0.5, rho=0.1, ridge=0.1)
    assert np.all(idg < icl)
    assert np.all(np.diff(icl - idg) < 0)   # the generalisation gap closes as the pool grows


def test_idg_wide_limit_is_linear_attention_idg():
    """psi -> inf (identity): the sketch disappears, e_IDG = Lu's IDG at lambda_0 = s lbar/tau."""
    for y2_scale, s in (("la", 1.0 + 1.1 / 2.0), ("companion", 1.0 + 1.1 / 2.0 + 1.1**2)):
        kappa = 0.5 if y2_scale == "la" else 2.0
        rt = random_transformer_idg_error("identity", "linear", alpha=2.0, tau=2.0, kappa=kappa,
                                          width_ratio=np.inf, rho=0.1, ridge=0.3,
                                          y2_scale=y2_scale)
        la = linear_attention_idg_error(alpha=2.0, tau=2.0, kappa=kappa, rho=0.1,
                                        ridge=s * 0.3 / 2.0)
        assert rt == pytest.approx(float(la), rel=1e-9)


@pytest.mark.parametrize("activation, target, limit", [
    ("relu", "relu", "var"), ("tanh", "relu", "second"), ("identity", "linear", "second")])
def test_idg_large_ridge_limit(activation, target, limit):
    """lambda_bar -> inf: the predictor tends to its intercept (Var y) or to 0 (E y^2)."""
    e = random_transformer_idg_error(activation, target, alpha=2.0, tau=2.0, kappa=1.0,
                                     width_ratio=0.5, rho=0.1, ridge=1e9)
    second = {"relu": 0.5, "linear": 1.0}[target] + 0.1
    expect = second - (1 / (2 * math.pi) if limit == "var" else 0.0)
    assert e == pytest.approx(expect, rel=1e-6)


def test_idg_is_infinite_at_the_ridgeless_threshold():
    e = random_transformer_idg_error("relu", "linear", alpha=2.0, tau=[0.5, 2.0], kappa=1.0,
                                     width_ratio=[1.0, 0.5], rho=0.1, ridge=0.0)
    assert math.isinf(e[0]) and math.isfinite(e[1])


def test_y2_scale_sets_the_limit_of_t():
    kw = dict(alpha=2.0, tau=2.0, kappa=math.inf, width_ratio=0.5, rho=0.1, ridge=0.02)
    q, a1 = 1.1, 1.0
    comp = random_transformer_auxiliaries("relu", "linear", y2_scale="companion", **kw)
    assert comp.y2_share == pytest.approx(q**2 / (a1**2 + q / 2.0 + q**2), rel=1e-12)
    assert comp.error == random_transformer_icl_error(
        "relu", "linear", t_over_d=a1**2 + q / 2.0 + q**2, **kw)
    la = random_transformer_auxiliaries("relu", "linear", y2_scale="la", **kw)
    assert la.y2_share == 0.0 and la.error == random_transformer_icl_error(
        "relu", "linear", t_over_d=a1**2 + q / 2.0, **kw)
    assert comp.error == random_transformer_icl_error("relu", "linear", **kw)  # the default
    d = 100
    num = random_transformer_icl_error("relu", "linear", y2_scale=math.sqrt(d), d=d, **kw)
    assert num == pytest.approx(float(comp.error), rel=1e-12)   # c = sqrt(d) is the companion
    small = random_transformer_icl_error("relu", "linear", y2_scale=1.0, d=d, **kw)
    assert float(la.error) < small < float(comp.error)   # a share q^2/d in between
    assert comp.error > la.error                           # the signal block loses the share


@pytest.mark.parametrize("kwargs, match", [
    (dict(y2_scale=3.0), "pass d"), (dict(y2_scale="sqrt"), "y2_scale must be"),
    (dict(y2_scale=-1.0, d=10), "y2_scale"), (dict(y2_scale=3.0, d=0), "d")])
def test_y2_scale_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_transformer_icl_error("relu", "linear", alpha=2.0, tau=2.0, kappa=math.inf,
                                     width_ratio=0.5, rho=0.1, ridge=0.1, **kwargs)


def test_a_numeric_scale_with_t_over_d_is_accepted():
    e = random_transformer_icl_error("relu", "linear", alpha=2.0, tau=2.0, kappa=math.inf,
                                     width_ratio=0.5, rho=0.1, ridge=0.1, y2_scale=5.0,
                                     t_over_d=2.5)
    assert e == random_transformer_icl_error("relu", "linear", alpha=2.0, tau=2.0,
                                             kappa=math.inf, width_ratio=0.5, rho=0.1,
                                             ridge=0.1, t_over_d=2.5)


#: the companion validation grid's finite-size allowance c of |gap| <= 3 SE + c/d: the 90 %
#: quantile of d * max(|gap| - 3 SE, 0) over its cells at d = 32 and 48 (measured by
#: ``python validation/rt_de_grid.py report --scaling companion``; docs section 10.4)
ALLOWANCE_C = 5.0


@pytest.mark.parametrize("activation, y2_scale", [("identity", "la"), ("tanh", "companion"),
                                                  ("relu", "companion")])
def test_idg_and_icl_at_a_finite_pool_monte_carlo(activation, y2_scale):
    """One cheap point (d = 24, kappa = 1, 6 runs): both errors within 3 SE + C/d."""
    d, runs = 24, 6
    p = dict(d=d, alpha=2.0, tau=1.0, width_ratio=2.0, kappa=1.0, rho=0.1, ridge=0.1,
             activation=activation, target="linear", n_test=8192, test_queries=16,
             y2_scale=y2_scale)
    res = [simulate_models(p, run_seed(11, r, (d,)), ("rt",)).flat("rt") for r in range(runs)]
    for quantity in ("icl", "idg"):
        mean, se = mean_se(np.array([r[quantity] for r in res]))
        theory = realised_rt_theory(res[0], activation, "linear", quantity)
        assert abs(mean - theory) <= 3 * se + ALLOWANCE_C / d, (quantity, mean, se, theory)
