"""Data from several sources and one gradient step on F (Demir & Dogan, NeurIPS 2025).

Monte Carlo tolerances are multiples of standard errors measured in the same test.
"""

import math

import numpy as np
import pytest

import rmt_icl.experiments  # noqa: F401  (registers the sweep models)
from rmt_icl.core.errors import MemoryBudgetError
from rmt_icl.core.registry import check_point, point_identity
from rmt_icl.core.seeding import run_seed, stream
from rmt_icl.core.stats import mean_se
from rmt_icl.core.targets import get_target
from rmt_icl.hermite import activation_names, get_activation
from rmt_icl.simulate.data import sample_prompts
from rmt_icl.simulate.device import ArrayDevice
from rmt_icl.simulate.gradient_step import (
    activation_derivative,
    first_layer_gradient,
    gradient_step,
    step_eta,
    step_loss,
)
from rmt_icl.simulate.normalisation import t_analytic, t_estimate
from rmt_icl.simulate.random_transformer import parse_rt_params, simulate_models
from rmt_icl.simulate.rt_features import vec_h
from rmt_icl.simulate.rt_resources import memory_plan, step_memory
from rmt_icl.simulate.sources import (
    mixture_t,
    parse_data_model,
    sample_mixture_prompts,
    source_q,
)

BASE = dict(d=8, alpha=2.0, tau=2.0, width_ratio=0.5, ridge=0.2, activation="relu",
            target="tanh", rho=0.01 ** 2, n_test=400)
MODELS = ("rt", "hermite:2", "linear")
TWO = dict(mixture=0.4, task_spike=30.0, noise0=0.3, noise1=0.05)


def _numbers(result):
    """Every model's flat record without its timings."""
    return {name: {k: v for k, v in result.flat(name).items() if not k.startswith("t_")}
            for name in result}


def _same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        for key, value in a[name].items():
            other = b[name][key]
            assert value == other or (value != value and other != other), (name, key)


def _model(sources, target="tanh", rho=0.0):
    return parse_data_model({"sources": sources}, target=get_target(target), rho=rho,
                            kappa=math.inf)


# ----------------------------------------------------------------------------- identity


@pytest.mark.parametrize("extra", [
    {"sources": [{"weight": 1.0, "noise": 0.01, "target": "tanh"}]},
    {"sources": [{}]},
    {"step_size": 0.0},
    {"input_spike": 0.0, "task_spike": 0.0, "step_size": 0},
])
def test_single_isotropic_source_and_zero_step_are_bit_identical(extra):
    before = _numbers(simulate_models(BASE, 5, MODELS))
    _same(before, _numbers(simulate_models({**BASE, **extra}, 5, MODELS)))


def test_flat_keys_equal_the_sources_list():
    sources = [{"weight": 0.6, "noise": 0.3},
               {"weight": 0.4, "task_spike": 30.0, "noise": 0.05}]
    flat = simulate_models({**BASE, **TWO}, 2, ("rt", "linear"))
    listed = simulate_models({**BASE, "sources": sources}, 2, ("rt", "linear"))
    _same(_numbers(flat), _numbers(listed))
    assert flat.run.n_sources == 2


@pytest.mark.parametrize("model", ["random-transformer", "hermite", "linear-transformer"])
def test_point_keys_of_existing_points_unchanged(model):
    old = {k: v for k, v in BASE.items() if k != "n_test"}
    # a point of 0.2 (Lu's y^2 scaling, then the default) spells y2_scale = 1 and keeps its key
    assert point_identity(model, {**old, "y2_scale": 1.0}) == old
    at_defaults = {**old, "step_size": 0.0, "input_spike": 0, "task_spike": 0.0, "y2_scale": 1}
    assert point_identity(model, at_defaults) == old
    # leaving y2_scale out now means the companion scaling, and the key says so
    assert point_identity(model, old) == {**old, "y2_scale": "companion"}
    new = {**old, **TWO, "step_size": 0.5, "y2_scale": "companion"}
    assert point_identity(model, new) == new
    check_point(model, new)


# ----------------------------------------------------------------------------- data


def _brute_prompts(rng, m, d, ell, source, c):
    """Direct sampling of the source's law: full covariates, the paper's index."""
    lam = 1.0 + source.input_spike
    xi = rng.standard_normal((m, d))
    xi[:, 0] *= math.sqrt(1.0 + source.task_spike)
    xi /= np.linalg.norm(xi, axis=1, keepdims=True)
    x = rng.standard_normal((m, ell + 1, d)) / math.sqrt(d)
    x[:, :, 0] *= math.sqrt(lam)
    s = math.sqrt(d) * np.einsum("mld,md->ml", x, xi) / math.sqrt(lam)
    y = source.target.func(s) + math.sqrt(source.rho) * rng.standard_normal(s.shape)
    h1 = (d / ell) * np.einsum("ml,mld->md", y[:, :ell], x[:, :ell])
    h2 = (c / ell) * np.sum(y[:, :ell] ** 2, axis=1)
    return x[:, ell], np.concatenate([h1, h2[:, None]], axis=1), y[:, ell]


def test_reduced_sampler_matches_direct_sampling():
    d, ell, c, m = 6, 5, 2.0, 60_000
    src = _model([{"input_spike": 10.0, "task_spike": 20.0}], "relu", 0.01).sources[0]
    xq, h, y = _brute_prompts(np.random.default_rng(1), m, d, ell, src, c)
    p = sample_mixture_prompts(np.random.default_rng(2), m, d, ell, _model(
        [{"input_spike": 10.0, "task_spike": 20.0}], "relu", 0.01), c)
    for a, b in [(xq[:, 0] ** 2, p.xq[:, 0] ** 2), (h[:, 0] ** 2, p.h[:, 0] ** 2),
                 (h[:, 1] ** 2, p.h[:, 1] ** 2), (h[:, -1], p.h[:, -1]), (y * y, p.y * p.y),
                 (y * xq[:, 0] * h[:, 0], p.y * p.xq[:, 0] * p.h[:, 0])]:
        (ma, sa), (mb, sb) = mean_se(a), mean_se(b)
        assert abs(ma - mb) < 4.0 * math.hypot(sa, sb)


@pytest.mark.parametrize("d, ell, target, c, sources", [
    (8, 12, "tanh", 1.0, [{"weight": 0.3}, {"weight": 0.7, "input_spike": 3.0, "noise": 0.3}]),
    (6, 5, "relu", 2.0, [{"input_spike": 10.0, "task_spike": 20.0}]),
    (7, 9, "linear", 1.0, [{"input_spike": 2.0, "task_spike": 0.5, "noise": 0.5},
                           {"task_spike": 4.0, "target": "he2"}]),
])
def test_analytic_t_matches_estimate(d, ell, target, c, sources):
    model = _model(sources, target, 0.01)
    p = sample_mixture_prompts(np.random.default_rng(3), 100_000, d, ell, model, c)
    t_mc, se = t_estimate(p.xq, p.h)
    assert abs(mixture_t(d, ell, model, c) - t_mc) < 4.0 * se


@pytest.mark.parametrize("target", ["tanh", "relu", "he1+he3"])
def test_isotropic_limit_of_t(target):
    """A task spike leaves t unchanged; the spiked-input quadrature tends to the closed form."""
    model = _model([{"task_spike": 500.0, "noise": 0.2}], target)
    expect = t_analytic(9, 7, target, 0.2 ** 2, y2_scale=1.5)
    assert mixture_t(9, 7, model, 1.5) == expect
    near = _model([{"task_spike": 5.0, "input_spike": 1e-13, "noise": 0.2}], target)
    assert mixture_t(9, 7, near, 1.5) == pytest.approx(expect, rel=1e-10)


def test_index_normalisation():
    """Linear target without noise: the query label is the paper's index."""
    d, m = 8, 100_000
    spiked_task = _model([{"task_spike": 80.0}], "linear")
    y = sample_mixture_prompts(np.random.default_rng(4), m, d, 4, spiked_task, 1.0).y
    mean, se = mean_se(y * y)
    assert abs(mean - 1.0) < 4.0 * se                     # exactly N(0, 1)
    theta = 6.0
    spiked_input = _model([{"input_spike": theta}], "linear")
    y = sample_mixture_prompts(np.random.default_rng(5), m, d, 4, spiked_input, 1.0).y
    mean, se = mean_se(y * y)
    expect = (1.0 + theta / d) / (1.0 + theta)           # E v, E c^2 = 1/d
    assert source_q(d, spiked_input.sources[0]) == pytest.approx(expect, rel=1e-9)
    assert abs(mean - expect) < 4.0 * se


def test_per_source_errors_average_to_the_reported_error():
    params = {**BASE, "sources": [{"weight": 0.2}, {"weight": 0.5, "task_spike": 20.0},
                                  {"weight": 0.3, "input_spike": 4.0, "target": "relu"}]}
    res = simulate_models(params, 1, MODELS)
    assert res.run.n_sources == 3 and res.run.target == "tanh,relu"
    assert res.run.n_test == 3 * 17 * 8                   # ceil(50 / 3) contexts per source
    for name in res:
        f = res.flat(name)
        per = [f[f"icl_source{s}"] for s in range(3)]
        assert f["icl"] == pytest.approx(np.mean(per), rel=1e-12) and f["idg"] == f["icl"]
        ses = [f[f"icl_source{s}_se_test"] for s in range(3)]
        assert f["icl_se_test"] == pytest.approx(math.sqrt(sum(s * s for s in ses)) / 3)
        if name != "rt":
            diffs = [f[f"icl_source{s}_minus_rt"] for s in range(3)]
            assert f["icl_minus_rt"] == pytest.approx(np.mean(diffs), rel=1e-12)
            assert f["icl_minus_rt"] == pytest.approx(f["icl"] - res["rt"].icl, abs=1e-12)
    assert math.isnan(res["linear"].icl_exact)


# ----------------------------------------------------------------------------- step


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu"])
def test_gradient_matches_finite_differences(activation):
    rng = np.random.default_rng(0)
    d, k, n = 3, 5, 30
    prompts = sample_prompts(rng, n, d, 4, "tanh", 0.01)
    F = rng.standard_normal((k, d * (d + 1))) / 3.0
    w = rng.standard_normal(k) / math.sqrt(k)
    G = first_layer_gradient(F, w, prompts, activation, chunk=7)
    eps = 1e-6
    num = np.empty_like(F)
    for idx in np.ndindex(F.shape):
        e = np.zeros_like(F)
        e[idx] = eps
        num[idx] = -(step_loss(F + e, w, prompts, activation)
                     - step_loss(F - e, w, prompts, activation)) / (2 * eps)
    assert np.max(np.abs(G - num)) < 1e-7 * np.max(np.abs(G))
    assert step_loss(F + 1e-3 * G, w, prompts, activation) < step_loss(F, w, prompts, activation)


def test_gradient_step_in_place():
    rng = np.random.default_rng(1)
    prompts = sample_prompts(rng, 50, 4, 6, "relu", 0.0)
    F = rng.standard_normal((6, 20))
    seed = run_seed(3)
    w = stream(seed, "step_init").standard_normal(6) / math.sqrt(6)
    expect = F + 7.0 * first_layer_gradient(F, w, prompts, "tanh", chunk=16)
    assert np.allclose(gradient_step(F.copy(), seed, prompts, 7.0, "tanh"), expect,
                       rtol=1e-12, atol=1e-12)
    assert step_eta(0.5, 12) == 72.0


def test_activation_derivatives():
    u = np.linspace(-3.0, 3.0, 61) + 0.0123              # away from kinks
    for name in [*activation_names(), np.arctan]:
        act = get_activation(name)
        fd = (act(u + 1e-6) - act(u - 1e-6)) / 2e-6
        assert np.allclose(activation_derivative(act)(u), fd, atol=1e-7, rtol=1e-6), name


def test_paired_hermite_and_rt_after_a_step():
    params = {**BASE, "ridge": 0.5, "target": "relu", "n_test": 800, **TWO}
    models = ("rt", "hermite:1..6", "linear")
    flat = simulate_models(params, 4, models)
    step = simulate_models({**params, "step_size": 0.5}, 4, models)
    assert step.run.eta == 0.5 * 64 and flat.run.eta == 0.0
    assert step["rt"].icl != flat["rt"].icl                # F_hat is used ...
    for key in ("icl", "icl_se_test", "train_mse", "t"):     # the step leaves the LT alone
        assert flat.flat("linear")[key] == step.flat("linear")[key]
    for p in range(1, 7):                                  # ... by every Hermite model
        m = step[f"hermite:{p}"]
        assert m.icl != flat[f"hermite:{p}"].icl
        assert math.isfinite(m.icl) and math.isfinite(m.icl_minus_rt)
        assert m.icl_minus_rt_se_test < math.hypot(m.icl_se_test, step["rt"].icl_se_test)
        if p <= 4:  # sanity, not equivalence (at d = 8 the pre-activations' heavy tails
            #         spoil the high degrees, with or without the step)
            assert abs(m.icl_minus_rt) < 0.25 * step.run.q


def test_leading_term_of_the_gradient():
    """``G ~ E[sigma'] w v^T``, ``v = H^T y / (n sqrt(k))`` (rank one), already at d = 16."""
    params = dict(d=16, alpha=2.0, tau=1.0, width_ratio=0.5, target="relu", mixture=0.4,
                  task_spike=256.0)
    _, sizes, opts = parse_rt_params(params)
    seed = run_seed(4)
    F = np.random.default_rng(0).standard_normal((sizes.k, sizes.D))
    F /= math.sqrt(mixture_t(sizes.d, sizes.ell, opts["data"]))
    prompts = sample_mixture_prompts(stream(seed, "step_prompts"), sizes.n, sizes.d,
                                     sizes.ell, opts["data"], 1.0)
    w = stream(seed, "step_init").standard_normal(sizes.k) / math.sqrt(sizes.k)
    G = first_layer_gradient(F, w, prompts, "relu")
    v = vec_h(prompts.xq, prompts.h).T @ prompts.y / (sizes.n * math.sqrt(sizes.k))
    assert np.linalg.norm(G - np.outer(0.5 * w, v), 2) < 0.5 * np.linalg.norm(G, 2)


def test_step_with_a_task_pool_and_memory_plan():
    res = simulate_models({**BASE, "kappa": 1.0, "step_size": 0.3}, 0, ("rt",))
    assert math.isfinite(res["rt"].icl) and math.isfinite(res["rt"].idg)
    # wide inputs, narrow layer: the k x D gradient buffer outweighs the Gram (plan only)
    params = {**BASE, "d": 64, "tau": 0.05, "width_ratio": 0.625, "n_test": 16}
    _, sizes, opts = parse_rt_params(params)
    items, _ = memory_plan(sizes, 1, False, 2, 8, 0.2, None, 1 << 40)
    step = step_memory(sizes, items["prompts"], None)
    assert step["gradient buffer (k x D)"] == 8 * sizes.k * sizes.D
    budget = sum(items.values())
    assert sum(step.values()) > budget
    memory_plan(sizes, 1, False, 2, 8, 0.2, None, budget)
    with pytest.raises(MemoryBudgetError, match="gradient step"):
        memory_plan(sizes, 1, False, 2, 8, 0.2, None, budget, step=True)
    with pytest.raises(MemoryBudgetError, match="gradient step"):
        simulate_models({**params, "step_size": 1.0, "memory_budget": budget}, 0, ("rt",))


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("extra, match", [
    ({"sources": [{"weight": -0.5}, {"weight": 1.5}]}, r"sources\[0\]\.weight"),
    ({"sources": [{"weight": 0.5}, {"weight": 0.4}]}, "sum to 1"),
    ({"sources": [{"weight": 0.5}, {}]}, r"sources\[1\]\.weight"),
    ({"sources": [{"input_spike": -1.0}]}, r"sources\[0\]\.input_spike"),
    ({"sources": [{"task_spike": -0.1}]}, r"sources\[0\]\.task_spike"),
    ({"sources": [{"noise": -0.1}]}, r"sources\[0\]\.noise"),
    ({"sources": [{"target": "nope"}]}, r"sources\[0\]\.target"),
    ({"sources": [{"spike": 1.0}]}, "unknown key"),
    ({"sources": []}, "non-empty list"),
    ({"mixture": 1.2}, "mixture"),
    ({"mixture": 0.5, "input_spike": -2.0}, "input_spike"),
    ({"mixture": 0.5, "task_spike": -2.0}, "task_spike"),
    ({"task_spike": 3.0}, "give mixture"),
    ({"mixture": 0.5, "sources": [{}]}, "not both"),
    ({"mixture": 0.5, "kappa": 2.0}, "kappa must be inf"),
    ({"step_size": -1.0}, "step_size"),
])
def test_bad_input(extra, match):
    with pytest.raises(ValueError, match=match):
        parse_rt_params({**BASE, **extra})


def test_gpu_path_refuses_sources_and_step():
    dev = ArrayDevice(np, "host")
    for extra in ({"step_size": 1.0}, {"mixture": 0.5}):
        with pytest.raises(ValueError, match="not supported on the GPU path"):
            simulate_models({**BASE, **extra}, 0, ("rt",), device=dev)
