"""The SQLite results store: corruption detection, spec refusal, force_new, locking."""

import json
import os
import sqlite3

import numpy as np
import pandas as pd
import pytest

import rmt_icl
from rmt_icl.core import registry
from rmt_icl.core.errors import StoreError
from rmt_icl.core.registry import register_model
from rmt_icl.sweep import Store, load, load_spec, summarise, sweep
from rmt_icl.sweep.spec import SweepSpec, digest
from tests.support.toy_model import DEFAULTS as TOY_DEFAULTS
from tests.support.toy_model import toy_point

SPEC = {"model": "toy", "plugins": ["tests.support.toy_model"], "seed": 7, "runs": 3,
        "params": {"d": 50}, "grid": {"alpha": [0.5, 1.0, 2.0, 4.0], "kappa": [1.0, 2.0]}}


@pytest.fixture
def filled(tmp_path):
    store = tmp_path / "store"
    df = sweep(SPEC, store=store, backend="serial", progress=False)
    return store, df


def test_store_layout_and_roundtrip(filled):
    store, df = filled
    assert (store / "results.sqlite").is_file()
    assert not (store / "results.sqlite-wal").exists()  # checkpointed on close
    again = load(store)
    pd.testing.assert_frame_equal(df, again)
    assert load(store / "results.sqlite").equals(again)  # the file path works too
    assert len(df) == 8 * 3 and (df["status"] == "ok").all()
    assert df.attrs["parameters"] == ["model", "d", "alpha", "kappa"]
    st = Store(store)
    meta = st.meta()
    st.close()
    assert meta["format"] == "rmt_icl.sweep" and meta["format_version"] == "2"
    assert meta["fingerprint"] == load_spec(SPEC).fingerprint()
    assert json.loads(meta["models"]) == {"toy": {"schema": 1, "defaults": {
        "alpha": 1, "kappa": 1, "rho": 0, "d": 100, "sleep": 0, "fail": False,
        "fail_if_exists": None, "crash": False}}}
    assert json.loads(meta["spec"])["grid"] == SPEC["grid"]


def _truncate(path, size):
    with open(path, "r+b") as fh:
        fh.truncate(size)


def test_truncated_store_is_detected_and_not_overwritten(filled):
    store, _ = filled
    db = store / "results.sqlite"
    full = db.stat().st_size
    _truncate(db, full // 2 + 100)  # mid-page
    with pytest.raises(StoreError, match=f"{db}.*truncated"):
        load(store)
    with pytest.raises(StoreError, match=str(db)):
        sweep(SPEC, store=store, backend="serial", progress=False)
    assert db.stat().st_size == full // 2 + 100  # untouched


def test_store_truncated_at_a_page_boundary(filled):
    store, _ = filled
    db = store / "results.sqlite"
    page = int.from_bytes(db.read_bytes()[16:18], "big")
    _truncate(db, db.stat().st_size - page)
    with pytest.raises(StoreError, match="header describes"):
        load(store)


@pytest.mark.parametrize("content, match", [(b"", "empty file"),
                                            (b"not a database" * 100, "bad header")])
def test_foreign_files(tmp_path, content, match):
    store = tmp_path / "s"
    store.mkdir()
    (store / "results.sqlite").write_bytes(content)
    with pytest.raises(StoreError, match=match):
        sweep(SPEC, store=store, backend="serial", progress=False)
    assert (store / "results.sqlite").read_bytes() == content


def test_corrupted_page_detected(filled):
    store, _ = filled
    db = store / "results.sqlite"
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[2 * page: 3 * page] = b"\xff" * page  # wipe a b-tree page
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=str(db)):
        load(store)


def test_other_sqlite_file_is_not_a_store(tmp_path):
    db = tmp_path / "x.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (a)")
    with pytest.raises(StoreError, match="no table 'meta'"):
        load(db)


def test_missing_store(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        load(tmp_path / "nothing")


def test_changed_spec_refused_with_the_difference(filled):
    store, _ = filled
    changed = dict(SPEC, seed=8)
    with pytest.raises(StoreError, match="seed: 7 in the store, 8 now"):
        sweep(changed, store=store, backend="serial", progress=False)
    grown = dict(SPEC, grid={"alpha": [0.5, 1.0, 2.0, 4.0, 8.0], "kappa": [1.0, 2.0]})
    with pytest.raises(StoreError, match="2 point\\(s\\) not in the store.*alpha\":8"):
        sweep(grown, store=store, backend="serial", progress=False)
    shrunk = dict(SPEC, grid={"alpha": [0.5], "kappa": [1.0, 2.0]})
    with pytest.raises(StoreError, match="6 stored point\\(s\\) no longer in the spec"):
        sweep(shrunk, store=store, backend="serial", progress=False)
    # a free-text change is not a different sweep
    sweep(dict(SPEC, name="renamed"), store=store, backend="serial", progress=False)


def test_force_new_moves_the_old_store_aside(filled):
    store, old = filled
    changed = dict(SPEC, runs=1)
    df = sweep(changed, store=store, backend="serial", progress=False, force_new=True)
    assert len(df) == 8
    moved = list((store / "superseded").glob("*/results.sqlite"))
    assert len(moved) == 1
    pd.testing.assert_frame_equal(load(moved[0]), old, check_like=True)
    # the runs shared by both specs have identical numbers (same seed, same point keys)
    np.testing.assert_array_equal(df["icl"], old[old["run"] == 0]["icl"])


def test_force_new_resumes_a_store_of_the_same_spec(filled, monkeypatch):
    """force_new replaces only another spec's store: the same spec's runs are kept, not rerun
    (an interrupted figure run resumes from its store)."""
    store, old = filled
    import rmt_icl.sweep.run as run_module

    def no_compute(*args, **kwargs):
        raise AssertionError("a finished store of the same spec was recomputed")

    monkeypatch.setattr(run_module, "_compute", no_compute)
    df = sweep(SPEC, store=store, backend="serial", progress=False, force_new=True)
    pd.testing.assert_frame_equal(df, old, check_like=True)
    assert not (store / "superseded").exists()


def test_force_new_on_a_corrupt_store_keeps_it(tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    (store / "results.sqlite").write_bytes(b"garbage" * 50)
    sweep(SPEC, store=store, backend="serial", progress=False, force_new=True)
    (moved,) = (store / "superseded").glob("*/results.sqlite")
    assert moved.read_bytes() == b"garbage" * 50


def test_lock_refuses_a_second_writer(filled):
    store, _ = filled
    st = Store(store)
    with st.lock():
        with pytest.raises(StoreError, match=f"another sweep \\(pid {os.getpid()}\\)"):
            sweep(SPEC, store=store, backend="serial", progress=False)
    st.close()
    sweep(SPEC, store=store, backend="serial", progress=False)  # released


def test_status_counts(tmp_path):
    spec = dict(SPEC, points=[{"alpha": 1.5, "kappa": 1.0, "fail": True}])
    sweep(spec, store=tmp_path / "s", backend="serial", progress=False)
    st = Store(tmp_path / "s")
    info = st.status()
    st.close()
    assert info["points"] == 9 and info["runs_total"] == 27
    assert (info["runs_ok"], info["runs_failed"], info["runs_missing"]) == (24, 3, 0)
    assert (info["points_complete"], info["points_with_failures"]) == (8, 1)
    assert [f["point"] for f in info["failures"]] == [8, 8, 8]
    assert "asked to fail" in info["failures"][0]["error"]


def test_summarise_matches_numpy(filled):
    _, df = filled
    s = summarise(df)
    assert len(s) == 8 and (s["runs"] == 3).all() and (s["failed"] == 0).all()
    for _, row in s.iterrows():
        x = df[(df["alpha"] == row["alpha"]) & (df["kappa"] == row["kappa"])]["icl"].to_numpy()
        assert row["icl_mean"] == pytest.approx(x.mean(), rel=1e-15)
        assert row["icl_se"] == pytest.approx(x.std(ddof=1) / np.sqrt(3), rel=1e-12)
        assert row["icl_count"] == 3
    coarse = summarise(df, by=["alpha"], values=["icl"])
    assert list(coarse["alpha"]) == [0.5, 1.0, 2.0, 4.0] and (coarse["runs"] == 6).all()
    with pytest.raises(ValueError, match="columns \\['nope'\\]"):
        summarise(df, by=["nope"])


def test_store_given_as_a_sqlite_file(tmp_path):
    db = tmp_path / "sub" / "my.sqlite"
    df = sweep(dict(SPEC, runs=1), store=db, backend="serial", progress=False)
    assert db.is_file() and not (db / "results.sqlite").exists()
    assert load(db).equals(df)


def test_killed_creation_leaves_no_store(tmp_path):
    """A store is renamed into place only when complete; a leftover temporary is removed."""
    tmp = tmp_path / "results.sqlite.tmp-999999"
    tmp.write_bytes(b"half-written")
    df = sweep(dict(SPEC, runs=1), store=tmp_path, backend="serial", progress=False)
    assert len(df) == 8 and not tmp.exists()


# ----------------------------------------------------------------------------- keys that last

TOY_V = {**SPEC, "model": "toy-v"}


@pytest.fixture
def models(monkeypatch):
    """A private copy of the registry with "toy-v", a toy registered at schema 1."""
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))
    monkeypatch.setattr(registry, "_RESOLVED", {})
    register_model("toy-v", toy_point, defaults=TOY_DEFAULTS)
    return registry.MODELS


def _no_compute(monkeypatch):
    def boom(task):
        raise AssertionError("nothing should be computed")

    monkeypatch.setattr("rmt_icl.sweep.run.execute_task", boom)


def test_a_default_written_out_or_added_resumes_the_store(tmp_path, models, monkeypatch):
    store = tmp_path / "s"
    first = sweep(TOY_V, store=store, backend="serial", progress=False)
    _no_compute(monkeypatch)
    spelled = dict(TOY_V, params={"d": 50, "rho": 0, "sleep": 0.0})  # defaults written out
    again = sweep(spelled, store=store, backend="serial", progress=False)
    assert again.equals(first)
    # a new parameter with a default: same keys, same store, nothing recomputed
    register_model("toy-v", toy_point, defaults={**TOY_DEFAULTS, "new_knob": 3},
                   overwrite=True)
    assert sweep(TOY_V, store=store, backend="serial", progress=False).equals(first)


def test_a_schema_bump_refuses_the_old_store(tmp_path, models):
    store = tmp_path / "s"
    sweep(TOY_V, store=store, backend="serial", progress=False)
    register_model("toy-v", toy_point, defaults=TOY_DEFAULTS, schema=2, overwrite=True)
    with pytest.raises(StoreError, match="model 'toy-v': schema 1 in the store, 2 now.*"
                                         "8 point\\(s\\) not in the store.*--force-new"):
        sweep(TOY_V, store=store, backend="serial", progress=False)
    df = sweep(TOY_V, store=store, backend="serial", progress=False, force_new=True)
    assert len(df) == 24 and (df["status"] == "ok").all()


def test_a_changed_default_refuses_the_old_store(tmp_path, models):
    store = tmp_path / "s"
    sweep(TOY_V, store=store, backend="serial", progress=False)  # rho left at its default
    register_model("toy-v", toy_point, defaults={**TOY_DEFAULTS, "rho": 0.05}, overwrite=True)
    with pytest.raises(StoreError, match="model 'toy-v': default rho = 0 in the store, 0.05 "
                                         "now"):
        sweep(TOY_V, store=store, backend="serial", progress=False)
    # a point that writes rho itself is unaffected by its default: "d" changed, d = 50 given
    register_model("toy-v", toy_point, defaults={**TOY_DEFAULTS, "d": 10}, overwrite=True)
    sweep(TOY_V, store=store, backend="serial", progress=False)


def test_a_store_of_another_version_resumes(filled, monkeypatch):
    """The package version that wrote a store or its runs is recorded, never a reason to
    refuse it: only the spec and the point keys are."""
    store, df = filled
    with sqlite3.connect(store / "results.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '0.1.0' WHERE key = 'created_version'")
        conn.execute("UPDATE runs SET version = '0.1.0'")
    conn.close()
    _no_compute(monkeypatch)
    again = sweep(SPEC, store=store, backend="serial", progress=False)
    assert (again["version"] == "0.1.0").all() and rmt_icl.__version__ != "0.1.0"
    assert again.drop(columns="version").equals(df.drop(columns="version"))


def _format1_store(path, spec_dict):
    """A store as rmt_icl 0.1 wrote it: points keyed by every parameter as written."""
    spec = load_spec(spec_dict)
    old = SweepSpec(
        points=[type(p)(p.index, p.params, digest(p.params), p.key) for p in spec.points],
        seed=spec.seed, runs=spec.runs, share_seeds_across=spec.share_seeds_across,
        source=spec.source)
    Store.create(path, old).close()
    with sqlite3.connect(Store(path).path) as conn:
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")
        conn.execute("UPDATE meta SET value = '0.1.0' WHERE key = 'created_version'")
        conn.execute("DELETE FROM meta WHERE key = 'models'")
    conn.close()


def test_format1_store_with_defaults_written_is_refused(tmp_path):
    spelled = dict(SPEC, params={"d": 50, "rho": 0.0})  # rho at its default: keys differ
    _format1_store(tmp_path / "old", spelled)
    with pytest.raises(StoreError, match="made by rmt_icl 0.1.0 \\(store format 1\\).*"
                                         "re-run the sweep into a new store.*--force-new"):
        sweep(spelled, store=tmp_path / "old", backend="serial", progress=False)
    df = sweep(spelled, store=tmp_path / "old", backend="serial", progress=False,
               force_new=True)
    assert len(df) == 24


def test_format1_store_with_unchanged_keys_resumes(tmp_path):
    plain = dict(SPEC, grid={"alpha": [0.5, 2.0], "kappa": [2.0, 3.0]})  # no default value
    _format1_store(tmp_path / "old", plain)  # so the same keys as today
    df = sweep(plain, store=tmp_path / "old", backend="serial", progress=False)
    assert len(df) == 12 and (df["status"] == "ok").all()
