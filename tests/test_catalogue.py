"""``rmt-icl reproduce --list`` (the figure catalogue: captions and measured wall times) and the
progress bars of ``rmt-icl simulate`` and ``rmt-icl equivalence``."""

import json
import os
import sys
import textwrap

import pytest

from rmt_icl.cli import main
from rmt_icl.experiments.runner import simulate
from rmt_icl.reporting import catalogue as cat
from rmt_icl.reporting.gallery import caption, load_script

BODY = textwrap.dedent('''
    def compute(quick=True):
        raise AssertionError("the catalogue must not run a figure")

    def draw(results):
        raise AssertionError("the catalogue must not draw a figure")
''')
ALPHA = '"""Alpha: toy theory\n   vs simulation.\n\nDetails that are not the caption."""\n' + BODY
BETA = '"""Beta docstring."""\nCAPTION = "Beta caption, " "a literal"\n' + BODY
GAMMA = ('"""Gamma docstring."""\nimport os\nCAPTION = "Gamma at " + os.sep.join(["a", "b"])\n'
         + BODY)


def _report(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": rows}))


@pytest.fixture
def figdir(tmp_path):
    d = tmp_path / "figs"
    d.mkdir()
    (d / "fig_alpha.py").write_text(ALPHA)
    (d / "fig_beta.py").write_text(BETA)
    (d / "fig_gamma.py").write_text(GAMMA)
    (d / "helper.py").write_text("raise SystemExit('not a figure')\n")
    _report(d / "REPORT.json", [
        {"figure": "alpha", "seconds": 12.5, "status": "ok"},
        {"figure": "beta", "seconds": 3.0, "status": "error"},  # a failed run is no estimate
        {"figure": "gamma", "seconds": 90.5},                  # no status: a measured row
        {"figure": "gone", "seconds": 1.0, "status": "ok"},     # no script any more
    ])
    (d / "full").mkdir()
    (d / "full" / "REPORT.json").write_text('{"rows": [{"figure": "alpha", "seconds": 7')
    return d


def test_rows_hold_captions_and_measured_times(figdir):
    rows = cat.catalogue(figdir)
    assert [r["figure"] for r in rows] == ["alpha", "beta", "gamma"]
    by = {r["figure"]: r for r in rows}
    assert by["alpha"]["caption"] == "Alpha: toy theory vs simulation."
    assert by["beta"]["caption"] == "Beta caption, a literal"
    assert by["gamma"]["caption"] == f"Gamma at a{os.sep}b"
    assert [r["quick_seconds"] for r in rows] == [12.5, None, 90.5]
    assert [r["full_seconds"] for r in rows] == [None, None, None]  # corrupt full sidecar
    assert by["alpha"]["script"] == str(figdir / "fig_alpha.py")


def test_captions_agree_with_the_gallery_rule(figdir):
    for r in cat.catalogue(figdir):
        assert r["caption"] == caption(vars(load_script(figdir / f"fig_{r['figure']}.py")))


def test_listing_prints_times_totals_and_not_measured(figdir, capsys):
    _report(figdir / "full" / "REPORT.json", [{"figure": "alpha", "seconds": 4000.0},
                                              {"figure": "gamma", "seconds": 200.0}])
    assert main(["reproduce", "--figures", str(figdir), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["figure", "quick", "full", "caption"]
    cells = {line.split()[0]: line for line in lines[1:]}
    assert "12.5 s" in cells["alpha"] and "1.11 h" in cells["alpha"]
    assert "Alpha: toy theory vs simulation." in cells["alpha"]
    assert "not measured" in cells["beta"] and cells["beta"].count("not measured") == 2
    assert "90.5 s" in cells["gamma"] and "3.3 min" in cells["gamma"]
    total = cells["total"]
    assert ">= 1.7 min" in total          # 12.5 + 90.5 s; beta is not measured
    assert ">= 1.17 h" in total           # 4000 + 200 s
    notes = [line for line in lines if line.startswith(">= :")]
    assert len(notes) == 2 and all("1 of 3 figure(s) not measured" in n for n in notes)


def test_missing_or_corrupt_sidecars_read_as_not_measured(figdir, capsys):
    (figdir / "REPORT.json").write_text("not json {")
    (figdir / "full" / "REPORT.json").unlink()
    rows = cat.catalogue(figdir)
    assert all(r["quick_seconds"] is None and r["full_seconds"] is None for r in rows)
    assert main(["reproduce", "--figures", str(figdir), "--list"]) == 0
    out = capsys.readouterr().out
    total = [line.split() for line in out.splitlines() if line.startswith("total")]
    assert total == [["total", "not", "measured", "not", "measured"]]
    assert ">=" not in out


@pytest.mark.parametrize("text", ['{"rows": 3}', '[1, 2]', '{"rows": [null, 5, {"seconds": 1}]}',
                                  '{"rows": [{"figure": "alpha", "seconds": "12"}]}',
                                  '{"rows": [{"figure": "alpha", "seconds": true}]}',
                                  '{"rows": [{"figure": "alpha", "seconds": -1.0}]}',
                                  '{"rows": [{"figure": "alpha", "seconds": NaN}]}', ''])
def test_malformed_sidecars_and_rows_are_skipped(tmp_path, text):
    path = tmp_path / "REPORT.json"
    path.write_text(text)
    assert cat.measured_seconds(path) == {}


def test_unparsable_script_is_listed_with_its_error(figdir):
    (figdir / "fig_delta.py").write_text("def compute(:\n")
    by = {r["figure"]: r for r in cat.catalogue(figdir)}
    assert by["delta"]["caption"].startswith("unreadable script: SyntaxError")


def test_format_duration_units():
    assert cat.format_duration(None) == "not measured"
    assert cat.format_duration(99.94) == "99.9 s"
    assert cat.format_duration(150.0) == "2.5 min"
    assert cat.format_duration(5400.0) == "1.50 h"


# ----------------------------------------------------------------------------- progress bars

POINT = dict(d=4, alpha=2.0, tau=2.0, kappa=2.0, rho=0.1, ridge=0.1)


def test_simulate_progress_shows_a_bar_and_changes_no_number(capsys):
    quiet = simulate("linear-attention", dict(POINT), runs=2, seed=3)
    assert capsys.readouterr().err == ""
    shown = simulate("linear-attention", dict(POINT), runs=2, seed=3, progress=True)
    assert "runs" in capsys.readouterr().err  # the bar went to stderr
    assert shown["per_run"] == quiet["per_run"]
    for k in ("icl_mean", "icl_se", "idg_mean", "idg_se", "theory_icl", "theory_idg"):
        assert shown[k] == quiet[k]


def test_simulate_cli_bar_on_a_terminal_unless_no_progress(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    argv = ["simulate", "--d", "4", "--alpha", "2", "--tau", "2", "--kappa", "2", "--rho",
            "0.1", "--ridge", "0.1", "--runs", "2", "--seed", "3", "--json"]
    assert main(argv) == 0
    shown = capsys.readouterr()
    assert "runs" in shown.err
    assert main(argv + ["--no-progress"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == ""
    assert json.loads(quiet.out)["per_run"] == json.loads(shown.out)["per_run"]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert main(argv) == 0
    assert capsys.readouterr().err == ""  # not a terminal: no bar by default


class _Stop(Exception):
    pass


@pytest.mark.parametrize(("flags", "tty", "expected"), [
    ([], True, True), (["--no-progress"], True, False), (["--json"], True, False),
    ([], False, False)])
def test_equivalence_cli_passes_progress_to_the_study(monkeypatch, flags, tty, expected):
    import rmt_icl.reporting.studies as studies

    seen = {}

    def fake_run_study(*args, **kwargs):
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(studies, "run_study", fake_run_study)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    with pytest.raises(_Stop):
        main(["equivalence", "--d", "5", "6", "--runs", "2", "--backend", "serial"] + flags)
    assert seen["progress"] is expected
