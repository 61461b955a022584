"""Loss vs context length n: the optimal one-layer LSA (= one GD step) next to its comparators.

Mahankali, Hashimoto & Ma (2023, arXiv:2307.03576): the optimal one-layer linear
self-attention is one step of gradient descent. Isotropic x, w ~ N(0, I_d), label noise sigma.
All curves are the pretraining loss E(y_hat - y_q)^2 with the query noise included
(clean risk + sigma^2):

* optimal LSA / one GD step, L* = sigma^2 + d(d+1+sigma^2)/(n+d+1+sigma^2) (closed form), with
  Monte Carlo markers: an independent line search over the step on simulated prompts (mean +- SE);
* Bayes-optimal ridge (posterior mean; Wishart-eigenvalue Monte Carlo) and its
  Marchenko-Pastur approximation;
* least squares (min-norm below d; exact; infinite for |n - d| <= 1);
* k-step GD with a tuned constant step, k = 2, 4 (Wishart-eigenvalue Monte Carlo).

Formulas: ``docs/theory/one_step_gd.md`` ("Closed forms", "Comparators").

Usage::

    python figures/fig_lsa_loss_vs_n.py [--full] [--out DIR]
"""

from __future__ import annotations

import sys

import numpy as np

from rmt_icl.core.stats import mean_se
from rmt_icl.experiments.verdict import comparison_table
from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.style import MARKERS, PALETTE, log_axis, reference_line
from rmt_icl.theory import (
    bayes_ridge_risk,
    bayes_ridge_risk_mp,
    least_squares_risk,
    one_step_gd_optimum,
    optimal_gd_risk,
)

D, SIGMA = 10, 0.5
QUICK = dict(n_max=61, step=3, draws=10_000, gd_draws=4_000, mc_prompts=100_000,
             mc_n=(4, 10, 19, 40, 61))
FULL = dict(n_max=120, step=1, draws=100_000, gd_draws=50_000, mc_prompts=1_000_000,
            mc_n=(2, 5, 10, 15, 20, 30, 40, 60, 80, 120))
KS = (2, 4)


def _mc_line_search(rng, n, d, s2, N, chunk=50_000):
    """MC loss of the MC-optimal step c_hat (plain prompts): mean and SE."""
    ps, ys = [], []
    for start in range(0, N, chunk):
        b = min(chunk, N - start)
        X = rng.standard_normal((b, n + 1, d))
        w = rng.standard_normal((b, d))
        y = np.einsum("bmd,bd->bm", X, w) + np.sqrt(s2) * rng.standard_normal((b, n + 1))
        h = np.einsum("bnd,bn->bd", X[:, :n], y[:, :n]) / n
        ps.append(np.einsum("bd,bd->b", h, X[:, n]))
        ys.append(y[:, n])
    p, y = np.concatenate(ps), np.concatenate(ys)
    c = np.mean(p * y) / np.mean(p * p)
    mean, se = mean_se((c * p - y) ** 2)
    return mean, se, float(c)


def run(cfg: dict, *, quick: bool, seed: int = 0) -> dict:
    """The closed-form L*(n), its comparators, and Monte Carlo line searches at ``mc_n``."""
    s2 = SIGMA**2
    n = np.arange(1, cfg["n_max"] + 1, cfg["step"])
    lsa = np.asarray(one_step_gd_optimum(n=n, d=D, noise_var=s2).loss)
    bayes = np.array([bayes_ridge_risk(n=int(k), d=D, noise_var=s2, n_draws=cfg["draws"],
                                       seed=seed).risk
                      for k in n]) + s2
    bayes_mp = bayes_ridge_risk_mp(n=n, d=D, noise_var=s2) + s2
    ls = least_squares_risk(n=n, d=D, noise_var=s2) + s2
    gd = {k: np.array([optimal_gd_risk(k, n=int(m), d=D, noise_var=s2, n_draws=cfg["gd_draws"],
                                       seed=seed).risk for m in n]) + s2 for k in KS}
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    mc = np.array([_mc_line_search(rng, m, D, s2, cfg["mc_prompts"]) for m in cfg["mc_n"]])
    theory_at_mc = np.asarray(one_step_gd_optimum(n=np.array(cfg["mc_n"]), d=D, noise_var=s2).loss)
    gap = np.abs(mc[:, 0] - theory_at_mc) / mc[:, 1]
    return {
        "comparison": "optimal LSA loss L*(n) (closed form) vs MC line search; comparators",
        "max_gap_se": float(gap.max()),
        # the closed form is exact at this d: no finite-size allowance
        "comparisons": comparison_table([f"L*(n={m})" for m in cfg["mc_n"]], D,
                                        cfg["mc_prompts"], mc[:, 0], mc[:, 1], theory_at_mc),
        "sizes": (f"d={D}, sigma={SIGMA}, {cfg['draws']} (GD: {cfg['gd_draws']}) Wishart "
                  "draws/point, "
                  f"{cfg['mc_prompts']} MC prompts/point"),
        "n": n, "lsa": lsa, "bayes": bayes, "bayes_mp": bayes_mp, "ls": ls, "gd": gd,
        "mc_n": np.array(cfg["mc_n"]), "mc": mc,
    }


def draw(results: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    n = results["n"]
    s2 = SIGMA**2
    ax.plot(n, results["lsa"], color=PALETTE[0], label=r"optimal 1-layer LSA = 1 GD step ($L^*$)")
    mc = results["mc"]
    ax.errorbar(results["mc_n"], mc[:, 0], yerr=mc[:, 1], fmt=MARKERS[0], color=PALETTE[0],
                label="MC line search over the step")
    for i, k in enumerate(KS):
        ax.plot(n, results["gd"][k], color=PALETTE[2 + i], ls="-.",
                label=f"{k}-step GD, tuned constant step (MC)")
    ls = np.where(np.isfinite(results["ls"]), results["ls"], np.nan)
    ax.plot(n, ls, color=PALETTE[1], ls="--", label="least squares (min-norm for n<d)")
    ax.plot(n, results["bayes"], color=PALETTE[7], label="Bayes ridge (posterior mean, MC)")
    ax.plot(n, results["bayes_mp"], color=PALETTE[7], ls=":", label="Bayes ridge, MP approx.")
    reference_line(ax, D + s2, r"zero predictor ($E y_q^2 = d + \sigma^2$)")
    reference_line(ax, s2, r"noise floor $\sigma^2$", color="0.7", ls="-")
    reference_line(ax, D, r"$n = d$ (least squares interpolates)", axis="x", color="0.7", ls="-")
    log_axis(ax, "y")
    ax.set_ylim(s2 * 0.9, 3 * (D + s2))
    ax.set_xlabel("context length n")
    ax.set_ylabel(r"loss $E(\hat y-y_q)^2$ (incl. $\sigma^2$)")
    ax.set_title(f"Loss vs context length, d={D}, $\\sigma$={SIGMA} "
                 f"(max |MC - theory| = {results['max_gap_se']:.1f} SE)", fontsize=11)
    ax.legend(fontsize=8, loc="upper right")
    return fig


FIGURE = Figure(globals(), full_help="every n up to 120, 1e5 draws, 1e6 MC")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
