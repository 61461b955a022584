"""Convergence of linear-attention simulations to the theory as d grows, at fixed ratios.

At fixed (tau, alpha, kappa, rho, lambda) the finite-d simulation approaches the
deterministic equivalent of Lu et al. (2024, arXiv:2405.11751) with an O(1/d) bias, slowest for
kappa < 1 and near tau = 1. The figure plots the relative gap (sim - theory)/theory of e_ICL
(filled) and e_IDG (open, finite kappa) against 1/d, with the weighted least-squares line
through the origin, gap = c/d. Points:

* kappa < 1, near-ridgeless: (tau, alpha, kappa, rho, lambda) = (2, 10, 0.5, 0.01, 1e-5);
* kappa > 1, ridge 0.1: (3, 2, 2, 0.1, 0.1)  -- also a check of e_IDG = tau c(lambda);
* kappa = inf, ridge 0.1: (2, 10, inf, 0.01, 0.1).

Theory values are taken at the *realised* ratios of each d; the reported gap is the largest
|sim - theory| / SE at the largest d. The verdict judges every point at every d. Sizes: quick
d = 20, 40, 80 with 6, 3, 2 runs; ``--full`` d = 20, 40, 60, 80 with 12, 6, 4, 3 runs;
``--paper`` d = 20, 40, 60, 80, 100 with 16, 8, 6, 4, 3 runs. Stores
``results/la_convergence/d<d>/<quick|full>``.

Usage::

    python figures/fig_la_convergence.py [--full] [--out DIR]
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd

from rmt_icl.experiments.la_validation import la_comparisons, max_gap_se
from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.studies import RESULTS_DIR, sweep_summary
from rmt_icl.reporting.style import MARKERS, PALETTE, reference_line

STORE = "la_convergence"
POINTS = (
    ("kappa=0.5, lambda=1e-5", dict(tau=2.0, alpha=10.0, kappa=0.5, rho=0.01, ridge=1e-5)),
    ("kappa=2, lambda=0.1", dict(tau=3.0, alpha=2.0, kappa=2.0, rho=0.1, ridge=0.1)),
    ("kappa=inf, lambda=0.1", dict(tau=2.0, alpha=10.0, kappa=math.inf, rho=0.01, ridge=0.1)),
)
QUICK = dict(ds=(20, 40, 80), runs=(6, 3, 2))
FULL = dict(ds=(20, 40, 60, 80), runs=(12, 6, 4, 3))
PAPER = dict(ds=(20, 40, 60, 80, 100), runs=(16, 8, 6, 4, 3))
#: the figure's own sizes, with the sweep seed 1 (the figure's runs use seed 0)
CALIBRATION = {"sizes": [{}], "seed": 1}


def _fit_c(d, gap, se):
    """Weighted least squares of gap = c/d (weights 1/se^2); returns c and its SE."""
    x = 1.0 / np.asarray(d, dtype=np.float64)
    w = 1.0 / np.maximum(np.asarray(se, dtype=np.float64), 1e-12) ** 2
    c = float(np.sum(w * x * gap) / np.sum(w * x * x))
    return c, float(1.0 / math.sqrt(np.sum(w * x * x)))


def run(cfg: dict, *, quick: bool, results_dir=RESULTS_DIR, backend: str = "processes",
        seed: int = 0) -> dict:
    """Simulate each point at each d (sweep stores); relative gaps and their 1/d fits."""
    tables = []
    for d, r in zip(cfg["ds"], cfg["runs"], strict=True):
        pts = [dict(p, d=d) for _, p in POINTS]
        tab = sweep_summary(f"{STORE}/d{d}", pts, runs=r, quick=quick, results_dir=results_dir,
                            backend=backend, seed=seed)
        tab["label"] = [lab for lab, _ in POINTS]
        tables.append(tab)
    table = pd.concat(tables, ignore_index=True)
    for q in ("icl", "idg"):
        th = table[f"theory_{q}_mean"]
        table[f"rel_{q}"] = (table[f"{q}_mean"] - th) / th
        table[f"rel_{q}_se"] = table[f"{q}_se"] / th
    fits = {}
    for lab, p in POINTS:
        rows = table[table["label"] == lab]
        for q in ("icl", "idg") if math.isfinite(p["kappa"]) else ("icl",):
            fits[(lab, q)] = _fit_c(rows["d"], rows[f"rel_{q}"], rows[f"rel_{q}_se"])
    largest_d = table[table["d"] == max(cfg["ds"])]
    return {
        "comparison": "relative gap (sim - theory)/theory of e_ICL, e_IDG vs d at fixed "
                      "ratios (3 points incl. kappa<1)",
        "max_gap_se": max_gap_se(largest_d, ("icl", "idg")),
        "sizes": "d=" + ", ".join(str(d) for d in cfg["ds"]) + ", runs="
                 + ", ".join(str(r) for r in cfg["runs"]),
        "table": table, "fits": fits, "ds": cfg["ds"],
        "comparisons": la_comparisons(table, labels=("tau", "alpha", "kappa", "ridge"), x="d"),
    }


def draw(results: dict):
    """Relative gap vs 1/d with error bars and the fitted c/d lines."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.6), constrained_layout=True)
    tab = results["table"]
    xs = np.linspace(0, 1.05 / min(results["ds"]), 50)
    for i, (lab, _) in enumerate(POINTS):
        rows = tab[tab["label"] == lab]
        for q, mfc, ls in (("icl", None, "-"), ("idg", "white", "--")):
            if (lab, q) not in results["fits"]:
                continue
            c, c_se = results["fits"][(lab, q)]
            ax.errorbar(1.0 / rows["d"], rows[f"rel_{q}"], yerr=rows[f"rel_{q}_se"],
                        fmt=MARKERS[i], color=PALETTE[i], mfc=mfc or PALETTE[i],
                        label=f"{lab}: {q.upper()}, c = {c:.2f} ± {c_se:.2f}")
            ax.plot(xs, c * xs, color=PALETTE[i], ls=ls, lw=1)
    reference_line(ax, 0.0, "theory (no gap)", color="0.3", ls="-", lw=0.8)
    ax.set_xlabel(r"$1/d$")
    ax.set_ylabel(r"(simulation $-$ theory) / theory")
    fig.suptitle(f"Finite-size convergence, gap ≈ c/d ({results['sizes']})", fontsize=11)
    ax.legend(fontsize=8)
    top = ax.secondary_xaxis("top", functions=(lambda x: 1 / np.maximum(x, 1e-9),
                                               lambda d: 1 / np.maximum(d, 1e-9)))
    top.set_xticks(list(results["ds"]))
    top.set_xlabel("d")
    return fig


def summary(results: dict) -> str:
    """The fitted c of each point and quantity, and the table of means against the theory."""
    lines = [f"  {lab:24s} {q}: relative gap = c/d with c = {c:.3f} ± {c_se:.3f}"
             for (lab, q), (c, c_se) in results["fits"].items()]
    cols = ["label", "d", "icl_mean", "icl_se", "theory_icl_mean", "idg_mean", "idg_se",
            "theory_idg_mean"]
    return "\n".join([*lines, results["table"][cols].to_string(index=False)])


FIGURE = Figure(globals(), full_help="d = 20..80", backend="processes")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
