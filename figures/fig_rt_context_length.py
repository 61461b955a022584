"""Random transformer: ICL error vs context length alpha = ell/d, for several activations.

After Demir & Dogan (2025, arXiv:2509.15152). Path: tau = n/d^2 = 2, psi = k/n = 0.5,
kappa = inf (fresh tasks), rho = 1e-4, lambda_bar = 0.2 (the toolkit's RT ridge), tanh target,
linear-attention scaling of the y^2 column.

* lines: the deterministic equivalent :func:`rmt_icl.theory.random_transformer_icl_error` at
  the nominal ratios (``d -> inf``), one per activation, sigma in {relu, tanh, erf, gelu,
  identity};
* filled markers: the RT, ``y = a^T sigma(F vec H_Z)/sqrt(k)``, mean +- SE over runs;
* open rings: its Hermite-equivalent model on the same prompts, F and noise (degree 4 for relu
  and gelu, 3 for tanh and erf -- the parity classes p = 4 = 5 and 3 = 4 of
  ``docs/theory/random_transformer.md``, section 6.2; degree 1 for the identity, where the
  Hermite model IS the RT), mean. These are the papers' degrees; the measured p0 per scaling
  and activation class is in docs/equivalence.md, "p0: the one answer";
* black dashed: the linear transformer on the same prompts (ridge lambda_LA = d t lambda_bar/n,
  the identity RT's infinite-width limit); dotted: E y^2 (the zero predictor).

All activations share the prompts and F at each alpha (common random numbers). The verdict
compares the RT with the deterministic equivalent at each point's realised ratios (the
simulator's rounded sizes and exact t; :class:`rmt_icl.reporting.figure.PairedFigure`); the
report's gap columns are that comparison's, and the comparison text adds the largest paired
|e_Herm - e_RT| / SE.

Sizes: quick d = 16, 3 runs, 2000 test queries; ``--full`` d = 24, 4 runs,
``n_test = max(4000, n)``; ``--paper`` d = 64, 5 runs. The finite-size allowance is calibrated
at d = 12 and 16 (seed 1). Store ``results/rt_context_length/<quick|full>``.

Usage::

    python figures/fig_rt_context_length.py [--full | --paper] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import math
import sys

import numpy as np

from rmt_icl.reporting.figure import PairedFigure
from rmt_icl.reporting.style import MARKERS, PALETTE, ZERO_PREDICTOR, log_axis, reference_line
from rmt_icl.theory import random_transformer_icl_error

STORE = "rt_context_length"
ALPHAS = (0.5, 1.0, 2.0, 4.0, 8.0)
#: activation -> Hermite degree of its paired model
ACTIVATIONS = {"relu": 4, "tanh": 3, "erf": 3, "gelu": 4, "identity": 1}
PATH = {"tau": 2.0, "width_ratio": 0.5, "kappa": math.inf, "rho": 1e-4, "ridge": 0.2,
        "target": "tanh", "y2_scale": 1.0}  # Lu et al.'s scaling of the y^2 column
POINTS = [{"alpha": a, "activation": act, "degree": p, **PATH}
          for act, p in ACTIVATIONS.items() for a in ALPHAS]
SHARE_SEEDS_ACROSS = ("model", "activation", "degree")
COMPARISON = ("e_ICL vs alpha, 5 activations: RT (markers) vs its deterministic equivalent "
              "(lines; realised ratios); Hermite model and linear transformer paired")
QUICK = dict(d=16, runs=3, n_test=2000)
FULL = dict(d=24, runs=4, n_test=None)
PAPER = dict(d=64, runs=5, n_test=None)
CALIBRATION = {"sizes": [{"d": 12}, {"d": 16}], "seed": 1}
#: the theory curves' context lengths
ALPHA_CURVE = np.logspace(np.log10(0.4), np.log10(10.0), 121)


def annotate(results: dict) -> None:
    """Add ``"curves"``: the deterministic equivalent along :data:`ALPHA_CURVE` per
    activation, at the nominal ratios."""
    ratios = {k: PATH[k] for k in ("tau", "kappa", "rho", "ridge")}
    results["curves"] = {
        act: random_transformer_icl_error(act, PATH["target"], alpha=ALPHA_CURVE,
                                          width_ratio=PATH["width_ratio"], y2_scale="la",
                                          **ratios)
        for act in ACTIVATIONS}


def draw(results: dict):
    """One panel: e_ICL vs alpha; theory lines, RT markers, Hermite rings, linear transformer."""
    import matplotlib.pyplot as plt

    tab = results["table"]
    fig, ax = plt.subplots(figsize=(7.6, 5.6), constrained_layout=True)
    for i, (act, p) in enumerate(ACTIVATIONS.items()):
        g = tab[tab["activation"] == act].sort_values("alpha")
        ax.plot(ALPHA_CURVE, results["curves"][act], "-", color=PALETTE[i], lw=1.3)
        PairedFigure.draw_points(ax, g, "alpha", PALETTE[i], MARKERS[i],
                                 label=f"σ={act} (Hermite p={p})")
    PairedFigure.mark_excluded_points(ax, tab, "alpha")
    g = tab[tab["activation"] == next(iter(ACTIVATIONS))].sort_values("alpha")
    ax.errorbar(g["alpha"], g["icl_linear_mean"], yerr=g["icl_linear_se"], fmt="k--",
                lw=1.1, label="linear transformer (same prompts)")
    reference_line(ax, float(g["q"].iloc[0]), ZERO_PREDICTOR)
    log_axis(ax, "x", ticks=ALPHAS)
    ax.set_xlabel(r"context length $\alpha = \ell/d$")
    ax.set_ylabel(r"$e_{\mathrm{ICL}}$")
    ax.set_title("Random transformer vs its deterministic equivalent; tanh target, "
                 f"τ={PATH['tau']:g}, ψ={PATH['width_ratio']:g}, λ̄={PATH['ridge']:g}\n"
                 f"{results['sizes']}; max gap to theory {results['max_gap_se']:.1f} SE; "
                 f"Hermite vs RT {results['max_herm_gap_se']:.1f} SE", fontsize=10)
    PairedFigure.legend(fig, ax, loc="outside lower center", ncol=3, fontsize=8)
    return fig


FIGURE = PairedFigure(globals(), full_help="d=24, 4 runs")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
