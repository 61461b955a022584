"""Paper Fig. 4: the memorisation -> in-context-learning transition in task diversity kappa.

Lu, Letey, Zavatone-Veth, Maiti & Pehlevan (2024, arXiv:2405.11751), Fig. 4: the
task-generalisation gap g_task = e_ICL - e_IDG vs kappa = K/d at rho = 0.01, tau = 0.2 alpha;
panel A alpha in {6, 10, 20}, panel B alpha in {10, 20, 40}. As alpha, tau -> inf the gap
tends to (1 - kappa)_+ (Lu et al. 2024). The paper's dMMSE overlay is not drawn.

Lines: ridgeless theory. Markers (at the realised kappa = K/d): Monte Carlo with
lambda = 1e-6, mean +- SE of the per-run gap (ICL and IDG errors of the same fitted Gamma,
so the SE is that of the paired difference). Finite-d simulations sit above theory for small
kappa (few tasks) and, at quick sizes, far above it for alpha = 6 (tau = 1.2 is close to the
finite-d interpolation threshold tau = 1 + 1/d).

Verdict: e_ICL and e_IDG at every simulated point (their difference is plotted).

Sizes: quick d = 40, 3 runs, 10 kappa values; ``--full`` d = 56, 4 runs, 16 kappa values;
``--paper`` d = 100, 10 runs, the paper's 31 kappa values. Store
``results/la_task_diversity/<quick|full>``.

Usage::

    python figures/fig_la_task_diversity.py [--full] [--out DIR]
"""

from __future__ import annotations

import sys

import numpy as np

from rmt_icl.experiments.la_validation import (
    excluded_rows,
    la_comparisons,
    max_gap_se,
    sizes_text,
)
from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.studies import RESULTS_DIR, sweep_summary
from rmt_icl.reporting.style import MARKERS, PALETTE, log_axis, mark_excluded
from rmt_icl.theory import linear_attention_icl_error, linear_attention_idg_error

STORE = "la_task_diversity"
RHO = 0.01
RIDGE = 1e-6
PANELS = (("A", (6.0, 10.0, 20.0)), ("B", (10.0, 20.0, 40.0)))
KAPPAS_FULL = (0.08, 0.10, 0.12, 0.16, 0.20, 0.26, 0.33, 0.41, 0.53, 0.67, 0.85, 1.07, 1.36,
               1.72, 2.18, 2.77, 3.50, 4.44, 5.62, 7.12, 9.02, 11.42, 14.47, 18.32, 23.20,
               29.39, 37.21, 47.13, 59.68, 75.58, 95.72)
KAPPAS_QUICK = (0.10, 0.20, 0.33, 0.53, 0.85, 1.36, 2.18, 3.50, 7.12, 18.32)
QUICK = dict(d=40, runs=3, kappas=KAPPAS_QUICK)
FULL = dict(d=56, runs=4, kappas=KAPPAS_FULL[::2])
PAPER = dict(d=100, runs=10, kappas=KAPPAS_FULL)
CALIBRATION = {"sizes": [{"d": 20}, {"d": 40}], "seed": 1}


def _alphas():
    return sorted({a for _, alphas in PANELS for a in alphas})


def run(cfg: dict, *, quick: bool, results_dir=RESULTS_DIR, backend: str = "processes",
        seed: int = 0) -> dict:
    """Simulate g_task at each (alpha, kappa) through the sweep store; theory curves.

    The verdict judges e_ICL and e_IDG, whose difference is plotted (a relative allowance
    has no meaning for g_task, which vanishes for large kappa).
    """
    pts = [dict(d=cfg["d"], alpha=a, tau=0.2 * a, kappa=k, rho=RHO, ridge=RIDGE)
           for a in _alphas() for k in cfg["kappas"]]
    table = sweep_summary(STORE, pts, runs=cfg["runs"], quick=quick, results_dir=results_dir,
                          backend=backend, seed=seed)
    kappa = np.logspace(np.log10(0.05), 2.1, 300)
    curves = {a: linear_attention_icl_error(alpha=a, tau=0.2 * a, kappa=kappa, rho=RHO)
              - linear_attention_idg_error(alpha=a, tau=0.2 * a, kappa=kappa,
                                           rho=RHO) for a in _alphas()}
    theory_gap = table["theory_icl_mean"] - table["theory_idg_mean"]
    rel = (table["gap_mean"] - theory_gap).abs().max()
    return {
        "comparison": "g_task = e_ICL - e_IDG vs kappa (tau = 0.2 alpha, 4 alphas): theory vs "
                      "simulation",
        "max_gap_se": max_gap_se(table, ("gap",)),
        "max_abs_gap": float(rel),
        "comparisons": la_comparisons(table, labels=("alpha", "tau", "kappa"), x="kappa"),
        "sizes": sizes_text(cfg["d"], cfg["runs"], f"{len(cfg['kappas'])} kappas"),
        "d": cfg["d"], "runs": cfg["runs"],
        "table": table, "kappa": kappa, "curves": curves,
    }


def draw(results: dict):
    """Two panels of g_task vs kappa (log x), theory lines over simulation markers."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True, sharey=True)
    tab = results["table"]
    colours = {a: PALETTE[i] for i, a in enumerate(_alphas())}
    for ax, (key, alphas) in zip(axes, PANELS, strict=True):
        for i, a in enumerate(alphas):
            col = colours[a]
            ax.plot(results["kappa"], results["curves"][a], color=col,
                    label=rf"$\alpha={a:g}$, $\tau={0.2 * a:g}$")
            rows = tab[tab["alpha"] == a]
            # markers at the realised K/d (K = round(kappa d) tasks)
            ax.errorbar(rows["K"] / results["d"], rows["gap_mean"], yerr=rows["gap_se"],
                        fmt=MARKERS[i], color=col, mfc="white")
        near = excluded_rows(tab[tab["alpha"].isin(alphas)])
        mark_excluded(ax, near["K"] / results["d"], near["gap_mean"],
                      label="not judged (tau within 20 % of 1)")
        ax.plot(results["kappa"], np.clip(1 - results["kappa"], 0, None), color="0.5", ls="--",
                lw=1, label=r"$(1-\kappa)_+$ ($\alpha,\tau\to\infty$)")
        log_axis(ax, "x")
        ax.set_xlabel(r"task diversity $\kappa = K/d$")
        ax.set_title(f"{key}: " + r"$g_{\mathrm{task}} = e_{\mathrm{ICL}} - e_{\mathrm{IDG}}$")
        ax.legend(fontsize=8)
    axes[0].set_ylabel(r"$g_{\mathrm{task}}$")
    fig.suptitle(f"Memorisation to in-context learning (rho={RHO}; lines ridgeless theory, "
                 f"markers simulation with lambda={RIDGE:g}, mean ± SE; {results['sizes']})",
                 fontsize=11)
    return fig


def summary(results: dict) -> str:
    """The largest absolute difference between the simulated and the theoretical g_task."""
    return f"max |g_task(sim) - g_task(theory)| = {results['max_abs_gap']:.3f}"


FIGURE = Figure(globals(), full_help="d=56, 4 runs, 16 kappas",
                backend="processes")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
