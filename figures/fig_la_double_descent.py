"""Paper Fig. 1: sample-wise double descent of ridge-pretrained linear attention in tau = n/d^2.

Lu, Letey, Zavatone-Veth, Maiti & Pehlevan (2024, arXiv:2405.11751), Fig. 1.

* A: e_ICL vs tau for alpha in {1, 10, 100}, kappa = 0.5, rho = 0.01;
* B: e_IDG for the same runs;
* C: e_ICL vs tau at alpha = 10, kappa = inf, rho = 0.01 for ridge lambda in {1e-5, 0.1, 1}:
  the ridge removes the interpolation peak at tau = 1.

Lines: deterministic-equivalent theory (:mod:`rmt_icl.theory.linear_attention`) at the
simulated lambda (1e-5 stands in for ridgeless, as in the paper). Markers: finite-d Monte Carlo
(:func:`rmt_icl.simulate.linear_attention.simulate_point`: exact O(d) sampler, ridge fit,
exact test error), mean +- one standard error over independent runs. Simulations are expected
above theory by O(1/d), most near tau = 1 and for kappa < 1 (see ``fig_la_convergence``); the
reported gaps in SE use the theory at the *realised* ratios.

Verdict: the points within 20 % of tau = 1 at lambda = 1e-5 are excluded by the threshold
rule (marked x): the finite-d peak sits at n = d(d+1), and near it the ridgeless error varies
like 1/|tau - 1|, which no c/d allowance covers.

Sizes: quick d = 40, 3 runs; ``--full`` d = 64, 4 runs; ``--paper`` d = 100, 10 runs (the
paper's). Simulations go through the sweep store ``results/la_double_descent/<quick|full>``
(resumable).

Usage::

    python figures/fig_la_double_descent.py [--full] [--out DIR]
"""

from __future__ import annotations

import math
import sys

import numpy as np

from rmt_icl.experiments.la_validation import (
    excluded_rows,
    la_comparisons,
    max_gap_se,
    relative_gap,
    sizes_text,
)
from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.studies import RESULTS_DIR, sweep_summary
from rmt_icl.reporting.style import MARKERS, PALETTE, log_axis, mark_excluded, reference_line
from rmt_icl.theory import linear_attention_icl_error, linear_attention_idg_error

STORE = "la_double_descent"
RHO = 0.01
TAUS_AB = (0.2, 0.5, 0.85, 1.15, 1.5, 2.0)
ALPHAS = (1.0, 10.0, 100.0)
KAPPA_AB = 0.5
LAMBDA_AB = 1e-5
TAUS_C = (0.2, 0.5, 0.85, 1.0, 1.15, 1.5, 2.0)
ALPHA_C = 10.0
RIDGES_C = (1e-5, 0.1, 1.0)
#: legend label of the interpolation threshold n = d^2 (the finite-d peak is at n = d(d+1))
THRESHOLD = r"$\tau = 1$ (interpolation threshold)"
#: legend label of the points the verdict excludes (|tau - 1| <= 0.2 at lambda <= 1e-3)
EXCLUDED = "not judged (near τ = 1)"
QUICK = dict(d=40, runs=3)
FULL = dict(d=64, runs=4)
PAPER = dict(d=100, runs=10)
CALIBRATION = {"sizes": [{"d": 20}, {"d": 40}], "seed": 1}


def _points(d):
    ab = [dict(d=d, alpha=a, tau=t, kappa=KAPPA_AB, rho=RHO, ridge=LAMBDA_AB)
          for a in ALPHAS for t in TAUS_AB]
    c = [dict(d=d, alpha=ALPHA_C, tau=t, kappa=math.inf, rho=RHO, ridge=lam)
         for lam in RIDGES_C for t in TAUS_C]
    return ab, c


def run(cfg: dict, *, quick: bool, results_dir=RESULTS_DIR, backend: str = "processes",
        seed: int = 0) -> dict:
    """Simulate the markers (through the sweep store) and evaluate the theory lines.

    Returns a dict with ``"ab"`` and ``"c"`` summary tables (one row per simulated point),
    theory curves, ``"comparison"``, ``"max_gap_se"``, ``"max_rel_gap"``, ``"sizes"``.
    """
    pts_ab, pts_c = _points(cfg["d"])
    ab = sweep_summary(STORE, pts_ab + pts_c, runs=cfg["runs"], quick=quick, seed=seed,
                       results_dir=results_dir, backend=backend)
    tab_ab, tab_c = ab.iloc[:len(pts_ab)].reset_index(drop=True), \
        ab.iloc[len(pts_ab):].reset_index(drop=True)
    tau = np.concatenate([np.linspace(0.05, 0.995, 200), np.linspace(1.005, 2.5, 200)])
    curves_ab = {a: {"icl": linear_attention_icl_error(alpha=a, tau=tau, kappa=KAPPA_AB, rho=RHO,
                                                       ridge=LAMBDA_AB),
                     "idg": linear_attention_idg_error(alpha=a, tau=tau, kappa=KAPPA_AB, rho=RHO,
                                                       ridge=LAMBDA_AB)}
                 for a in ALPHAS}
    tau_c = np.linspace(0.05, 2.5, 400)
    curves_c = {lam: linear_attention_icl_error(alpha=ALPHA_C, tau=tau_c, kappa=math.inf, rho=RHO,
                                                ridge=lam)
                for lam in RIDGES_C}
    gaps = [max_gap_se(tab_ab, ("icl", "idg")), max_gap_se(tab_c, ("icl",))]
    # away from the peak: the finite-d threshold is n = d(d+1), i.e. tau = 1 + 1/d, so the
    # points with |tau - 1| <= 0.15 and tiny lambda are not comparable with the d = inf curve
    off = [max_gap_se(tab_ab[(tab_ab["tau"] - 1).abs() > 0.2], ("icl", "idg")),
           max_gap_se(tab_c[((tab_c["tau"] - 1).abs() > 0.2) | (tab_c["ridge"] >= 0.1)],
                      ("icl",))]
    rel = np.concatenate([relative_gap(tab_ab, "icl"), relative_gap(tab_ab, "idg"),
                          relative_gap(tab_c, "icl")])
    return {
        "comparison": "e_ICL, e_IDG vs tau (kappa=0.5, 3 alphas) and e_ICL vs tau for 3 "
                      "ridges (kappa=inf): theory vs simulation",
        "max_gap_se": max((g for g in gaps if g is not None), default=None),
        "max_gap_se_off_peak": max((g for g in off if g is not None), default=None),
        "max_rel_gap": float(np.nanmax(np.abs(rel))),
        "comparisons": la_comparisons(ab),
        "sizes": sizes_text(cfg["d"], cfg["runs"]),
        "d": cfg["d"], "runs": cfg["runs"],
        "ab": tab_ab, "c": tab_c, "tau": tau, "tau_c": tau_c,
        "curves_ab": curves_ab, "curves_c": curves_c,
    }


def draw(results: dict):
    """Three panels: e_ICL (A) and e_IDG (B) vs tau for several alpha; e_ICL vs tau for
    several ridges (C)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    tab = results["ab"]
    for ax, q, label in ((axes[0], "icl", r"$e_{\mathrm{ICL}}$"),
                         (axes[1], "idg", r"$e_{\mathrm{IDG}}$")):
        for i, a in enumerate(ALPHAS):
            col = PALETTE[i]
            ax.plot(results["tau"], results["curves_ab"][a][q], color=col,
                    label=rf"theory $\alpha={a:g}$")
            rows = tab[tab["alpha"] == a]
            ax.errorbar(rows["tau"], rows[f"{q}_mean"], yerr=rows[f"{q}_se"], fmt=MARKERS[i],
                        color=col, mfc="white", label=rf"sim $\alpha={a:g}$")
        near = excluded_rows(tab)
        mark_excluded(ax, near["tau"], near[f"{q}_mean"], label=EXCLUDED)
        log_axis(ax, "y")
        ax.set_xlabel(r"pretraining size $\tau = n/d^2$")
        ax.set_ylabel(label)
        ax.set_title(f"{label}, " + rf"$\kappa={KAPPA_AB:g}$, $\lambda={LAMBDA_AB:g}$")
        reference_line(ax, 1.0, THRESHOLD, axis="x", color="0.6", lw=0.8)
        ax.set_ylim(top=ax.get_ylim()[1] * 12)          # room for the legend above the peak
        ax.legend(ncol=2, fontsize=8)
    ax = axes[2]
    tab = results["c"]
    for i, lam in enumerate(RIDGES_C):
        col = PALETTE[i + 3]
        ax.plot(results["tau_c"], results["curves_c"][lam], color=col,
                label=rf"theory $\lambda={lam:g}$")
        rows = tab[tab["ridge"] == lam]
        ax.errorbar(rows["tau"], rows["icl_mean"], yerr=rows["icl_se"], fmt=MARKERS[i],
                    color=col, mfc="white", label=rf"sim $\lambda={lam:g}$")
    near = excluded_rows(tab)
    mark_excluded(ax, near["tau"], near["icl_mean"], label=EXCLUDED)
    log_axis(ax, "y")
    ax.set_xlabel(r"pretraining size $\tau = n/d^2$")
    ax.set_ylabel(r"$e_{\mathrm{ICL}}$")
    ax.set_title(rf"ridge removes the peak: $\alpha={ALPHA_C:g}$, $\kappa=\infty$")
    reference_line(ax, 1.0, THRESHOLD, axis="x", color="0.6", lw=0.8)
    ax.set_ylim(top=ax.get_ylim()[1] * 12)
    ax.legend(ncol=2, fontsize=8)
    fig.suptitle(f"Linear attention, sample-wise double descent (rho={RHO}; "
                 f"{results['sizes']}; markers: mean ± SE)", fontsize=11)
    return fig


def summary(results: dict) -> str:
    """The largest gap away from the finite-d interpolation peak."""
    return (f"max gap {results['max_gap_se_off_peak']:.2f} SE away from tau ~ 1 with tiny "
            "ridge")


FIGURE = Figure(globals(), full_help="d=64, 4 runs", backend="processes")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
