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
# # 01 · Hermite expansions of activations
#
# Random-feature and random-transformer theories see an activation $\sigma$ only through its
# Hermite coefficients: the linear part $\mu_1 = c_1$, the mean $\mu_0 = c_0$, and the
# "nonlinear noise" $\mu_* = c^*_1$ of the Gaussian-equivalence principle, or more generally
# the degree-$P$ polynomial part and its residual $c^*_P$ (the Hermite-equivalent models of
# notebook 03). This notebook shows how `rmt_icl.hermite` computes them, how fast the
# truncation error decays, and how the dual kernel $E[\sigma(u)\sigma(u')]$ follows from the
# Mehler series, for built-in activations **and** an activation you write yourself.
#
# **Conventions** (`docs/hermite.md`): $z \sim N(0,1)$; $\mathrm{He}_k$ are the
# probabilists' Hermite polynomials ($\mathrm{He}_{k+1} = z\,\mathrm{He}_k - k\,\mathrm{He}_{k-1}$,
# $E[\mathrm{He}_i \mathrm{He}_j] = i!\,\delta_{ij}$); the pre-activation is $u = \sqrt v\, z$
# (`variance=v`, default 1), and
#
# $$c_k = \frac{E[\sigma(\sqrt v z)\,\mathrm{He}_k(z)]}{k!},\qquad
#   E\sigma^2 = \sum_k k!\,c_k^2 \ \text{(Parseval)},\qquad
#   c^*_P = \Big(E\sigma^2 - \sum_{k\le P} k!\,c_k^2\Big)^{1/2}.$$
#
# In the toolkit's ICL models the covariates are $x\sim N(0, I_d/d)$ and the first-layer
# weights are normalised so that pre-activations have $O(1)$ variance $v$; the noise variance
# is called $\rho$ there. (Careful: in `dual_kernel` the argument `rho` is a *correlation*.)

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np

from rmt_icl import (
    dual_kernel,
    get_activation,
    hermite_coefficients,
    hermite_expansion,
    hermite_residual,
    hermite_series,
)
from rmt_icl.hermite import MAX_DEGREE, activation_names
from rmt_icl.reporting.style import MARKERS, PALETTE, apply_style

apply_style()
T0 = time.perf_counter()
print("registered activations:", ", ".join(activation_names()))

# %% [markdown]
# ## 1. Coefficients
#
# `hermite_coefficients(act, P)` returns $c_0, \dots, c_P$; `hermite_expansion` returns an
# object with the coefficients, the energies $k!\,c_k^2$, the residuals $c^*_0..c^*_P$, $E\sigma^2$,
# the method used (closed form where one is registered, otherwise adaptive Gauss–Legendre
# quadrature) and an error estimate. ReLU's closed form: $c_0 = 1/\sqrt{2\pi}$, $c_1 = 1/2$,
# $c_2 = 1/(2\sqrt{2\pi})$, odd $c_{k\ge3} = 0$.

# %%
relu = hermite_expansion("relu", 4)
print("relu c_0..c_4      :", np.round(relu.coefficients, 6))
exact = np.array([1 / math.sqrt(2 * math.pi), 0.5, 1 / (2 * math.sqrt(2 * math.pi)), 0.0,
                  -1 / (24 * math.sqrt(2 * math.pi))])
print("closed form        :", np.round(exact, 6))
print(f"E sigma^2 = {relu.second_moment},  c*_4 = {relu.residual:.6f},  "
      f"mu_0, mu_1, mu_* = {relu.coefficients[0]:.4f}, {relu.coefficients[1]:.4f}, "
      f"{relu.residuals[1]:.4f}")
assert np.allclose(relu.coefficients, exact, atol=1e-15)

acts = ["relu", "gelu", "tanh", "erf", "sign", "silu"]
P = 12
fig, ax = plt.subplots(figsize=(6.4, 3.8))
for i, a in enumerate(acts):
    e = hermite_expansion(a, P)
    k = np.arange(P + 1)
    nz = e.energies > 1e-30
    ax.semilogy(k[nz], e.energies[nz], MARKERS[i] + "-", color=PALETTE[i], lw=1,
                label=f"{a} ({e.method})")
ax.set(xlabel="degree $k$", ylabel="energy $k!\\,c_k^2$",
       title="Hermite energies (variance $v=1$; zeros omitted)")
ax.legend(fontsize=8, ncol=2)
plt.show()

# %% [markdown]
# **Check:** the quadrature path reproduces closed forms, and both agree with the independent
# arbitrary-precision mpmath path (30 digits).

# %%
for a in ("gelu", "erf", "relu"):
    cf = hermite_coefficients(a, 10, method="closed_form")
    qd = hermite_coefficients(a, 10, method="quadrature")
    print(f"{a:5s}: max |closed form - quadrature| = {np.abs(cf - qd).max():.1e}")
    assert np.abs(cf - qd).max() < 1e-13
mp = hermite_coefficients("tanh", 8, method="mpmath", precision=30)
qd = hermite_coefficients("tanh", 8)
print(f"tanh : max |quadrature - mpmath(30 digits)| = {np.abs(mp - qd).max():.1e}")
assert np.abs(mp - qd).max() < 1e-13

# %% [markdown]
# ## 2. Truncation error $c^*_P$ against $P$
#
# How much of $\sigma$ does a degree-$P$ polynomial miss? Smooth activations (erf, tanh,
# gelu) lose their energy geometrically fast; kinks make it algebraic: for ReLU
# $k!\,c_k^2 \sim k^{-5/2}$ on even $k$, so $c^*_P \sim P^{-3/4}$; a jump (sign) gives
# $c^*_P \sim P^{-1/4}$. This is what sets the degree a Hermite-equivalent model needs.

# %%
Ps = np.arange(1, MAX_DEGREE + 1)
fig, ax = plt.subplots(figsize=(6.4, 4))
for i, a in enumerate(acts):
    r = hermite_expansion(a, MAX_DEGREE).residuals[1:]
    keep = r > 1e-14
    ax.loglog(Ps[keep], r[keep], color=PALETTE[i], label=a)
ax.loglog(Ps, 0.55 * Ps ** -0.75, "k:", lw=1, label="$\\propto P^{-3/4}$")
ax.loglog(Ps, 0.8 * Ps ** -0.25, "k--", lw=1, label="$\\propto P^{-1/4}$")
ax.set(xlabel="degree $P$", ylabel="residual $c^*_P$", ylim=(1e-14, 2),
       title="Truncation error of the degree-$P$ Hermite polynomial")
ax.legend(fontsize=8, ncol=2)
plt.show()

# %% [markdown]
# **Check:** the fitted decay exponent of ReLU's residual between $P = 40$ and $P = 170$ is
# $-3/4$, and Parseval holds: $\sum_{k\le P} k!c_k^2 + (c^*_P)^2 = E\sigma^2$ (for the
# quadrature path $c^*_P$ is integrated directly, so this is a genuine check).

# %%
r = hermite_expansion("relu", MAX_DEGREE).residuals
even = np.arange(40, MAX_DEGREE + 1, 2)
slope = np.polyfit(np.log(even), np.log(r[even]), 1)[0]
print(f"relu: fitted exponent of c*_P = {slope:.3f} (theory -0.75)")
assert abs(slope + 0.75) < 0.03
for a in ("tanh", "silu", "softplus", "elu"):
    e = hermite_expansion(a, 10)
    parseval = e.energies.sum() + e.residual**2
    print(f"{a:8s}: sum k! c_k^2 + c*_10^2 = {parseval:.15f}   E sigma^2 = "
          f"{e.second_moment:.15f}   (error estimate {e.error:.1e})")
    assert abs(parseval - e.second_moment) < 1e-12

# %% [markdown]
# ## 3. Dual kernels: the Mehler series against closed forms
#
# For standard Gaussians $z, z'$ with correlation $r$, Mehler's formula gives
#
# $$E[\sigma(\sqrt v z)\,\sigma(\sqrt v z')] = \sum_k k!\,c_k^2\, r^k,$$
#
# and truncating at degree $P$ leaves a tail bounded by $(c^*_P)^2 |r|^{P+1}$. Closed forms:
#
# * ReLU, the arc-cosine kernel of degree 1 (Cho & Saul 2009):
#   $\frac{1}{2\pi}\big(\sqrt{1-r^2} + (\pi - \arccos r)\, r\big)$;
# * $\mathrm{erf}(a u)$ (Williams 1997): $\frac{2}{\pi}\arcsin\frac{2a^2 r}{1 + 2a^2}$;
# * sign: $\frac{2}{\pi}\arcsin r$.
#
# `dual_kernel(act, r, degree=P, return_bound=True)` returns the truncated series and its
# bound; `degree=None` picks the smallest degree whose bound is below $10^{-14}$ (for
# kinked activations near $|r| = 1$ that can be the maximal degree 170).

# %%
def arccos_kernel(r):
    return (np.sqrt(1 - r**2) + (np.pi - np.arccos(r)) * r) / (2 * np.pi)


closed = {
    "relu": arccos_kernel,
    "erf": lambda r: 2 / np.pi * np.arcsin(2 * r / 3),
    "sign": lambda r: 2 / np.pi * np.arcsin(r),
}
r = np.linspace(-1, 1, 401)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
for i, degree in enumerate((1, 2, 4, 10, 40)):
    k, bound = dual_kernel("relu", r, degree=degree, return_bound=True)
    axes[0].plot(r, k, color=PALETTE[i], lw=1.2, label=f"Mehler, $P={degree}$")
    err = np.abs(k - arccos_kernel(r))
    axes[1].semilogy(r, np.maximum(err, 1e-17), color=PALETTE[i], label=f"$P={degree}$")
    axes[1].semilogy(r, np.maximum(bound, 1e-17), ":", color=PALETTE[i], lw=1)
axes[0].plot(r, arccos_kernel(r), "k--", lw=1.2, label="arc-cosine (closed form)")
axes[0].set(xlabel="correlation $r$", ylabel="$E[\\mathrm{relu}(z)\\,\\mathrm{relu}(z')]$",
            title="ReLU dual kernel")
axes[1].set(xlabel="correlation $r$", ylabel="|series - closed form|", ylim=(1e-17, 1),
            title="error (solid) and the tail bound $(c^*_P)^2|r|^{P+1}$ (dotted)")
axes[0].legend(fontsize=8)
axes[1].legend(fontsize=8, ncol=2)
plt.show()

# %% [markdown]
# **Check:** at every degree and correlation the actual error is within the bound. With the
# automatic degree the series matches the closed forms of ReLU and erf to ~1e-14 for
# $|r| \le 0.9$; sign's energies decay so slowly ($k!c_k^2 \sim k^{-3/2}$) that even the maximal
# degree 170 leaves a tail of ~1e-9 at $|r| = 0.9$, which the returned bound reports.

# %%
for name, f in closed.items():
    for degree in (3, 10, 50):
        k, bound = dual_kernel(name, r, degree=degree, return_bound=True)
        assert np.all(np.abs(k - f(r)) <= bound + 1e-14), (name, degree)
    inner = np.abs(r) <= 0.9
    k, bound = dual_kernel(name, r[inner], return_bound=True)
    print(f"{name:5s}: bound respected at P = 3, 10, 50;  automatic degree, |r| <= 0.9: "
          f"max error {np.abs(k - f(r[inner])).max():.1e} (max bound {bound.max():.1e})")
    assert np.all(np.abs(k - f(r[inner])) <= bound + 1e-14)

# %% [markdown]
# ## 4. Your own activation
#
# Any numpy-vectorised (or scalar) Python callable works; declare its kinks with `kinks=[...]`
# so the quadrature splits there. Two examples:
#
# * `smooth`: $\tanh(u) + 0.1\,u^2$. Adding a degree-2 polynomial changes $c_0$ and $c_2$
#   only, so $c^*_P$ must equal tanh's for every $P \ge 2$;
# * `shifted_relu`: $\max(u - 0.3, 0)$, with a kink at $u = 0.3$ — at variance $v = 2$.
#
# We check both against an independent Monte Carlo estimate of
# $c_k = E[\sigma(\sqrt v z)\mathrm{He}_k(z)]/k!$ with $4\cdot10^6$ samples (error bars = one
# standard error), and the dual kernel against Monte Carlo over correlated pairs.

# %%
def smooth(u):
    return np.tanh(u) + 0.1 * u**2


def shifted_relu(u):
    return np.maximum(u - 0.3, 0.0)


e_smooth = hermite_expansion(smooth, 10)
e_tanh = hermite_expansion("tanh", 10)
print("smooth  c_0..c_4:", np.round(e_smooth.coefficients[:5], 6), "method:", e_smooth.method)
print("tanh    c_0..c_4:", np.round(e_tanh.coefficients[:5], 6))
print("c*_P, P = 2..6, smooth:", np.round(e_smooth.residuals[2:7], 10))
print("c*_P, P = 2..6, tanh  :", np.round(e_tanh.residuals[2:7], 10))
assert np.allclose(e_smooth.residuals[2:], e_tanh.residuals[2:], atol=1e-13)
assert abs(e_smooth.coefficients[0] - 0.1) < 1e-14 and abs(e_smooth.coefficients[2] - 0.1) < 1e-14

v = 2.0
e_sr = hermite_expansion(shifted_relu, 8, variance=v, kinks=[0.3])
print(f"\nshifted relu at v = {v}: c_0..c_8 = {np.round(e_sr.coefficients, 6)}")
print(f"  E sigma^2 = {e_sr.second_moment:.12f}, c*_8 = {e_sr.residual:.6f}, "
      f"error estimate {e_sr.error:.1e}")

# %% [markdown]
# Monte Carlo check of the shifted-ReLU coefficients (the $\mathrm{He}_k$ are evaluated with
# numpy's `hermite_e` module, independent of the toolkit's kernels):

# %%
rng = np.random.default_rng(0)
z = rng.standard_normal(4_000_000)
sig = shifted_relu(math.sqrt(v) * z)
print(" k    quadrature c_k     Monte Carlo c_k (+- SE)     gap/SE")
worst = 0.0
for kk in range(9):
    he = np.polynomial.hermite_e.hermeval(z, np.eye(9)[kk])
    vals = sig * he / math.factorial(kk)
    mc, se = vals.mean(), vals.std(ddof=1) / math.sqrt(z.size)
    worst = max(worst, abs(mc - e_sr.coefficients[kk]) / se)
    print(f"{kk:2d}   {e_sr.coefficients[kk]: .8f}     {mc: .8f} +- {se:.8f}     "
          f"{(mc - e_sr.coefficients[kk]) / se:+.2f}")
print(f"largest gap: {worst:.2f} SE")
assert worst < 4

# %% [markdown]
# The series reconstruction $\sum_{k\le P} c_k \mathrm{He}_k(z)$ (`hermite_series`, a numba
# kernel; `HermiteExpansion` objects are callable too) converges in $L^2(N(0,1))$: pointwise
# it rounds the kink and misbehaves in the far tails, where the Gaussian weight is negligible.

# %%
zz = np.linspace(-3, 3, 601)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
panels = (("smooth", smooth, 1.0, ()), ("shifted_relu", shifted_relu, v, [0.3]))
for ax, (name, f, var, kinks) in zip(axes, panels, strict=False):
    ax.plot(zz, f(math.sqrt(var) * zz), "k", lw=2.2, label=f"{name}$(\\sqrt{{v}}z)$, $v={var:g}$")
    for i, Pdeg in enumerate((1, 3, 8, 20)):
        c = hermite_coefficients(f, Pdeg, variance=var, kinks=kinks)
        res = hermite_residual(f, Pdeg, variance=var, kinks=kinks)
        ax.plot(zz, hermite_series(zz, c), color=PALETTE[i], lw=1.2,
                label=f"$P={Pdeg}$, $c^*_P={res:.3f}$")
    ax.set(xlabel="$z$", title=f"user activation `{name}`")
    ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **Check:** the dual kernel of the user activation against a Monte Carlo average over pairs
# $(z, z') $ with correlation $r$ ($10^6$ pairs per $r$).

# %%
rs = np.array([-0.8, -0.3, 0.0, 0.5, 0.9])
k_series, k_bound = dual_kernel(shifted_relu, rs, variance=v, return_bound=True)
z1 = rng.standard_normal(1_000_000)
z2 = rng.standard_normal(1_000_000)
print("   r    Mehler series   tail bound    Monte Carlo (+- SE)     gap/SE")
for rr, ks, kb in zip(rs, k_series, k_bound, strict=False):
    zp = rr * z1 + math.sqrt(1 - rr**2) * z2
    prod = shifted_relu(math.sqrt(v) * z1) * shifted_relu(math.sqrt(v) * zp)
    mc, se = prod.mean(), prod.std(ddof=1) / math.sqrt(prod.size)
    print(f"{rr:5.1f}   {ks:.8f}     {kb:.1e}     {mc:.6f} +- {se:.6f}     {(mc - ks) / se:+.2f}")
    assert abs(mc - ks) < 4 * se + kb

# %% [markdown]
# ## 5. Dependence on the pre-activation variance
#
# The Gaussian-equivalence constants $\mu_0 = c_0$, $\mu_1 = c_1$, $\mu_* = c^*_1$ depend on
# the pre-activation variance $v$. For ReLU they scale as $\sqrt v$ (positive homogeneity);
# tanh saturates, so its linear part shrinks relative to its nonlinear part as $v$ grows.

# %%
vs = np.logspace(-2, 2, 41)
fig, ax = plt.subplots(figsize=(6.4, 3.8))
for i, a in enumerate(("relu", "tanh")):
    mu = np.array([[*hermite_coefficients(a, 1, variance=x), hermite_residual(a, 1, variance=x)]
                   for x in vs])
    for j, (lab, ls) in enumerate((("\\mu_0", ":"), ("\\mu_1", "-"), ("\\mu_*", "--"))):
        ax.loglog(vs, np.maximum(mu[:, j], 1e-17), ls, color=PALETTE[i],
                  label=f"{a} ${lab}$" if mu[:, j].max() > 1e-12 else None)
ax.set(xlabel="pre-activation variance $v$", ylabel="constant", ylim=(1e-3, 20),
       title="Gaussian-equivalence constants vs $v$")
ax.legend(fontsize=8, ncol=2)
plt.show()
relu_mu = np.array([hermite_residual("relu", 1, variance=x) for x in vs])
assert np.allclose(relu_mu / np.sqrt(vs), math.sqrt(0.25 - 1 / (2 * math.pi)), rtol=1e-12)

# also available: the activation registry's numpy callables and their parameters
lrelu = get_activation("leaky_relu", slope=0.1)
print(lrelu.name, lrelu.params, "kinks:", lrelu.kinks, "sigma(-1), sigma(2) =",
      lrelu(np.array([-1.0, 2.0])))
print(f"erf(2u) c_1 vs closed form 2t/sqrt(pi(1+2t^2)), t = 2: "
      f"{hermite_coefficients('erf', 1, params={'a': 2.0})[1]:.12f} vs "
      f"{4 / math.sqrt(math.pi * 9):.12f}")
print(f"notebook run time: {time.perf_counter() - T0:.1f} s")
