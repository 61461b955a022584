"""Gaussian-equivalent (p = 1) model: deterministic equivalent vs Monte Carlo, and RT vs p = 1.

Part A (``--part p1``): the p = 1 model ``phi = (mu0 + mu1 F vec H + mu* z)/sqrt(k)`` with
``z`` fresh Gaussian noise per (prompt, neuron) on train AND test. Its ICL error is evaluated
EXACTLY, without test sampling: with ``Gamma = mu1 reshape(F^T a)/sqrt(k)`` and
``c = mu0 sum(a)/sqrt(k)``, ``e = e_LA(Gamma) + mu*^2 ||a||^2/k + c^2`` (linear target, zero
mean; ``e_LA(Gamma)`` from :func:`rmt_icl.simulate.test_error.linear_attention_test_error`).
The same prompts give the linear-attention fit at ``lambda_LA = d t lambda_bar / n``, so the
paired difference (p1 - LA) cancels Lu's own finite-d gap.

Part B (``--part rt``): the random transformer itself against the p = 1 model on the same
prompts, ``F`` and test queries, with the toolkit's simulator
(:func:`rmt_icl.simulate.random_transformer.simulate_models`, sampled test errors), to measure
the Gaussian-equivalence gap RT - p1 as d grows.

Usage::

    python validation/rt_p1_de.py --part p1 --ds 16 24 32 48 --runs 6
    python validation/rt_p1_de.py --part rt --ds 16 24 32 48 --runs 4
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from rmt_icl.core.seeding import run_seed, stream
from rmt_icl.core.stats import mean_se
from rmt_icl.hermite import hermite_coefficients, hermite_residual
from rmt_icl.simulate.data import sample_training_prompts
from rmt_icl.simulate.normalisation import t_analytic
from rmt_icl.simulate.paths import ScalingPath
from rmt_icl.simulate.test_error import linear_attention_test_error
from rmt_icl.theory.linear_attention import linear_attention_icl_error
from rmt_icl.theory.random_transformer import random_transformer_auxiliaries

# (activation, alpha, tau, kappa, rho, ridge_bar, psi)
POINTS = [
    ("tanh", 2.0, 2.0, math.inf, 0.1, 0.5, 0.5),
    ("relu", 2.0, 2.0, math.inf, 0.1, 0.5, 0.5),
    ("tanh", 2.0, 0.5, math.inf, 0.1, 0.1, 2.0),
    ("relu", 2.0, 0.5, math.inf, 0.1, 0.1, 2.0),
    ("relu", 2.0, 2.0, math.inf, 0.1, 1e-2, 2.0),
    ("tanh", 2.0, 2.0, math.inf, 0.1, 1e-2, 0.5),
    ("relu", 2.0, 2.0, 2.0, 0.1, 0.1, 0.5),
]


def simulate_p1(d, activation, alpha, tau, kappa, rho, ridge, psi, seed=0, run=0):
    """One run of the p = 1 model and of linear attention on the same prompts (exact errors)."""
    mu0, mu1 = (float(c) for c in hermite_coefficients(activation, 1))
    mus = float(hermite_residual(activation, 1))
    sz = ScalingPath(alpha=alpha, tau=tau, kappa=kappa, rho=rho, width_ratio=psi).sizes(d)
    ss = run_seed(seed, run, (d,))
    p, _ = sample_training_prompts(ss, sz, "linear", rho, task_order="blocks")
    X = (p.xq[:, :, None] * p.h[:, None, :]).reshape(sz.n, -1)
    t = t_analytic(d, sz.ell, "linear", rho)
    n, k, D = sz.n, sz.k, sz.D
    S = stream(ss, "features").standard_normal((D, k)) / math.sqrt(t * k)
    Phi = mu1 * (X @ S)
    Phi += (mus / math.sqrt(k)) * stream(ss, "hermite_noise_train").standard_normal((n, k))
    Phi += mu0 / math.sqrt(k)
    if k <= n:
        a = np.linalg.solve(Phi.T @ Phi + ridge * np.eye(k), Phi.T @ p.y)
    else:
        a = Phi.T @ np.linalg.solve(Phi @ Phi.T + ridge * np.eye(n), p.y)
    del Phi
    gamma = (mu1 * (S @ a)).reshape(d, d + 1)
    c = mu0 * a.sum() / math.sqrt(k)
    e_p1 = float(linear_attention_test_error(gamma, None, rho, ell=sz.ell)) + mus**2 * (a @ a) / k
    e_p1 += c * c
    A = X.T @ X
    beta = np.linalg.solve(A + t * ridge * np.eye(D), X.T @ p.y)
    e_la = float(linear_attention_test_error(beta.reshape(d, d + 1), None, rho, ell=sz.ell))
    return sz, e_p1, e_la


def study_p1(ds, runs, points, seed=0):
    rows = []
    for (act, alpha, tau, kappa, rho, ridge, psi) in points:
        for d in ds:
            t0 = time.perf_counter()
            res = [simulate_p1(d, act, alpha, tau, kappa, rho, ridge, psi, seed, r)
                   for r in range(runs)]
            sec = (time.perf_counter() - t0) / runs
            sz = res[0][0]
            p1 = np.array([r[1] for r in res])
            la = np.array([r[2] for r in res])
            th = random_transformer_auxiliaries(act, "linear", alpha=sz.alpha, tau=sz.tau,
                                                kappa=sz.kappa, width_ratio=sz.k / sz.n, rho=rho,
                                                ridge=ridge, model="hermite1", y2_scale="la")
            la0 = float(linear_attention_icl_error(alpha=sz.alpha, tau=sz.tau, kappa=sz.kappa,
                                                   rho=rho, ridge=float(th.lambda_la_nominal)))
            diff = p1 - la
            row = dict(activation=act, alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=ridge,
                       psi=psi, d=d, runs=runs, mc=p1.mean(),
                       se=mean_se(p1)[1], theory=float(th.error),
                       gap=p1.mean() - float(th.error),
                       paired_gap=diff.mean() - (float(th.error) - la0),
                       paired_se=mean_se(diff)[1],
                       la_gap=la.mean() - la0, sec_per_run=sec)
            rows.append(row)
            print(f"p1 {act} a={alpha} tau={tau} kappa={kappa} ridge={ridge:g} psi={psi} d={d}:"
                  f" MC {row['mc']:.4f}+-{row['se']:.4f} theory {row['theory']:.4f} gap "
                  f"{row['gap']:+.4f} | paired {row['paired_gap']:+.4f}+-{row['paired_se']:.4f}"
                  f" | LA gap {row['la_gap']:+.4f} | {sec:.1f}s/run", flush=True)
    return rows


def study_rt(ds, runs, points, seed=0):
    from rmt_icl.simulate.random_transformer import simulate_models

    rows = []
    for (act, alpha, tau, kappa, rho, ridge, psi) in points:
        for d in ds:
            params = dict(d=d, alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=ridge,
                          width_ratio=psi, activation=act, target="linear", y2_scale=1.0)
            t0 = time.perf_counter()
            res = [simulate_models(params, run_seed(seed, r, (d,)), ("rt", "hermite:1"))
                   for r in range(runs)]
            sec = (time.perf_counter() - t0) / runs
            rt = np.array([r["rt"].icl for r in res])
            dif = np.array([r["hermite:1"].icl_minus_rt for r in res])
            r0 = res[0].run
            th = random_transformer_auxiliaries(act, "linear", alpha=r0.alpha_realised,
                                                tau=r0.tau_realised, kappa=r0.kappa_realised,
                                                width_ratio=r0.width_ratio_realised, rho=rho,
                                                ridge=ridge, model="hermite1", y2_scale="la")
            row = dict(activation=act, alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=ridge,
                       psi=psi, d=d, runs=runs, rt=rt.mean(),
                       rt_se=mean_se(rt)[1], p1_theory=float(th.error),
                       p1_minus_rt=dif.mean(), p1_minus_rt_se=mean_se(dif)[1],
                       sec_per_run=sec)
            rows.append(row)
            print(f"rt {act} a={alpha} tau={tau} kappa={kappa} ridge={ridge:g} psi={psi} d={d}:"
                  f" RT {row['rt']:.4f}+-{row['rt_se']:.4f} p1 theory {row['p1_theory']:.4f}"
                  f" RT-theory {row['rt'] - row['p1_theory']:+.4f} | p1-RT paired "
                  f"{row['p1_minus_rt']:+.4f}+-{row['p1_minus_rt_se']:.4f} | {sec:.1f}s/run",
                  flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("p1", "rt"), default="p1")
    ap.add_argument("--ds", type=int, nargs="+", default=[16, 24, 32])
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--points", type=int, nargs="*", help="indices into POINTS")
    ap.add_argument("--json", help="write the rows to this JSON file")
    args = ap.parse_args()
    pts = POINTS if args.points is None else [POINTS[i] for i in args.points]
    fn = study_p1 if args.part == "p1" else study_rt
    rows = fn(args.ds, args.runs, pts, args.seed)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
