"""rmt-icl reproduce: the gallery runs every figure script, saves PNG+PDF, writes REPORT.md;
the figure protocol that the scripts share (:mod:`rmt_icl.reporting.figure`)."""

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rmt_icl.cli import main
from rmt_icl.reporting import figure, gallery
from rmt_icl.reporting.gallery import default_figures_dir, discover, reproduce

GOOD = textwrap.dedent('''
    def compute(quick=True):
        return {"comparison": "toy theory vs |toy| simulation", "max_gap_se": 1.25,
                "max_rel_gap": 0.02, "sizes": "d=3" if quick else "d=300"}

    def draw(results):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        return fig
''')
BROKEN = "def compute(quick=True):\n    raise RuntimeError('boom')\n\ndef draw(r):\n    pass\n"


@pytest.fixture
def figdir(tmp_path):
    d = tmp_path / "figs"
    d.mkdir()
    (d / "fig_alpha.py").write_text(GOOD)
    (d / "fig_beta.py").write_text(BROKEN)
    (d / "helper.py").write_text("raise SystemExit('not a figure')\n")
    return d


def test_reproduce_records_every_figure_and_keeps_going(figdir, tmp_path):
    out = tmp_path / "out"
    rows = reproduce(quick=True, out=out, figures_dir=figdir, progress=False)
    assert [r["figure"] for r in rows] == ["alpha", "beta"]
    ok, bad = rows
    assert ok["status"] == "ok" and ok["max_gap_se"] == 1.25 and ok["sizes"] == "d=3"
    assert (out / "fig_alpha.png").stat().st_size > 0 and (out / "fig_alpha.pdf").exists()
    assert bad["status"] == "error" and "boom" in bad["error"]
    report = (out / "REPORT.md").read_text()
    row = ("| [alpha](fig_alpha.png) | no theory | toy theory vs \\|toy\\| simulation | 1.25 | "
           "2.0 % | — | d=3 |")
    assert row in report
    assert "error: RuntimeError: boom" in report


def test_only_and_errors(figdir, tmp_path):
    rows = reproduce(quick=False, only="alpha", out=tmp_path / "o", figures_dir=figdir,
                     progress=False)
    assert len(rows) == 1 and rows[0]["sizes"] == "d=300"
    reproduce(only="beta", out=tmp_path / "o", figures_dir=figdir, progress=False)
    report = (tmp_path / "o" / "REPORT.md").read_text()
    assert "| [alpha](fig_alpha.png) |" in report and "| [beta](fig_beta.png) |" in report
    with pytest.raises(ValueError, match="only"):
        reproduce(only="gamma", out=tmp_path / "o", figures_dir=figdir, progress=False)


def test_a_missing_or_empty_figures_folder_is_named_with_the_option(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(ValueError, match="--figures DIR") as err:
        discover(missing)
    assert str(missing) in str(err.value) and "does not exist" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no fig_"):
        discover(tmp_path / "empty")


def test_default_folder_is_figures_under_the_current_folder(figdir, tmp_path, monkeypatch):
    cwd = tmp_path / "project"
    (cwd / "figures").mkdir(parents=True)
    (cwd / "figures" / "fig_gamma.py").write_text("")
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(gallery, "CHECKOUT_FIGURES", figdir)
    assert default_figures_dir() == cwd / "figures"
    assert list(discover()) == ["gamma"]


def test_default_folder_falls_back_to_the_source_checkout(figdir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no figures/ here
    monkeypatch.setattr(gallery, "CHECKOUT_FIGURES", figdir)
    assert default_figures_dir() == figdir
    assert list(discover()) == ["alpha", "beta"]


def test_no_default_folder_fails_clearly(tmp_path, monkeypatch, capsys):
    """Outside a clone and without an editable install there is no figures folder to find."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gallery, "CHECKOUT_FIGURES", tmp_path / "site-packages" / "figures")
    with pytest.raises(ValueError, match="--figures DIR") as err:
        discover()
    assert str(tmp_path / "figures") in str(err.value)
    assert str(tmp_path / "site-packages" / "figures") in str(err.value)
    assert main(["reproduce", "--list"]) == 2
    assert "no figures folder found" in capsys.readouterr().err


def test_source_checkout_folder_is_the_repository_figures():
    assert gallery.CHECKOUT_FIGURES == Path(__file__).resolve().parents[1] / "figures"


def test_cli_lists_the_repository_figures(capsys):
    assert main(["reproduce", "--list"]) == 0
    listed = capsys.readouterr().out
    for name in discover(default_figures_dir()):
        assert name in listed
    assert "la_double_descent" in listed and "rt_equivalence_gap" in listed


def test_cli_exit_status_reflects_failures(figdir, tmp_path, capsys):
    code = main(["reproduce", "--figures", str(figdir), "--out", str(tmp_path / "c"),
                 "--no-progress"])
    assert code == 1
    assert "FAILED" in capsys.readouterr().out


def test_cli_names_a_missing_figures_folder(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["reproduce", "--figures", str(missing), "--list"]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "--figures DIR" in err


# ----------------------------------------------------------------------------- figure protocol

PROTOCOL = textwrap.dedent('''
    """Toy figure: one line.

    More text that is not part of the --help line."""
    import sys

    from rmt_icl.reporting.figure import Figure

    QUICK = dict(n=3)
    FULL = dict(n=300)


    def run(cfg, *, quick, scale=1.0):
        return {"comparison": "toy", "max_gap_se": 0.5, "max_rel_gap": 0.01,
                "sizes": f"n={cfg['n']}", "scale": scale, "quick": quick}


    def draw(results):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, results["scale"]])
        return fig


    def summary(results):
        return "toy summary"


    FIGURE = Figure(globals(), full_help="n=300")
    compute, main = FIGURE.compute, FIGURE.main

    if __name__ == "__main__":
        sys.exit(main())
''')


def test_figure_protocol_gives_compute_and_main(tmp_path, capsys):
    script = tmp_path / "fig_toy.py"
    script.write_text(PROTOCOL)
    mod = gallery.load_script(script)
    res = mod.compute()
    assert res["sizes"] == "n=3" and res["quick"] and res["seconds"] >= 0
    res = mod.compute(quick=False, sizes={"n": 7}, scale=2.0)
    assert res["sizes"] == "n=7" and res["scale"] == 2.0 and not res["quick"]
    assert mod.main(["--full", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "n=300: " in out and "max gap 0.50 SE, max relative gap 1.0 %" in out
    assert "toy summary" in out and (tmp_path / "out" / "fig_toy.png").exists()
    assert (tmp_path / "out" / "fig_toy.pdf").exists()
    with pytest.raises(SystemExit):  # a figure without sweeps has no --backend
        mod.main(["--backend", "serial"])
    rows = reproduce(out=tmp_path / "g", figures_dir=tmp_path, progress=False)
    assert rows[0]["status"] == "ok" and rows[0]["sizes"] == "n=3"


def test_figure_protocol_names_missing_definitions():
    with pytest.raises(ValueError, match="missing: run, draw"):
        figure.Figure({"__file__": "fig_x.py", "QUICK": {}, "FULL": {}}, full_help="")
    with pytest.raises(ValueError, match="backend"):
        figure.Figure({"__file__": "f.py", "QUICK": {}, "FULL": {}, "run": len, "draw": len},
               full_help="", backend="threads")


def test_paired_figure_runs_its_points_at_the_figure_sizes(monkeypatch):
    seen = {}

    def fake_paired_summary(name, points, **kwargs):
        seen.update(name=name, points=points, **kwargs)
        return pd.DataFrame({"diff_herm_mean": [0.3, -0.1], "diff_herm_se": [0.1, 0.1],
                             "d": [p["d"] for p in points], "runs": [kwargs["runs"]] * 2,
                             "icl_rt_mean": [0.9, 0.8], "icl_rt_se": [0.01, 0.01]})

    monkeypatch.setattr(figure, "paired_summary", fake_paired_summary)

    def annotate(results):
        results["comparison"] += "; annotated"

    path = dict(tau=2.0, width_ratio=0.5, kappa=math.inf, rho=1e-4, ridge=0.2,
                activation="relu", target="tanh", degree=4)
    namespace = {"__file__": "fig_rt_toy.py", "QUICK": dict(d=8, runs=2, n_test=100),
                 "FULL": dict(d=16, runs=3, n_test=None), "STORE": "rt_toy",
                 "POINTS": [{"alpha": 1.0, **path}, {"alpha": 2.0, **path}],
                 "SHARE_SEEDS_ACROSS": ("model",),
                 "COMPARISON": "toy", "draw": None, "annotate": annotate}
    paired = figure.PairedFigure(namespace, full_help="d=16")
    res = paired.compute()
    assert seen["name"] == "rt_toy" and seen["runs"] == 2 and seen["backend"] == "serial"
    assert seen["points"] == [{"d": 8, "alpha": 1.0, **path, "n_test": 100},
                              {"d": 8, "alpha": 2.0, **path, "n_test": 100}]
    assert seen["share_seeds_across"] == ("model",) and seen["quick"] is True
    assert res["max_herm_gap_se"] == pytest.approx(3.0)
    assert res["comparison"].startswith("toy; Hermite model vs RT") \
        and res["comparison"].endswith("; annotated")
    assert res["sizes"] == "d=8, runs=2, n_test=100"
    table = res["comparisons"]
    assert list(table["mean"]) == [0.9, 0.8] and table["covered"].all()
    assert np.isfinite(table["theory"]).all() and res["max_gap_se"] is not None
    paired.compute(quick=False, backend="processes")
    assert seen["points"][0] == {"d": 16, "alpha": 1.0, **path} and seen["backend"] == "processes"
