"""Paper Fig. 2: linear-attention error vs context length alpha = ell/d, for several kappa.

Lu, Letey, Zavatone-Veth, Maiti & Pehlevan (2024, arXiv:2405.11751), Fig. 2, lambda = 1e-6:

* A: e_IDG vs alpha, tau = 0.5, rho = 0.5, kappa in {0.1, 0.3, 0.5, 0.7, 2};
* B: e_ICL vs alpha, tau = 0.5, rho = 0.1, kappa in {0.2, 0.4, 0.5, 0.6, 1.5};
* C: e_ICL vs alpha, tau = 20, rho = 0.5, kappa in {0.25, 0.75, 1, 1.1, 2}.

For kappa < min(tau, 1) the ridgeless e_ICL grows linearly in alpha (Lu et al. 2024;
``docs/theory/linear_attention.md``, "Decisions and findings"). Lines: theory at the realised
ratios of the simulated d (K = round(kappa d) tasks, each used round(tau d^2/K) times); markers:
Monte Carlo mean +- SE (exact O(d) sampler, so large alpha costs nothing). Finite-size gaps are
O(1/d), largest for small kappa (few tasks: K = kappa d).

Sizes: quick d = 32, 3 runs, 4 of the 6 alphas; ``--full`` d = 48, 4 runs, all alphas;
``--paper`` d = 100, 10 runs. Store ``results/la_context_length/<quick|full>``.

Usage::

    python figures/fig_la_context_length.py [--full] [--out DIR]
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from rmt_icl.experiments.la_validation import (
    la_comparisons,
    max_gap_se,
    relative_gap,
    sizes_text,
)
from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.studies import RESULTS_DIR, sweep_summary
from rmt_icl.reporting.style import MARKERS, PALETTE, log_axis
from rmt_icl.simulate.paths import ScalingPath
from rmt_icl.theory import linear_attention_icl_error, linear_attention_idg_error

STORE = "la_context_length"
RIDGE = 1e-6
PANELS = (
    # key, quantity, tau, rho, kappas, simulated alphas
    ("A", "idg", 0.5, 0.5, (0.1, 0.3, 0.5, 0.7, 2.0), (1.0, 5.6, 6.15, 7.4, 100.0, 1000.0)),
    ("B", "icl", 0.5, 0.1, (0.2, 0.4, 0.5, 0.6, 1.5), (2.35, 5.5, 9.62, 22.7, 100.0, 1000.0)),
    ("C", "icl", 20.0, 0.5, (0.25, 0.75, 1.0, 1.1, 2.0),
     (2.35, 5.5, 9.62, 22.7, 100.0, 1000.0)),
)
QUICK = dict(d=32, runs=3, alpha_index=(0, 2, 4, 5))
FULL = dict(d=48, runs=4, alpha_index=(0, 1, 2, 3, 4, 5))
PAPER = dict(d=100, runs=10, alpha_index=(0, 1, 2, 3, 4, 5))
CALIBRATION = {"sizes": [{"d": 16}, {"d": 32}], "seed": 1}


def _points(d, alpha_index):
    pts = []
    for _key, _, tau, rho, kappas, alphas in PANELS:
        for k in kappas:
            for i in alpha_index:
                pts.append(dict(d=d, alpha=alphas[i], tau=tau, kappa=k, rho=rho, ridge=RIDGE))
    return pts


def realised(tau, kappa, d):
    """Realised (tau, kappa) = (n/d^2, K/d) at dimension d (alpha does not affect them)."""
    s = ScalingPath(alpha=1.0, tau=tau, kappa=kappa).sizes(d)
    return s.tau, s.kappa


def run(cfg: dict, *, quick: bool, results_dir=RESULTS_DIR, backend: str = "processes",
        seed: int = 0) -> dict:
    """Simulate the markers through the sweep store and evaluate the theory curves."""
    table = sweep_summary(STORE, _points(cfg["d"], cfg["alpha_index"]), runs=cfg["runs"],
                          quick=quick, results_dir=results_dir, backend=backend, seed=seed)
    alpha = np.logspace(np.log10(0.5), 3.2, 300)
    curves, tables, gaps, rel, comparisons = {}, {}, [], [], []
    for key, q, tau, rho, kappas, _ in PANELS:
        fn = linear_attention_icl_error if q == "icl" else linear_attention_idg_error
        # theory at the realised (tau, kappa) of this d (K = round(kappa d) tasks, n = r K)
        curves[key] = {}
        for k in kappas:
            tau_r, kappa_r = realised(tau, k, cfg["d"])
            curves[key][k] = fn(alpha=alpha, tau=tau_r, kappa=kappa_r, rho=rho, ridge=RIDGE)
        tab = table[(table["tau"] == tau) & (table["rho"] == rho)].reset_index(drop=True)
        tables[key] = tab
        gaps.append(max_gap_se(tab, (q,)))
        comparisons.append(la_comparisons(tab, (q,), labels=("alpha", "tau", "kappa"), x="alpha"))
        rel.append(relative_gap(tab, q))
    rel = np.concatenate(rel)
    return {
        "comparison": "e_IDG (tau=0.5) and e_ICL (tau=0.5, 20) vs alpha for 5 kappas each: "
                      "theory vs simulation",
        "max_gap_se": max((g for g in gaps if g is not None), default=None),
        "max_rel_gap": float(np.nanmax(np.abs(rel))),
        "comparisons": pd.concat(comparisons, ignore_index=True),
        "sizes": sizes_text(cfg["d"], cfg["runs"]),
        "d": cfg["d"], "runs": cfg["runs"],
        "alpha": alpha, "curves": curves, "tables": tables,
    }


def draw(results: dict):
    """Three panels, one per (quantity, tau, rho), error vs alpha on log-log axes."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    labels = {"icl": r"$e_{\mathrm{ICL}}$", "idg": r"$e_{\mathrm{IDG}}$"}
    for ax, (key, q, tau, rho, kappas, _) in zip(axes, PANELS, strict=True):
        tab = results["tables"][key]
        for i, k in enumerate(kappas):
            col = PALETTE[i]
            k_real = realised(tau, k, results["d"])[1]
            ax.plot(results["alpha"], results["curves"][key][k], color=col,
                    label=rf"$\kappa={k:g}$ (realised {k_real:.3g})")
            rows = tab[tab["kappa"] == k]
            ax.errorbar(rows["alpha"], rows[f"{q}_mean"], yerr=rows[f"{q}_se"],
                        fmt=MARKERS[i], color=col, mfc="white")
        log_axis(ax, "x")
        log_axis(ax, "y")
        ax.set_xlabel(r"context length $\alpha = \ell/d$")
        ax.set_ylabel(labels[q])
        ax.set_title(f"{key}: {labels[q]}, " + rf"$\tau={tau:g}$, $\rho={rho:g}$")
        ax.legend(fontsize=8)
    fig.suptitle(f"Linear attention vs context length (lambda={RIDGE:g}; lines theory, "
                 f"markers simulation mean ± SE; {results['sizes']})", fontsize=11)
    return fig


FIGURE = Figure(globals(), full_help="d=48, 4 runs, all alphas", backend="processes")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
