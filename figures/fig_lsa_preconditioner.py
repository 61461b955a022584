"""The optimal LSA preconditioner's spectrum vs the covariate spectrum.

For x ~ N(0, Sigma) and w ~ N(0, I) the optimal one-layer LSA is GD preconditioned by
(Zhang, Frei & Bartlett 2023; Ahn et al. 2023; ``docs/theory/one_step_gd.md``,
"Closed forms")

    Gamma* = ( ((n+1)/n) Sigma + ((tr Sigma + sigma^2)/n) I )^{-1},

which shares Sigma's eigenvectors, with eigenvalues g_k = 1/((n+1)/n lambda_k + (tr Sigma +
sigma^2)/n). It tends to Sigma^{-1} as n -> inf; at finite n the ridge term (tr Sigma +
sigma^2)/n caps it, so low-variance directions are under-weighted (lambda_k g_k < 1). For the prior
w ~ N(0, Sigma^{-1}) (Mahankali et al. 2023, Theorem 2) it is exactly c* Sigma^{-1}.

Panels: (a) g_k vs lambda_k for several n, d = 20, Sigma with log-spaced spectrum in
[0.1, 10]; (b) lambda_k g_k, the per-direction GD step after preconditioning; (c) a trained LSA
(d = 5, Sigma = diag(4, 2, 1, 0.5, 0.25), n = 20, sigma = 0.5): the diagonal of Gamma_eff (the
eigenbasis of Sigma) vs the theory.

Usage::

    python figures/fig_lsa_preconditioner.py [--full] [--out DIR]
"""

from __future__ import annotations

import sys

import numpy as np

from rmt_icl.experiments.verdict import comparison_table
from rmt_icl.lsa.data import PromptDistribution
from rmt_icl.lsa.train import evaluate_lsa, train_lsa
from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.style import MARKERS, PALETTE, log_axis, reference_line
from rmt_icl.theory import one_step_gd_optimum, optimal_lsa

D, SIGMA = 20, 0.5
NS = (5, 20, 80, 320, 1280)
LAM_TRAIN = np.array([4.0, 2.0, 1.0, 0.5, 0.25])
N_TRAIN = 20
QUICK = dict(steps=1000, batch_size=1024, lr=2e-2, test_prompts=100_000)
FULL = dict(steps=6000, batch_size=4096, lr=3e-3, test_prompts=1_000_000)


def run(cfg: dict, *, quick: bool, seed: int = 0) -> dict:
    """Gamma*'s spectrum for several n (closed form) and a trained LSA against its Gamma*."""
    s2 = SIGMA**2
    lam = np.logspace(-1, 1, D)
    # Sigma is diagonal, so Gamma* is diagonal and its k-th diagonal entry pairs with lambda_k
    spectra = {n: np.diag(optimal_lsa(lam, None, n=n, noise_var=s2).gamma) for n in NS}
    inverse = {n: np.diag(optimal_lsa(lam, "inverse", n=n, noise_var=s2).gamma) for n in (20,)}
    # trained LSA
    dist = PromptDistribution(len(LAM_TRAIN), N_TRAIN, s2, cov_x=np.diag(LAM_TRAIN))
    gamma_star, loss_star = dist.theory()
    res = train_lsa(dist, steps=cfg["steps"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                    init="zfb", seed=seed)
    ev = evaluate_lsa(res.model, dist, n_prompts=cfg["test_prompts"], gamma_ref=gamma_star,
                      seed=seed)
    return {
        "comparison": "preconditioner spectrum (closed form); trained LSA eigenvalues and loss "
                      "vs theory",
        "max_gap_se": abs(ev.loss - loss_star) / ev.se,
        # the closed form is exact at this (d, n): no finite-size allowance
        "comparisons": comparison_table("held-out loss of the trained LSA", len(LAM_TRAIN),
                                        cfg["test_prompts"], ev.loss, ev.se, loss_star),
        "sizes": f"d={D} theory; trained d=5, n={N_TRAIN}, steps={cfg['steps']}",
        "lam": lam, "spectra": spectra, "inverse": inverse,
        "trained_diag": np.diag(res.gamma_eff),
        "trained_offdiag_max": float(np.abs(res.gamma_eff - np.diag(np.diag(res.gamma_eff)))
                                     .max()),
        "theory_diag": np.diag(gamma_star),
        "rel": float(np.linalg.norm(res.gamma_eff - gamma_star) / np.linalg.norm(gamma_star)),
        "loss": ev.loss, "se": ev.se, "loss_star": loss_star,
        "c_star": float(one_step_gd_optimum(n=20, d=D, noise_var=s2).step),
    }


def draw(results: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    lam = results["lam"]
    ax = axes[0]
    for i, n in enumerate(NS):
        ax.plot(lam, results["spectra"][n], color=PALETTE[i % 7], marker=MARKERS[i], ms=3,
                label=f"$w\\sim N(0,I)$, n={n}")
    ax.plot(lam, results["inverse"][20], color="0.3", ls="--",
            label=r"$w\sim N(0,\Sigma^{-1})$, n=20: $c^*\Sigma^{-1}$")
    ax.plot(lam, 1 / lam, color="k", ls=":", label=r"$\Sigma^{-1}$ ($n\to\infty$)")
    log_axis(ax, "x")
    log_axis(ax, "y")
    ax.set_xlabel(r"eigenvalue $\lambda_k$ of $\Sigma$")
    ax.set_ylabel(r"eigenvalue $g_k$ of $\Gamma^*$")
    ax.set_title(f"(a) preconditioner spectrum, d={D}, $\\sigma$={SIGMA}")
    ax.legend(fontsize=7)
    ax = axes[1]
    for i, n in enumerate(NS):
        ax.plot(lam, lam * results["spectra"][n], color=PALETTE[i % 7], marker=MARKERS[i],
                ms=3, label=f"n={n}")
    log_axis(ax, "x")
    reference_line(ax, results["c_star"], r"$c^*$ (prior $\Sigma^{-1}$, n=20)", color="0.3",
                   ls="--")
    reference_line(ax, 1.0, r"$\lambda_k g_k = 1$ ($\Gamma = \Sigma^{-1}$)", color="k")
    ax.set_xlabel(r"$\lambda_k$")
    ax.set_ylabel(r"$\lambda_k g_k$ (preconditioned step)")
    ax.set_title("(b) effective step per direction")
    ax.legend(fontsize=7)
    ax = axes[2]
    lt = LAM_TRAIN
    ax.plot(lt, results["theory_diag"], color=PALETTE[0], label=r"theory $\Gamma^*_{kk}$")
    ax.plot(lt, results["trained_diag"], ls="", marker=MARKERS[1], color=PALETTE[1],
            label=r"trained LSA $(\Gamma_{\rm eff})_{kk}$ (max |off-diag| "
            f"{results['trained_offdiag_max']:.3f})")
    ax.plot(lt, 1 / lt, color="k", ls=":", label=r"$\Sigma^{-1}$")
    log_axis(ax, "x", ticks=lt)
    log_axis(ax, "y")
    ax.set_xlabel(r"$\lambda_k$")
    ax.set_ylabel(r"eigenvalue $g_k$")
    ax.set_title(f"(c) trained, d=5, n={N_TRAIN}: rel. Frobenius {results['rel']:.2%}\n"
                 f"loss {results['loss']:.4f}$\\pm${results['se']:.4f} vs "
                 f"$L^*$={results['loss_star']:.4f}", fontsize=10)
    ax.legend(fontsize=7)
    return fig


def summary(results: dict) -> str:
    """The trained LSA's relative Frobenius distance to Gamma*."""
    return f"trained rel. Frobenius {results['rel']:.4f}"


FIGURE = Figure(globals(), full_help="6000 Adam steps, batch 4096, 1e6 test")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
