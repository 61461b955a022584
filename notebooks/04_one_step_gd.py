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
# # 04 · A trained linear self-attention layer is (preconditioned) one step of GD
#
# Mahankali, Hashimoto & Ma (2023, arXiv:2307.03576); Zhang, Frei & Bartlett (2023,
# arXiv:2306.09927); Ahn et al. (2023, arXiv:2306.00297).
#
# A one-layer linear self-attention (LSA) reads a prompt of $n$ pairs $(x_i, y_i)$ and a query
# $x_q$. At its pretraining optimum it predicts
#
# $$\hat y = h^\top \Gamma\, x_q, \qquad h = \tfrac1n X^\top y ,$$
#
# which is one step of gradient descent from $w=0$ on $\tfrac1{2n}\|Xw-y\|^2$, preconditioned by
# $\Gamma$ ($\Gamma = cI$: plain GD with step $c$). This notebook
#
# 1. evaluates the closed forms $\Gamma^*$, $L^*$ (`rmt_icl.theory.one_step_gd_optimum`,
#    `optimal_lsa`, `one_step_gd_nonlinear`) and compares one-step GD with the comparators
#    (least squares, Bayes ridge, tuned multi-step GD);
# 2. trains actual LSA weights from random initialisation (`rmt_icl.lsa.train_lsa`, Adam, exact
#    gradients, fresh prompts each step) at $d = 5$ and shows the learning curve reaching $L^*$
#    and the effective preconditioner $\Gamma_{\rm eff}$ landing on $\Gamma^*$;
# 3. repeats this with anisotropic covariates, where $\Gamma^*$ is a genuine preconditioner
#    (not a multiple of $\Sigma^{-1}$), and with a nonlinear (ReLU single-index) target.
#
# **Conventions.** The toolkit's asymptotic models use $x\sim N(0, I_d/d)$, $w\sim N(0, I_d)$,
# noise *variance* $\rho$, context length $\ell = \alpha d$, $K = \kappa d$ tasks,
# $n = \tau d^2$ pretraining prompts and MLP width $k = \psi n$ (see the README). The one-step-GD
# results are finite-$d$ statements in the papers' own scaling: $x \sim N(0, \Sigma_x)$
# (default $\Sigma_x = I_d$, **not** $I_d/d$), $w \sim N(0, \Sigma_w)$, label noise variance
# $\sigma^2$ (`noise_var`), and $n$ here is the **context length** of each prompt ($\ell$ in
# the toolkit's notation). The query
# label $y_q$ includes its noise, so losses include $\sigma^2$; "clean" risks
# $E\|\hat w - w\|^2$ do not. Rescaling $x \to x/\sqrt d$ (and $\sigma^2 \to \sigma^2/d$)
# multiplies the optimal $\Gamma$ by $d$.
#
# Sizes are small ($d=5$, $n=20$, 1000 Adam steps of 1024 prompts) so the notebook runs in well
# under a minute.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from rmt_icl.lsa import PromptDistribution, evaluate_lsa, parse_cov, train_lsa
from rmt_icl.reporting.style import MARKERS, PALETTE, apply_style
from rmt_icl.theory import (
    bayes_ridge_risk,
    least_squares_risk,
    one_step_gd_loss,
    one_step_gd_nonlinear,
    one_step_gd_optimum,
    optimal_gd_risk,
    optimal_lsa,
)

apply_style()
T0 = time.perf_counter()
d, sigma2 = 5, 0.25  # dimension, label-noise variance sigma^2 (sigma = 0.5)


def rel_frobenius(a, b):
    """||a - b||_F / ||b||_F."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# %% [markdown]
# ## 1. The isotropic closed form
#
# For $x, w \sim N(0, I_d)$ the loss of $\Gamma = cI$ is a quadratic in $c$,
#
# $$L(c) = \tfrac dn (n+d+1+\sigma^2)\, c^2 - 2dc + d + \sigma^2,$$
#
# minimised at $c^* = n/(n+d+1+\sigma^2)$ with
# $L^* = \sigma^2 + d(d+1+\sigma^2)/(n+d+1+\sigma^2)$. Note $c^* < 1$: the optimal step shrinks
# towards zero, more so for short prompts.

# %%
cs = np.linspace(0.0, 1.4, 200)
fig, ax = plt.subplots(figsize=(6, 3.8))
for i, n in enumerate((10, 20, 40, 80)):
    opt = one_step_gd_optimum(n=n, d=d, noise_var=sigma2)
    ax.plot(cs, one_step_gd_loss(cs, n=n, d=d, noise_var=sigma2), color=PALETTE[i],
            label=f"$n={n}$")
    ax.plot(opt.step, opt.loss, MARKERS[i], color=PALETTE[i], ms=7)
ax.axhline(d + sigma2, color="k", ls=":", lw=1, label="zero predictor $d+\\sigma^2$")
ax.set(xlabel="step $c$ ($\\Gamma = cI$)", ylabel="pretraining loss $L(c)$",
       title=f"One-step GD loss, $d={d}$, $\\sigma^2={sigma2}$ (markers: $c^*$, $L^*$)",
       ylim=(0, 8))
ax.legend()
plt.show()

# %% [markdown]
# **Check:** a brute-force minimisation of $L(c)$ on a fine grid reproduces $c^*$ and $L^*$.

# %%
grid = np.linspace(0, 2, 2_000_001)
for n in (10, 20, 40):
    opt = one_step_gd_optimum(n=n, d=d, noise_var=sigma2)
    L = one_step_gd_loss(grid, n=n, d=d, noise_var=sigma2)
    j = int(np.argmin(L))
    print(f"n={n:3d}: c* = {float(opt.step):.6f} (grid {grid[j]:.6f}),  "
          f"L* = {float(opt.loss):.6f} (grid {L[j]:.6f})")
    assert abs(grid[j] - opt.step) < 2e-6 and abs(L[j] - opt.loss) < 1e-9

# %% [markdown]
# ## 2. One step of GD among the comparators
#
# How good is one (optimally tuned) GD step as an in-context regressor? Clean risks
# $E\|\hat w - w\|^2$ against the context length $n$ (`rmt_icl.theory` comparators):
#
# * least squares: exact, $\sigma^2 d/(n-d-1)$ for $n \ge d+2$ (diverges at the interpolation
#   threshold $n \approx d$);
# * Bayes (posterior-mean) ridge, the best any predictor can do: Monte Carlo over exact Wishart
#   eigenvalues (error bars = one standard error);
# * $k=2, 3$ steps of GD with tuned step sizes (Monte Carlo, tuned on common random numbers,
#   re-estimated on independent draws).
#
# One step is far from Bayes-optimal at this noise level but never diverges; more steps close
# the gap.

# %%
ns = np.array([2, 4, 6, 8, 12, 16, 24, 32, 48, 64])
one_step = one_step_gd_optimum(n=ns, d=d, noise_var=sigma2).clean_loss
ls = least_squares_risk(n=ns, d=d, noise_var=sigma2)
bayes = [bayes_ridge_risk(n=int(n), d=d, noise_var=sigma2, n_draws=10_000, seed=1) for n in ns]
ns_gd = ns[::2]
gd2 = [optimal_gd_risk(2, n=int(n), d=d, noise_var=sigma2, n_draws=5_000, seed=2) for n in ns_gd]
gd3 = [optimal_gd_risk(3, n=int(n), d=d, noise_var=sigma2, n_draws=5_000, seed=3) for n in ns_gd]

fig, ax = plt.subplots(figsize=(6, 3.8))
ax.plot(ns, one_step, "-o", color=PALETTE[0], label="optimal one-step GD = optimal LSA")
ax.plot(ns, np.where(ls < 50, ls, np.nan), "-s", color=PALETTE[1],
        label="least squares (exact; $\\infty$ near $n=d$)")
ax.errorbar(ns, [b.risk for b in bayes], [b.se for b in bayes], fmt="-^", color=PALETTE[2],
            label="Bayes ridge (MC)")
for k, res, m, col in ((2, gd2, "D", PALETTE[3]), (3, gd3, "v", PALETTE[4])):
    ax.errorbar(ns_gd, [r.risk for r in res], [r.se for r in res], fmt="--" + m, color=col,
                label=f"tuned {k}-step GD (MC)")
ax.axhline(d, color="k", ls=":", lw=1, label="zero predictor")
ax.set(xscale="log", yscale="log", xlabel="context length $n$",
       ylabel="clean risk $E\\|\\hat w - w\\|^2$",
       title=f"In-context linear regression, $d={d}$, $\\sigma^2={sigma2}$")
ax.set_xticks(ns, [str(n) for n in ns], minor=False)
ax.set_xticks([], minor=True)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **Check:** the Bayes risk is a lower bound for every other predictor (up to Monte Carlo
# error), and one tuned GD step is never worse than doing nothing.

# %%
for n, b, o in zip(ns, bayes, one_step, strict=False):
    assert b.risk - 4 * b.se <= o, (n, b, o)
assert np.all(one_step < d)
for n, b, r2, r3 in zip(ns_gd, bayes[::2], gd2, gd3, strict=False):
    print(f"n={n:3d}: Bayes {b.risk:.4f}+-{b.se:.4f} <= 3-step {r3.risk:.4f}+-{r3.se:.4f} "
          f"<= 2-step {r2.risk:.4f}+-{r2.se:.4f}")
    assert b.risk - 4 * b.se <= r3.risk + 4 * r3.se

# %% [markdown]
# ## 3. Training an LSA from random initialisation (isotropic data)
#
# `train_lsa` trains the merged parametrisation $f(E) = E + W^{PV} E J (E^\top W^{KQ} E)/n$
# (tokens $(x_i; y_i)$, query $(x_q; 0)$) with Adam on fresh prompts. Its prediction is
# $h^\top \Gamma_{\rm eff} x_q$ plus label-free and label-quadratic terms that must vanish at the
# optimum; $\Gamma_{\rm eff} = p_y Q_{xx} + p_x q_{yx}^\top$. The theory says
# $\Gamma_{\rm eff} \to c^* I$ and the loss $\to L^*$.

# %%
n = 20
TRAIN = dict(steps=1000, batch_size=1024, lr=2e-2)  # quick sizes; see rmt-icl lsa-train --help
dist_iso = PromptDistribution(d, n, sigma2)
gamma_iso, loss_iso = dist_iso.theory()
t = time.perf_counter()
res_iso = train_lsa(dist_iso, seed=0, **TRAIN)
ev_iso = evaluate_lsa(res_iso.model, dist_iso, n_prompts=100_000, gamma_ref=gamma_iso, seed=0)
print(f"trained in {time.perf_counter() - t:.1f} s")
print(f"c* = {gamma_iso[0, 0]:.4f};  diag Gamma_eff = {np.round(np.diag(res_iso.gamma_eff), 4)}")
print(f"label-free / label-quadratic weights (-> 0): {np.round(res_iso.model.even_part(), 5)}")

# %%
def plot_training(res, loss_star, zero_loss, title):
    """Learning curve (left) and Gamma_eff next to Gamma* (right)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True,
                             gridspec_kw=dict(width_ratios=[1.4, 1, 1]))
    ax = axes[0]
    ax.plot(res.curve_steps, res.curve_loss, color=PALETTE[0], label="training loss (batch mean)")
    ax.axhline(loss_star, color="k", lw=1.2, label="theory $L^*$")
    ax.axhline(zero_loss, color="k", ls=":", lw=1, label="zero predictor")
    ax.set(xlabel="Adam step", ylabel="loss $E(\\hat y - y_q)^2$", yscale="log", title=title)
    ax.legend(fontsize=8)
    return fig, axes


def show_gammas(axes, gamma_eff, gamma_star):
    vmax = np.abs(gamma_star).max()
    for ax, mat, lab in ((axes[1], gamma_eff, "trained $\\Gamma_{\\rm eff}$"),
                         (axes[2], gamma_star, "theory $\\Gamma^*$")):
        im = ax.imshow(mat, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        for (a, b), v in np.ndenumerate(mat):
            ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="w" if abs(v) > 0.6 * vmax else "k")
        ax.set(title=lab, xticks=[], yticks=[])
        ax.grid(False)
    plt.colorbar(im, ax=list(axes[1:]), shrink=0.8)


fig, axes = plot_training(res_iso, loss_iso, d + sigma2,
                          f"isotropic, $d={d}$, $n={n}$, $\\sigma^2={sigma2}$")
show_gammas(axes, res_iso.gamma_eff, gamma_iso)
plt.show()

# %% [markdown]
# **Check:** $\Gamma_{\rm eff}$ is within 5 % of $c^*I$ (relative Frobenius distance), and the
# held-out loss on $10^5$ fresh prompts matches the closed-form $L^*$ within 4 standard errors.
# The paired difference with the exact $\Gamma^*$ predictor on the same prompts is tiny.

# %%
def report(name, res, ev, gamma_star, loss_star):
    rel = rel_frobenius(res.gamma_eff, gamma_star)
    gap = (ev.loss - loss_star) / ev.se
    print(f"{name}: ||G_eff - G*||/||G*|| = {rel:.2%};  held-out loss {ev.loss:.4f} +- "
          f"{ev.se:.4f} vs L* = {loss_star:.4f} ({gap:+.2f} SE);  paired excess over G* "
          f"{ev.diff:.5f} +- {ev.diff_se:.5f}")
    assert rel < 0.05
    assert abs(gap) < 4


report("isotropic", res_iso, ev_iso, gamma_iso, loss_iso)

# %% [markdown]
# ## 4. Anisotropic covariates: a genuine preconditioner
#
# With $x \sim N(0, \Sigma)$, $\Sigma = I + 3 e_1 e_1^\top$ and $w \sim N(0, I)$, the optimum is
# the Zhang–Frei–Bartlett / Ahn et al. preconditioner
#
# $$\Gamma^* = \Big(\tfrac{n+1}{n}\Sigma
#   + \tfrac{\operatorname{tr}\Sigma + \sigma^2}{n} I\Big)^{-1},$$
#
# which is **not** $c^*\Sigma^{-1}$ (that would be optimal only for the prior
# $w\sim N(0,\Sigma^{-1})$, Mahankali et al. Thm 2). We train from the ZFB start
# (`init="zfb"`: $p_x = q_{yx} = 0$), which avoids a non-global stationary point that a fully
# random start can stall at for strongly anisotropic covariates (see the `train_lsa` docstring).

# %%
cov = parse_cov("spiked:3", d)
dist_sp = PromptDistribution(d, n, sigma2, cov_x=cov)
opt_sp = optimal_lsa(cov, None, n=n, noise_var=sigma2)
naive = float(one_step_gd_optimum(n=n, d=d, noise_var=sigma2).step) * np.linalg.inv(cov)
res_sp = train_lsa(dist_sp, seed=0, init="zfb", **TRAIN)
ev_sp = evaluate_lsa(res_sp.model, dist_sp, n_prompts=100_000, gamma_ref=opt_sp.gamma, seed=0)
fig, axes = plot_training(res_sp, opt_sp.loss, np.trace(cov) + sigma2,
                          "spiked $\\Sigma = I + 3e_1e_1^\\top$, $w \\sim N(0, I)$")
show_gammas(axes, res_sp.gamma_eff, opt_sp.gamma)
plt.show()
print("eigenvalues of Gamma*      :", np.round(opt_sp.preconditioner_eigenvalues, 4))
print("eigenvalues of Gamma_eff   :", np.round(np.linalg.eigvalsh(res_sp.gamma_eff), 4))
print("eigenvalues of c* Sigma^-1 :", np.round(np.linalg.eigvalsh(naive), 4))

# %% [markdown]
# **Check:** the trained preconditioner matches the ZFB $\Gamma^*$ and is measurably *not*
# the naive $c^*\Sigma^{-1}$.

# %%
report("spiked", res_sp, ev_sp, opt_sp.gamma, opt_sp.loss)
print(f"distance to naive c* Sigma^-1: {rel_frobenius(res_sp.gamma_eff, naive):.2%}")
assert rel_frobenius(res_sp.gamma_eff, naive) > 0.05

# %% [markdown]
# ## 5. A nonlinear target: the linear formula is wrong
#
# For $y = s\,\mathrm{ReLU}(u^\top x) + \varepsilon$ with a random direction $u$ and sign $s$
# (Mahankali et al. Thm 3; the target `signed:relu` of `rmt_icl.core.targets`), the optimal
# LSA is still $c^*_f I$, but $c^*_f$ depends on the target's moments $E\|g_f\|^2$,
# $E[f^2\|x\|^2]$ through
# $c^*_f = n E\|g_f\|^2 / (E[y^2\|x\|^2] + (n-1)E\|g_f\|^2)$, $g_f = E_x[x f(x)]$.

# %%
nl = one_step_gd_nonlinear("signed:relu", n=n, d=d, noise_var=sigma2)
print(f"ReLU target: c*_f = {nl.step:.4f}  vs linear-target formula {nl.linear_step:.4f};  "
      f"L*_f = {nl.loss:.4f}")
dist_relu = PromptDistribution(d, n, sigma2, target="signed:relu")
res_relu = train_lsa(dist_relu, seed=0, **TRAIN)
ev_relu = evaluate_lsa(res_relu.model, dist_relu, n_prompts=100_000,
                       gamma_ref=nl.step * np.eye(d), seed=0)
print(f"diag Gamma_eff = {np.round(np.diag(res_relu.gamma_eff), 4)}")

# %%
report("relu target", res_relu, ev_relu, nl.step * np.eye(d), nl.loss)
lin_rel = rel_frobenius(res_relu.gamma_eff, nl.linear_step * np.eye(d))
print(f"distance to the linear-target c* I: {lin_rel:.1%}")
assert lin_rel > 0.2
print(f"notebook run time: {time.perf_counter() - T0:.1f} s")

# %% [markdown]
# ## Take-aways
#
# * The pretraining optimum of one-layer LSA is exactly one preconditioned GD step; trained
#   weights find it from a random start (paper sizes: `rmt-icl lsa-train --d 5 --n 20
#   --noise 0.5 --steps 6000 --batch 4096 --lr 3e-3`).
# * The preconditioner adapts to the covariate *and* the prior covariance (ZFB form), and the
#   step to the target's nonlinearity (Thm 3): using the isotropic linear formula is off by
#   30 % for a ReLU target.
# * As an estimator, one GD step never blows up (least squares does at $n \approx d$) but is
#   far from Bayes ridge once $n \gtrsim 2d$; tuned multi-step GD (what deeper linear
#   transformers can implement) closes much of the gap.
