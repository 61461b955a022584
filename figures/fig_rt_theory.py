"""Random transformer: the deterministic equivalent (theory curves) vs the simulated RT.

:func:`rmt_icl.theory.random_transformer_icl_error` (after Demir & Dogan 2025,
arXiv:2509.15152) for four activations (relu, tanh, erf, identity) and two targets (linear,
relu), as a function of the width psi = k/n, on both sides of the interpolation peak at k = n.
Nothing is simulated for the curves: they are the fixed points of
``docs/theory/random_transformer.md`` (only Hermite degrees 0 and 1 of sigma survive the
proportional limit; the relu target is reduced to its linear part, and relu's constant mode
fits its mean).

* lines: theory at the nominal ratios (limit t/d), dense in psi;
* markers: the simulated RT, mean +- SE over runs, all activations on the same prompts, F and
  test queries (sweep model ``"rt-theory"``), at widths sampled at and around the peak;
* panels: target (rows) x tau (columns); alpha = 2, lambda_bar = 1e-2, kappa = inf, rho = 0.1.

The verdict compares each marker with the theory at its run's realised ratios and exact
``t/d`` (:func:`rmt_icl.experiments.models.realised_rt_theory`). A point within 20 % of its
interpolation threshold at a ridge <= 1e-3 would be excluded and crossed
(:func:`rmt_icl.experiments.rt_theory.exclusions`: ``psi = 1`` for a nonlinear sigma,
``min(k, D) = n`` for the identity); at lambda_bar = 1e-2 none is.

Sizes: quick d = 24, 3 runs, 4096 test queries; ``--full`` d = 32, 4 runs, 16384;
``--paper`` d = 96, 4 runs, 16384. The finite-size allowance is calibrated at d = 16 and 24
(seed 1). Store ``results/rt_theory/<quick|full>``. The finite-size gap shrinks with d
(:mod:`rmt_icl.experiments.rt_theory` and ``docs/theory/random_transformer.md``, section 6.4).

Usage::

    python figures/fig_rt_theory.py [--full | --paper] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import sys

import numpy as np

from rmt_icl.experiments.rt_theory import exclusions
from rmt_icl.experiments.verdict import comparison_table, max_gaps
from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.studies import RESULTS_DIR, rt_theory_summary
from rmt_icl.reporting.style import (
    MARKERS,
    PALETTE,
    ZERO_PREDICTOR,
    figure_legend,
    log_axis,
    mark_excluded,
    reference_line,
)
from rmt_icl.theory import random_transformer_icl_error

STORE = "rt_theory"
ACTIVATIONS = ("relu", "tanh", "erf", "identity")
TARGETS = ("linear", "relu")
TAUS = (0.5, 2.0)
#: sampled widths, at and around the interpolation peak psi = 1
PSIS = (0.25, 0.5, 0.8, 0.9, 1.0, 1.1, 1.25, 2.0, 4.0)
#: labelled ticks of the psi axis (all of PSIS would crowd around the peak)
PSI_TICKS = (0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0)
FIXED = {"alpha": (2.0,), "ridge": (1e-2,)}
#: legend label of the interpolation threshold k = n
PEAK = r"$\psi = 1$ ($k = n$: interpolation)"
QUICK = dict(d=24, runs=3, n_test=4096)
FULL = dict(d=32, runs=4, n_test=16384)
PAPER = dict(d=96, runs=4, n_test=16384)
CALIBRATION = {"sizes": [{"d": 16}, {"d": 24}], "seed": 1}


def comparisons(tab):
    """The comparison table of the simulated RT with its theory, one row per table row.

    ``se`` is each cell's own SE over runs (the verdict pools the relative scatter itself,
    along each curve ``group``: one activation, target and tau over psi);
    ``covered`` where the theory is finite; excluded near the interpolation threshold at a
    near-ridgeless ridge (:func:`rmt_icl.experiments.rt_theory.exclusions`).
    """
    quantity = [f"{r.activation}/{r.target} tau={r.tau:g} alpha={r.alpha:g} "
                f"psi={r.width_ratio:g} ridge={r.ridge:g}" for r in tab.itertuples()]
    excluded = [exclusions(r.activation, r.width_ratio, r.tau, r.ridge).item()
                for r in tab.itertuples()]
    curve = [f"{r.activation}/{r.target} tau={r.tau:g}" for r in tab.itertuples()]
    return comparison_table(quantity, tab["d"], tab["runs"], tab["mc"], tab["se_cell"],
                            tab["theory"], covered=np.isfinite(tab["theory"].to_numpy(float)),
                            excluded=excluded, group=curve)


def run(cfg: dict, *, quick: bool, results_dir=RESULTS_DIR, backend: str = "serial",
        seed: int = 0) -> dict:
    """Simulate the RT at every (target, tau, psi) through the sweep store (sweep seed
    ``seed``); the comparison table and the theory curves."""
    grid = {"activation": ACTIVATIONS, "target": TARGETS, "tau": TAUS, "width_ratio": PSIS,
            **FIXED}
    tab = rt_theory_summary(STORE, cfg["d"], cfg["runs"], grid, quick=quick,
                            results_dir=results_dir, backend=backend, n_test=cfg["n_test"],
                            seed=seed)
    table = comparisons(tab)
    tab["excluded"] = table["excluded"].to_numpy()
    psi = np.unique(np.r_[np.logspace(np.log10(0.2), np.log10(5.0), 241), PSIS])
    curves = {}
    for act in ACTIVATIONS:
        for tgt in TARGETS:
            for tau in TAUS:
                curves[(act, tgt, tau)] = random_transformer_icl_error(
                    act, tgt, alpha=FIXED["alpha"][0], tau=tau, kappa=np.inf, width_ratio=psi,
                    rho=0.1, ridge=FIXED["ridge"][0], y2_scale="la")
    gap_se, rel_gap = max_gaps(table)                   # over the judged rows, verdict's SE
    return {
        "comparison": "e_ICL vs psi=k/n: simulated RT (relu, tanh, erf, identity; linear and "
                      "relu targets) vs the deterministic equivalent at the realised ratios",
        "max_gap_se": gap_se, "max_rel_gap": rel_gap,
        "sizes": f"d={cfg['d']}, runs={cfg['runs']}, n_test={cfg['n_test']}",
        "table": tab, "comparisons": table, "psi": psi, "curves": curves,
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
            panel = tab[(tab["target"] == tgt) & (tab["tau"] == tau) & (tab["excluded"] != "")]
            mark_excluded(ax, panel["width_ratio"], panel["mc"])
            reference_line(ax, tab[tab["target"] == tgt]["q"].iloc[0], ZERO_PREDICTOR)
            reference_line(ax, 1.0, PEAK, axis="x")
            log_axis(ax, "x", ticks=PSI_TICKS)
            log_axis(ax, "y")
            ax.set_title(f"{tgt} target, τ = {tau:g}", fontsize=10)
            if r == len(TARGETS) - 1:
                ax.set_xlabel(r"width $\psi = k/n$")
            if c == 0:
                ax.set_ylabel(r"$e_{\mathrm{ICL}}$")
    axes[0, 0].plot([], [], "-", color="0.3", label="theory (lines; no simulation)")
    figure_legend(fig, axes.flat, loc="outside lower center", ncol=4, fontsize=8)
    gaps = ("" if results["max_gap_se"] is None else
            f"; max gap {results['max_gap_se']:.1f} SE, {100 * results['max_rel_gap']:.0f}% "
            "(finite d; shrinks with d)")
    fig.suptitle(f"RT deterministic equivalent vs simulated RT (α=2, λ̄=1e-2, κ=∞, ρ=0.1)\n"
                 f"{results['sizes']}{gaps}", fontsize=10)
    return fig


FIGURE = Figure(globals(), full_help="d=32, 4 runs", backend="serial")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
