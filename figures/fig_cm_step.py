"""Companion model: the random transformer's ICL error vs the size of one gradient step on the
first layer F, for structured inputs (a: the step should not help) and structured tasks (b: it
should help a lot).

After Demir & Dogan (NeurIPS 2025, arXiv:2510.25753), Fig. 3(a, b); the model is that of
``docs/companion_model.md`` (data mixing, section 1, with the flat keys of section 2; one
gradient step on F, section 4).

Path (the paper's Fig. 2 setting): two sources, source 0 isotropic, source 1 with a spiked
input covariance ``I + theta_x gamma gamma^T``, ``theta_x = d`` (panel a), or a spiked task
covariance ``I + theta_xi gamma gamma^T``, ``theta_xi = d^2`` (panel b); training mixture
``P(s = 1)`` in {0.5, 1}; label noise ``Delta = 0.01`` on both sources (a standard deviation);
``ell = d``, ``n = k = d^2/2`` (``tau = 0.5``, ``psi = 1``); relu activation and target; the
companion scaling of the ``y^2`` column (``y2_scale = "companion"``); ridge ``lambda_bar = 1``
(a moderate ridge, where the RT's error is lowest at these sizes: at ``psi = 1`` the paper's
``lambda = 5e-5``, i.e. ``lambda_bar = 5e-5 n``, sits on the interpolation peak). Step sizes
``eta / d^2`` in {0.5, 1, 2, 4, 8} (the point key ``step_size``; ``docs/companion_model.md``,
section 4: the paper's ``eta ~ d^2`` is an O(1) ``step_size``). The error is averaged
uniformly over the two sources, whatever the training mixture (section 1).

* filled markers: the RT after the step, mean +- SE over runs;
* open rings: its Hermite model (p = 5, as in the paper) on the same prompts, F-hat and noise;
  arrows just inside the edge: beyond the axis;
* dashed lines: the RT without the step (``eta = 0``), same prompts and F;
* dash-dotted lines: the linear transformer, which has no F and is unchanged by the step.

Every step size of a panel and mixture shares the prompts, F and noise (common random numbers),
so the claims are checked on paired differences at the best step size (the lowest mean error; a
selection that favours "the step helps"): a gain is *resolved* beyond the Student-t threshold
(z = 2, ``rmt_icl.core.stats.student_t_threshold``) times the paired SE, and the step *helps*
when the gain is resolved and at least 5 % of the no-step error (the paper's "helps a lot"); a
smaller resolved gain "helps slightly", which partly supports (b) and does not contradict (a).
The comparison text says, with these numbers, which of the paper's claims the runs support and
which they contradict, including its equivalence claim (the Hermite model matches the RT; with
the input spike its error blows up at these sizes, the heavy-tailed pre-activations of
``docs/companion_model.md``, section 6). There is no deterministic equivalent for this model
(``docs/companion_model.md``, section 6), so the gallery's verdict is "no theory";
``max_gap_se`` is the largest paired ``|e_Herm - e_RT| / SE``.

Sizes: quick d = 32, 4 runs, 2000 test queries; ``--full`` d = 48, 4 runs,
``n_test = max(4000, n)``; ``--paper`` d = 80, 20 runs (the paper's). Store
``results/cm_step/<quick|full>`` (``results/paper/cm_step/full`` for ``--paper``).

Usage::

    python figures/fig_cm_step.py [--full | --paper] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import sys

import numpy as np

from rmt_icl.core.stats import mean_se, student_t_threshold
from rmt_icl.experiments.equivalence import max_paired_gap_se
from rmt_icl.reporting.claims import (
    OFF_SCALE,
    Z,
    claim_summary,
    draw_off_scale,
    error_limits,
    format_gap,
    hermite_claim,
    store_runs,
)
from rmt_icl.reporting.figure import Figure, figure_point, figure_sizes
from rmt_icl.reporting.studies import RESULTS_DIR, paired_summary
from rmt_icl.reporting.style import MARKERS, PALETTE, ZERO_PREDICTOR, log_axis, reference_line

STORE = "cm_step"
#: the two panels: which source-1 spike, as a function of d
PANELS = {"inputs": ("input_spike", lambda d: float(d)),
          "tasks": ("task_spike", lambda d: float(d * d))}
TITLES = {"inputs": r"(a) structured inputs, $\theta_x = d$",
          "tasks": r"(b) structured tasks, $\theta_\xi = d^2$"}
#: step sizes eta / d^2 (the point key ``step_size``; 0, no step, is added)
STEPS = (0.5, 1.0, 2.0, 4.0, 8.0)
MIXTURES = (0.5, 1.0)
#: the ridge lambda_bar
RIDGE = 1.0
DEGREE = 5
PATH = {"alpha": 1.0, "tau": 0.5, "width_ratio": 1.0, "ridge": RIDGE, "activation": "relu",
        "target": "relu", "y2_scale": "companion", "noise0": 0.01, "noise1": 0.01,
        "degree": DEGREE}
SHARE_SEEDS_ACROSS = ("model", "step_size")
#: the relative drop of the error from which a resolved gain counts as the step helping (the
#: paper's "helps a lot"); a smaller resolved gain is "helps slightly"
MATERIAL = 0.05
QUICK = dict(d=32, runs=4, n_test=2000)
FULL = dict(d=48, runs=4, n_test=None)
PAPER = dict(d=80, runs=20, n_test=None)


def _points(cfg: dict) -> list[dict]:
    """The points: panel x mixture x step size (0 first), at the sizes ``cfg``."""
    d = cfg["d"]
    return [figure_point(cfg, {**PATH, "mixture": mix, key: spike(d), "step_size": eta})
            for key, spike in PANELS.values()
            for mix in cfg.get("mixtures", MIXTURES)
            for eta in (0.0, *cfg.get("steps", STEPS))]



def step_claims(table, values, runs: int) -> dict:
    """The paper's two claims, checked per panel and mixture on paired differences.

    For each (panel, mixture): ``e0`` (no step), the best step size ``eta*`` (lowest mean RT
    error), ``diff = e(eta*) - e0`` with its paired SE (the runs share prompts and F), the
    relative change ``rel = diff / e0``, ``resolved_gain`` (``diff < -c SE``, ``c`` the
    Student-t threshold at z = 2), ``helps`` (a resolved gain of at least :data:`MATERIAL`
    relative) and ``hurts`` (``diff > c SE``: the error rises at every step size). Returns
    ``{(panel, mixture): {...}}``.
    """
    c = float(student_t_threshold(runs, Z))
    out = {}
    for panel, (key, _) in PANELS.items():
        on = table[key].to_numpy(np.float64) > 0
        for mix in sorted(set(table.loc[on, "mixture"])):
            rows = np.flatnonzero(on & (table["mixture"].to_numpy() == mix))
            steps = table["step_size"].to_numpy(np.float64)[rows]
            base = rows[steps == 0][0]
            stepped = rows[steps > 0]
            means = table["icl_rt_mean"].to_numpy(np.float64)[stepped]
            best = stepped[int(np.argmin(means))]
            diff, se = mean_se(values[:, best] - values[:, base])
            e0 = float(table["icl_rt_mean"].iloc[base])
            out[(panel, float(mix))] = {
                "e0": e0, "e0_se": float(table["icl_rt_se"].iloc[base]),
                "eta": float(table["step_size"].iloc[best]),
                "e": float(table["icl_rt_mean"].iloc[best]),
                "diff": diff, "se": se, "rel": diff / e0, "threshold": c,
                "resolved_gain": bool(diff < -c * se),
                "helps": bool(diff < -c * se and -diff / e0 >= MATERIAL),
                "hurts": bool(diff > c * se)}
    return out


def claim_verdict(r: dict, wanted: bool) -> str:
    """Whether one (panel, mixture) entry of :func:`step_claims` supports the paper's claim:
    ``wanted`` = the step helps a lot (structured tasks) or does not help (structured
    inputs). A resolved gain below :data:`MATERIAL` partly supports "helps a lot" and does
    not contradict "does not help"."""
    if wanted:
        if r["helps"]:
            return "supports"
        if r["resolved_gain"]:
            return "partly supports"
        return "contradicts" if r["hurts"] else "inconclusive"
    return "contradicts" if r["helps"] else "supports"


def state(r: dict) -> str:
    """What the best step does, in words."""
    if r["helps"]:
        return "helps"
    if r["resolved_gain"]:
        return f"helps slightly: a resolved gain below {100 * MATERIAL:g} %"
    return "hurts" if r["hurts"] else "no resolved change"


def claim_lines(claims: dict) -> list[str]:
    """Each claim with its numbers (paired SEs) and the verdict."""
    parts = []
    for panel, wanted in (("tasks", True), ("inputs", False)):
        lines = []
        for (p, mix), r in claims.items():
            if p != panel:
                continue
            lines.append(f"P(s=1)={mix:g}: e {r['e0']:.3f} -> {r['e']:.3f} at step {r['eta']:g} "
                         f"(paired {r['diff']:+.3f} +- {r['se']:.3f}, {100 * r['rel']:+.0f} %; "
                         f"{state(r)}) -- {claim_verdict(r, wanted)}")
        claim = ("the step helps a lot for structured tasks" if wanted
                 else "the step does not help for structured inputs")
        parts.append(f"{claim}: {'; '.join(lines)}")
    return parts


def claim_text(claims: dict) -> str:
    """The comparison text of the claims (:func:`claim_lines`)."""
    return "; ".join(claim_lines(claims))



def per_run(results_dir, quick: bool, table, column: str = "icl_rt"):
    """The per-run values of ``column`` in this figure's store (:func:`store_runs`)."""
    return store_runs(STORE, results_dir, quick, table, column)


def run(cfg: dict, *, quick: bool, results_dir=RESULTS_DIR, backend: str = "serial",
        seed: int = 0) -> dict:
    """Simulate the points through the store and check the paper's claims.

    Returns ``"table"`` (one row per point, :func:`~rmt_icl.reporting.studies.paired_summary`),
    ``"claims"`` (:func:`step_claims`), ``"claim_lines"`` (:func:`claim_lines` and
    :func:`hermite_claim`), ``"comparison"`` (those lines joined), ``"max_gap_se"`` (the
    largest paired ``|e_Herm - e_RT| / SE``) and ``"sizes"``.
    """
    points = _points(cfg)
    table = paired_summary(STORE, points, runs=cfg["runs"], quick=quick, seed=seed,
                           results_dir=results_dir, backend=backend,
                           share_seeds_across=SHARE_SEEDS_ACROSS)
    rt, herm = (per_run(results_dir, quick, table, col) for col in ("icl_rt", "icl_herm"))
    claims = step_claims(table, rt, cfg["runs"])
    gap = max_paired_gap_se(table)
    lines = [*claim_lines(claims), hermite_claim(table, rt, herm, cfg["runs"], DEGREE)]
    return {"comparison": "; ".join(lines), "max_gap_se": gap, "sizes": figure_sizes(cfg),
            "table": table, "claims": claims, "claim_lines": lines}


def draw(results: dict):
    """Two panels: e_ICL vs step size for structured inputs (a) and structured tasks (b); one
    legend below them (the reference lines' labels name their series; their levels are each
    panel's own)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    tab = results["table"]
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 5.4), constrained_layout=True)
    beyond = False
    for ax, (panel, (key, _)) in zip(axes, PANELS.items(), strict=True):
        sub = tab[tab[key] > 0]
        limits = error_limits(sub)
        for i, mix in enumerate(sorted(set(sub["mixture"]))):
            rows = sub[sub["mixture"] == mix].sort_values("step_size")
            base, stepped = rows[rows["step_size"] == 0], rows[rows["step_size"] > 0]
            col = PALETTE[i]
            ax.errorbar(stepped["step_size"], stepped["icl_rt_mean"],
                        yerr=stepped["icl_rt_se"], fmt=MARKERS[i] + "-", color=col, ms=5,
                        zorder=3, label=f"RT after the step, P(s=1) = {mix:g} (mean ± SE)")
            beyond |= draw_off_scale(ax, stepped["step_size"], stepped["icl_herm_mean"], col,
                                   MARKERS[i], limits)
            reference_line(ax, float(base["icl_rt_mean"].iloc[0]),
                           f"RT without step, P(s=1) = {mix:g}", color=col, ls="--", lw=1.0)
            reference_line(ax, float(base["icl_linear_mean"].iloc[0]),
                           f"linear transformer, P(s=1) = {mix:g}", color=col, ls="-.",
                           lw=0.9)
        reference_line(ax, float(sub["q"].iloc[0]), ZERO_PREDICTOR)
        ax.set_ylim(*limits)
        log_axis(ax, "x", ticks=sorted(set(sub.loc[sub["step_size"] > 0, "step_size"])))
        log_axis(ax, "y")
        ax.set_xlabel(r"step size $\eta / d^2$")
        ax.set_ylabel(r"$e_{\mathrm{ICL}}$ (uniform over sources)")
        ax.set_title(TITLES[panel], fontsize=11)
    entries = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    entries[f"Hermite model p = {DEGREE}, paired (open rings)"] = Line2D(
        [], [], color="0.3", marker="o", mfc="none", ms=9, ls="none")
    if beyond:
        entries["Hermite model beyond the axis (arrows)"] = Line2D(
            [], [], color="0.3", marker=OFF_SCALE[0], ms=11, ls="none")
    order = ("RT after", "RT without", "linear", "Hermite")
    labels = sorted(entries, key=lambda t: next((i for i, p in enumerate(order)
                                                 if t.startswith(p)), len(order)))
    fig.legend([entries[t] for t in labels], labels, loc="outside lower center", ncol=3,
               fontsize=8.5)
    fig.suptitle("Companion model: one gradient step on F (relu, ℓ = d, n = k = d²/2); "
                 f"{results['sizes']}\nmax paired |e_Herm − e_RT| = "
                 f"{format_gap(results['max_gap_se'])} SE", fontsize=10)
    return fig


summary = claim_summary


FIGURE = Figure(globals(), full_help="d=48, 4 runs", backend="serial")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
