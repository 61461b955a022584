"""When does the MLP head beat the linear transformer? A map of e_RT - e_linear over
(context length alpha, target nonlinearity) for three activations.

After Demir & Dogan (2025, arXiv:2509.15152) and its companion (arXiv:2510.25753: "without the
training of the first layer F ... there exist many cases where the Transformer with the
nonlinear MLP head fails to outperform the linear one").

Each cell is the paired difference ``e_ICL(RT) - e_ICL(linear transformer)`` on the same
prompts and test queries, mean +- SE over runs (the SE of the per-run differences); blue cells:
the RT is better, red: the linear transformer is better; cells with ``|difference| <= 2 SE``
are hatched (no resolved winner); cells where neither model beats the zero predictor
(``min(e_RT, e_linear) >= E y^2``) are marked "both >= E y^2" (italic): there the sign only
says which model overfits less. Targets (rows) go from linear to strongly nonlinear:
``linear``, ``tanh``, ``relu`` (non-zero mean, floor ``(E g)^2`` for odd predictors) and
``he2 = s^2 - 1`` (no linear component: ``E[g(s) s] = 0``, invisible to the linear
transformer).

Both models use the same ridge lambda_bar = 0.2 (the linear transformer at
``lambda_LA = d t lambda_bar / n``, the identity RT's infinite-width limit); the map depends on
the ridge (see ``fig_rt_ridge``). Path: tau = 2, psi = k/n = 2, kappa = inf, rho = 1e-4,
linear-attention scaling of the y^2 column.

Theory: each cell also shows ("th") the deterministic equivalents' difference at the cell's
realised ratios, :func:`rmt_icl.theory.random_transformer_icl_error` minus
:func:`rmt_icl.theory.linear_attention_icl_error` at ``lambda_LA = d t lambda_bar / n`` (the
simulator's ``t`` and ``n``); ``he2`` cells say "th: not covered" (no linear component, which
both reductions need). The verdict compares the simulated RT with its deterministic equivalent
at each point's realised ratios (:class:`rmt_icl.reporting.figure.PairedFigure`; the ``he2``
points are "not covered"). The Hermite model (p = 4 relu/gelu, 3 tanh: the papers' degrees;
the measured p0 is in docs/equivalence.md, "p0: the one answer") is run on the same
prompts; the comparison text gives its largest paired |e_Herm - e_RT| / SE.

Sizes: quick d = 16, 3 runs, 2000 test queries; ``--full`` d = 24, 4 runs,
``n_test = max(4000, n)``; ``--paper`` d = 64, 5 runs. The finite-size allowance is calibrated
at d = 12 and 16 (seed 1). Store ``results/rt_mlp_vs_linear/<quick|full>``.

Usage::

    python figures/fig_rt_mlp_vs_linear.py [--full | --paper] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import math
import sys

import numpy as np

from rmt_icl.reporting.figure import PairedFigure
from rmt_icl.theory import linear_attention_icl_error

STORE = "rt_mlp_vs_linear"
ALPHAS = (0.5, 2.0, 8.0)
TARGETS = ("linear", "tanh", "relu", "he2")
ACTIVATIONS = {"relu": 4, "tanh": 3, "gelu": 4}
PATH = {"tau": 2.0, "width_ratio": 2.0, "kappa": math.inf, "rho": 1e-4, "ridge": 0.2,
        "y2_scale": 1.0}  # Lu et al.'s scaling of the y^2 column
POINTS = [{"alpha": a, "target": tgt, "activation": act, "degree": p, **PATH}
          for act, p in ACTIVATIONS.items() for tgt in TARGETS for a in ALPHAS]
SHARE_SEEDS_ACROSS = ("model", "activation", "degree")
COMPARISON = ("e_RT - e_linear (paired) over alpha x target for 3 activations; RT better by "
              "> 2 SE (and better than E y^2 for one model) in {wins}/{cells} cells; gap "
              "columns: RT vs its deterministic equivalent (realised ratios)")
QUICK = dict(d=16, runs=3, n_test=2000)
FULL = dict(d=24, runs=4, n_test=None)
PAPER = dict(d=64, runs=5, n_test=None)
CALIBRATION = {"sizes": [{"d": 12}, {"d": 16}], "seed": 1}


def annotate(results: dict) -> None:
    """Add the paired ``rt_minus_lin`` columns, the cells where the RT wins (resolved, and
    one of the two models better than the zero predictor), and the theory's difference
    ``theory_rt_minus_lin = theory_icl - theory_linear`` (NaN for he2)."""
    tab = results["table"]
    tab["rt_minus_lin"] = -tab["diff_linear_mean"]
    tab["rt_minus_lin_se"] = tab["diff_linear_se"]
    useful = tab[["icl_rt_mean", "icl_linear_mean"]].min(axis=1) < tab["q"]
    wins = tab[(tab["rt_minus_lin"] < -2 * tab["rt_minus_lin_se"]) & useful]
    results["rt_win_cells"] = ", ".join(f"{r.activation}/{r.target}/α={r.alpha:g}"
                                        for r in wins.itertuples())
    results["comparison"] = results["comparison"].format(wins=len(wins), cells=len(tab))
    tab["theory_linear"] = [_linear_theory(r) for r in tab.itertuples()]
    tab["theory_rt_minus_lin"] = tab["theory_icl"] - tab["theory_linear"]


def _linear_theory(row) -> float:
    """Linear attention's deterministic equivalent at a row's realised ratios and the linear
    transformer's ridge ``lambda_LA = d t lambda_bar / n`` (NaN where not covered)."""
    try:
        return float(linear_attention_icl_error(row.target, alpha=row.alpha_realised,
                                                tau=row.tau_realised, kappa=row.kappa_realised,
                                                rho=row.rho, ridge=row.ridge_la))
    except NotImplementedError:  # a target without a linear component (he2)
        return math.nan


def summary(results: dict) -> str:
    """The comparison with its count of RT wins, and the cells where the RT wins."""
    return (f"{results['comparison']}\n"
            f"RT better (resolved, and one model better than E y^2): {results['rt_win_cells']}")


def draw(results: dict):
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    tab = results["table"]
    vmax = float(np.nanmax(np.abs(tab["rt_minus_lin"]))) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    fig, axes = plt.subplots(1, len(ACTIVATIONS), figsize=(13, 4.6), constrained_layout=True)
    for ax, act in zip(axes, ACTIVATIONS, strict=True):
        m = np.full((len(TARGETS), len(ALPHAS)), np.nan)
        s = np.full_like(m, np.nan)
        th = np.full_like(m, np.nan)
        useless = np.zeros(m.shape, dtype=bool)
        for i, tgt in enumerate(TARGETS):
            for j, a in enumerate(ALPHAS):
                row = tab[(tab["activation"] == act) & (tab["target"] == tgt)
                          & (tab["alpha"] == a)]
                m[i, j] = row["rt_minus_lin"].iloc[0]
                s[i, j] = row["rt_minus_lin_se"].iloc[0]
                th[i, j] = row["theory_rt_minus_lin"].iloc[0]
                best = min(row["icl_rt_mean"].iloc[0], row["icl_linear_mean"].iloc[0])
                useless[i, j] = best >= row["q"].iloc[0]
        im = ax.imshow(m, cmap="RdBu_r", norm=norm, aspect="auto")
        for i in range(len(TARGETS)):
            for j in range(len(ALPHAS)):
                resolved = abs(m[i, j]) > 2 * s[i, j]
                txt = f"{m[i, j]:+.3f} ±{s[i, j]:.3f}\n" + (
                    f"th {th[i, j]:+.3f}" if np.isfinite(th[i, j]) else "th: not covered")
                if useless[i, j]:
                    txt += "\nboth ≥ E y²"
                ax.text(j, i, txt, ha="center", va="center", fontsize=8,
                        fontweight="bold" if resolved else "normal",
                        style="italic" if useless[i, j] else "normal",
                        color="white" if abs(m[i, j]) > 0.55 * vmax else "black")
                if not resolved:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                               hatch="//", ec="0.6", lw=0))
        ax.set_xticks(range(len(ALPHAS)))
        ax.set_xticklabels([f"{a:g}" for a in ALPHAS])
        ax.set_yticks(range(len(TARGETS)))
        ax.set_yticklabels(TARGETS)
        ax.grid(False)
        ax.set_xlabel(r"context length $\alpha = \ell/d$")
        ax.set_title(f"σ = {act}", fontsize=10)
    axes[0].set_ylabel("target g")
    fig.colorbar(im, ax=axes, shrink=0.85,
                 label=r"$e_{\mathrm{RT}} - e_{\mathrm{linear}}$ (blue: MLP head better)")
    fig.suptitle("MLP head (RT) vs linear transformer, paired (mean ± SE; th: deterministic "
                 "equivalents' difference); hatched: within 2 SE\n"
                 f"τ=2, ψ=2, λ̄=0.2; {results['sizes']}; RT vs its theory: max gap "
                 f"{results['max_gap_se']:.1f} SE", fontsize=10)
    return fig


FIGURE = PairedFigure(globals(), full_help="d=24, 4 runs")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
