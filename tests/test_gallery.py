"""rmt-icl reproduce: the gallery runs every figure script, saves PNG+PDF, writes REPORT.md."""

import textwrap

import pytest

from rmt_icl.cli import main
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
    row = "| [alpha](fig_alpha.png) | toy theory vs \\|toy\\| simulation | 1.25 | 2.0 % | d=3 |"
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
    with pytest.raises(ValueError, match="figures_dir"):
        discover(tmp_path / "missing")


def test_cli_lists_the_repository_figures(capsys):
    assert main(["reproduce", "--list"]) == 0
    listed = capsys.readouterr().out
    for name in discover(default_figures_dir()):
        assert name in listed
    assert "la_double_descent" in listed and "rt_equivalence_gap" in listed


def test_cli_exit_status_reflects_failures(figdir, tmp_path, capsys):
    code = main(["reproduce", "--figures-dir", str(figdir), "--out", str(tmp_path / "c"),
                 "--no-progress"])
    assert code == 1
    assert "FAILED" in capsys.readouterr().out
