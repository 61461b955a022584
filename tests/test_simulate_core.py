"""Scaling paths, seeding, targets, the exact prompt sampler and the ridge solvers."""

import math

import numpy as np
import pytest

from rmt_icl.core.seeding import run_seed, stream
from rmt_icl.core.targets import get_target
from rmt_icl.simulate.data import sample_prompts, sample_tasks, sample_training_prompts
from rmt_icl.simulate.paths import ScalingPath
from rmt_icl.simulate.ridge import EigenRidge, solve_spd


def test_sizes_rounding_and_equal_task_reuse():
    s = ScalingPath(alpha=2.0, tau=1.5, kappa=0.5).sizes(20)
    assert (s.d, s.ell, s.K, s.reuse, s.n) == (20, 40, 10, 60, 600)
    assert s.n == s.reuse * s.K
    s = ScalingPath(alpha=0.26, tau=0.5, width_ratio=0.5).sizes(10)
    assert (s.ell, s.K, s.n, s.k) == (3, None, 50, 25)
    assert s.kappa == math.inf and s.tau == 0.5
    assert ScalingPath(1, 1, width_d2=2.0).sizes(8).k == 128


@pytest.mark.parametrize("kw, name", [
    (dict(alpha=0, tau=1), "alpha"), (dict(alpha=1, tau=-1), "tau"),
    (dict(alpha=1, tau=1, kappa=0), "kappa"), (dict(alpha=1, tau=1, rho=-0.1), "rho"),
    (dict(alpha=1, tau=1, ridge=-1), "ridge"), (dict(alpha=float("nan"), tau=1), "alpha"),
    (dict(alpha=1, tau=1, width_ratio=0), "width_ratio"),
])
def test_path_rejects_bad_ratios(kw, name):
    with pytest.raises(ValueError, match=name):
        ScalingPath(**kw)


def test_streams_reproducible_and_distinct():
    a = stream(run_seed(7, 2, (3,)), "train").standard_normal(4)
    b = stream(run_seed(7, 2, (3,)), "train").standard_normal(4)
    c = stream(run_seed(7, 2, (3,)), "test").standard_normal(4)
    d = stream(run_seed(7, 3, (3,)), "train").standard_normal(4)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, d)
    with pytest.raises(ValueError, match="role"):
        stream(run_seed(1), "nope")


def test_target_moments_match_reference_table():
    t = get_target("tanh")
    assert t.a1 == pytest.approx(0.605706, abs=1e-6)
    assert t.second == pytest.approx(0.394294, abs=1e-6)
    assert t.second_s2 == pytest.approx(0.757890, abs=1e-6)
    assert t.fourth == pytest.approx(0.252992, abs=1e-6)
    custom = get_target(lambda s: s * s - 1.0)
    he2 = get_target("he2")
    for f in ("mean", "a1", "second", "second_s2", "fourth"):
        assert getattr(custom, f) == pytest.approx(getattr(he2, f), abs=1e-9)
    with pytest.raises(ValueError, match="target"):
        get_target("cosh")


@pytest.mark.parametrize("target", ["linear", "relu"])
def test_reduced_sampler_matches_direct_sampling(target):
    """Moments of h from the exact reduced sampler agree with brute-force contexts."""
    rng = np.random.default_rng(11)
    d, ell, rho, m = 5, 7, 0.3, 60000
    w = sample_tasks(rng, 1, d)
    P = sample_prompts(rng, m, d, ell, target, rho, pool=w, task=np.zeros(m, dtype=int))
    g = get_target(target)
    X = rng.standard_normal((m, ell, d)) / math.sqrt(d)
    Y = g.func(X @ w[0]) + math.sqrt(rho) * rng.standard_normal((m, ell))
    h1 = (d / ell) * np.einsum("mi,mid->md", Y, X)
    h2 = (Y**2).sum(1) / ell
    stats_fast = [P.h[:, :d] @ w[0], (P.h[:, :d] ** 2).sum(1), P.h[:, d], P.h[:, d] ** 2]
    stats_slow = [h1 @ w[0], (h1**2).sum(1), h2, h2**2]
    for a, b in zip(stats_fast, stats_slow, strict=True):
        se = math.sqrt(a.var() / m + b.var() / m)
        assert abs(a.mean() - b.mean()) < 4 * se
    # queries: y = g(<x_q, w>) + noise, x_q ~ N(0, I/d)
    assert abs(P.xq.var() - 1 / d) < 4 * math.sqrt(2 / (m * d)) / d


@pytest.mark.parametrize("order", ["cycle", "blocks"])
def test_training_prompts_use_every_pool_task_equally(order):
    s = ScalingPath(alpha=2.0, tau=1.5, kappa=0.5).sizes(8)          # K = 4 tasks, reuse 24
    prompts, pool = sample_training_prompts(run_seed(4), s, "relu", 0.1, task_order=order)
    assert pool.shape == (s.K, 8) and len(prompts) == s.n == s.K * s.reuse
    np.testing.assert_allclose(np.linalg.norm(pool, axis=1), math.sqrt(8), rtol=1e-12)
    assert np.bincount(prompts.task).tolist() == [s.reuse] * s.K
    first = prompts.task[: s.K] if order == "cycle" else prompts.task[:: s.reuse]
    assert first.tolist() == list(range(s.K))
    # the pool comes from stream "tasks", the prompts from stream "train"
    np.testing.assert_array_equal(pool, sample_tasks(stream(run_seed(4), "tasks"), s.K, 8))
    fresh, none = sample_training_prompts(run_seed(4), ScalingPath(2.0, 1.5).sizes(8), "relu",
                                          0.1)
    assert none is None and fresh.task is None
    with pytest.raises(ValueError, match="task_order"):
        sample_training_prompts(run_seed(4), s, "relu", 0.1, task_order="random")


def test_ridge_solvers_agree_with_dense_formulas():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 50))
    y = rng.standard_normal(30)
    G, b = X.T @ X, X.T @ y
    assert np.allclose(solve_spd(G, b, 0.0), np.linalg.pinv(X) @ y)  # min-norm interpolator
    ref = np.linalg.solve(G + 0.7 * np.eye(50), b)
    assert np.allclose(solve_spd(G, b, 0.7), ref)
    path = EigenRidge(G).solve(b, [0.0, 0.7])
    assert np.allclose(path[1], ref) and np.allclose(path[0], np.linalg.pinv(X) @ y)
    # dual form gives the same predictor
    dual = X.T @ np.linalg.solve(X @ X.T + 0.7 * np.eye(30), y)
    assert np.allclose(dual, ref)
