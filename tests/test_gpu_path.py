"""The array path of the simulators (``device="gpu"``), checked with NumPy as the namespace.

Every check that runs the array path is parametrised over the namespace: ``numpy`` runs here,
``cupy`` is marked ``gpu`` and skipped unless CuPy and a CUDA device are present
(``pytest -m gpu tests/test_gpu_path.py`` on a GPU machine).

* exact mode (``sampling="host"``): the CPU path's ``F`` and noise, so CPU and array path agree
  to 1e-10 relative where the regularised Gram's condition number is below 1e4 (computed here),
  and to 1e-3 of the test-sampling SE in an ill-conditioned case;
* statistical mode (``sampling="device"``): ``F`` and noise from the device generator; means
  over runs agree with the CPU path's within the Student-t bound.
"""

import math
import sys
import types

import numpy as np
import pytest

from rmt_icl.core.errors import DeviceUnavailableError, MemoryBudgetError
from rmt_icl.core.seeding import run_seed, stream
from rmt_icl.core.stats import mean_se, student_t_threshold
from rmt_icl.hermite import get_activation, hermite_series
from rmt_icl.simulate import random_transformer
from rmt_icl.simulate.data import sample_training_prompts
from rmt_icl.simulate.device import (
    ArrayDevice,
    array_namespace,
    current_device,
    device_generator,
    gpu_available,
    resolve_device,
    use_device,
)
from rmt_icl.simulate.features import la_features
from rmt_icl.simulate.linear_attention import simulate_point as la_point
from rmt_icl.simulate.normalisation import ridge_la_from_bar, t_analytic
from rmt_icl.simulate.random_transformer import simulate_models, simulate_point_rt
from rmt_icl.simulate.rt_feature_maps import apply_feature_map, feature_maps
from rmt_icl.simulate.rt_features import NoiseField, preactivations, sample_first_layer
from rmt_icl.simulate.rt_params import parse_models, parse_rt_params
from rmt_icl.simulate.xp_engine import DeviceNoise, plan_run
from rmt_icl.simulate.xp_engine import hermite_series as xp_hermite_series

NAMESPACES = [
    pytest.param("numpy", id="numpy"),
    pytest.param("cupy", id="cupy", marks=[
        pytest.mark.gpu,
        pytest.mark.skipif(not gpu_available(), reason="needs a CUDA GPU and CuPy")]),
]
MODELS = ("rt", "hermite:1..4", "linear", "rt:tanh")
BASE = dict(d=8, alpha=2.0, tau=2.0, activation="relu", target="tanh", rho=0.1, n_test=800,
            ridge=0.05)


def _xp(name):
    return np if name == "numpy" else array_namespace("gpu")


def _device(name, sampling):
    return ArrayDevice(_xp(name), sampling)


def _condition_numbers(params, seed, models) -> dict:
    """Condition number of each model's regularised Gram, rebuilt on the host from the CPU
    path's prompts, ``F`` and noise (primal ``S^T S`` or dual ``S S^T``, plus ``k lambda_bar``;
    the linear transformer's ``vec H`` Gram or kernel plus ``(n/d) lambda_LA``)."""
    seed = run_seed(seed)
    path, sizes, opts = parse_rt_params(params)
    names = parse_models(models)
    train, _ = sample_training_prompts(seed, sizes, opts["target"], path.rho,
                                       y2_scale=opts["y2_scale"])
    t = t_analytic(sizes.d, sizes.ell, opts["target"], path.rho, y2_scale=opts["y2_scale"])
    F = sample_first_layer(stream(seed, "features"), sizes.k, sizes.D, t)
    U = preactivations(F, train.xq, train.h)
    primal = sizes.k <= sizes.n
    z = NoiseField(stream(seed, "hermite_noise_train").bit_generator.seed_seq,
                   (sizes.n, sizes.k), axis=0 if primal else 1).slice(0, U.shape[not primal])
    out = {}
    for fm in feature_maps([m for m in names if m != "linear"], opts["activation"]):
        S = apply_feature_map(fm, U, z, np.empty_like(U)).copy()
        G = S.T @ S if primal else S @ S.T
        w = np.linalg.eigvalsh(G + sizes.k * path.ridge * np.eye(len(G)))
        out[fm.name] = w.max() / w.min()
    if "linear" in names:
        V = la_features(train.xq, train.h)
        lam = ridge_la_from_bar(path.ridge, sizes.d, sizes.n, t) * sizes.n / sizes.d
        G = V @ V.T if sizes.n < sizes.D else V.T @ V
        w = np.linalg.eigvalsh(G + lam * np.eye(len(G)))
        out["linear"] = w.max() / w.min()
    return out


# ----------------------------------------------------------------------------- exact mode


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("width_ratio, kappa, solver", [
    (0.5, "inf", "primal"), (0.5, 2.0, "primal"), (2.0, "inf", "dual"), (2.0, 2.0, "dual")])
def test_exact_mode_agrees_with_cpu_path(xp_name, width_ratio, kappa, solver):
    params = {**BASE, "width_ratio": width_ratio, "kappa": kappa}
    conds = _condition_numbers(params, 3, MODELS)
    assert max(conds.values()) < 1e4, conds
    cpu = simulate_models(params, 3, MODELS)
    gpu = simulate_models(params, 3, MODELS, device=_device(xp_name, "host"))
    assert cpu.run == gpu.run and cpu.run.solver == solver
    assert cpu.names == gpu.names == parse_models(MODELS)
    for m in cpu:
        for q in ("icl", "idg", "train_mse", "icl_se_test"):
            assert getattr(gpu[m], q) == pytest.approx(getattr(cpu[m], q), rel=1e-10), (m, q)
    assert set(cpu.flat("rt")) == set(gpu.flat("rt"))


@pytest.mark.parametrize("xp_name", NAMESPACES)
def test_exact_mode_ill_conditioned_within_monte_carlo_error(xp_name):
    """Near the interpolation peak (k = n) with a tiny ridge the Gram's condition number is
    far above 1e4: the two paths then agree to 1e-3 of the test-sampling SE."""
    params = {**BASE, "width_ratio": 1.0, "ridge": 1e-7, "target": "linear"}
    models = ("rt", "hermite:2")
    conds = _condition_numbers(params, 1, models)
    assert min(conds.values()) > 1e4, conds
    cpu = simulate_models(params, 1, models)
    gpu = simulate_models(params, 1, models, device=_device(xp_name, "host"))
    for m in models:
        assert abs(gpu[m].icl - cpu[m].icl) <= 1e-3 * cpu[m].icl_se_test, m


@pytest.mark.parametrize("xp_name", NAMESPACES)
def test_ridgeless_singular_gram_gives_minimum_norm_solution(xp_name):
    """Identity RT wider than n with n > D: the dual Gram S S^T has rank D < n, both paths
    fall back to the minimum-norm solution."""
    params = {**BASE, "d": 6, "tau": 3.0, "width_ratio": 2.0, "ridge": 0.0,
              "activation": "identity", "target": "linear"}
    cpu = simulate_models(params, 2, ("rt",))
    gpu = simulate_models(params, 2, ("rt",), device=_device(xp_name, "host"))
    assert cpu.run.solver == "dual" and cpu.run.n > cpu.run.D
    assert math.isfinite(gpu["rt"].icl)
    assert abs(gpu["rt"].icl - cpu["rt"].icl) <= 1e-3 * cpu["rt"].icl_se_test


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("activation", ["erf", "gelu", "sigmoid", "softplus", "silu", "abs",
                                        "identity", get_activation("erf", a=2.0)])
def test_activations_of_the_array_path_match_the_registry(xp_name, activation):
    params = {**BASE, "width_ratio": 0.5, "activation": activation, "ridge": 0.2}
    cpu = simulate_models(params, 4, ("rt", "hermite:2"))
    gpu = simulate_models(params, 4, ("rt", "hermite:2"), device=_device(xp_name, "host"))
    for m in ("rt", "hermite:2"):
        assert gpu[m].icl == pytest.approx(cpu[m].icl, rel=1e-10)


def test_unsupported_activation_raises_on_the_array_path():
    dev = ArrayDevice(np, "host")
    with pytest.raises(ValueError, match=r"not supported on the GPU.*relu"):
        simulate_models({**BASE, "width_ratio": 0.5, "activation": "sign"}, 0, ("rt",),
                        device=dev)
    with pytest.raises(ValueError, match="not supported on the GPU"):
        simulate_models({**BASE, "width_ratio": 0.5, "activation": lambda u: u * u}, 0,
                        ("rt",), device=dev)
    # Hermite models of any activation only need its coefficients
    out = simulate_models({**BASE, "width_ratio": 0.5, "activation": "sign"}, 0,
                          ("hermite:3",), device=dev)
    assert math.isfinite(out["hermite:3"].icl)


@pytest.mark.parametrize("xp_name", NAMESPACES)
def test_hermite_series_matches_cpu_kernel(xp_name):
    xp = _xp(xp_name)
    u = np.random.default_rng(0).standard_normal((40, 7)) * 2
    for p in range(9):
        c = np.random.default_rng(p).standard_normal(p + 1)
        ud = xp.asarray(u)
        work = [xp.empty_like(ud) for _ in range(3)]
        got = xp_hermite_series(xp, ud, c, xp.empty_like(ud), work)
        np.testing.assert_allclose(np.asarray(got.get() if hasattr(got, "get") else got),
                                   hermite_series(u, c), rtol=1e-13, atol=1e-13)


# ----------------------------------------------------------------------------- chunks, groups


def _tight_budget(dev, params, models) -> int:
    """The smallest memory budget the array path's plan accepts for a run (bisection)."""
    _, sizes, opts = parse_rt_params(params)
    maps = feature_maps(parse_models(models), opts["activation"])
    n_ctx = -(-opts["n_test"] // opts["test_queries"])

    def fits(budget):
        try:
            plan_run(dev, sizes, maps, False, n_ctx, opts["test_queries"], params["ridge"],
                     None, budget)
        except MemoryBudgetError:
            return False
        return True
    lo, hi = 1 << 10, 1 << 34
    while hi - lo > 1024:
        lo, hi = (lo, (lo + hi) // 2) if fits((lo + hi) // 2) else ((lo + hi) // 2, hi)
    return hi


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("sampling", ["host", "device"])
@pytest.mark.parametrize("width_ratio", [0.5, 2.0])
def test_chunks_and_groups_change_only_rounding(xp_name, sampling, width_ratio):
    """Small chunks (several noise blocks, partial blocks) and one model per pass give the
    numbers of one large chunk: the device noise does not depend on the chunking."""
    params = {**BASE, "d": 10, "width_ratio": width_ratio, "kappa": 2.0, "ridge": 0.2}
    models = ("rt", "hermite:2", "hermite:4")
    dev = _device(xp_name, sampling)
    budget = _tight_budget(dev, params, models)
    _, sizes, _ = parse_rt_params(params)
    big = plan_run(dev, sizes, feature_maps(parse_models(models), "relu"), False, 100, 8,
                   0.2, None, 1 << 34)
    tight = plan_run(dev, sizes, feature_maps(parse_models(models), "relu"), False, 100, 8,
                     0.2, None, budget)
    assert big.group == 3 and tight.group == 1 and tight.total <= budget
    ref = simulate_models(params, 5, models, device=dev)
    chunked = simulate_models({**params, "chunk": 97}, 5, models, device=dev)
    one_per_pass = simulate_models({**params, "memory_budget": budget}, 5, models, device=dev)
    for m in models:
        assert chunked[m].icl == pytest.approx(ref[m].icl, rel=1e-10)
        assert chunked[m].idg == pytest.approx(ref[m].idg, rel=1e-10)
        assert one_per_pass[m].icl == pytest.approx(ref[m].icl, rel=1e-10)


# ----------------------------------------------------------------------------- statistical mode


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("width_ratio", [0.5, 2.0])
def test_device_sampling_agrees_in_law(xp_name, width_ratio):
    """Device-drawn F and noise: over R = 8 runs the mean ICL error of each model is the CPU
    path's within the Student-t bound (z = 3) on the combined standard error."""
    R = 8
    params = {**BASE, "width_ratio": width_ratio, "ridge": 0.2}
    models = ("rt", "hermite:2")
    dev = _device(xp_name, "device")
    cpu = [simulate_models(params, run_seed(11, r), models) for r in range(R)]
    gpu = [simulate_models(params, run_seed(11, r), models, device=dev) for r in range(R)]
    bound = student_t_threshold(R, z=3.0)
    for m in models:
        (mc, sc), (mg, sg) = mean_se([o[m].icl for o in cpu]), mean_se([o[m].icl for o in gpu])
        assert abs(mg - mc) <= bound * math.hypot(sc, sg), (m, mc, sc, mg, sg)
        # not the CPU path's numbers: F and the noise come from other streams
        assert gpu[0][m].icl != cpu[0][m].icl


@pytest.mark.parametrize("xp_name", NAMESPACES)
def test_device_generator_and_noise_keyed_by_seed(xp_name):
    xp = _xp(xp_name)
    ss = stream(run_seed(3), "features").bit_generator.seed_seq
    a = device_generator(xp, ss).standard_normal((3, 4))
    b = device_generator(xp, ss).standard_normal((3, 4))
    other = stream(run_seed(3), "hermite_noise_train").bit_generator.seed_seq
    c = device_generator(xp, other).standard_normal((3, 4))
    assert bool((a == b).all()) and not bool((a == c).any())
    dev = ArrayDevice(xp, "device")
    for axis, shape in ((0, (600, 5)), (1, (5, 600))):
        whole = xp.empty(shape)
        DeviceNoise(dev, other, shape, axis=axis).slice(0, 600, out=whole)
        field = DeviceNoise(dev, other, shape, axis=axis)
        for lo in range(0, 600, 130):
            hi = min(600, lo + 130)
            part = xp.empty((hi - lo, 5) if axis == 0 else (5, hi - lo))
            field.slice(lo, hi, out=part)
            ref = whole[lo:hi] if axis == 0 else whole[:, lo:hi]
            assert bool((part == ref).all())


# ----------------------------------------------------------------------------- linear attention


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("tau, target, kappa", [(2.0, "linear", 2.0), (0.5, "linear", "inf"),
                                                (0.5, "tanh", 1.0)])
def test_linear_attention_point_on_the_array_path(xp_name, tau, target, kappa):
    params = dict(d=10, alpha=1.5, tau=tau, kappa=kappa, rho=0.1, ridge=0.1, target=target,
                  n_test=2000)
    cpu = la_point(params, run_seed(2))
    gpu = la_point(params, run_seed(2), device=_device(xp_name, "host"))
    assert gpu["method"] == cpu["method"] == ("primal" if tau == 2.0 else "dual")
    for q in ("icl", "idg"):
        assert gpu[q] == pytest.approx(cpu[q], rel=1e-10)
    chunked = la_point({**params, "chunk": 33}, run_seed(2), device=_device(xp_name, "host"))
    assert chunked["icl"] == pytest.approx(cpu["icl"], rel=1e-10)


def test_linear_attention_memory_checked_before_allocating():
    with pytest.raises(MemoryBudgetError, match="linear-transformer"):
        simulate_models({**BASE, "d": 200, "tau": 2.0, "memory_budget": 1e9}, 0, ("linear",),
                        device=ArrayDevice(np))


# ----------------------------------------------------------------------------- options, errors


@pytest.mark.parametrize("xp_name", NAMESPACES)
def test_memory_budget_error_raised_before_allocating(xp_name, monkeypatch):
    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled before the memory plan")
    monkeypatch.setattr(random_transformer, "sample_training_prompts", no_sampling)
    dev = _device(xp_name, "device")
    with pytest.raises(MemoryBudgetError, match=r"F .*memory budget"):
        simulate_models({**BASE, "d": 12, "width_ratio": 2.0, "memory_budget": 1e6}, 0,
                        ("rt",), device=dev)
    with pytest.raises(MemoryBudgetError, match="device memory"):
        simulate_models({**BASE, "d": 400, "width_ratio": 1.0}, 0, ("rt",), device=dev)


def test_gpu_without_cupy_raises_naming_the_extras(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)           # import cupy -> ImportError
    with pytest.raises(DeviceUnavailableError, match=r"gpu-cuda12.*gpu-cuda13"):
        simulate_models({**BASE, "width_ratio": 0.5}, 0, ("rt",), device="gpu")
    with pytest.raises(DeviceUnavailableError, match="CuPy"):
        la_point(dict(d=4, alpha=1, tau=1), run_seed(0), device="gpu")
    assert not gpu_available()
    assert issubclass(DeviceUnavailableError, RuntimeError)


def test_gpu_without_a_visible_device_raises(monkeypatch):
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 0)))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(DeviceUnavailableError, match="no CUDA device"):
        array_namespace("gpu")


def test_bad_device_and_sampling_rejected():
    with pytest.raises(ValueError, match=r"device must be one of \('cpu', 'gpu'\)"):
        simulate_models({**BASE, "width_ratio": 0.5}, 0, ("rt",), device="tpu")
    with pytest.raises(ValueError, match="sampling must be one of"):
        simulate_models({**BASE, "width_ratio": 0.5}, 0, ("rt",), device=ArrayDevice(np),
                        sampling="cloud")
    with pytest.raises(ValueError, match="device must be one of"):
        with use_device("cuda"):
            pass
    with pytest.raises(ValueError, match="sampling"):
        ArrayDevice(np, "somewhere")


def test_device_is_an_execution_option_not_a_parameter():
    params = {**BASE, "width_ratio": 0.5}
    # inside the parameters it is rejected, as any unknown key
    with pytest.raises(ValueError, match="device"):
        simulate_point_rt({**params, "device": "gpu"}, run_seed(0))
    with pytest.raises(ValueError, match="device"):
        la_point(dict(d=4, alpha=1, tau=1, device="gpu"), run_seed(0))
    # set around the call, it leaves the parameters (hence point keys) untouched
    cpu = simulate_point_rt(dict(params), run_seed(0))
    before = dict(params)
    assert current_device() == ("cpu", None)
    with use_device(ArrayDevice(np), sampling="host"):
        assert resolve_device() == ArrayDevice(np, "host")
        gpu = simulate_point_rt(params, run_seed(0))
        with use_device("cpu"):
            assert resolve_device() is None
    assert current_device() == ("cpu", None) and params == before
    assert gpu["icl"] == pytest.approx(cpu["icl"], rel=1e-10)
    assert set(gpu) == set(cpu)


def test_cli_device_flag(monkeypatch, capsys):
    from rmt_icl.cli import main
    argv = ["simulate", "--model", "random-transformer", "--d", "6", "--alpha", "2", "--tau",
            "2", "--width-ratio", "0.5", "--ridge", "0.1", "--json"]
    assert main(argv + ["--device", "cpu"]) == 0
    monkeypatch.setitem(sys.modules, "cupy", None)
    capsys.readouterr()
    assert main(argv + ["--device", "gpu"]) == 2
    assert "gpu-cuda12" in capsys.readouterr().err


@pytest.mark.parametrize("width_ratio", [0.5, 2.0])
def test_memory_plan_matches_the_measured_peak(width_ratio):
    """With NumPy as the namespace every array is traced: the plan's total is the peak of the
    run's allocations to within a few per cent."""
    import tracemalloc

    params = dict(d=12, alpha=2, tau=1.0, width_ratio=width_ratio, ridge=0.1, target="tanh",
                  rho=0.1, n_test=1024)
    models = ("rt", "hermite:2", "hermite:4")
    dev = ArrayDevice(np, "device")
    _, sizes, _ = parse_rt_params(params)
    plan = plan_run(dev, sizes, feature_maps(parse_models(models), "relu"), False, 128, 8, 0.1,
                    None, None)
    simulate_models(params, 0, models, device=dev)              # warm caches
    tracemalloc.start()
    try:
        simulate_models(params, 0, models, device=dev)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.8 * plan.total <= peak <= 1.05 * plan.total, (peak, plan)


# ---------------------------------------------------------------------------- sweeps


def test_sweep_device_is_an_execution_option(tmp_path):
    """device='cpu' gives the stored numbers of a plain sweep; the device is in no key, and
    asking for the GPU without CuPy or a device fails before any store is created."""
    from rmt_icl.sweep import sweep

    spec = {"model": "linear-attention", "seed": 3, "runs": 2,
            "points": [{"d": 8, "alpha": 1.0, "tau": 1.5, "rho": 0.1, "ridge": 0.1}]}
    a = sweep(spec, store=tmp_path / "a", backend="serial", progress=False)
    b = sweep(spec, store=tmp_path / "b", backend="serial", progress=False, device="cpu")
    assert list(a["icl"]) == list(b["icl"]) and list(a["point_id"]) == list(b["point_id"])
    with pytest.raises(ValueError, match="device"):
        sweep(spec, store=tmp_path / "c", backend="serial", device="tpu")
    if not gpu_available():
        with pytest.raises(DeviceUnavailableError):
            sweep(spec, store=tmp_path / "d", backend="serial", device="gpu")
        assert not (tmp_path / "d").exists()
