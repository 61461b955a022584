"""Random transformer: ICL error vs width psi = k/n for several ridges (double descent at k = n).

After Demir & Dogan (2025, arXiv:2509.15152). A nonlinear sigma makes the ``n x k`` feature
matrix full rank, so the ridgeless fit interpolates at ``k = n``: the test error peaks there,
and the ridge ``lambda_bar`` (the toolkit's RT units,
``a = (Phi^T Phi + lambda_bar I)^{-1} Phi^T y``) damps the peak.

Path: relu sigma, tanh target, alpha = 2, tau = 2, kappa = inf, rho = 1e-4, linear-attention
scaling of the y^2 column.

* lines: the deterministic equivalent :func:`rmt_icl.theory.random_transformer_icl_error` at
  the nominal ratios (``d -> inf``), one per ridge;
* filled markers: the RT, mean +- SE over runs;
* open rings: the degree-4 Hermite model (= degree 5 for relu; the papers' degree; the
  measured p0 is in docs/equivalence.md, "p0: the one answer") on the same prompts, F and
  noise, mean;
* dashed, in each ridge's colour: the linear transformer at the same lambda_bar
  (lambda_LA = d t lambda_bar / n; it has no width);
* dashed grey vertical: k = n; dotted grey: E y^2 (the zero predictor); grey crosses: points
  the verdict excludes (within 20 % of psi = 1 at lambda_bar <= 1e-3, where the finite-d peak
  sits O(1/d) away from the limit's; :func:`rmt_icl.experiments.verdict.near_threshold`).

All widths and ridges share the prompts (common random numbers); log-scale error axis. The
verdict compares the RT with the deterministic equivalent at each point's realised ratios
(:class:`rmt_icl.reporting.figure.PairedFigure`).

Sizes: quick d = 16 (n = 512), 3 runs, 2000 test queries; ``--full`` d = 24 (n = 1152),
4 runs, ``n_test = max(4000, n)``; ``--paper`` d = 64, 5 runs. The finite-size allowance is
calibrated at d = 12 and 16 (seed 1). Store ``results/rt_width/<quick|full>``.

Usage::

    python figures/fig_rt_width.py [--full | --paper] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import math
import sys

import numpy as np

from rmt_icl.reporting.figure import PairedFigure
from rmt_icl.reporting.style import MARKERS, PALETTE, ZERO_PREDICTOR, log_axis, reference_line
from rmt_icl.theory import random_transformer_icl_error

STORE = "rt_width"
PSIS = (0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.33, 2.0, 3.0)
RIDGES = (1e-4, 1e-2, 0.1, 1.0)
DEGREE = 4
PATH = {"alpha": 2.0, "tau": 2.0, "kappa": math.inf, "rho": 1e-4, "activation": "relu",
        "target": "tanh", "degree": DEGREE, "y2_scale": 1.0}  # Lu et al.'s y^2 scaling
POINTS = [{"width_ratio": psi, "ridge": lam, **PATH} for lam in RIDGES for psi in PSIS]
SHARE_SEEDS_ACROSS = ("model", "ridge", "width_ratio")
COMPARISON = ("e_ICL vs psi=k/n for 4 ridges: RT (markers) vs its deterministic equivalent "
              "(lines; realised ratios); Hermite p=4 paired")
QUICK = dict(d=16, runs=3, n_test=2000)
FULL = dict(d=24, runs=4, n_test=None)
PAPER = dict(d=64, runs=5, n_test=None)
CALIBRATION = {"sizes": [{"d": 12}, {"d": 16}], "seed": 1}
#: the theory curves' widths (dense, with psi = 1 and the sampled widths)
PSI_CURVE = np.unique(np.r_[np.logspace(np.log10(0.22), np.log10(3.4), 161), PSIS])


def annotate(results: dict) -> None:
    """Add ``"peak_psi"`` (the width of largest mean RT error at the smallest ridge) and
    ``"curves"`` (the deterministic equivalent along :data:`PSI_CURVE` per ridge)."""
    tab = results["table"]
    small = tab[tab["ridge"] == min(RIDGES)]
    results["peak_psi"] = float(small.loc[small["icl_rt_mean"].idxmax(), "width_ratio"])
    results["comparison"] += f"; RT peak at psi={results['peak_psi']:g} for the smallest ridge"
    results["curves"] = {
        lam: random_transformer_icl_error(PATH["activation"], PATH["target"],
                                          alpha=PATH["alpha"], tau=PATH["tau"],
                                          kappa=PATH["kappa"], width_ratio=PSI_CURVE,
                                          rho=PATH["rho"], ridge=lam, y2_scale="la")
        for lam in RIDGES}


def summary(results: dict) -> str:
    """Where the RT error peaks."""
    return f"RT peak at psi = {results['peak_psi']:g} for the smallest ridge"


def draw(results: dict):
    import matplotlib.pyplot as plt

    tab = results["table"]
    fig, ax = plt.subplots(figsize=(7.6, 5.6), constrained_layout=True)
    for i, lam in enumerate(RIDGES):
        g = tab[tab["ridge"] == lam].sort_values("width_ratio")
        col = PALETTE[i]
        ax.plot(PSI_CURVE, results["curves"][lam], "-", color=col, lw=1.3)
        PairedFigure.draw_points(ax, g, "width_ratio", col, MARKERS[i], label=f"λ̄={lam:g}")
        # the linear transformer has no width: one level per ridge, across the sampled widths
        ax.plot(g["width_ratio"].iloc[[0, -1]], [float(g["icl_linear_mean"].mean())] * 2,
                color=col, ls="--", lw=0.8, alpha=0.7)
    PairedFigure.mark_excluded_points(ax, tab, "width_ratio")
    reference_line(ax, 1.0, r"$\psi = 1$ ($k = n$: interpolation)", axis="x")
    reference_line(ax, float(tab["q"].iloc[0]), ZERO_PREDICTOR)
    ax.plot([], [], "--", color="0.3", lw=0.8, label="linear transformer (same λ̄)")
    log_axis(ax, "x", ticks=PSIS)
    log_axis(ax, "y")
    ax.set_xlabel(r"width $\psi = k/n$")
    ax.set_ylabel(r"$e_{\mathrm{ICL}}$")
    ax.set_title("RT double descent at k = n, damped by the ridge (relu σ, tanh target, "
                 f"α=τ=2)\n{results['sizes']}; max gap to theory {results['max_gap_se']:.1f} "
                 f"SE; Hermite vs RT {results['max_herm_gap_se']:.1f} SE", fontsize=10)
    PairedFigure.legend(fig, ax, hermite=f"Hermite p={DEGREE}", loc="outside lower center",
                        ncol=3, fontsize=8)
    return fig


FIGURE = PairedFigure(globals(), full_help="d=24, 4 runs")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
