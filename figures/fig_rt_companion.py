"""Random transformer in Demir & Dogan's setting: y^2 column scaled by sqrt(d), ICL and IDG.

:func:`rmt_icl.theory.random_transformer_icl_error` and
:func:`rmt_icl.theory.random_transformer_idg_error` (one solve for both:
:func:`rmt_icl.theory.random_transformer_auxiliaries`) with ``y2_scale="companion"`` (after
Demir & Dogan 2025, arXiv:2509.15152 and arXiv:2510.25753: h = [(1/ell) sum y_i x_i ;
(1/ell) sum y_i^2] with Tr Sigma_x ~ d), for two activations with a degree-2 component (relu,
gelu) and two without (tanh, erf), as a function of the width psi = k/n on both sides of the
interpolation peak. In this scaling the y^2 column carries a share theta = q^2/(a_1^2 + q/alpha
+ q^2) of the pre-activation variance, a function of the query alone
(``docs/theory/random_transformer.md``, section 10).

* lines: theory at the nominal ratios (limit t/d), dense in psi; solid ICL, dashed IDG;
* markers: the simulated RT, mean +- SE over runs, all activations on the same prompts, F and
  test queries (sweep model ``"rt-theory"``); filled ICL, open IDG;
* panels: target (rows) x task pool (columns: fresh tasks, kappa = inf; a pool of K = d
  tasks, kappa = 1, where the IDG error's test tasks come from the pool); alpha = 2, tau = 2,
  lambda_bar = 0.1, rho = 0.1.

The verdict compares each marker with the theory at its run's realised ratios and exact
``t/d`` (:func:`rmt_icl.experiments.models.realised_rt_theory`). The widths avoid the
interpolation threshold psi = 1, so no point is excluded.

Sizes: quick d = 24, 3 runs, 4096 test queries; ``--full`` d = 40, 4 runs, 16384;
``--paper`` d = 80, 4 runs, 16384. The finite-size allowance is calibrated at d = 16 and 24
(seed 1). Store ``results/rt_companion/<quick|full>``. The validation grid of section 10.4
(``validation/rt_de_grid.py --scaling companion``) covers more sizes and settings.

Usage::

    python figures/fig_rt_companion.py [--full | --paper] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import sys

import numpy as np

from rmt_icl.experiments.verdict import comparison_table, max_gaps
from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.studies import RESULTS_DIR, rt_theory_summary
from rmt_icl.reporting.style import (
    MARKERS,
    PALETTE,
    ZERO_PREDICTOR,
    figure_legend,
    log_axis,
    reference_line,
)
from rmt_icl.theory import random_transformer_auxiliaries

STORE = "rt_companion"
ACTIVATIONS = ("relu", "gelu", "tanh", "erf")
TARGETS = ("linear", "relu")
#: sampled widths, away from the interpolation threshold psi = 1
PSIS = (0.25, 0.5, 2.0, 4.0)
KAPPAS = (np.inf, 1.0)
FIXED = {"alpha": (2.0,), "tau": (2.0,), "ridge": (0.1,)}
#: legend label of the interpolation threshold k = n
PEAK = r"$\psi = 1$ ($k = n$: interpolation)"
QUICK = dict(d=24, runs=3, n_test=4096)
FULL = dict(d=40, runs=4, n_test=16384)
PAPER = dict(d=80, runs=4, n_test=16384)
CALIBRATION = {"sizes": [{"d": 16}, {"d": 24}], "seed": 1}


def comparisons(tab):
    """The comparison table: one row per (point, activation, quantity) of the summary.

    ``se`` is each cell's own SE over runs (the verdict pools the relative scatter along each
    curve ``group``: one activation, target, pool and error over psi).
    """
    label = [f"{r.activation}/{r.target} kappa={r.kappa:g} {r.quantity} psi={r.width_ratio:g}"
             for r in tab.itertuples()]
    curve = [f"{r.activation}/{r.target} kappa={r.kappa:g} {r.quantity}"
             for r in tab.itertuples()]
    return comparison_table(label, tab["d"], tab["runs"], tab["mc"], tab["se_cell"],
                            tab["theory"], covered=np.isfinite(tab["theory"].to_numpy(float)),
                            group=curve)


def run(cfg: dict, *, quick: bool, results_dir=RESULTS_DIR, backend: str = "serial",
        seed: int = 0) -> dict:
    """Simulate the RT at every (target, kappa, psi) through the sweep store (sweep seed
    ``seed``); the comparison table and the theory curves."""
    grid = {"activation": ACTIVATIONS, "target": TARGETS, "width_ratio": PSIS,
            "kappa": tuple("inf" if np.isinf(k) else k for k in KAPPAS), **FIXED}
    tab = rt_theory_summary(STORE, cfg["d"], cfg["runs"], grid, quick=quick,
                            results_dir=results_dir, backend=backend, n_test=cfg["n_test"],
                            seed=seed, scaling="companion")
    table = comparisons(tab)
    psi = np.unique(np.r_[np.logspace(np.log10(0.2), np.log10(5.0), 241), PSIS])
    ratios = dict(alpha=FIXED["alpha"][0], tau=FIXED["tau"][0], width_ratio=psi, rho=0.1,
                  ridge=FIXED["ridge"][0], y2_scale="companion")
    curves = {}
    for act in ACTIVATIONS:
        for tgt in TARGETS:
            for kappa in KAPPAS:                      # both errors from one solve
                aux = random_transformer_auxiliaries(act, tgt, kappa=kappa, **ratios)
                curves[(act, tgt, kappa, "icl")] = aux.error
                if np.isfinite(kappa):
                    curves[(act, tgt, kappa, "idg")] = aux.idg_error
    gap_se, rel_gap = max_gaps(table)
    return {
        "comparison": "e_ICL and e_IDG vs psi=k/n in the companion y^2 scaling: simulated RT "
                      "(relu, gelu, tanh, erf; linear and relu targets; kappa = inf, 1) vs the "
                      "deterministic equivalent at the realised ratios",
        "max_gap_se": gap_se, "max_rel_gap": rel_gap,
        "sizes": f"d={cfg['d']}, runs={cfg['runs']}, n_test={cfg['n_test']}",
        "table": tab, "comparisons": table, "psi": psi, "curves": curves,
    }


def draw(results: dict):
    import matplotlib.pyplot as plt

    tab = results["table"]
    fig, axes = plt.subplots(len(TARGETS), len(KAPPAS), figsize=(8.4, 6.2), sharex=True,
                             constrained_layout=True)
    for r, tgt in enumerate(TARGETS):
        for c, kappa in enumerate(KAPPAS):
            ax = axes[r, c]
            for i, act in enumerate(ACTIVATIONS):
                col = PALETTE[i]
                for quantity, style, fill in (("icl", "-", col), ("idg", "--", "white")):
                    key = (act, tgt, kappa, quantity)
                    if key not in results["curves"]:
                        continue
                    ax.plot(results["psi"], results["curves"][key], style, color=col, lw=1.2)
                    g = tab[(tab["target"] == tgt) & (tab["kappa"] == kappa)
                            & (tab["activation"] == act)
                            & (tab["quantity"] == quantity)].sort_values("width_ratio")
                    label = (f"{act}" if quantity == "icl" else None) if (r, c) == (0, 0) \
                        else None
                    ax.errorbar(g["width_ratio"], g["mc"], yerr=g["se"], fmt=MARKERS[i],
                                color=col, mfc=fill, label=label)
            reference_line(ax, tab[tab["target"] == tgt]["q"].iloc[0], ZERO_PREDICTOR)
            reference_line(ax, 1.0, PEAK, axis="x")
            log_axis(ax, "x", ticks=PSIS)
            log_axis(ax, "y")
            pool = "fresh tasks (κ = ∞)" if np.isinf(kappa) else "pool of K = d tasks (κ = 1)"
            ax.set_title(f"{tgt} target, {pool}", fontsize=10)
            if r == len(TARGETS) - 1:
                ax.set_xlabel(r"width $\psi = k/n$")
            if c == 0:
                ax.set_ylabel("error")
    axes[0, 0].plot([], [], "-", color="0.3", label="theory, ICL (filled markers: simulation)")
    axes[0, 0].plot([], [], "--", color="0.3", label="theory, IDG (open markers: simulation)")
    figure_legend(fig, axes.flat, loc="outside lower center", ncol=3, fontsize=8)
    gaps = ("" if results["max_gap_se"] is None else
            f"; max gap {results['max_gap_se']:.1f} SE, {100 * results['max_rel_gap']:.0f}%")
    fig.suptitle("RT in the companion y² scaling: theory vs simulation (α=2, τ=2, λ̄=0.1, "
                 f"ρ=0.1)\n{results['sizes']}{gaps}", fontsize=10)
    return fig


FIGURE = Figure(globals(), full_help="d=40, 4 runs", backend="serial")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
