"""Random transformer: ICL error vs the ridge lambda_bar, next to its Hermite model and the
linear transformer.

After Demir & Dogan (2025, arXiv:2509.15152). The ridge is in the toolkit's RT units,
``a = (Phi^T Phi + lambda_bar I_k)^{-1} Phi^T y`` (the papers' lambda is lambda_bar / n); the
linear transformer is fitted at ``lambda_LA = d t lambda_bar / n``, the identity RT's
infinite-width limit, so the three models share one ridge axis. As ``lambda_bar -> inf`` every
error tends to ``E y^2`` (dotted).

Path: tanh target, alpha = 2, tau = 2, kappa = inf, rho = 1e-4, linear-attention scaling of the
y^2 column; two panels psi = k/n = 0.5 (k < n) and 2 (k > n, dual solver).

* lines: the deterministic equivalent :func:`rmt_icl.theory.random_transformer_icl_error` at
  the nominal ratios (``d -> inf``), one per activation;
* filled markers: the RT (relu, tanh), mean +- SE over runs;
* open rings: the Hermite model (p = 4 for relu, 3 for tanh: the papers' degrees; the
  measured p0 is in docs/equivalence.md, "p0: the one answer") on the same prompts, F and
  noise,
  mean;
* dashed black: the linear transformer on the same prompts.

All ridges share the prompts (common random numbers). The verdict compares the RT with the
deterministic equivalent at each point's realised ratios
(:class:`rmt_icl.reporting.figure.PairedFigure`); both widths are far from the interpolation
threshold psi = 1, so no point is excluded.

Sizes: quick d = 16, 3 runs, 2000 test queries; ``--full`` d = 24, 4 runs,
``n_test = max(4000, n)``; ``--paper`` d = 64, 5 runs. The finite-size allowance is calibrated
at d = 12 and 16 (seed 1). Store ``results/rt_ridge/<quick|full>``.

Usage::

    python figures/fig_rt_ridge.py [--full | --paper] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import math
import sys

import numpy as np

from rmt_icl.reporting.figure import PairedFigure
from rmt_icl.reporting.style import MARKERS, PALETTE, ZERO_PREDICTOR, log_axis, reference_line
from rmt_icl.theory import random_transformer_icl_error

STORE = "rt_ridge"
RIDGES = (1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
PSIS = (0.5, 2.0)
ACTIVATIONS = {"relu": 4, "tanh": 3}
PATH = {"alpha": 2.0, "tau": 2.0, "kappa": math.inf, "rho": 1e-4, "target": "tanh",
        "y2_scale": 1.0}  # Lu et al.'s scaling of the y^2 column
POINTS = [{"width_ratio": psi, "ridge": lam, "activation": act, "degree": p, **PATH}
          for psi in PSIS for act, p in ACTIVATIONS.items() for lam in RIDGES]
SHARE_SEEDS_ACROSS = ("model", "ridge", "activation", "degree")
COMPARISON = ("e_ICL vs ridge lambda_bar (psi=0.5, 2), relu and tanh: RT (markers) vs its "
              "deterministic equivalent (lines; realised ratios); Hermite model and linear "
              "transformer paired")
QUICK = dict(d=16, runs=3, n_test=2000)
FULL = dict(d=24, runs=4, n_test=None)
PAPER = dict(d=64, runs=5, n_test=None)
CALIBRATION = {"sizes": [{"d": 12}, {"d": 16}], "seed": 1}
#: the theory curves' ridges
RIDGE_CURVE = np.logspace(np.log10(6e-5), np.log10(16.0), 161)


def annotate(results: dict) -> None:
    """Add ``"curves"``: the deterministic equivalent along :data:`RIDGE_CURVE` per width and
    activation, at the nominal ratios."""
    results["curves"] = {
        (psi, act): random_transformer_icl_error(act, PATH["target"], alpha=PATH["alpha"],
                                                 tau=PATH["tau"], kappa=PATH["kappa"],
                                                 width_ratio=psi, rho=PATH["rho"],
                                                 ridge=RIDGE_CURVE, y2_scale="la")
        for psi in PSIS for act in ACTIVATIONS}


def draw(results: dict):
    import matplotlib.pyplot as plt

    tab = results["table"]
    fig, axes = plt.subplots(1, len(PSIS), figsize=(11, 5.0), constrained_layout=True,
                             sharey=True)
    for ax, psi in zip(axes, PSIS, strict=True):
        sub = tab[tab["width_ratio"] == psi]
        for i, (act, p) in enumerate(ACTIVATIONS.items()):
            g = sub[sub["activation"] == act].sort_values("ridge")
            ax.plot(RIDGE_CURVE, results["curves"][(psi, act)], "-", color=PALETTE[i], lw=1.3)
            PairedFigure.draw_points(ax, g, "ridge", PALETTE[i], MARKERS[i],
                                     label=f"σ={act} (Hermite p={p})")
        PairedFigure.mark_excluded_points(ax, sub, "ridge")
        g = sub[sub["activation"] == next(iter(ACTIVATIONS))].sort_values("ridge")
        ax.errorbar(g["ridge"], g["icl_linear_mean"], yerr=g["icl_linear_se"], fmt="k--",
                    lw=1.1, label="linear transformer (same prompts)")
        reference_line(ax, float(g["q"].iloc[0]), ZERO_PREDICTOR)
        log_axis(ax, "x")
        log_axis(ax, "y")
        ax.set_xlabel(r"ridge $\bar\lambda$ (papers' $\lambda = \bar\lambda / n$)")
        ax.set_title(f"ψ = k/n = {psi:g}", fontsize=10)
    axes[0].set_ylabel(r"$e_{\mathrm{ICL}}$")
    PairedFigure.legend(fig, axes[0], loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle("RT vs its deterministic equivalent vs ridge; tanh target, α=τ=2; "
                 f"{results['sizes']}\nmax gap to theory {results['max_gap_se']:.1f} SE; "
                 f"Hermite vs RT {results['max_herm_gap_se']:.1f} SE", fontsize=10)
    return fig


FIGURE = PairedFigure(globals(), full_help="d=24, 4 runs")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
