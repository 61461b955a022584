"""Random transformer: ICL error vs context length alpha = ell/d, for several activations.

After Demir & Dogan (2025, arXiv:2509.15152). Path: tau = n/d^2 = 2, psi = k/n = 0.5,
kappa = inf (fresh tasks), rho = 1e-4, lambda_bar = 0.2 (the toolkit's RT ridge), tanh target,
linear-attention scaling of the y^2 column.

* markers: the RT, ``y = a^T sigma(F vec H_Z)/sqrt(k)``, mean +- SE over runs, for
  sigma in {relu, tanh, erf, gelu, identity};
* lines: its Hermite-equivalent model on the same prompts, F and noise (degree 4 for relu and
  gelu, 3 for tanh and erf -- the parity classes p = 4 = 5 and 3 = 4 of
  ``docs/theory/random_transformer.md``, section 6.2; degree 1 for the identity, where the
  Hermite model IS the RT), mean +- SE (band);
* black dashed: the linear transformer on the same prompts (ridge lambda_LA = d t lambda_bar/n,
  the identity RT's infinite-width limit); dotted: E y^2 (the zero predictor).

All activations share the prompts and F at each alpha (common random numbers). The reported
gap is the largest paired |e_Herm - e_RT| / SE over the plotted points.

Sizes: quick d = 16, 3 runs, 2000 test queries; ``--full`` d = 48, 5 runs. Store
``results/rt_context_length/<quick|full>``.

Usage::

    python figures/fig_rt_context_length.py [--full] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import math
import sys

from rmt_icl.reporting.figure import PairedFigure
from rmt_icl.reporting.style import MARKERS, PALETTE, ZERO_PREDICTOR, log_axis, reference_line

STORE = "rt_context_length"
ALPHAS = (0.5, 1.0, 2.0, 4.0, 8.0)
#: activation -> Hermite degree drawn as its line
ACTIVATIONS = {"relu": 4, "tanh": 3, "erf": 3, "gelu": 4, "identity": 1}
PATH = {"tau": 2.0, "width_ratio": 0.5, "kappa": math.inf, "rho": 1e-4, "ridge": 0.2,
        "target": "tanh"}
POINTS = [{"alpha": a, "activation": act, "degree": p, **PATH}
          for act, p in ACTIVATIONS.items() for a in ALPHAS]
SHARE_SEEDS_ACROSS = ("model", "activation", "degree")
COMPARISON = ("e_ICL vs alpha: RT (markers) vs its Hermite model (lines), 5 activations, and "
              "the linear transformer (paired, same prompts/F)")
QUICK = dict(d=16, runs=3, n_test=2000)
FULL = dict(d=48, runs=5, n_test=None)


def draw(results: dict):
    """One panel: e_ICL vs alpha, RT markers over Hermite bands, the linear transformer."""
    import matplotlib.pyplot as plt

    tab = results["table"]
    fig, ax = plt.subplots(figsize=(7.2, 4.6), constrained_layout=True)
    for i, (act, p) in enumerate(ACTIVATIONS.items()):
        g = tab[tab["activation"] == act].sort_values("alpha")
        col = PALETTE[i]
        ax.plot(g["alpha"], g["icl_herm_mean"], "-", color=col, lw=1.4)
        ax.fill_between(g["alpha"], g["icl_herm_mean"] - g["icl_herm_se"],
                        g["icl_herm_mean"] + g["icl_herm_se"], color=col, alpha=0.15, lw=0)
        ax.errorbar(g["alpha"], g["icl_rt_mean"], yerr=g["icl_rt_se"], fmt=MARKERS[i],
                    color=col, mfc="white", label=f"RT σ={act}  (line: Hermite p={p})")
    g = tab[tab["activation"] == next(iter(ACTIVATIONS))].sort_values("alpha")
    ax.errorbar(g["alpha"], g["icl_linear_mean"], yerr=g["icl_linear_se"], fmt="k--",
                lw=1.2, label="linear transformer")
    reference_line(ax, float(g["q"].iloc[0]), ZERO_PREDICTOR)
    log_axis(ax, "x", ticks=ALPHAS)
    ax.set_xlabel(r"context length $\alpha = \ell/d$")
    ax.set_ylabel(r"$e_{\mathrm{ICL}}$ (mean ± SE)")
    ax.set_title("RT vs Hermite model vs linear transformer; tanh target, "
                 f"τ={PATH['tau']:g}, ψ={PATH['width_ratio']:g}, λ̄={PATH['ridge']:g}\n"
                 f"{results['sizes']}; max paired gap {results['max_gap_se']:.1f} SE",
                 fontsize=10)
    ax.legend(fontsize=8)
    return fig


FIGURE = PairedFigure(globals(), full_help="d=48, 5 runs")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
