# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · In-context learning by linear attention: the asymptotic theory
#
# Lu, Letey, Zavatone-Veth, Maiti & Pehlevan, *Asymptotic theory of in-context learning by
# linear attention* (arXiv:2405.11751). Implementation notes and the standing of each formula
# (exact / authors' code / inferred): `docs/theory/linear_attention.md`.
#
# **Setting and conventions** (shared by the whole toolkit):
#
# | symbol | meaning | code |
# |---|---|---|
# | $x \sim N(0, I_d/d)$ | covariates | |
# | $w \sim N(0, I_d)$ | task vector, $y = \langle x, w\rangle + $ noise | |
# | $\rho$ | label-noise **variance** | `rho` |
# | $\ell = \alpha d$ | context length (labelled pairs per prompt) | `alpha` |
# | $K = \kappa d$ | pretraining tasks ($\kappa=\infty$: a fresh task per prompt) | `kappa` |
# | $n = \tau d^2$ | number of pretraining prompts | `tau` |
# | $\lambda$ | ridge: penalty $(n/d)\lambda\|\Gamma\|_F^2$ | `ridge` |
#
# Linear attention reduces to the predictor $\hat y = x_{\ell+1}^\top \Gamma h$ with
# $h = \big[(d/\ell)\sum_i y_i x_i;\ (1/\ell)\sum_i y_i^2\big]$,
# $\Gamma \in \mathbb R^{d\times(d+1)}$ fitted by ridge regression on the $n$ pretraining
# prompts. Errors include the noise ($e \ge \rho$; the zero predictor scores $1 + \rho$):
#
# * $e_{\rm ICL}$: test task drawn fresh from $N(0, I_d)$ (in-context learning of a new task);
# * $e_{\rm IDG}$: test task drawn from the pretraining pool (in-distribution generalisation);
# * $g_{\rm task} = e_{\rm ICL} - e_{\rm IDG}$: the task-generalisation gap.
#
# The notebook covers the formula, its limits, sample-wise double descent in $\tau$ and its
# removal by ridge, the task-diversity transition in $\kappa$, and a Monte Carlo check of the
# formula with error bars and finite-size extrapolation. Simulations are small ($d \le 32$).

# %%
import math
import shutil
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

from rmt_icl.experiments.runner import simulate
from rmt_icl.reporting.style import MARKERS, PALETTE, apply_style
from rmt_icl.sweep import summarise, sweep
from rmt_icl.theory import (
    linear_attention_auxiliaries,
    linear_attention_icl_error,
    linear_attention_idg_error,
)

apply_style()
T0 = time.perf_counter()
STORE_ROOT = tempfile.mkdtemp(prefix="rmt_icl_nb02_")  # sweep stores live in a temp dir

# %% [markdown]
# ## 1. The formula
#
# With $q^* = (1+\rho)/\alpha$ and the Marchenko–Pastur resolvent $M_\kappa$ of the task
# covariance, the ridge fixed point $\varepsilon$ solves
# $1 - \tau + \tau\lambda/\varepsilon = \varepsilon\, M_\kappa(\varepsilon + q^*)$, and
# $e_{\rm ICL}$ is an explicit function of $\varepsilon$, $m = M_\kappa(\nu)$, $m' =
# M'_\kappa(\nu)$, $\nu = q^* + \varepsilon$ (see the docs for the closed forms). All functions
# broadcast over arrays and accept `kappa=np.inf`; `linear_attention_auxiliaries` exposes the
# intermediate quantities. The figure evaluates $e_{\rm ICL}$ against the context length for a
# few task diversities in one vectorised call each: longer contexts help, but with few
# pretraining tasks ($\kappa < 1$) the error stays far above the fresh-task ($\kappa=\infty$)
# curve.

# %%
aux = linear_attention_auxiliaries(alpha=2.0, tau=2.0, kappa=1.0, rho=0.1, ridge=0.1)
print(aux)
print("e_ICL =", float(linear_attention_icl_error(alpha=2.0, tau=2.0, kappa=1.0, rho=0.1,
                                                  ridge=0.1)),
      " e_IDG =", float(linear_attention_idg_error(alpha=2.0, tau=2.0, kappa=1.0, rho=0.1,
                                                   ridge=0.1)))

# a whole (alpha, kappa) grid in one vectorised call
alphas = np.logspace(-1, 2, 200)
fig, ax = plt.subplots(figsize=(6.2, 3.8))
for i, kappa in enumerate((0.5, 1.0, 2.0, np.inf)):
    lab = "\\infty" if np.isinf(kappa) else f"{kappa:g}"
    e = linear_attention_icl_error(alpha=alphas, tau=2.0, kappa=kappa, rho=0.1, ridge=0.1)
    ax.plot(alphas, e, color=PALETTE[i], label=f"$\\kappa={lab}$")
ax.axhline(1.1, color="k", ls=":", lw=1, label="zero predictor $1+\\rho$")
ax.set(xscale="log", xlabel="context length ratio $\\alpha = \\ell/d$", ylabel="$e_{\\rm ICL}$",
       title="$\\tau=2$, $\\rho=0.1$, $\\lambda=0.1$")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. Limits
#
# Two limits have closed forms (derived from Lu et al.'s ridgeless formulas; checked below):
#
# * **$\tau \to \infty$ first, then $\alpha \to \infty$:** $e_{\rm ICL} \to \rho + (1-\kappa)_+$
#   and $e_{\rm IDG} \to \rho$, so $g_{\rm task} \to (1-\kappa)_+$: with fewer tasks than
#   dimensions ($\kappa<1$) the model cannot represent directions outside the span of the pool.
# * **$\kappa \to \infty$, $\tau \to \infty$:** $e_{\rm ICL} \to \rho + q^*/(1+q^*)$, the best
#   error of the rescaled one-step estimator $c\,x^\top (d/\ell) \sum_i y_i x_i$.
#
# The order matters: for $\kappa<1$ the ridgeless $e_{\rm ICL}$ grows *linearly* in $\alpha$
# at finite $\tau$ with slope $\approx (1-\kappa)\rho/((1+\rho)(\tau-1))$, so letting
# $\tau = \alpha \to \infty$ together leaves an excess $(1-\kappa)\rho/(1+\rho)$. We check
# both statements numerically.

# %%
rho = 0.1
kappas = np.array([0.2, 0.5, 0.9, 1.1, 2.0, 5.0])
limit = rho + np.maximum(1 - kappas, 0)
seq = linear_attention_icl_error(alpha=1e5, tau=1e10, kappa=kappas, rho=rho)  # tau >> alpha >> 1
seq_idg = linear_attention_idg_error(alpha=1e5, tau=1e10, kappa=kappas, rho=rho)
joint = linear_attention_icl_error(alpha=1e6, tau=1e6, kappa=kappas, rho=rho)  # tau = alpha
print(" kappa   rho+(1-k)+   tau>>alpha   IDG (-> rho)   tau=alpha   excess (1-k)+rho/(1+rho)")
for row in zip(kappas, limit, seq, seq_idg, joint, joint - limit, strict=False):
    print("  %4.1f    %.6f    %.6f    %.6f       %.6f    %.6f" % row)
assert np.allclose(seq, limit, atol=1e-4) and np.allclose(seq_idg, rho, atol=1e-4)
assert np.allclose(joint - limit, np.maximum(1 - kappas, 0) * rho / (1 + rho), atol=1e-4)

alphas_l = np.array([0.5, 1.0, 2.0, 5.0, 20.0])
q = (1 + rho) / alphas_l
lim2 = rho + q / (1 + q)
val2 = linear_attention_icl_error(alpha=alphas_l, tau=1e8, kappa=np.inf, rho=rho)
print("\nkappa = inf, tau = 1e8:  e_ICL - (rho + q*/(1+q*)) =", np.array2string(val2 - lim2,
                                                                              precision=2))
assert np.allclose(val2, lim2, atol=1e-6)

# %% [markdown]
# ## 3. Sample-wise double descent in $\tau$ and its removal by ridge
#
# At $\tau = 1$ the number of pretraining prompts $n = d^2$ matches the number of parameters
# $d(d+1)$ to leading order: the ridgeless fit interpolates and $e_{\rm ICL}$ diverges (the
# closed form returns `inf` there). Any $\lambda>0$ caps the peak; a large enough ridge makes the
# curve monotone. (Paper Fig. 1C: $\alpha = 10$, $\kappa = \infty$, $\rho = 0.01$.)
#
# The markers are Monte Carlo simulations at $d = 16$ (3 runs per point, mean ± one standard
# error) through the sweep engine (`rmt_icl.sweep.sweep`, serial backend, a throw-away store in
# a temp dir); `share_seeds_across=["model", "ridge"]` makes the three ridge values see the
# same data. The theory is evaluated at the *realised* ratios $\ell/d$, $K/d$, $n/d^2$ (the
# `theory_icl` column). At finite $d$ the interpolation threshold sits at $n = d(d+1)$, i.e.
# $\tau = 1 + 1/d$, so the simulated peak is shifted and broadened: expect
# $O(1/d)$ deviations, largest near the peak.

# %%
RHO_DD, ALPHA_DD, RIDGES = 0.01, 10.0, (0.0, 0.1, 1.0)
taus = np.linspace(0.05, 4.0, 400)
theory_dd = {lam: linear_attention_icl_error(alpha=ALPHA_DD, tau=taus, kappa=np.inf, rho=RHO_DD,
                                             ridge=lam)
             for lam in RIDGES}

spec_dd = {
    "name": "nb02-double-descent", "model": "linear-attention", "seed": 0, "runs": 3,
    "share_seeds_across": ["model", "ridge"],
    "params": {"d": 16, "alpha": ALPHA_DD, "kappa": math.inf, "rho": RHO_DD},
    "grid": {"ridge": list(RIDGES), "tau": [0.25, 0.5, 0.8, 1.25, 1.6, 2.5, 3.5]},
}
t = time.perf_counter()
df_dd = sweep(spec_dd, store=f"{STORE_ROOT}/dd", backend="serial", progress=False)
s_dd = summarise(df_dd)
print(f"{len(df_dd)} runs in {time.perf_counter() - t:.1f} s")

fig, ax = plt.subplots(figsize=(6.4, 4))
for i, lam in enumerate(RIDGES):
    ax.plot(taus, theory_dd[lam], color=PALETTE[i], label=f"theory $\\lambda={lam}$")
    g = s_dd[s_dd["ridge"] == lam]
    ax.errorbar(g["tau"], g["icl_mean"], g["icl_se"], fmt=MARKERS[i], color=PALETTE[i],
                label=f"simulation $d=16$, $\\lambda={lam}$")
ax.axvline(1.0, color="grey", lw=0.8, ls="--")
ax.set(ylim=(0, 1.6), xlabel="pretraining prompts $\\tau = n/d^2$", ylabel="$e_{\\rm ICL}$",
       title=f"Double descent: $\\alpha={ALPHA_DD:g}$, $\\kappa=\\infty$, $\\rho={RHO_DD}$")
ax.legend(fontsize=8, ncol=2)
plt.show()

# %% [markdown]
# **Check:** the ridgeless theory has a peak (it is non-monotone in $\tau$, infinite at
# $\tau=1$); with $\lambda = 1$ it decreases monotonically; and the ridge always helps near the
# peak.

# %%
d_lam0 = np.diff(theory_dd[0.0][np.isfinite(theory_dd[0.0])])
print("ridgeless: increasing somewhere?", bool(np.any(d_lam0 > 0)),
      "| lambda = 1: monotone decreasing?", bool(np.all(np.diff(theory_dd[1.0]) < 0)))
assert np.any(d_lam0 > 0) and np.all(np.diff(theory_dd[1.0]) < 0)
assert float(linear_attention_icl_error(alpha=ALPHA_DD, tau=1.0, kappa=np.inf,
                                        rho=RHO_DD)) == np.inf
near = (taus > 0.8) & (taus < 1.25)
assert np.all(theory_dd[0.1][near] < theory_dd[0.0][near])

# %% [markdown]
# ## 4. The task-diversity transition
#
# With a finite pool of $K=\kappa d$ tasks, small $\kappa$ means memorisation: low IDG error
# but poor ICL; large $\kappa$ means in-context learning, $g_{\rm task} \to 0$. As
# $\tau\to\infty$ then $\alpha\to\infty$ the gap becomes $(1-\kappa)_+$ (sharp at $\kappa = 1$).
# Paper Fig. 4: $\tau = 0.2\alpha$, $\rho = 0.01$, ridgeless. The markers are $d = 24$
# simulations at $\alpha = 10$ ($\lambda = 10^{-6}$, 3 runs; the SE is that of the per-run
# paired difference $e_{\rm ICL} - e_{\rm IDG}$ of the same fitted $\Gamma$). Few tasks make
# the finite-$d$ corrections large: the simulations lie above the theory at $\kappa < 1$ and
# approach it as $d$ grows (`figures/fig_la_task_diversity.py --full` uses $d = 100$).

# %%
kappa_grid = np.logspace(-1.3, 2, 300)
fig, ax = plt.subplots(figsize=(6.4, 4))
for i, alpha in enumerate((6.0, 10.0, 20.0)):
    gap = (linear_attention_icl_error(alpha=alpha, tau=0.2 * alpha, kappa=kappa_grid, rho=0.01)
           - linear_attention_idg_error(alpha=alpha, tau=0.2 * alpha, kappa=kappa_grid, rho=0.01))
    ax.plot(kappa_grid, gap, color=PALETTE[i], label=f"theory $\\alpha={alpha:g}$, "
            f"$\\tau={0.2 * alpha:g}$")
ax.plot(kappa_grid, np.maximum(1 - kappa_grid, 0), "k--", lw=1.2,
        label="limit $(1-\\kappa)_+$")

spec_k = {
    "name": "nb02-task-diversity", "model": "linear-attention", "seed": 0, "runs": 3,
    "params": {"d": 24, "alpha": 10.0, "tau": 2.0, "rho": 0.01, "ridge": 1e-6},
    "grid": {"kappa": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]},
}
df_k = sweep(spec_k, store=f"{STORE_ROOT}/kappa", backend="serial", progress=False)
df_k["gap"] = df_k["icl"] - df_k["idg"]
s_k = summarise(df_k, values=["icl", "idg", "gap"])
ax.errorbar(s_k["kappa"], s_k["gap_mean"], s_k["gap_se"], fmt="s", color=PALETTE[1],
            label="simulation $d=24$, $\\alpha=10$")
ax.set(xscale="log", xlabel="task diversity $\\kappa = K/d$",
       ylabel="$g_{\\rm task} = e_{\\rm ICL} - e_{\\rm IDG}$",
       title="Memorisation $\\to$ in-context learning, $\\rho=0.01$")
ax.legend(fontsize=8)
plt.show()
print(s_k[["kappa", "icl_mean", "idg_mean", "gap_mean", "gap_se"]].round(4).to_string(index=False))

# %% [markdown]
# **Check:** the theory gap decreases with $\kappa$ and vanishes as $\kappa\to\infty$; the
# simulated gap decreases too.

# %%
gap10 = (linear_attention_icl_error(alpha=10.0, tau=2.0, kappa=kappa_grid, rho=0.01)
         - linear_attention_idg_error(alpha=10.0, tau=2.0, kappa=kappa_grid, rho=0.01))
print(f"theory gap at kappa = {kappa_grid[0]:.3f}: {gap10[0]:.3f}; at kappa = 100: "
      f"{gap10[-1]:.4f}")
assert np.all(np.diff(gap10) < 1e-12) and gap10[-1] < 0.01
assert s_k["gap_mean"].iloc[0] > s_k["gap_mean"].iloc[-1] + 3 * s_k["gap_se"].iloc[0]

# %% [markdown]
# ## 5. Simulation against theory, with error bars and finite-size extrapolation
#
# At one generic point, $(\tau, \alpha, \kappa, \rho, \lambda) = (3, 2, 2, 0.1, 0.1)$, we
# simulate at $d = 8, 16, 32$ (`rmt_icl.experiments.runner.simulate("linear-attention", ...)`,
# independent runs, exact test errors of each fitted $\Gamma$). The simulated mean is
# $e(d) = e_\infty + b/d + O(1/d^2)$; a weighted least-squares fit of $e_\infty + b/d$ over the
# three sizes extrapolates to $d = \infty$ with a standard error propagated from the runs.
# The extrapolation must agree with the theory within 3 standard errors.

# %%
point = dict(alpha=2.0, tau=3.0, kappa=2.0, rho=0.1, ridge=0.1)
sizes = ((8, 32), (16, 16), (32, 8))  # (d, runs)
rows = []
t = time.perf_counter()
for d, runs in sizes:
    r = simulate("linear-attention", dict(point, d=d), runs=runs, seed=0, key=(d,))
    rows.append((d, r["icl_mean"], r["icl_se"], r["idg_mean"], r["idg_se"], r["theory_icl"],
                 r["theory_idg"]))
print(f"simulated in {time.perf_counter() - t:.1f} s")
rows = np.array(rows)
th_icl = float(linear_attention_icl_error(**point))
th_idg = float(linear_attention_idg_error(**point))


def extrapolate(d, mean, se):
    """Weighted least-squares fit mean = e_inf + b/d; returns (e_inf, b, se(e_inf))."""
    A = np.column_stack([np.ones_like(d), 1.0 / d]) / se[:, None]
    cov = np.linalg.inv(A.T @ A)
    e_inf, b = cov @ A.T @ (mean / se)
    return e_inf, b, math.sqrt(cov[0, 0])


fig, ax = plt.subplots(figsize=(6.2, 3.8))
inv_d = np.linspace(0, 1 / 7, 50)
for j, (name, th, col) in enumerate((("ICL", th_icl, 1), ("IDG", th_idg, 3))):
    mean, se = rows[:, col], rows[:, col + 1]
    e_inf, b, e_se = extrapolate(rows[:, 0], mean, se)
    gap_se = (e_inf - th) / e_se
    print(f"{name}: d = {rows[:, 0].astype(int)}: sim {np.round(mean, 4)} +- "
          f"{np.round(se, 4)};  extrapolated {e_inf:.4f} +- {e_se:.4f} vs theory {th:.4f} "
          f"({gap_se:+.2f} SE)")
    assert abs(gap_se) < 3
    assert abs(mean[-1] - th) < abs(mean[0] - th)  # the gap shrinks with d
    ax.errorbar(1 / rows[:, 0], mean, se, fmt=MARKERS[j], color=PALETTE[j],
                label=f"$e_{{\\rm {name}}}$ simulation")
    ax.plot(inv_d, e_inf + b * inv_d, ":", color=PALETTE[j], lw=1)
    ax.plot(0, th, "*", color=PALETTE[j], ms=12, label=f"$e_{{\\rm {name}}}$ theory ($d=\\infty$)")
ax.set(xlabel="$1/d$", ylabel="error", title="$(\\tau,\\alpha,\\kappa,\\rho,\\lambda) = "
       "(3, 2, 2, 0.1, 0.1)$: finite-size convergence")
ax.legend(fontsize=8)
plt.show()
print(f"notebook run time: {time.perf_counter() - T0:.1f} s")
shutil.rmtree(STORE_ROOT, ignore_errors=True)  # drop the throw-away sweep stores

# %% [markdown]
# ## Take-aways
#
# * The deterministic equivalent is cheap (µs per point, vectorised) and exact in the limit;
#   finite-$d$ simulations approach it at rate $1/d$, slowest near the interpolation peak
#   $\tau\approx1$ and for $\kappa<1$.
# * Limits do not commute: $g_{\rm task}\to(1-\kappa)_+$ needs $\tau\to\infty$ *before*
#   $\alpha\to\infty$.
# * For larger sizes and more points use `rmt-icl sweep` / `rmt_icl.sweep.sweep` with a durable
#   store (see `docs/sweeps.md`); the paper-size figures are `rmt-icl reproduce --full`.
