"""``rmt-icl sweep``: running, --status, refusals and exit codes."""

import json
import pathlib

from rmt_icl.cli import main
from rmt_icl.sweep import load

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "sweep_example.toml"
HEAD = 'plugins = ["tests.support.toy_model"]\nmodel = "toy"\n'


def _spec(tmp_path, extra="", *, seed=1, runs=2, name="spec.toml"):
    path = tmp_path / name
    path.write_text(HEAD + f"seed = {seed}\nruns = {runs}\n[grid]\nalpha = [1.0, 2.0, 3.0]\n"
                    + extra)
    return path


def _filled(tmp_path):
    """A store holding the complete sweep of :func:`_spec`."""
    store = tmp_path / "store"
    assert main(["sweep", str(_spec(tmp_path)), "--store", str(store), "--backend",
                 "serial"]) == 0
    return store


def test_example_spec_runs(tmp_path, capsys):
    assert main(["sweep", str(EXAMPLE), "--store", str(tmp_path), "--backend", "serial"]) == 0
    out = capsys.readouterr().out
    assert "runs     28  28       0        0" in out
    assert "7 complete, 0 with failures, 0 not started" in out
    df = load(tmp_path)
    assert len(df) == 28 and set(df["alpha"]) == {0.5, 1.0, 2.0, 8.0}
    assert set(df["model"]) == {"linear-attention"}  # a real model, no test fixture
    assert df[["icl", "idg", "theory_icl", "theory_idg"]].notna().all().all()


def test_status_before_and_after(tmp_path, capsys):
    spec = _spec(tmp_path, '[[points]]\nalpha = 9.0\nfail = true\n')
    store = tmp_path / "store"
    assert main(["sweep", "--store", str(store), "--status"]) == 2  # no store yet
    assert "no sweep store here" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--store", str(store), "--backend", "serial"]) == 1
    captured = capsys.readouterr()
    assert "2 run(s) failed; re-run the same command to retry them" in captured.err
    assert main(["sweep", "--store", str(store), "--status"]) == 0
    out = capsys.readouterr().out
    assert "runs      8   6       2        0" in out
    assert "3 complete, 1 with failures, 0 not started" in out
    assert "failed: point 3 run 0: ValueError: toy model asked to fail" in out
    assert main(["sweep", str(spec), "--store", str(store), "--status", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["runs_ok"] == 6 and info["runs_failed"] == 2 and info["spec_matches"] is True


def test_status_names_a_different_spec(tmp_path, capsys):
    store = _filled(tmp_path)
    other = _spec(tmp_path, seed=2, name="other.toml")
    capsys.readouterr()
    assert main(["sweep", str(other), "--store", str(store), "--status"]) == 0
    assert "seed: 1 in the store, 2 now" in capsys.readouterr().err


def test_changed_spec_refused_then_force_new(tmp_path, capsys):
    store = _filled(tmp_path)
    grown = _spec(tmp_path, runs=3, name="grown.toml")
    assert main(["sweep", str(grown), "--store", str(store), "--backend", "serial"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rmt-icl sweep: error: ") and "runs: 2 in the store, 3 now" in err
    assert "--force-new" in err
    assert main(["sweep", str(grown), "--store", str(store), "--backend", "serial",
                 "--force-new"]) == 0
    assert len(load(store)) == 9
    assert len(list((store / "superseded").glob("*/results.sqlite"))) == 1


def test_bad_input_is_one_line(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('model = "no-such-model"\n')
    assert main(["sweep", str(spec), "--store", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown model 'no-such-model'" in err
    assert main(["sweep", "--store", str(tmp_path / "x")]) == 2
    assert "SPEC.toml is required" in capsys.readouterr().err


def test_bad_parameter_refused_before_running(tmp_path, capsys):
    """A point failing its model's check: exit 2, one line naming point and parameter, and
    no store (nothing is recorded as a failed run)."""
    spec = _spec(tmp_path, "[[points]]\nalpha = -1.0\n")
    store = tmp_path / "store"
    assert main(["sweep", str(spec), "--store", str(store), "--backend", "serial"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("rmt-icl sweep: error: point 3 (")
    assert "model 'toy': alpha must lie in (0, inf)" in err and "re-run" not in err
    assert not store.exists()
    la = tmp_path / "la.toml"
    la.write_text('model = "linear-attention"\n[params]\nd = 8\ntau = 1.0\nalpha = 1.0\n'
                  'ridge = -1\n')
    assert main(["sweep", str(la), "--store", str(store), "--backend", "serial"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "point 0 (" in err and "ridge" in err
    assert not store.exists()


def test_status_lists_missing_points(tmp_path, capsys):
    from rmt_icl.sweep import Store, load_spec

    spec = load_spec({"model": "toy", "plugins": ["tests.support.toy_model"], "runs": 2,
                      "grid": {"alpha": [float(a) for a in range(1, 14)]}})
    Store.create(tmp_path, spec).close()  # a store in which nothing has run yet
    assert main(["sweep", "--store", str(tmp_path), "--status"]) == 0
    out = capsys.readouterr().out
    assert "runs     26   0       0       26" in out
    assert "0 complete, 0 with failures, 13 not started" in out
    assert "  missing: point 0 (2 run(s)): model=toy, alpha=1.0" in out
    assert "  missing: point 9 (2 run(s)): model=toy, alpha=10.0" in out
    assert "point 10 (" not in out and "... and 3 more point(s) with missing runs" in out
