"""Random transformer, Hermite-equivalent models and the paired linear transformer.

Monte Carlo tolerances are multiples of standard errors measured in the same test (over
independent runs, or over test contexts for paired differences on the same run).
"""

import json
import math

import numpy as np
import pytest

from rmt_icl.core.errors import MemoryBudgetError
from rmt_icl.core.seeding import run_seed, stream
from rmt_icl.core.stats import mean_se
from rmt_icl.hermite import get_activation
from rmt_icl.simulate.data import sample_prompts
from rmt_icl.simulate.linear_attention import simulate_point as la_point
from rmt_icl.simulate.normalisation import ridge_la_from_bar, t_analytic, t_estimate
from rmt_icl.simulate.random_transformer import (
    MultiModelResult,
    parse_models,
    parse_rt_params,
    simulate_models,
    simulate_point_hermite,
    simulate_point_linear,
    simulate_point_rt,
)
from rmt_icl.simulate.ridge import solve_spd
from rmt_icl.simulate.rt_feature_maps import FeatureMap, apply_feature_map, inplace_form
from rmt_icl.simulate.rt_features import (
    NoiseField,
    preactivations,
    rfp_solve,
    sfrk_update,
    shared_context_preactivations,
)
from rmt_icl.simulate.rt_resources import memory_plan

BASE = dict(d=10, alpha=2.0, tau=2.0, width_ratio=0.5, ridge=0.2, activation="relu",
            target="tanh", rho=1e-4, n_test=800)


# ----------------------------------------------------------------------------- normalisation


def test_t_analytic_reference_values():
    # values tabulated independently of this code: d = 32, alpha = 2, tanh, rho = 1e-4
    assert t_analytic(32, 64, "tanh", 1e-4) == pytest.approx(18.206, abs=5e-4)
    assert t_analytic(32, 64, "tanh", 1e-4, y2_scale=math.sqrt(32)) == pytest.approx(
        23.075, abs=5e-4)
    # linear target: t = d(1+rho)/alpha + d(1 + 1/ell) + (1+rho)^2 (1 + 2/ell)
    d, ell, rho = 12, 30, 0.3
    expect = d * (1 + rho) / (ell / d) + d * (1 + 1 / ell) + (1 + rho) ** 2 * (1 + 2 / ell)
    assert t_analytic(d, ell, "linear", rho) == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("target, y2", [("tanh", 1.0), ("relu", 1.0), ("he2", 3.0),
                                        ("linear", 1.0)])
def test_t_analytic_matches_monte_carlo(target, y2):
    d, ell, rho, m = 12, 20, 0.1, 40000
    p = sample_prompts(np.random.default_rng(5), m, d, ell, target, rho, y2_scale=y2)
    est, se = t_estimate(p.xq, p.h)
    assert abs(est - t_analytic(d, ell, target, rho, y2_scale=y2)) < 4 * se


# ----------------------------------------------------------------------------- features


def test_shared_context_route_equals_explicit_features():
    rng = np.random.default_rng(0)
    d, k, c, Q = 7, 33, 5, 4
    F = rng.standard_normal((k, d * (d + 1)))
    h, xq = rng.standard_normal((c, d + 1)), rng.standard_normal((c, Q, d))
    u = shared_context_preactivations(F, h, xq, block_bytes=8 * c * d * 5)   # several blocks
    vh = np.einsum("iqa,ij->iqaj", xq, h).reshape(c * Q, -1)
    np.testing.assert_allclose(u, vh @ F.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(preactivations(F, xq.reshape(c * Q, d), np.repeat(h, Q, 0)),
                               vh @ F.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("p", [1, 6, 7])
def test_packed_gram_and_solve_match_dense(p):
    rng = np.random.default_rng(p)
    phi = rng.standard_normal((11, p))
    rhs = rng.standard_normal(p)
    g = np.zeros(p * (p + 1) // 2)
    sfrk_update(g, phi[:5], rows_are_samples=True)
    sfrk_update(g, phi[5:], rows_are_samples=True)
    dense = phi.T @ phi
    np.testing.assert_allclose(rfp_solve(g.copy(), p, rhs, 0.3), solve_spd(dense, rhs, 0.3),
                               rtol=1e-10)
    np.testing.assert_allclose(rfp_solve(g, p, rhs, 0.0), solve_spd(dense, rhs, 0.0),
                               rtol=1e-8)
    gd = np.zeros(11 * 12 // 2)                      # dual Gram phi phi^T, rank p < 11
    sfrk_update(gd, phi, rows_are_samples=False)
    y = rng.standard_normal(11)
    np.testing.assert_allclose(rfp_solve(gd, 11, y, 0.0), solve_spd(phi @ phi.T, y, 0.0),
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("axis", [0, 1])
def test_noise_field_independent_of_chunking(axis):
    base = np.random.SeedSequence(3, spawn_key=(1,))
    shape = (150, 70) if axis == 0 else (70, 150)
    whole = NoiseField(base, shape, axis=axis).slice(0, 150)
    field = NoiseField(base, shape, axis=axis)
    parts = [field.slice(lo, min(150, lo + 37)) for lo in range(0, 150, 37)]
    np.testing.assert_array_equal(whole, np.concatenate(parts, axis=axis))
    assert abs(whole.mean()) < 5 / math.sqrt(whole.size)
    assert abs(whole.var() - 1) < 5 * math.sqrt(2 / whole.size)


# ----------------------------------------------------------------------------- exact identities


@pytest.mark.parametrize("name", ["relu", "tanh"])
def test_inplace_activations_match_registry(name):
    act = get_activation(name)
    u = np.random.default_rng(1).standard_normal((5, 7))
    out = np.empty_like(u)
    got = apply_feature_map(FeatureMap("rt", act, inplace=inplace_form(act)), u, None, out)
    assert got is out
    np.testing.assert_array_equal(got, act(u))

    def relu(v):                      # a user callable that only shares the name
        return np.maximum(v, 0.1 * v)
    assert inplace_form(get_activation(relu)) is None


def test_polynomial_activation_hermite_model_is_the_rt():
    """sigma = u^2 = He_2 + 1 has c*_p = 0 for p >= 2: the Hermite model IS the RT."""
    out = simulate_models({**BASE, "activation": "quadratic"}, 4, ("rt", "hermite:2,3"))
    for name in ("hermite:2", "hermite:3"):
        assert out[name].c_star == pytest.approx(0.0, abs=1e-12)
        assert out[name].icl == pytest.approx(out["rt"].icl, rel=1e-9)
        assert out[name].train_mse == pytest.approx(out["rt"].train_mse, rel=1e-7)


def test_ridgeless_identity_rt_wider_than_D_is_the_linear_transformer():
    """k >= D and lambda_bar -> 0: Phi spans the columns of vec H, so the fit is least squares."""
    p = {**BASE, "activation": "identity", "width_ratio": 1.5, "ridge": 1e-9, "ridge_la": 0.0}
    out = simulate_models(p, 9, ("rt", "linear"))
    assert out.run.k > out.run.D and out.run.n > out.run.D
    assert out["rt"].icl == pytest.approx(out["linear"].icl, rel=1e-5)
    assert out["rt"].train_mse == pytest.approx(out["linear"].train_mse, rel=1e-5)


# ----------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("width_ratio", [0.5, 2.0])        # primal and dual solvers
def test_reproducible_across_runs_and_chunk_sizes(width_ratio):
    p = {**BASE, "width_ratio": width_ratio, "kappa": 1.5}
    models = ("rt", "hermite:3", "linear")
    ref = simulate_models(p, run_seed(5, 1), models)
    again = simulate_models(p, run_seed(5, 1), models)
    other = simulate_models({**p, "chunk": 37}, run_seed(5, 1), models)
    assert ref.run.solver == ("primal" if width_ratio < 1 else "dual")
    for m in ref:
        for key in ("icl", "idg", "train_mse"):
            assert getattr(again[m], key) == getattr(ref[m], key)
            assert getattr(other[m], key) == pytest.approx(getattr(ref[m], key), rel=1e-12,
                                                           abs=1e-13)
    different = simulate_models(p, run_seed(5, 2), models)
    assert different["rt"].icl != ref["rt"].icl


def test_point_functions_share_prompts_and_features():
    p = {**BASE, "kappa": 2.0, "degree": 2}
    seed = run_seed(8, 0, (3,))
    many = simulate_models(p, seed, ("rt", "hermite:2", "linear"))
    assert simulate_point_rt(p, seed)["icl"] == pytest.approx(many["rt"].icl, rel=1e-12)
    assert simulate_point_hermite(p, seed)["idg"] == pytest.approx(many["hermite:2"].idg,
                                                                   rel=1e-12)
    lin = simulate_point_linear({k: v for k, v in p.items() if k != "width_ratio"}, seed)
    assert lin["icl"] == pytest.approx(many["linear"].icl, rel=1e-12)
    # same training prompts as the linear-attention simulator: same Gamma, same exact error
    q = {**p, "target": "linear"}
    lin = simulate_point_linear(q, seed)
    la = la_point({k: q[k] for k in ("d", "alpha", "tau", "kappa", "rho")}
                  | {"ridge": lin["ridge_la"], "y2_scale": "companion"}, seed)  # RT default
    assert lin["icl_exact"] == pytest.approx(la["icl"], rel=1e-9)
    assert lin["idg_exact"] == pytest.approx(la["idg"], rel=1e-9)
    assert lin["ridge_la"] == pytest.approx(
        ridge_la_from_bar(p["ridge"], lin["d"], lin["n"], lin["t"]), rel=1e-12)
    assert many.run.ridge_paper == pytest.approx(p["ridge"] / many.run.n)


def test_result_dataclass_and_flat_records():
    """``simulate_models`` returns a :class:`MultiModelResult`; a model's flat record (the point
    functions' contract) holds the same numbers as the attributes."""
    p = {**BASE, "kappa": 2.0, "degree": 2}
    seed = run_seed(8, 0, (3,))
    res = simulate_models(p, seed, ("rt", "hermite:2", "linear"))
    assert isinstance(res, MultiModelResult) and res.names == ["rt", "hermite:2", "linear"]
    herm, rt = res["hermite:2"], res["rt"]
    flat = res.flat("hermite:2")
    assert (flat["icl"], flat["idg"], flat["k"], flat["t_total"]) == (
        herm.icl, herm.idg, res.run.k, res.timings.total)
    assert flat["icl_minus_rt"] == herm.icl_minus_rt
    # the mean of the paired per-context differences is the difference of the means
    assert herm.icl_minus_rt == pytest.approx(herm.icl - rt.icl, rel=1e-9, abs=1e-15)
    assert rt.icl_minus_rt is None and "icl_minus_rt" not in res.flat("rt")
    assert herm.degree == 2 and rt.degree is None and math.isnan(rt.c_star)
    assert res.as_dict()["linear"]["icl_exact"] is not None
    rec = simulate_point_rt(p, seed)
    assert rec["icl"] == rt.icl
    json.dumps(rec, allow_nan=True)
    assert all(isinstance(v, (int, float, str, type(None))) for v in rec.values())


def test_several_activations_on_the_same_prompts_and_F():
    """``rt:NAME`` runs the RT with another activation on the same prompts, F and test set: the
    point's own activation under ``rt:NAME`` gives exactly the ``rt`` numbers."""
    p = {**BASE, "activation": "relu"}
    seed = run_seed(9, 0, (3,))
    many = simulate_models(p, seed, ("rt", "rt:relu", "rt:tanh", "rt:linear"))
    assert list(many) == ["rt", "rt:relu", "rt:tanh", "rt:identity"]
    assert many["rt:relu"].icl == pytest.approx(many["rt"].icl, rel=1e-12)
    assert many["rt:tanh"].activation == "tanh"
    alone = simulate_models({**p, "activation": "tanh"}, seed, ("rt",))["rt"]
    assert alone.icl == pytest.approx(many["rt:tanh"].icl, rel=1e-12)
    with pytest.raises(ValueError, match="activation"):
        parse_models("rt:nope")


# ----------------------------------------------------------------------------- Monte Carlo


def test_hermite_model_large_degree_matches_rt():
    """Paired runs (same prompts, F): e_Herm(4) - e_RT within 3 SE at small d (relu sigma,
    where c_3 = c_5 = 0 so p = 4 is also p = 5)."""
    p = {**BASE, "d": 12, "activation": "relu", "ridge": 1.0, "n_test": 1600}
    runs = [simulate_models(p, run_seed(21, r), ("rt", "hermite:4")) for r in range(8)]
    diff, se = mean_se([r["hermite:4"].icl_minus_rt for r in runs])
    assert abs(diff) < 3 * se
    # the paired SE is far below the run-to-run SE of either model: the pairing works
    assert se < 0.5 * mean_se([r["rt"].icl for r in runs])[1]


@pytest.mark.slow
def test_hermite_gap_shrinks_with_d_for_tanh():
    """tanh sigma: at d = 12 the degree-3 Hermite model is significantly off (heavy-tailed
    pre-activations, see :mod:`rmt_icl.simulate.random_transformer`); the paired gap shrinks
    by d = 32 (about 1/d)."""
    gaps = {}
    for d, runs in ((12, 10), (32, 6)):
        p = {**BASE, "d": d, "activation": "tanh", "n_test": 1600}
        out = [simulate_models(p, run_seed(22, r), ("rt", "hermite:3")) for r in range(runs)]
        gaps[d] = mean_se([r["hermite:3"].icl_minus_rt for r in out])
    (g12, s12), (g32, s32) = gaps[12], gaps[32]
    assert g12 > 3 * s12
    assert g12 - g32 > 3 * math.hypot(s12, s32)


@pytest.mark.slow
def test_calibration_point_8_1():
    """Values measured independently of this code: d = 32, alpha = tau = 2, psi = 0.5,
    lambda_bar = 0.205, relu
    sigma, tanh target, companion scaling, rho = 1e-4; RT .3573 +- .0023 (5 runs), linear TF
    at lambda_lin = 1e-2 (lambda_LA = d lambda_lin) .2411 +- .0010."""
    p = dict(d=32, alpha=2.0, tau=2.0, width_ratio=0.5, ridge=0.1 * 2048 / 1000,
             activation="relu", target="tanh", rho=1e-4, y2_scale="companion", n_test=4000,
             ridge_la=0.32)
    runs = [simulate_models(p, run_seed(81, r), ("rt", "hermite:4", "linear"))
            for r in range(5)]
    for name, ref, ref_se in (("rt", 0.3573, 0.0023), ("hermite:4", 0.3559, 0.0026),
                              ("linear", 0.2411, 0.0010)):
        m, se = mean_se([r[name].icl for r in runs])
        assert abs(m - ref) < 3 * math.hypot(se, ref_se), (name, m, se)


def test_identity_rt_approaches_linear_transformer_with_width():
    """sigma = identity: the paired gap e_RT - e_LT (lambda_LA = d t lambda_bar / n) shrinks
    with k/D: large at k = D, within a few SE of 0 and below a fifth of it at k = 16 D."""
    d = 10
    p = {**BASE, "d": d, "activation": "identity", "width_ratio": None, "n_test": 1600}
    gaps = {r: [] for r in (1, 4, 16)}
    for run in range(4):
        for ratio in gaps:
            out = simulate_models({**p, "width_d2": ratio * (d + 1) / d}, run_seed(31, run),
                                  ("rt", "linear"))
            assert out.run.k == ratio * d * (d + 1)
            gaps[ratio].append(-out["linear"].icl_minus_rt)
    (g1, s1), (g4, s4), (g16, s16) = (mean_se(gaps[r]) for r in (1, 4, 16))
    assert g1 > g4 + 3 * math.hypot(s1, s4)
    assert g1 > g16 + 3 * math.hypot(s1, s16)
    assert g16 < g4 + 2 * math.hypot(s4, s16)          # no turn-up at large width
    assert g16 < g1 / 5 and g16 > -3 * s16


def test_double_descent_peak_at_k_equals_n():
    """relu sigma, lambda_bar = 1e-6: the error at k = n exceeds both neighbours (psi = 0.5, 2)
    in every paired run. The peak height is heavy-tailed over runs, so the margin is measured
    on log errors: mean log-ratio > 5 SE. Beyond k = n the fit interpolates."""
    p = {**BASE, "d": 10, "ridge": 1e-6, "activation": "relu", "target": "linear",
         "n_test": 400}
    err = {psi: [] for psi in (0.5, 1.0, 2.0)}
    mse2 = []
    for run in range(4):
        for psi in err:
            out = simulate_point_rt({**p, "width_ratio": psi}, run_seed(41, run))
            err[psi].append(out["icl"])
            if psi == 2.0:
                mse2.append(out["train_mse"])
    peak = np.log(err[1.0])
    for psi in (0.5, 2.0):
        gap, se = mean_se(peak - np.log(err[psi]))
        assert gap > 5 * se
        assert np.all(peak > np.log(err[psi]))
    assert max(mse2) < 1e-6


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad, name", [
    (dict(width_ratio=0.0), "width_ratio"), (dict(width_ratio=-1.0), "width_ratio"),
    (dict(degree=-1), "degree"), (dict(activation="nope"), "activation"),
    (dict(target="nope"), "target"), (dict(ridge=-1.0), "ridge"),
    (dict(normalisation="guess"), "normalisation"), (dict(width_ratio=None), "width"),
    (dict(bogus=1), "bogus"), (dict(y2_scale="huge"), "y2_scale"),
])
def test_bad_input_rejected(bad, name):
    with pytest.raises(ValueError, match=name):
        simulate_models({**BASE, **bad}, 0, ("rt", "hermite"))


def test_bad_model_names_rejected():
    with pytest.raises(ValueError, match="unknown model"):
        parse_models(("rt", "mlp"))
    with pytest.raises(ValueError, match="degree"):
        parse_models("hermite:-2")
    assert parse_models("rt, hermite:1..3, linear") == ["rt", "hermite:1", "hermite:2",
                                                       "hermite:3", "linear"]


def test_memory_checked_before_allocating():
    # d = 400, n = k = 2 d^2: F alone is 8 k D ~ 4 TB
    with pytest.raises(MemoryBudgetError, match=r"GiB.*F .*memory budget"):
        simulate_point_rt({**BASE, "d": 400, "width_ratio": 1.0}, 0)
    with pytest.raises(MemoryBudgetError, match="memory_budget"):
        simulate_point_rt({**BASE, "memory_budget": 1e5}, 0)
    assert issubclass(MemoryBudgetError, ValueError)


def test_models_fitted_in_groups_when_grams_do_not_fit_together():
    """A budget for one Gram at a time gives one training pass per model, same numbers."""
    models = ("rt", "hermite:2", "hermite:4")
    ref = simulate_models(BASE, 6, models)
    _, sizes, opts = parse_rt_params(BASE)
    n_ctx = -(-opts["n_test"] // opts["test_queries"])
    items, group = memory_plan(sizes, 3, False, n_ctx, opts["test_queries"], BASE["ridge"],
                               None, 1 << 40)
    assert group == 3
    grams = next(v for key, v in items.items() if key.startswith("Grams"))
    budget = sum(items.values()) - grams + 1.5 * grams / 3
    assert memory_plan(sizes, 3, False, n_ctx, opts["test_queries"], BASE["ridge"], None,
                       int(budget))[1] == 1
    grouped = simulate_models({**BASE, "memory_budget": budget}, 6, models)
    for m in models:
        assert grouped[m].icl == pytest.approx(ref[m].icl, rel=1e-12)


def test_stream_roles_used_for_common_random_numbers():
    # the Hermite noise fields come from their own roles, so adding a Hermite model to a run
    # leaves the RT untouched
    seed = run_seed(2)
    a = simulate_models(BASE, seed, ("rt",))["rt"].icl
    b = simulate_models(BASE, seed, ("rt", "hermite:1..4"))["rt"].icl
    assert a == b
    assert stream(seed, "hermite_noise_train").bit_generator.seed_seq.spawn_key[-1] >= 1000
