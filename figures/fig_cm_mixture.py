"""Companion model: how the training mixture shapes the random transformer's ICL error -- error
vs the input spike theta_x, the task spike theta_xi and the noise Delta_1 of source 1, for
several mixture weights P(s = 1).

After Demir & Dogan (NeurIPS 2025, arXiv:2510.25753), Fig. 2; the model is that of
``docs/companion_model.md`` (data mixing, section 1, with the flat keys of section 2; one
gradient step on F, section 4).

Path (the paper's Fig. 2 setting): two sources, source 0 isotropic; training mixture
``P(s = 1)`` in {0.1, 0.5, 0.9}; ``ell = d``, ``n = k = d^2/2`` (``tau = 0.5``, ``psi = 1``);
relu activation and target; the companion scaling of the ``y^2`` column
(``y2_scale = "companion"``); one gradient step on F with ``eta = d^2`` (``step_size = 1``);
ridge ``lambda_bar = 1`` (a moderate ridge, where the RT's error is lowest at these sizes: at
``psi = 1`` the paper's ``lambda = 5e-5``, i.e. ``lambda_bar = 5e-5 n``, sits on the
interpolation peak). Panels:

* (a) source 1 with a spiked input covariance, ``theta_x / d`` in {0.25, 1, 4} (from about
  ``theta_x = 16 d`` the linear transformer's Gram matrix is numerically singular); label
  noise ``Delta = 0.01`` on both sources (a standard deviation);
* (b) source 1 with a spiked task covariance, ``theta_xi / d`` in {0.25, 1, 4, 16}; noise as
  in (a);
* (c) both sources isotropic, ``Delta_0 = 0.2`` and ``Delta_1`` in {0.01, 0.05, 0.2, 0.5}.

The error is averaged uniformly over the two sources, whatever the training mixture
(``docs/companion_model.md``, section 1), and ``E y^2`` (grey, dotted) is that of the same
law. Filled markers: the RT, mean +- SE over runs; open rings: its Hermite model (p = 5, as in
the paper) on the same prompts, F-hat and noise (arrows just inside the edge: beyond the
axis);
dash-dotted: the linear transformer on the same prompts.

All points of a panel share their random numbers (common random numbers), so the claims are
checked on paired differences, "resolved" meaning beyond the Student-t threshold (z = 2) times
the paired SE: (a) and (b) "more structured data lowers the error", the largest minus the
smallest mixture weight at the strongest spike; (c) "lower noise lowers the error", the lowest
minus the highest ``Delta_1`` at the largest weight, and more weight on the cleaner source at
the lowest ``Delta_1``; and the paper's equivalence claim, that the Hermite model matches the
RT (a resolved paired gap above 5 % of ``e_RT`` contradicts it). The comparison text says which
the runs support and which they contradict. With a strong input spike the Hermite model's error
blows up at these sizes (arrows; heavy-tailed pre-activations, ``docs/companion_model.md``,
section 6). There is no deterministic equivalent for this model (``docs/companion_model.md``,
section 6), so the gallery's verdict is "no theory"; ``max_gap_se`` is the largest paired
``|e_Herm - e_RT| / SE``.

Sizes: quick d = 32, 4 runs, 2000 test queries; ``--full`` d = 48, 4 runs,
``n_test = max(4000, n)``; ``--paper`` d = 80, 20 runs (the paper's). Store
``results/cm_mixture/<quick|full>`` (``results/paper/cm_mixture/full`` for ``--paper``).

Usage::

    python figures/fig_cm_mixture.py [--full | --paper] [--out DIR] [--backend serial]
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
from rmt_icl.reporting.style import MARKERS, PALETTE, ZERO_PREDICTOR, log_axis

STORE = "cm_mixture"
MIXTURES = (0.1, 0.5, 0.9)
#: spikes theta / d of panels (a) and (b)
INPUT_SPIKES = (0.25, 1.0, 4.0)
TASK_SPIKES = (0.25, 1.0, 4.0, 16.0)
#: Delta_1 of panel (c)
NOISES = (0.01, 0.05, 0.2, 0.5)
NOISE = 0.01
NOISE0_C = 0.2
STEP = 1.0
#: the ridge lambda_bar
RIDGE = 1.0
DEGREE = 5
PATH = {"alpha": 1.0, "tau": 0.5, "width_ratio": 1.0, "ridge": RIDGE, "activation": "relu",
        "target": "relu", "y2_scale": "companion", "step_size": STEP, "degree": DEGREE}
#: panel -> (point key on the x axis, its label)
PANELS = {"inputs": ("input_spike", r"input spike $\theta_x / d$ of source 1"),
          "tasks": ("task_spike", r"task spike $\theta_\xi / d$ of source 1"),
          "noise": ("noise1", r"noise $\Delta_1$ of source 1 ($\Delta_0$ = 0.2)")}
TITLES = {"inputs": "(a) structured inputs", "tasks": "(b) structured tasks",
          "noise": "(c) label noise"}
SHARE_SEEDS_ACROSS = ("model", "mixture", "input_spike", "task_spike", "noise1")
QUICK = dict(d=32, runs=4, n_test=2000)
FULL = dict(d=48, runs=4, n_test=None)
PAPER = dict(d=80, runs=20, n_test=None)


def _points(cfg: dict) -> list[dict]:
    """The points, panel by panel, mixture by mixture, along the x axis."""
    d = cfg["d"]
    mixtures = cfg.get("mixtures", MIXTURES)
    points = []
    for key, spikes in (("input_spike", cfg.get("input_spikes", INPUT_SPIKES)),
                        ("task_spike", cfg.get("task_spikes", TASK_SPIKES))):
        points += [figure_point(cfg, {**PATH, "mixture": mix, key: s * d, "noise0": NOISE,
                                      "noise1": NOISE})
                   for mix in mixtures for s in spikes]
    noises = cfg.get("noises", NOISES)
    points += [figure_point(cfg, {**PATH, "mixture": mix, "noise0": NOISE0_C, "noise1": dn})
               for mix in mixtures for dn in noises]
    return points


def panel_of(table) -> np.ndarray:
    """The panel of each row of the table (``inputs``, ``tasks`` or ``noise``)."""
    return np.where(table["input_spike"] > 0, "inputs",
                    np.where(table["task_spike"] > 0, "tasks", "noise"))


def x_values(table, d: int) -> np.ndarray:
    """The x coordinate of each row: ``theta / d`` in panels (a), (b), ``Delta_1`` in (c)."""
    return np.where(table["input_spike"] > 0, table["input_spike"] / d,
                    np.where(table["task_spike"] > 0, table["task_spike"] / d,
                             table["noise1"])).astype(np.float64)



def _paired(values, table, i: int, j: int, c: float) -> dict:
    """``e_i - e_j`` (paired over runs) with the two means and whether it is resolved."""
    diff, se = mean_se(values[:, i] - values[:, j])
    return {"from": float(table["icl_rt_mean"].iloc[j]), "to": float(table["icl_rt_mean"].iloc[i]),
            "diff": diff, "se": se, "lower": bool(diff < -c * se), "higher": bool(diff > c * se)}


def mixture_claims(table, values, runs: int, d: int) -> dict:
    """The paper's claims, on paired differences (``c``: Student-t threshold at z = 2).

    ``"inputs"``, ``"tasks"``: at the largest spike, the largest minus the smallest mixture
    weight (``lower``: more structured data lowers the error); ``"noise"``: at the largest
    weight, the lowest minus the highest ``Delta_1``; ``"noise_mixture"``: at the lowest
    ``Delta_1``, the largest minus the smallest weight. Each entry also holds ``x`` (where)
    and the mixture weights compared.
    """
    c = float(student_t_threshold(runs, Z))
    panels, x = panel_of(table), x_values(table, d)
    mix = table["mixture"].to_numpy(np.float64)
    out = {}

    def row(panel, m, xv):
        return int(np.flatnonzero((panels == panel) & (mix == m) & (x == xv))[0])

    for panel in ("inputs", "tasks"):
        on = panels == panel
        top, lo, hi = x[on].max(), mix[on].min(), mix[on].max()
        out[panel] = {**_paired(values, table, row(panel, hi, top), row(panel, lo, top), c),
                      "x": top, "mixtures": (lo, hi)}
    on = panels == "noise"
    lo, hi, dmin, dmax = mix[on].min(), mix[on].max(), x[on].min(), x[on].max()
    out["noise"] = {**_paired(values, table, row("noise", hi, dmin), row("noise", hi, dmax), c),
                    "x": (dmin, dmax), "mixtures": (hi,)}
    out["noise_mixture"] = {**_paired(values, table, row("noise", hi, dmin),
                                      row("noise", lo, dmin), c),
                            "x": dmin, "mixtures": (lo, hi)}
    return out


def _word(r: dict) -> str:
    return "supports" if r["lower"] else ("contradicts" if r["higher"] else "inconclusive")


def claim_lines(claims: dict) -> list[str]:
    """Each claim with its numbers (paired SEs) and the verdict."""
    parts = []
    for panel, what in (("inputs", "theta_x"), ("tasks", "theta_xi")):
        r = claims[panel]
        lo, hi = r["mixtures"]
        parts.append(f"more structured-{panel[:-1]} data lowers e: at {what}/d={r['x']:g}, "
                     f"P(s=1) {lo:g} -> {hi:g}: e {r['from']:.3f} -> {r['to']:.3f} (paired "
                     f"{r['diff']:+.3f} +- {r['se']:.3f}) -- {_word(r)}")
    r = claims["noise"]
    parts.append(f"lower noise lowers e: at P(s=1)={r['mixtures'][0]:g}, Delta_1 {r['x'][1]:g} "
                 f"-> {r['x'][0]:g}: e {r['from']:.3f} -> {r['to']:.3f} (paired "
                 f"{r['diff']:+.3f} +- {r['se']:.3f}) -- {_word(r)}")
    r = claims["noise_mixture"]
    lo, hi = r["mixtures"]
    parts.append(f"more low-noise data lowers e: at Delta_1={r['x']:g}, P(s=1) {lo:g} -> "
                 f"{hi:g}: e {r['from']:.3f} -> {r['to']:.3f} (paired {r['diff']:+.3f} +- "
                 f"{r['se']:.3f}) -- {_word(r)}")
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

    Returns ``"table"`` (one row per point, :func:`~rmt_icl.reporting.studies.paired_summary`,
    plus ``panel`` and ``x``), ``"claims"`` (:func:`mixture_claims`), ``"claim_lines"``
    (:func:`claim_lines` and :func:`hermite_claim`), ``"comparison"`` (those lines joined),
    ``"max_gap_se"`` (the largest paired ``|e_Herm - e_RT| / SE``) and ``"sizes"``.
    """
    table = paired_summary(STORE, _points(cfg), runs=cfg["runs"], quick=quick, seed=seed,
                           results_dir=results_dir, backend=backend,
                           share_seeds_across=SHARE_SEEDS_ACROSS)
    table["panel"], table["x"] = panel_of(table), x_values(table, cfg["d"])
    rt, herm = (per_run(results_dir, quick, table, col) for col in ("icl_rt", "icl_herm"))
    claims = mixture_claims(table, rt, cfg["runs"], cfg["d"])
    gap = max_paired_gap_se(table)
    lines = [*claim_lines(claims), hermite_claim(table, rt, herm, cfg["runs"], DEGREE)]
    return {"comparison": "; ".join(lines), "max_gap_se": gap, "sizes": figure_sizes(cfg),
            "table": table, "claims": claims, "claim_lines": lines}


def draw(results: dict):
    """Three panels: e_ICL vs theta_x / d (a), theta_xi / d (b) and Delta_1 (c), one colour
    per mixture weight."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    tab = results["table"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.9), constrained_layout=True)
    mixtures = sorted(set(tab["mixture"]))
    beyond = False
    for ax, (panel, (_, xlabel)) in zip(axes, PANELS.items(), strict=True):
        sub = tab[tab["panel"] == panel]
        limits = error_limits(sub)
        for i, mix in enumerate(mixtures):
            rows = sub[sub["mixture"] == mix].sort_values("x")
            col = PALETTE[i]
            ax.errorbar(rows["x"], rows["icl_rt_mean"], yerr=rows["icl_rt_se"],
                        fmt=MARKERS[i] + "-", color=col, ms=5, zorder=3)
            beyond |= draw_off_scale(ax, rows["x"], rows["icl_herm_mean"], col, MARKERS[i],
                                   limits)
            ax.plot(rows["x"], rows["icl_linear_mean"], "-.", color=col, lw=1.0)
        q = sub[sub["mixture"] == mixtures[0]].sort_values("x")
        ax.plot(q["x"], q["q"], ":", color="0.5", lw=1.0)
        ax.set_ylim(*limits)
        log_axis(ax, "x", ticks=sorted(set(sub["x"])))
        log_axis(ax, "y")
        ax.set_xlabel(xlabel)
        ax.set_title(TITLES[panel], fontsize=11)
    axes[0].set_ylabel(r"$e_{\mathrm{ICL}}$ (uniform over sources)")
    handles = [Line2D([], [], color=PALETTE[i], marker=MARKERS[i], ms=5,
                      label=f"RT, P(s=1) = {mix:g} (mean ± SE)")
               for i, mix in enumerate(mixtures)]
    handles += [Line2D([], [], color="0.3", marker="o", mfc="none", ms=9, ls="none",
                       label="Hermite model p = 5, paired (open rings)"),
                Line2D([], [], color="0.3", ls="-.", lw=1.0,
                       label="linear transformer (same prompts)"),
                Line2D([], [], color="0.5", ls=":", lw=1.0, label=ZERO_PREDICTOR)]
    if beyond:
        handles.append(Line2D([], [], color="0.3", marker=OFF_SCALE[0], ms=11, ls="none",
                              label="Hermite model beyond the axis (arrows)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=8.5)
    fig.suptitle("Companion model: the training mixture P(s=1) (relu, ℓ = d, n = k = d²/2, "
                 f"η = d²); {results['sizes']}\nmax paired |e_Herm − e_RT| = "
                 f"{format_gap(results['max_gap_se'])} SE", fontsize=10)
    return fig


summary = claim_summary


FIGURE = Figure(globals(), full_help="d=48, 4 runs", backend="serial")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
