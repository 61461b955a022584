"""Benchmark: vectorised linear-attention theory at 1e5 random ridge > 0 points vs brentq per point.

Measures, in one run,

* the wall time of one vectorised call of :func:`rmt_icl.theory.linear_attention_icl_error` on
  ``N`` random ``(tau, alpha, kappa, rho, ridge > 0)`` points (best of ``--repeats``), and of the
  fixed-point solve alone;
* a straightforward reference: for each point, ``scipy.optimize.brentq`` on the fixed point
  followed by the scalar ICL formula. It is timed on a random subsample (default 1000 points)
  and extrapolated linearly to ``N`` (stated in the output);
* the maximum absolute difference of ``e_ICL`` and the maximum relative difference of ``eps``
  between the two on the subsample.

Target: 1e5 points "well under a second".

Usage::

    python benchmarks/bench_la_theory.py [--n 100000] [--sub 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.optimize import brentq

from rmt_icl.theory import linear_attention_fixed_point, linear_attention_icl_error


def random_points(n: int, seed: int):
    """Log-uniform tau, alpha in [1e-2, 1e2], [1e-1, 1e3]; kappa in [1e-2, 1e2] (10% inf);
    rho uniform in [0, 2]; ridge log-uniform in [1e-8, 1e2]."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    tau = 10 ** rng.uniform(-2, 2, n)
    alpha = 10 ** rng.uniform(-1, 3, n)
    kappa = np.where(rng.random(n) < 0.1, np.inf, 10 ** rng.uniform(-2, 2, n))
    rho = rng.uniform(0, 2, n)
    ridge = 10 ** rng.uniform(-8, 2, n)
    return tau, alpha, kappa, rho, ridge


def _M(x, kappa):
    if math.isinf(kappa):
        return 1 / (1 + x), -1 / (1 + x) ** 2
    a = x + 1 - 1 / kappa
    r = math.sqrt(a * a + 4 * x / kappa)
    m = 2 / (a + r) if a >= 0 else kappa * (r - a) / (2 * x)
    return m, -0.5 * m * m * (1 + (x + 1 + 1 / kappa) / r)


def reference_point(tau, alpha, kappa, rho, lam):
    """Straightforward scalar reference: brentq on (lam, hi) with hi found by doubling."""
    q = (1 + rho) / alpha

    def f(e):
        return e * _M(e + q, kappa)[0] - (1 - tau) - tau * lam / e

    hi = 2 * lam
    while f(hi) < 0:
        hi *= 2
    eps = brentq(f, lam, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    nu = q + eps
    m, dm = _M(nu, kappa)
    c = (rho + nu - nu * nu * m - eps * (1 - 2 * nu * m - nu * nu * dm)) / (
        tau - 1 + 2 * eps * m + eps * eps * dm
    )
    e = (1 + q) * (1 - 2 * nu * m - nu * nu * dm + c * (m + eps * dm)) - 2 * (1 - nu * m) + 1 + rho
    return eps, e


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--sub", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    pts = random_points(args.n, args.seed)
    ratios = dict(zip(("tau", "alpha", "kappa", "rho", "ridge"), pts, strict=True))
    linear_attention_icl_error(**{k: v[:10] for k, v in ratios.items()})  # warm-up (imports)

    t_icl, t_fp = math.inf, math.inf
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        e_vec = linear_attention_icl_error(**ratios)
        t_icl = min(t_icl, time.perf_counter() - t0)
        t0 = time.perf_counter()
        eps_vec = linear_attention_fixed_point(**ratios)
        t_fp = min(t_fp, time.perf_counter() - t0)

    rng = np.random.default_rng(np.random.SeedSequence([args.seed, 1]))
    idx = rng.choice(args.n, size=min(args.sub, args.n), replace=False)
    t0 = time.perf_counter()
    ref = [reference_point(*(float(a[i]) for a in pts)) for i in idx]
    t_ref_sub = time.perf_counter() - t0
    eps_ref = np.array([r[0] for r in ref])
    e_ref = np.array([r[1] for r in ref])
    t_ref = t_ref_sub * args.n / idx.size

    print(f"points N = {args.n} (tau, alpha, kappa, rho, ridge > 0), seed {args.seed}")
    print(
        f"vectorised e_ICL (incl. fixed point): {t_icl:.4f} s  = {1e6 * t_icl / args.n:.3f} us/pt"
    )
    print(f"vectorised fixed point alone        : {t_fp:.4f} s  = {1e6 * t_fp / args.n:.3f} us/pt")
    print(
        f"brentq per point reference          : {t_ref_sub:.3f} s on {idx.size} points "
        f"-> extrapolated {t_ref:.2f} s for N = {args.n} ({1e6 * t_ref_sub / idx.size:.1f} us/pt)"
    )
    print(f"speed-up vs reference (e_ICL)       : {t_ref / t_icl:.0f}x")
    print(
        f"max |e_ICL vec - ref| on subsample  : {np.max(np.abs(e_vec[idx] - e_ref)):.3e} "
        f"(relative {np.max(np.abs(e_vec[idx] / e_ref - 1)):.3e}; e_ICL up to {e_ref.max():.3g})"
    )
    print(f"max rel |eps vec - ref| on subsample: {np.max(np.abs(eps_vec[idx] / eps_ref - 1)):.3e}")
    print(f"target 'well under 1 s' for 1e5 pts : {'met' if t_icl < 0.5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
