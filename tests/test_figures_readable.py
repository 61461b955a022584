"""Figures fit for a paper: every log axis has readable tick labels, every reference line is in
the legend, and REPORT.md gives each figure a caption.

The shared helpers of :mod:`rmt_icl.reporting.style` (:func:`log_axis`, :func:`reference_line`)
are checked over many axis spans; every figure script in ``figures/`` is then built from a tiny
computed result (stores under ``tmp_path``, the serial backend) and drawn, and its axes are
inspected.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rmt_icl.reporting.gallery import (  # noqa: E402
    caption,
    default_figures_dir,
    discover,
    load_script,
    write_report,
)
from rmt_icl.reporting.style import (  # noqa: E402
    REFERENCE_GID,
    ZERO_PREDICTOR,
    apply_style,
    log_axis,
    reference_line,
)

#: sizes at which each figure script computes in well under a second or two (stores: tmp_path)
RT = dict(d=6, runs=2, n_test=256)
LSA = dict(steps=20, batch_size=64, test_prompts=2000)
TINY = {
    "cm_mixture": dict(d=8, runs=2, n_test=256, mixtures=(0.1, 0.9), input_spikes=(1.0, 4.0),
                       task_spikes=(1.0, 4.0), noises=(0.01, 0.5)),
    "cm_sizes": dict(d=8, runs=2, n_test=256, taus=(0.25, 0.5, 1.0, 2.0), alphas=(0.5, 1.0, 2.0),
                     widths=(0.5, 2.0, 4.0), activations=("relu",)),
    "cm_step": dict(d=8, runs=2, n_test=256, steps=(1.0, 4.0), mixtures=(0.5,)),
    "la_context_length": dict(d=8, runs=2, alpha_index=(0, 5)),
    "la_convergence": dict(ds=(6, 8), runs=(2, 2)),
    "la_double_descent": dict(d=8, runs=2),
    "la_nonmonotonicity": dict(n_kappa=11, n_rho=5, n_alpha=40),
    "la_task_diversity": dict(d=8, runs=2, kappas=(0.25, 2.0)),
    "lsa_gamma_heatmaps": LSA,
    "lsa_loss_vs_n": dict(n_max=13, step=3, draws=100, gd_draws=100, mc_prompts=2000,
                          mc_n=(4, 10)),
    "lsa_preconditioner": LSA,
    "rt_companion": RT,
    "rt_context_length": RT,
    "rt_equivalence_gap": dict(ds=(6, 8), runs={6: 2, 8: 2}, n_test=256, store="gap"),
    "rt_mlp_vs_linear": RT,
    "rt_ridge": RT,
    "rt_theory": RT,
    "rt_width": RT,
}
SCRIPTS = discover(default_figures_dir())


def _shown_labels(axis) -> list[str]:
    """The visible non-empty major tick labels of ``axis`` inside its view, after drawing."""
    lo, hi = sorted(axis.get_view_interval())
    slack = 1e-9 * max(abs(lo), abs(hi))
    return [label.get_text() for tick in axis.get_major_ticks()
            if lo - slack <= tick.get_loc() <= hi + slack
            for label in (tick.label1, tick.label2)     # label2: a colorbar's right side
            if label.get_visible() and label.get_text().strip()]


def _legend_texts(fig) -> set[str]:
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    return {t.get_text() for leg in legends if leg is not None for t in leg.get_texts()}


def _straight_lines(ax):
    """Lines drawn by axhline/axvline (data coordinate on one axis, axes fraction on the
    other)."""
    blended = (ax.get_yaxis_transform(which="grid"), ax.get_xaxis_transform(which="grid"))
    return [line for line in ax.get_lines() if line.get_transform() in blended]


def check_readable(fig) -> None:
    """Every log axis shows at least two tick labels (on itself, or, for an axis shared with
    other panels whose inner labels are hidden, on a panel it shares with); every straight line
    is a labelled reference line whose label is in a legend of the figure."""
    fig.canvas.draw()
    legend = _legend_texts(fig)
    for ax in fig.axes:
        for name in ("x", "y"):
            axis = getattr(ax, f"{name}axis")
            if axis.get_scale() != "log":
                continue
            shared = getattr(ax, f"get_shared_{name}_axes")().get_siblings(ax)
            labels = max((_shown_labels(getattr(a, f"{name}axis")) for a in shared), key=len)
            assert len(labels) >= 2, (f"{ax.get_title()!r}: log {name} axis labels "
                                      f"{labels} in view {axis.get_view_interval()}")
        for line in _straight_lines(ax):
            assert line.get_gid() == REFERENCE_GID, (
                f"{ax.get_title()!r}: a horizontal/vertical line not drawn by reference_line")
            assert line.get_label() in legend, (
                f"{ax.get_title()!r}: reference line {line.get_label()!r} not in a legend")


# ------------------------------------------------------------------------ the shared helpers

SPANS = [(0.35, 0.9), (0.5, 2.0), (0.22, 33.0), (1e-4, 10.0), (0.5, 0.52), (0.9, 1.1),
         (1e-3, 1e3), (3.0, 7.0), (5e3, 2e6), (1e-9, 1e3), (1.01, 1.0100001)]


@pytest.mark.parametrize("lo, hi", SPANS)
@pytest.mark.parametrize("axis", ["x", "y"])
def test_log_axis_labels_any_span(lo, hi, axis):
    """Matplotlib's default labels nothing on a log axis that spans less than a decade without
    a power of ten inside; log_axis labels at least two (distinct) ticks at every span."""
    fig, ax = plt.subplots()
    (ax.plot([lo, hi], [1, 2]) if axis == "x" else ax.plot([1, 2], [lo, hi]))
    log_axis(ax, axis)
    fig.canvas.draw()
    labels = _shown_labels(ax.xaxis if axis == "x" else ax.yaxis)
    assert len(labels) >= 2 and len(set(labels)) == len(labels), labels
    if lo >= 1e-3 and hi < 1e4:
        assert all("10^" not in s for s in labels), labels   # plain numbers in between
    plt.close(fig)


def test_log_axis_default_fails_the_check_that_log_axis_passes():
    """The check has teeth: the default locator of a log axis spanning 0.35..0.9 shows no label
    (the top-left panel of the old fig_rt_theory)."""
    fig, ax = plt.subplots()
    ax.plot([1, 2], [0.35, 0.9])
    ax.set_yscale("log")
    ax.minorticks_off()
    fig.canvas.draw()
    assert len(_shown_labels(ax.yaxis)) < 2
    with pytest.raises(AssertionError, match="log y axis"):
        check_readable(fig)
    log_axis(ax, "y")
    check_readable(fig)
    plt.close(fig)


def test_log_axis_fixed_ticks():
    fig, ax = plt.subplots()
    ax.plot([0.25, 4.0], [1, 2])
    log_axis(ax, "x", ticks=(0.25, 0.5, 1.0, 2.0, 4.0))
    fig.canvas.draw()
    assert _shown_labels(ax.xaxis) == ["0.25", "0.5", "1", "2", "4"]
    assert len(ax.xaxis.get_minorticklocs()) == 0 and ax.get_yscale() == "linear"
    with pytest.raises(ValueError, match="ticks must be positive"):
        log_axis(ax, "x", ticks=(0.0, 1.0))
    with pytest.raises(ValueError, match="axis must be 'x' or 'y'"):
        log_axis(ax, "z")
    plt.close(fig)


def test_reference_lines_carry_their_legend_label():
    fig, ax = plt.subplots()
    ax.plot([0.1, 10], [0.2, 3], label="data")
    h = reference_line(ax, 1.5, ZERO_PREDICTOR)
    v = reference_line(ax, 1.0, r"$\tau = 1$", axis="x")
    w = reference_line(ax, 2.0, "threshold", axis="x", ls="-", color="k")
    assert {h.get_gid(), v.get_gid(), w.get_gid()} == {REFERENCE_GID}
    assert (h.get_linestyle(), v.get_linestyle(), w.get_linestyle()) == (":", "--", "-")
    assert w.get_color() == "k" and h.get_label() == ZERO_PREDICTOR
    ax.legend()
    check_readable(fig)
    unlabelled = ax.axhline(2.0)
    with pytest.raises(AssertionError, match="not drawn by reference_line"):
        check_readable(fig)
    unlabelled.remove()
    reference_line(ax, 2.5, "late")                     # drawn after the legend
    with pytest.raises(AssertionError, match="'late' not in a legend"):
        check_readable(fig)
    for bad in ("", "  ", "_hidden", None):
        with pytest.raises(ValueError, match="label"):
            reference_line(ax, 1.0, bad)
    with pytest.raises(ValueError, match="axis"):
        reference_line(ax, 1.0, "x", axis="z")
    plt.close(fig)


# ------------------------------------------------------------------------ every figure script

def test_every_figure_script_has_tiny_sizes():
    assert sorted(SCRIPTS) == sorted(TINY), "add tiny sizes for each new figure to TINY"


@pytest.mark.parametrize("name", sorted(TINY))
def test_figure_is_readable(name, tmp_path):
    module = load_script(SCRIPTS[name])
    options = {}
    if getattr(module, "FIGURE", None) is not None and module.FIGURE.backend is not None:
        options = dict(backend="serial", results_dir=tmp_path)
    apply_style()
    results = module.compute(sizes=TINY[name], **options)
    fig = module.draw(results)
    try:
        check_readable(fig)
    finally:
        plt.close(fig)
    assert caption(vars(module)), f"fig_{name}.py has no caption"


def test_report_has_a_caption_column(tmp_path):
    rows = [{"figure": name, "stem": f"fig_{name}", "status": "ok", "comparison": "c",
             "max_gap_se": 1.5, "max_rel_gap": None, "sizes": "d=3", "seconds": 1.0,
             "caption": caption(vars(load_script(SCRIPTS[name])))} for name in ("rt_theory",)]
    report = write_report(rows, tmp_path / "REPORT.md", quick=True).read_text()
    assert "| run time (s) | caption |" in report
    assert ("| [rt_theory](fig_rt_theory.png) | — | c | 1.50 | — | — | d=3 | 1.0 | Random "
            "transformer: the deterministic equivalent (theory curves) vs the simulated RT. |"
            in report)
    assert caption({"CAPTION": "Own  caption\n here.", "__doc__": "Doc."}) == "Own caption here."
    assert caption({"__doc__": "\n  First line\n  goes on.\n\n  Details."}) == (
        "First line goes on.")
    assert caption({}) == ""
