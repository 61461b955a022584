"""Random transformer: ICL error vs the ridge lambda_bar, next to its Hermite model and the
linear transformer.

After Demir & Dogan (2025, arXiv:2509.15152). The ridge is in the toolkit's RT units,
``a = (Phi^T Phi + lambda_bar I_k)^{-1} Phi^T y`` (the papers' lambda is lambda_bar / n); the
linear transformer is fitted at ``lambda_LA = d t lambda_bar / n``, the identity RT's
infinite-width limit, so the three models share one ridge axis. As ``lambda_bar -> inf`` every
error tends to ``E y^2`` (dotted).

Path: tanh target, alpha = 2, tau = 2, kappa = inf, rho = 1e-4, linear-attention scaling of the
y^2 column; two panels psi = k/n = 0.5 (k < n) and 2 (k > n, dual solver).

* markers: the RT (relu, tanh), mean +- SE over runs;
* lines: the Hermite model (p = 4 for relu, 3 for tanh) on the same prompts, F and noise;
* dashed black: the linear transformer on the same prompts.

All ridges share the prompts (common random numbers).

Sizes: quick d = 16, 3 runs, 2000 test queries; ``--full`` d = 32, 4 runs. Store
``results/rt_ridge/<quick|full>``.

Usage::

    python figures/fig_rt_ridge.py [--full] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import math
import sys

from rmt_icl.reporting.figure import PairedFigure
from rmt_icl.reporting.style import MARKERS, PALETTE, ZERO_PREDICTOR, log_axis, reference_line

STORE = "rt_ridge"
RIDGES = (1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
PSIS = (0.5, 2.0)
ACTIVATIONS = {"relu": 4, "tanh": 3}
PATH = {"alpha": 2.0, "tau": 2.0, "kappa": math.inf, "rho": 1e-4, "target": "tanh"}
POINTS = [{"width_ratio": psi, "ridge": lam, "activation": act, "degree": p, **PATH}
          for psi in PSIS for act, p in ACTIVATIONS.items() for lam in RIDGES]
SHARE_SEEDS_ACROSS = ("model", "ridge", "activation", "degree")
COMPARISON = ("e_ICL vs ridge lambda_bar (psi=0.5, 2): RT (markers) vs Hermite model (lines), "
              "paired; linear transformer at the matching ridge")
QUICK = dict(d=16, runs=3, n_test=2000)
FULL = dict(d=32, runs=4, n_test=None)


def draw(results: dict):
    import matplotlib.pyplot as plt

    tab = results["table"]
    fig, axes = plt.subplots(1, len(PSIS), figsize=(11, 4.3), constrained_layout=True,
                             sharey=True)
    for ax, psi in zip(axes, PSIS, strict=True):
        sub = tab[tab["width_ratio"] == psi]
        for i, (act, p) in enumerate(ACTIVATIONS.items()):
            g = sub[sub["activation"] == act].sort_values("ridge")
            col = PALETTE[i]
            ax.plot(g["ridge"], g["icl_herm_mean"], "-", color=col, lw=1.3,
                    label=f"Hermite p={p}")
            ax.errorbar(g["ridge"], g["icl_rt_mean"], yerr=g["icl_rt_se"], fmt=MARKERS[i],
                        color=col, mfc="white", label=f"RT σ={act}")
        g = sub[sub["activation"] == next(iter(ACTIVATIONS))].sort_values("ridge")
        ax.errorbar(g["ridge"], g["icl_linear_mean"], yerr=g["icl_linear_se"], fmt="k--",
                    lw=1.1, label="linear transformer")
        reference_line(ax, float(g["q"].iloc[0]), ZERO_PREDICTOR)
        log_axis(ax, "x")
        log_axis(ax, "y")
        ax.set_xlabel(r"ridge $\bar\lambda$ (papers' $\lambda = \bar\lambda / n$)")
        ax.set_title(f"ψ = k/n = {psi:g}", fontsize=10)
    axes[0].set_ylabel(r"$e_{\mathrm{ICL}}$ (mean ± SE)")
    axes[0].legend(fontsize=8)
    fig.suptitle("ICL error vs ridge; tanh target, α=τ=2; "
                 f"{results['sizes']}; max paired gap {results['max_gap_se']:.1f} SE",
                 fontsize=10)
    return fig


FIGURE = PairedFigure(globals(), full_help="d=32, 4 runs")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
