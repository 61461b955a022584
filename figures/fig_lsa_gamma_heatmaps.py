"""Trained one-layer LSA vs theory: Gamma_eff heatmaps next to the optimal Gamma*.

Mahankali, Hashimoto & Ma (2023, arXiv:2307.03576); Zhang, Frei & Bartlett (2023,
arXiv:2306.09927). Three settings, each trained from a random initialisation (merged
parametrisation, Adam, exact gradients, fresh prompts) with :func:`rmt_icl.lsa.train_lsa`:

* isotropic x, w ~ N(0, I_5), n = 20, sigma = 0.5: Gamma* = c* I;
* spiked x ~ N(0, I_5 + 3 e1 e1^T), w ~ N(0, I), n = 20, sigma = 0.5: the ZFB / Ahn preconditioner
  (ZFB initialisation, see docs/theory/one_step_gd.md);
* general Sigma_x (correlated), Sigma_w = diag(0.5, 1.5, 1), n = 10, sigma = 0.5: the "General
  Gaussian" closed form of ``docs/theory/one_step_gd.md`` (ZFB initialisation).

With anisotropic covariates a fully random start (every weight i.i.d. N(0, 0.01^2)) stalls in
about half of the seeds at a non-global stationary point where p_x q_yx^T carries the
large-variance direction (see docs/theory/one_step_gd.md); the ZFB start (p_x = q_yx = 0, random
Q_xx) avoids that branch, and is what the two anisotropic columns use.

Rows: Gamma_eff, Gamma*, and their difference. Each title gives the relative Frobenius distance
and the held-out loss against L* (in standard errors).

Usage::

    python figures/fig_lsa_gamma_heatmaps.py [--full] [--out DIR]
"""

from __future__ import annotations

import sys

import numpy as np

from rmt_icl.experiments.verdict import comparison_table
from rmt_icl.lsa.data import PromptDistribution, parse_cov
from rmt_icl.lsa.train import evaluate_lsa, train_lsa
from rmt_icl.reporting.figure import Figure

SIGX = np.array([[2, 0.5, 0], [0.5, 1, 0.3], [0, 0.3, 0.5]])
SETTINGS = (
    # (key, title, distribution kwargs, init)
    ("iso", r"isotropic, $d=5$, $n=20$", dict(d=5, n=20, noise_var=0.25), "random"),
    ("spiked", r"spiked $\Sigma=I+3e_1e_1^\top$, $w\sim N(0,I)$",
     dict(d=5, n=20, noise_var=0.25, cov_x=parse_cov("spiked:3", 5)), "zfb"),
    ("general", r"general $\Sigma_x$, $\Sigma_w$, $d=3$, $n=10$",
     dict(d=3, n=10, noise_var=0.25, cov_x=SIGX, cov_w=np.diag([0.5, 1.5, 1.0])), "zfb"),
)
QUICK = dict(steps=1000, batch_size=1024, lr=2e-2, test_prompts=100_000)
FULL = dict(steps=6000, batch_size=4096, lr=3e-3, test_prompts=1_000_000)


def run(cfg: dict, *, quick: bool, seed: int = 0) -> dict:
    """Train the three LSAs, evaluate them, and collect Gamma_eff, Gamma*, losses."""
    rows = {}
    for key, _, kw, init in SETTINGS:
        dist = PromptDistribution(**kw)
        gamma_star, loss_star = dist.theory()
        res = train_lsa(dist, steps=cfg["steps"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                        init=init, seed=seed)
        ev = evaluate_lsa(res.model, dist, n_prompts=cfg["test_prompts"], gamma_ref=gamma_star,
                          seed=seed)
        rows[key] = dict(
            gamma_eff=res.gamma_eff, gamma_star=gamma_star, loss=ev.loss, se=ev.se,
            loss_star=loss_star, rel=float(np.linalg.norm(res.gamma_eff - gamma_star)
                                           / np.linalg.norm(gamma_star)),
            gap_se=abs(ev.loss - loss_star) / ev.se,
        )
    return {
        "comparison": "trained LSA Gamma_eff and held-out loss vs closed-form Gamma*, L*",
        "max_gap_se": max(r["gap_se"] for r in rows.values()),
        # the closed form is exact at these (d, n): no finite-size allowance
        "comparisons": comparison_table(
            [f"held-out loss, {key}" for key in rows], [kw["d"] for _, _, kw, _ in SETTINGS],
            cfg["test_prompts"], [r["loss"] for r in rows.values()],
            [r["se"] for r in rows.values()], [r["loss_star"] for r in rows.values()]),
        "sizes": (f"steps={cfg['steps']}, batch={cfg['batch_size']}, "
                  f"test prompts={cfg['test_prompts']}"),
        "rows": rows,
    }


def draw(results: dict):
    """Heatmaps: Gamma_eff (top), Gamma* (middle), difference (bottom), one column per setting."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(SETTINGS), figsize=(4.2 * len(SETTINGS), 10.5),
                             constrained_layout=True)
    for j, (key, title, _, _) in enumerate(SETTINGS):
        r = results["rows"][key]
        vmax = np.abs(r["gamma_star"]).max()
        for i, (mat, lab) in enumerate([(r["gamma_eff"], r"trained $\Gamma_{\rm eff}$"),
                                        (r["gamma_star"], r"theory $\Gamma^*$")]):
            ax = axes[i, j]
            im = ax.imshow(mat, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_title(f"{title}\n{lab}" if i == 0 else lab, fontsize=10)
            for (a, b), v in np.ndenumerate(mat):
                ax.text(b, a, f"{v:.3f}", ha="center", va="center", fontsize=7,
                        color="w" if abs(v) > 0.6 * vmax else "k")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        fig.colorbar(im, ax=axes[:2, j], shrink=0.6)
        diff = r["gamma_eff"] - r["gamma_star"]
        dmax = max(np.abs(diff).max(), 1e-12)
        ax = axes[2, j]
        im = ax.imshow(diff, cmap="PuOr", vmin=-dmax, vmax=dmax)
        ax.set_title(
            rf"$\Gamma_{{\rm eff}}-\Gamma^*$: rel. Frobenius {r['rel']:.2%}" + "\n"
            + rf"loss {r['loss']:.4f}$\pm${r['se']:.4f} vs $L^*$={r['loss_star']:.4f}",
            fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(f"One-layer LSA trained from a random start lands on $\\Gamma^*$ (anisotropic "
                 f"columns: ZFB start; {results['sizes']})", fontsize=11)
    return fig


def summary(results: dict) -> str:
    """Per setting: the relative Frobenius distance and the loss against L*."""
    return "\n".join(
        f"  {key}: rel. Frobenius {r['rel']:.4f}, loss {r['loss']:.5f} +- {r['se']:.5f} "
        f"vs L* {r['loss_star']:.5f} ({r['gap_se']:.2f} SE)"
        for key, r in results["rows"].items())


FIGURE = Figure(globals(), full_help="6000 Adam steps, batch 4096, 1e6 test")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
