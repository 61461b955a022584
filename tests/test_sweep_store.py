"""The SQLite results store: corruption detection, spec refusal, force_new, locking."""

import json
import os
import sqlite3

import numpy as np
import pandas as pd
import pytest

from rmt_icl.core.errors import StoreError
from rmt_icl.sweep import Store, load, load_spec, summarise, sweep

SPEC = {"model": "toy", "seed": 7, "runs": 3, "params": {"d": 50},
        "grid": {"alpha": [0.5, 1.0, 2.0, 4.0], "kappa": [1.0, 2.0]}}


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
    assert meta["format"] == "rmt_icl.sweep"
    assert meta["fingerprint"] == load_spec(SPEC).fingerprint()
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
