"""Identity random transformer: deterministic equivalent vs Monte Carlo, gap vs d, and speed.

For ``sigma = identity`` the random transformer is the linear-attention predictor with
``vec Gamma = F^T a / sqrt(k)``; its ICL error is evaluated EXACTLY (no test sampling) with
:func:`rmt_icl.simulate.test_error.linear_attention_test_error`. Each run draws new tasks,
prompts and a new first layer ``F`` (rows ``N(0, I_D/t)``, ``t`` = exact ``Tr Cov vec H``), fits
``a = (Phi^T Phi + lambda_bar I)^{-1} Phi^T y`` and records the exact error for every width
ratio (the widths of one run share the columns of one Gaussian matrix). The same prompts also
give the linear-attention fit at the matching ridge ``lambda_LA = d t lambda_bar / n``, so the
paired difference RT - LA isolates the sketch's contribution from Lu's own finite-d gap.

Usage::

    python validation/rt_identity_de.py --ds 16 24 32 48 --runs 8
    python validation/rt_identity_de.py --speed-only

Prints, per point and d: Monte Carlo mean +- SE (over runs), theory at the realised ratios,
the gap (MC - theory) and the paired gap of (RT - LA).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from rmt_icl.core.seeding import run_seed, stream
from rmt_icl.core.stats import mean_se
from rmt_icl.simulate.data import sample_training_prompts
from rmt_icl.simulate.normalisation import t_analytic
from rmt_icl.simulate.paths import ScalingPath
from rmt_icl.simulate.test_error import linear_attention_test_error
from rmt_icl.theory.linear_attention import linear_attention_icl_error
from rmt_icl.theory.random_transformer import random_transformer_icl_error

# (alpha, tau, kappa, rho, ridge_bar, width ratios): both sides of the tau < 1 peak (psi = 1)
POINTS = [
    (2.0, 2.0, math.inf, 0.1, 1e-2, (0.5, 2.0)),
    (2.0, 0.5, math.inf, 0.1, 1e-2, (0.5, 2.0)),
    (1.0, 2.0, math.inf, 0.1, 1e-4, (0.5, 2.0)),
    (4.0, 0.5, math.inf, 0.1, 1e-4, (0.5, 2.0)),
    (2.0, 2.0, 2.0, 0.1, 1e-2, (0.5, 2.0)),
    # moderate ridges: the default test suite's paired points (tests/test_theory_random_...)
    (2.0, 2.0, math.inf, 0.1, 0.5, (0.5,)),
    (2.0, 0.5, math.inf, 0.1, 0.1, (2.0,)),
]


def simulate_identity_rt(d, alpha, tau, kappa, rho, ridge, psis, seed=0, run=0):
    """One run: exact ICL errors of the identity RT (one per width ratio) and of LA."""
    path = ScalingPath(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=ridge)
    sz = path.sizes(d)
    ss = run_seed(seed, run, (d,))
    p, _ = sample_training_prompts(ss, sz, "linear", rho, task_order="blocks")
    X = (p.xq[:, :, None] * p.h[:, None, :]).reshape(sz.n, -1)
    A = X.T @ X
    b = X.T @ p.y
    del X
    t = t_analytic(d, sz.ell, "linear", rho)
    D = sz.D
    out = {}
    beta = np.linalg.solve(A + t * ridge * np.eye(D), b)
    out["la"] = float(linear_attention_test_error(beta.reshape(d, d + 1), None, rho, ell=sz.ell))
    ks = [max(1, int(math.floor(psi * sz.n + 0.5))) for psi in psis]
    S_all = stream(ss, "features").standard_normal((D, max(ks))) / math.sqrt(t)
    for psi, k in zip(psis, ks, strict=True):
        S = S_all[:, :k] / math.sqrt(k)
        if k <= D:
            a = np.linalg.solve(S.T @ A @ S + ridge * np.eye(k), S.T @ b)
            beta = S @ a
        else:  # push-through: S (S^T A S + l)^{-1} S^T = (S S^T A + l)^{-1} S S^T
            P = S @ S.T
            beta = np.linalg.solve(P @ A + ridge * np.eye(D), P @ b)
        out[psi] = float(linear_attention_test_error(beta.reshape(d, d + 1), None, rho,
                                                     ell=sz.ell))
    out["sizes"] = sz
    return out


def study(ds, runs, points=POINTS, seed=0):
    rows = []
    for (alpha, tau, kappa, rho, ridge, psis) in points:
        for d in ds:
            t0 = time.perf_counter()
            res = [simulate_identity_rt(d, alpha, tau, kappa, rho, ridge, psis, seed, r)
                   for r in range(runs)]
            sec = (time.perf_counter() - t0) / runs
            sz = res[0]["sizes"]
            la_mc = np.array([r["la"] for r in res])
            lam_la = d * t_analytic(d, sz.ell, "linear", rho) * ridge / sz.n
            la_th = float(linear_attention_icl_error(alpha=sz.alpha, tau=sz.tau, kappa=sz.kappa,
                                                     rho=rho, ridge=lam_la))
            for psi in psis:
                rt_mc = np.array([r[psi] for r in res])
                k = max(1, int(math.floor(psi * sz.n + 0.5)))
                th = float(random_transformer_icl_error(
                    "identity", "linear", alpha=sz.alpha, tau=sz.tau, kappa=sz.kappa,
                    width_ratio=k / sz.n, rho=rho, ridge=ridge))
                diff = rt_mc - la_mc
                row = dict(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=ridge, psi=psi,
                           d=d, runs=runs, mc=rt_mc.mean(), se=mean_se(rt_mc)[1],
                           theory=th, gap=rt_mc.mean() - th,
                           la_mc=la_mc.mean(), la_theory=la_th,
                           paired_gap=diff.mean() - (th - la_th),
                           paired_se=mean_se(diff)[1], sec_per_run=sec)
                rows.append(row)
                print(f"a={alpha} tau={tau} kappa={kappa} ridge={ridge:g} psi={psi} d={d}: "
                      f"MC {row['mc']:.4f}+-{row['se']:.4f} theory {th:.4f} gap {row['gap']:+.4f}"
                      f" | RT-LA paired gap {row['paired_gap']:+.4f}+-{row['paired_se']:.4f}"
                      f" | LA MC {row['la_mc']:.4f} th {la_th:.4f} | {sec:.1f}s/run", flush=True)
    return rows


def speed(d=64):
    """Theory at 10^3 grid points vs one simulated point (one run) at dimension d."""
    g = np.meshgrid(np.linspace(0.5, 4, 10), np.linspace(0.5, 4, 10), np.geomspace(0.1, 10, 10))
    random_transformer_icl_error("identity", "linear", alpha=2.0, tau=2.0, kappa=np.inf,
                                 width_ratio=1.0, rho=0.1, ridge=1e-2)
    t0 = time.perf_counter()
    random_transformer_icl_error("identity", "linear", alpha=g[0], tau=g[1], kappa=np.inf,
                                 width_ratio=g[2], rho=0.1, ridge=1e-2)
    t_theory = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate_identity_rt(d, 2.0, 2.0, math.inf, 0.1, 1e-2, (1.0,))
    t_sim = time.perf_counter() - t0
    print(f"theory, 10^3 grid points: {t_theory * 1e3:.1f} ms; one simulated point (d={d}, "
          f"tau=2, psi=1, one run): {t_sim:.1f} s; ratio {t_sim / t_theory:.0f}")
    return t_theory, t_sim


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ds", type=int, nargs="+", default=[16, 24, 32])
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--points", type=int, nargs="*", help="indices into POINTS")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--speed-d", type=int, default=64)
    ap.add_argument("--json", help="write the rows to this JSON file")
    args = ap.parse_args()
    if args.speed_only:
        speed(args.speed_d)
        return
    pts = POINTS if args.points is None else [POINTS[i] for i in args.points]
    rows = study(args.ds, args.runs, pts, args.seed)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
