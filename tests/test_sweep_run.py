"""sweep(): backends give bit-identical numbers, failures are recorded, resumption, progress."""

import io
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import rmt_icl
from rmt_icl.core import registry
from rmt_icl.core.registry import register_model
from rmt_icl.core.seeding import run_seed
from rmt_icl.sweep import load, load_spec, sweep
from rmt_icl.sweep.worker import execute_task, make_task
from tests.support.toy_model import DEFAULTS as TOY_DEFAULTS
from tests.support.toy_model import toy_point

ROOT = pathlib.Path(__file__).resolve().parents[1]
PLUGINS = ["tests.support.toy_model"]
SPEC = {"model": "toy", "plugins": PLUGINS, "seed": 11, "runs": 3,
        "params": {"d": 40, "rho": 0.05}, "grid": {"alpha": [0.5, 1.0, 2.0], "kappa": [1.0, 3.0]}}
NUMBERS = ["icl", "idg", "theory_icl", "theory_idg"]


@pytest.fixture
def models(monkeypatch):
    """A private copy of the registry: models registered in a test vanish after it."""
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))
    monkeypatch.setattr(registry, "_RESOLVED", {})
    return registry.MODELS


def _numbers(df):
    return df[["point", "run", "point_id", "seed", "key", *NUMBERS]]


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return sweep(SPEC, store=tmp_path_factory.mktemp("serial"), backend="serial", progress=False)


def test_rows_equal_direct_model_calls(serial):
    """Each row is toy_point(params, run_seed(seed, run, key)) -- checked independently."""
    spec = load_spec(SPEC)
    assert len(serial) == len(spec.points) * spec.runs
    for p in spec.points:
        for r in range(spec.runs):
            row = serial[(serial["point"] == p.index) & (serial["run"] == r)].iloc[0]
            params = {k: v for k, v in p.params.items() if k != "model"}
            ref = toy_point(params, run_seed(11, r, key=p.key))
            assert row["icl"] == ref["icl"] and row["idg"] == ref["idg"]
            assert row["key"] == p.key and row["seed"] == 11
            assert row["alpha"] == p.params["alpha"] and row["status"] == "ok"
    assert (serial["version"] == rmt_icl.__version__).all()
    assert (serial["wall_time"] > 0).all()
    assert serial["out_d"].eq(40).all()  # realised size clashing with parameter d
    # runs of a point are independent draws
    assert serial.groupby("point")["icl"].nunique().eq(3).all()


def test_processes_backend_bit_identical(serial, tmp_path):
    df = sweep(SPEC, store=tmp_path, backend="processes", workers=2, progress=False)
    assert _numbers(df).equals(_numbers(serial))
    assert df["pid"].nunique() >= 1 and not (df["pid"] == serial["pid"].iloc[0]).any()


def test_dask_client_bit_identical(serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            df = sweep(SPEC, store=tmp_path, backend="dask", scheduler=client, progress=False)
            assert client.status == "running"  # a client we were given stays open
    assert _numbers(df).equals(_numbers(serial))


def test_dask_local_cluster_bit_identical(serial, tmp_path):
    pytest.importorskip("distributed")
    df = sweep(SPEC, store=tmp_path, backend="dask", workers=1, progress=False)
    assert _numbers(df).equals(_numbers(serial))


def test_failing_point_recorded_others_complete(tmp_path):
    spec = dict(SPEC, points=[{"alpha": 3.0, "kappa": 1.0, "fail": True}])
    df = sweep(spec, store=tmp_path, backend="processes", workers=2, progress=False)
    bad = df[df["alpha"] == 3.0]
    assert len(df) == 7 * 3 and len(bad) == 3
    assert (bad["status"] == "error").all() and bad["icl"].isna().all()
    assert bad["error"].str.contains("ValueError: toy model asked to fail").all()
    good = df[df["alpha"] != 3.0]
    assert (good["status"] == "ok").all() and good["error"].isna().all()
    assert np.isfinite(good["icl"]).all()
    tb = load(tmp_path, tracebacks=True)
    assert tb.loc[tb["status"] == "error", "traceback"].str.contains("toy_model.py").all()


def test_failed_runs_retried_ok_runs_not(tmp_path):
    flag = tmp_path / "fail-now"
    flag.touch()
    spec = dict(SPEC, points=[{"alpha": 3.0, "kappa": 1.0, "fail_if_exists": str(flag)}])
    store = tmp_path / "s"
    first = sweep(spec, store=store, backend="serial", progress=False)
    assert (first["status"] == "error").sum() == 3
    kept = sweep(spec, store=store, backend="serial", progress=False, retry_failed=False)
    assert kept.equals(first)
    again = sweep(spec, store=store, backend="serial", progress=False)
    assert (again["status"] == "error").sum() == 3
    assert list(again.loc[again["status"] == "error", "attempts"]) == [2, 2, 2]
    flag.unlink()
    final = sweep(spec, store=store, backend="serial", progress=False)
    assert (final["status"] == "ok").all()
    assert list(final.loc[final["alpha"] == 3.0, "attempts"]) == [3, 3, 3]
    # ok runs were computed once, in the first call
    ok_before = first["status"] == "ok"
    assert final.loc[ok_before, "finished_utc"].equals(first.loc[ok_before, "finished_utc"])
    assert (final.loc[ok_before, "attempts"] == 1).all()


def test_rerun_computes_nothing(serial, tmp_path, monkeypatch):
    store = tmp_path / "s"
    first = sweep(SPEC, store=store, backend="serial", progress=False)
    monkeypatch.setattr("rmt_icl.sweep.run.execute_task", _boom)
    assert sweep(SPEC, store=store, backend="serial", progress=False).equals(first)


def _boom(task):
    raise AssertionError("nothing should be computed")


def bad_output_model(params, seed):
    return {"icl": 1.0, "idg": np.zeros(3)} if params["alpha"] > 1 else {"icl": 0.5}


def test_invalid_model_outputs_become_errors(tmp_path, models):
    register_model("bad-output", bad_output_model)
    df = sweep({"model": "bad-output", "grid": {"alpha": [1.0, 2.0]}}, store=tmp_path,
               backend="serial", progress=False)
    assert list(df["status"]) == ["error", "error"]
    assert "returned no ['idg']" in df["error"][0]
    assert "'idg' = array" in df["error"][1] and "must be scalars" in df["error"][1]


def nan_model(params, seed):
    return {"icl": float("nan"), "idg": np.float64(2.5), "note": "x", "k": np.int64(7)}


def test_nan_and_numpy_outputs_roundtrip(tmp_path, models):
    register_model("nan-model", nan_model)
    df = sweep({"model": "nan-model"}, store=tmp_path, backend="serial", progress=False)
    assert df["status"][0] == "ok" and math.isnan(df["icl"][0]) and df["idg"][0] == 2.5
    assert df["note"][0] == "x" and df["k"][0] == 7 and math.isnan(df["theory_icl"][0])


def test_registry_errors(tmp_path, models):
    with pytest.raises(ValueError, match="unknown model 'nope'; known models are .*'toy'"):
        sweep({"model": "nope"}, store=tmp_path / "a", backend="serial")
    assert not (tmp_path / "a").exists()  # nothing created for a bad sweep
    register_model("ghost", "rmt_icl.no_such_module:point")
    with pytest.raises(ValueError, match="model 'ghost' is registered as "
                                         "'rmt_icl.no_such_module:point' but cannot be imported"):
        sweep({"model": "ghost"}, store=tmp_path / "b", backend="serial")
    assert not (tmp_path / "b").exists()
    with pytest.raises(ValueError, match="already registered"):
        register_model("toy", nan_model)
    with pytest.raises(ValueError, match="module:function"):
        register_model("new-one", "no_colon")
    for name in ("linear-attention", "random-transformer", "hermite", "linear-transformer",
                 "rt-equivalence", "rt-paired", "rt-theory"):
        assert name in registry.known_models()


def test_toy_is_not_built_in():
    """The toy model is a test fixture: a fresh interpreter that imports the package and its
    built-in models does not know it."""
    code = ("import rmt_icl.sweep.run; from rmt_icl.core.registry import known_models; "
            "print('toy' in known_models())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    assert out.strip() == "False"


def test_register_model_path(tmp_path, models):
    register_model("toy-again", "tests.support.toy_model:toy_point", defaults=TOY_DEFAULTS)
    df = sweep({"model": "toy-again", "plugins": PLUGINS, "params": {"alpha": 2.0}},
               store=tmp_path, backend="processes", workers=1, progress=False)
    ref = toy_point({"alpha": 2.0}, run_seed(0, 0, key=load_spec(
        {"model": "toy", "params": {"alpha": 2.0}}).points[0].key))
    assert df["icl"][0] == ref["icl"]  # same key as model "toy": seeds shared across models


def test_unpicklable_model_refused_for_processes(tmp_path, models):
    register_model("lambda", lambda p, s: {"icl": 0.0, "idg": 0.0})
    with pytest.raises(ValueError, match="cannot be sent to worker processes"):
        sweep({"model": "lambda"}, store=tmp_path, backend="processes", progress=False)
    df = sweep({"model": "lambda"}, store=tmp_path, backend="serial", progress=False)
    assert df["status"][0] == "ok"


@pytest.mark.parametrize("bad, match", [
    ({"alpha": -1.0}, "point 6 .*model 'toy': alpha must lie in \\(0, inf\\)"),
    ({"d": 2.5}, "point 6 .*model 'toy': d must be an integer"),
    ({"crash": "yes"}, "point 6 .*model 'toy': crash must be true or false"),
])
def test_bad_point_refused_before_anything_runs(tmp_path, monkeypatch, bad, match):
    """Every point goes through its model's check first: nothing is created or computed."""
    monkeypatch.setattr("rmt_icl.sweep.run.execute_task", _boom)
    spec = dict(SPEC, points=[{"alpha": 3.0, "kappa": 1.0, **bad}])
    with pytest.raises(ValueError, match=match):
        sweep(spec, store=tmp_path / "s", backend="serial", progress=False)
    assert not (tmp_path / "s").exists()


def test_bad_point_of_a_built_in_model_refused(tmp_path):
    spec = {"model": "linear-attention", "params": {"d": 8, "tau": 1.0, "alpha": 1.0},
            "grid": {"ridge": [0.1, -1.0]}}
    with pytest.raises(ValueError, match="point 1 .*\"ridge\":-1.*"
                                         "model 'linear-attention': .*ridge"):
        sweep(spec, store=tmp_path / "s", backend="serial", progress=False)
    assert not (tmp_path / "s").exists()


def test_bad_point_does_not_touch_an_existing_store(tmp_path):
    store = tmp_path / "s"
    first = sweep(SPEC, store=store, backend="serial", progress=False)
    before = (store / "results.sqlite").read_bytes()
    with pytest.raises(ValueError, match="rho must lie in"):
        sweep(dict(SPEC, params={"d": 40, "rho": -0.05}), store=store, backend="serial",
              progress=False)
    assert (store / "results.sqlite").read_bytes() == before
    assert load(store).equals(first)


def test_spec_loaded_before_its_model_was_registered_is_refused(tmp_path, models):
    """A key computed without a model's defaults would silently differ: say so instead."""
    spec = load_spec({"model": "late", "params": {"alpha": 1.0, "d": 5}})
    register_model("late", toy_point, defaults=TOY_DEFAULTS)
    with pytest.raises(ValueError, match="point 0 .*computed before model 'late' was "
                                         "registered"):
        sweep(spec, store=tmp_path, backend="serial", progress=False)


def test_workers_import_the_plugins():
    """A task carries the spec's plugins; the worker imports them before the model runs."""
    point = load_spec(SPEC).points[0]
    ok = execute_task(make_task(point, 0, 11, toy_point, PLUGINS))
    assert ok["status"] == "ok"
    bad = execute_task(make_task(point, 0, 11, toy_point, ["no_such_plugin_module"]))
    assert bad["status"] == "error"
    assert bad["error"].startswith("ModuleNotFoundError: No module named 'no_such_plugin")


@pytest.mark.parametrize("kwargs, match", [
    ({"backend": "threads"}, "backend must be one of"),
    ({"backend": "serial", "workers": 0}, "workers must be an integer >= 1"),
    ({"backend": "processes", "scheduler": "tcp://x:1"}, "scheduler is only used"),
    ({"backend": "dask", "scheduler": "tcp://x:1", "workers": 2}, "workers applies to a"),
])
def test_bad_backend_options(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweep(SPEC, store=tmp_path, progress=False, **kwargs)


class _FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_quiet_unless_tty(tmp_path, capfd, monkeypatch):
    sweep(SPEC, store=tmp_path / "a", backend="serial", progress=True)  # stderr is not a TTY
    sweep(SPEC, store=tmp_path / "b", backend="serial", progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    fake = _FakeTTY()
    monkeypatch.setattr("sys.stderr", fake)
    spec = dict(SPEC, points=[{"alpha": 3.0, "kappa": 1.0, "fail": True}])
    sweep(spec, store=tmp_path / "c", backend="serial", progress=True)
    text = fake.getvalue()
    assert "7/7" in text and "failed=3" in text
    fake2 = _FakeTTY()
    monkeypatch.setattr("sys.stderr", fake2)
    sweep(spec, store=tmp_path / "d", backend="serial", progress=False)
    assert fake2.getvalue() == ""


def test_package_level_run_sweep(tmp_path):
    import rmt_icl.sweep as pkg

    assert rmt_icl.run_sweep is pkg.sweep and not callable(pkg)
    df = rmt_icl.run_sweep({"model": "toy"}, store=tmp_path, backend="serial", progress=False)
    assert len(df) == 1


def test_worker_death_in_processes_backend(tmp_path):
    """A run that kills its worker is retried in a new pool, then recorded; others complete."""
    spec = {"model": "toy", "plugins": PLUGINS, "seed": 4,
            "grid": {"alpha": [1.0, 2.0, 3.0, 4.0, 5.0]},
            "points": [{"alpha": 9.0, "crash": True, "sleep": 0.2}]}
    df = sweep(spec, store=tmp_path, backend="processes", workers=2, progress=False)
    crashed = df[df["alpha"] == 9.0]
    assert list(crashed["status"]) == ["error"]
    assert crashed["error"].iloc[0] == (
        "WorkerDied: the worker process died while computing this run, 2 times "
        "(killed, out of memory, or crashed)")
    others = df[df["alpha"] != 9.0]
    assert len(others) == 5 and (others["status"] == "ok").all()
    ref = sweep({**spec, "points": []}, store=tmp_path / "ref", backend="serial",
                progress=False)
    assert others["icl"].tolist() == ref["icl"].tolist()


def test_unguarded_script_gets_a_clear_error(tmp_path):
    """spawn re-imports the main script: without a __main__ guard, say so instead of hanging."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from rmt_icl.sweep import sweep\n"
        f"sweep({{'model': 'toy', 'plugins': {PLUGINS!r}, 'grid': {{'alpha': [1.0, 2.0]}}}}, "
        f"store={str(tmp_path)!r}, backend='processes', workers=1, progress=False)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode != 0
    assert "if __name__ == '__main__':" in proc.stderr
    assert "worker processes died before computing anything" in proc.stderr


def test_worker_death_on_dask_is_a_failed_run(tmp_path):
    """Dask gives up on a task that kills its workers; it is recorded, the others complete."""
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    spec = {"model": "toy", "plugins": PLUGINS, "grid": {"alpha": [1.0, 2.0]},
            "points": [{"alpha": 9.0, "crash": True}]}
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        df = sweep(spec, store=tmp_path, backend="dask", workers=1, progress=False)
    assert len(df) == 3  # every run has a row; the sweep neither hung nor raised
    crashed = df[df["alpha"] == 9.0]
    assert list(crashed["status"]) == ["error"]
    assert crashed["error"].iloc[0].startswith("KilledWorker")
    # a task that shared the dying worker may be blamed too (a re-run retries it)
    others = df[df["alpha"] != 9.0]
    assert ((others["status"] == "ok") | others["error"].str.startswith("KilledWorker")).all()


def test_linear_attention_model_plugs_in(tmp_path):
    """The registry's linear-attention entry honours the point-function contract."""
    spec = {"model": "linear-attention", "seed": 2, "runs": 2,
            "params": {"d": 8, "tau": 1.0, "alpha": 1.0, "kappa": 2.0, "rho": 0.1,
                       "ridge": 0.1}}
    df = sweep(spec, store=tmp_path, backend="serial", progress=False)
    assert list(df["status"]) == ["ok", "ok"], df["error"].tolist()
    assert np.isfinite(df[["icl", "idg", "theory_icl", "theory_idg"]].to_numpy()).all()
    assert df["icl"][0] != df["icl"][1]  # independent runs
    again = sweep(spec, store=tmp_path / "again", backend="serial", progress=False)
    assert again["icl"].tolist() == df["icl"].tolist()  # reproducible from the seeds
