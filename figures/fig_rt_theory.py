"""Random transformer: the deterministic equivalent (theory curves) vs the simulated RT.

:func:`rmt_icl.theory.random_transformer_icl_error` (after Demir & Dogan 2025,
arXiv:2509.15152) for four activations (relu, tanh, erf, identity) and two targets (linear,
relu), as a function of the width psi = k/n, on both sides of the interpolation peak at k = n.
Nothing is simulated for the curves: they are the fixed points of
``docs/theory/random_transformer.md`` (only Hermite degrees 0 and 1 of sigma survive the
proportional limit; the relu target is reduced to its linear part, and relu's constant mode
fits its mean).

* lines: theory at the figure's realised ratios (limit t/d);
* markers: the simulated RT, mean +- SE over runs, all activations on the same prompts, F and
  test queries (sweep model ``"rt-theory"``);
* panels: target (rows) x tau (columns); alpha = 2, lambda_bar = 1e-2, kappa = inf, rho = 0.1.

Sizes: quick d = 24, 3 runs, 4096 test queries; ``--full`` d = 48, 4 runs, 16384.
Store ``results/rt_theory/<quick|full>``. The finite-size gap shrinks with d
(:mod:`rmt_icl.experiments.rt_theory` and ``docs/theory/random_transformer.md``, section 6.4).

Usage::

    python figures/fig_rt_theory.py [--full] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import sys

import numpy as np

from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.studies import RESULTS_DIR, rt_theory_summary
from rmt_icl.reporting.style import MARKERS, PALETTE, ZERO_PREDICTOR, log_axis, reference_line
from rmt_icl.theory import random_transformer_icl_error

STORE = "rt_theory"
ACTIVATIONS = ("relu", "tanh", "erf", "identity")
TARGETS = ("linear", "relu")
TAUS = (0.5, 2.0)
PSIS = (0.25, 0.5, 2.0, 4.0)
FIXED = {"alpha": (2.0,), "ridge": (1e-2,)}
#: legend label of the interpolation threshold k = n
PEAK = r"$\psi = 1$ ($k = n$: interpolation)"
QUICK = dict(d=24, runs=3, n_test=4096)
FULL = dict(d=48, runs=4, n_test=16384)


def run(cfg: dict, *, quick: bool, results_dir=RESULTS_DIR, backend: str = "serial") -> dict:
    """Simulate the RT at every (target, tau, psi) through the sweep store; theory curves."""
    grid = {"activation": ACTIVATIONS, "target": TARGETS, "tau": TAUS, "width_ratio": PSIS,
            **FIXED}
    tab = rt_theory_summary(STORE, cfg["d"], cfg["runs"], grid, quick=quick,
                            results_dir=results_dir, backend=backend, n_test=cfg["n_test"])
    psi = np.logspace(np.log10(0.2), np.log10(5.0), 161)
    curves = {}
    for act in ACTIVATIONS:
        for tgt in TARGETS:
            for tau in TAUS:
                curves[(act, tgt, tau)] = random_transformer_icl_error(
                    act, tgt, alpha=FIXED["alpha"][0], tau=tau, kappa=np.inf, width_ratio=psi,
                    rho=0.1, ridge=FIXED["ridge"][0])
    z = (tab["gap"].abs() / tab["se"]).to_numpy()
    rel = (tab["gap"].abs() / tab["theory"]).to_numpy()
    return {
        "comparison": "e_ICL vs psi=k/n: simulated RT (relu, tanh, erf, identity; linear and "
                      "relu targets) vs the deterministic equivalent (no simulation)",
        "max_gap_se": float(np.max(z)), "max_rel_gap": float(np.max(rel)),
        "sizes": f"d={cfg['d']}, runs={cfg['runs']}, n_test={cfg['n_test']}",
        "table": tab, "psi": psi, "curves": curves,
    }


def draw(results: dict):
    import matplotlib.pyplot as plt

    tab = results["table"]
    fig, axes = plt.subplots(len(TARGETS), len(TAUS), figsize=(8.4, 6.2), sharex=True,
                             constrained_layout=True)
    for r, tgt in enumerate(TARGETS):
        for c, tau in enumerate(TAUS):
            ax = axes[r, c]
            for i, act in enumerate(ACTIVATIONS):
                col = PALETTE[i]
                ax.plot(results["psi"], results["curves"][(act, tgt, tau)], "-", color=col,
                        lw=1.3)
                g = tab[(tab["target"] == tgt) & (tab["tau"] == tau)
                        & (tab["activation"] == act)].sort_values("width_ratio")
                ax.errorbar(g["width_ratio"], g["mc"], yerr=g["se"], fmt=MARKERS[i],
                            color=col, mfc="white", label=act if (r, c) == (0, 0) else None)
            reference_line(ax, tab[tab["target"] == tgt]["q"].iloc[0], ZERO_PREDICTOR)
            reference_line(ax, 1.0, PEAK, axis="x")
            log_axis(ax, "x", ticks=sorted({*PSIS, 1.0}))
            log_axis(ax, "y")
            ax.set_title(f"{tgt} target, τ = {tau:g}", fontsize=10)
            if r == len(TARGETS) - 1:
                ax.set_xlabel(r"width $\psi = k/n$")
            if c == 0:
                ax.set_ylabel(r"$e_{\mathrm{ICL}}$")
    axes[0, 0].plot([], [], "-", color="0.3", label="theory (no simulation)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=4,
               fontsize=8)
    fig.suptitle(f"RT deterministic equivalent vs simulated RT (α=2, λ̄=1e-2, κ=∞, ρ=0.1)\n"
                 f"{results['sizes']}; max gap {results['max_gap_se']:.1f} SE, "
                 f"{100 * results['max_rel_gap']:.0f}% (finite d; shrinks with d)", fontsize=10)
    return fig


FIGURE = Figure(globals(), full_help="d=48, 4 runs", backend="serial")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
