"""SIGKILL a running sweep, resume it: nothing finished is lost or recomputed."""

import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from rmt_icl.sweep import load, sweep

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")

ROOT = pathlib.Path(__file__).resolve().parents[1]
N_POINTS = 24
SPEC_TOML = f"""
plugins = ["tests.support.toy_model"]
model = "toy"
seed = 5
runs = 1
[params]
d = 30
sleep = 0.25
[grid]
alpha = {[0.25 * (i + 1) for i in range(N_POINTS)]}
"""


def _ok_rows(db):
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(
                "SELECT point_id, run, pid, started_utc, finished_utc, result FROM runs "
                "WHERE status = 'ok'"
            ).fetchall()
    except sqlite3.OperationalError:  # store being created
        return []


def test_sigkill_then_resume(tmp_path, monkeypatch):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC_TOML)
    store = tmp_path / "store"
    db = store / "results.sqlite"
    cmd = [sys.executable, "-m", "rmt_icl", "sweep", str(spec), "--store", str(store),
           "--backend", "processes", "--workers", "2", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(  # the toy plugin lives in tests/
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120  # a guard against hanging, not a timing assertion
    try:
        while len(_ok_rows(db)) < 4:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "sweep made no progress"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = {(r[0], r[1]): r for r in _ok_rows(db)}
    assert 4 <= len(before) < N_POINTS, "the kill must land midway"

    resumed = sweep(spec, store=store, backend="processes", workers=2, progress=False)
    assert len(resumed) == N_POINTS and (resumed["status"] == "ok").all()
    assert (resumed["attempts"] == 1).all()
    after = {(r[0], r[1]): r for r in _ok_rows(db)}
    for key, row in before.items():
        assert after[key] == row  # same worker pid, timestamps and result: not recomputed
    killed_pids = {r[2] for r in before.values()}
    new = resumed[~resumed.set_index(["point_id", "run"]).index.isin(list(before))]
    assert len(new) == N_POINTS - len(before) and not new["pid"].isin(killed_pids).any()

    # an uninterrupted run (in-process, without the sleeps) gives the same table
    monkeypatch.setattr("tests.support.toy_model.time.sleep", lambda s: None)
    clean = sweep(spec, store=tmp_path / "clean", backend="serial", progress=False)
    cols = ["point", "alpha", "run", "status", "icl", "idg", "theory_icl", "seed", "key"]
    assert resumed[cols].equals(clean[cols])
    assert load(store)[cols].equals(clean[cols])
