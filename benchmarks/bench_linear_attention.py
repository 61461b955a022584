"""Benchmark: one linear-attention simulation at d = 60, tau = 1.5, kappa = inf.

Compares, in one run and on the same machine state,

* **ours** -- :func:`rmt_icl.simulate.linear_attention.simulate_point` (exact O(d) sampler,
  compressed-Gram dgemm, Cholesky, exact test error);
* **reference** -- a straightforward NumPy pipeline: prompts sampled with explicit contexts
  (``X`` of shape ``(ell, d)`` per prompt), features by ``einsum``, the explicit Gram
  ``Phi.T @ Phi`` (NumPy dispatches it to BLAS ``syrk``), ``numpy.linalg.solve``, and the same
  exact test error. A second reference fit on *our* prompts checks that both fits agree;
* **ours, mixed precision** -- the same with ``precision="mixed"`` (float32 Gram and
  Cholesky, float64 iterative refinement to 1e-12);
* **dgemm** -- a plain ``(P x n) @ (n x Q)`` product with the dimensions of our dominant phase
  (``P = d(d+1)/2``, ``Q = (d+1)(d+2)/2``), the yardstick of achievable GFLOP/s.

The parts are timed interleaved in one process for ``--repeat`` rounds and the minimum per
phase is reported (the machine may be shared); the peak RSS of each part is read from
``getrusage`` in a subprocess running that part once. Printed: the
speed ratios (fit phase and end to end), the dominant phase's GFLOP/s as a fraction of dgemm,
and the peak memory of each part.

Usage: ``python benchmarks/bench_linear_attention.py [--d 60] [--tau 1.5] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

import numpy as np

ALPHA, RHO, RIDGE = 1.0, 0.01, 1e-5


def _params(d, tau, precision="float64"):
    return {"d": d, "alpha": ALPHA, "tau": tau, "kappa": math.inf, "rho": RHO, "ridge": RIDGE,
            "precision": precision}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB


def part_ours(d, tau, repeat, precision="float64"):
    from rmt_icl.core.seeding import run_seed
    from rmt_icl.simulate.linear_attention import simulate_point

    simulate_point(_params(8, 1.5, precision), run_seed(0))   # warm-up (numba cache, imports)
    base = _rss_mb()
    rows = [simulate_point(_params(d, tau, precision), run_seed(0)) for _ in range(repeat)]
    best = min(rows, key=lambda r: r["t_total"])
    return {"t_total": best["t_total"], "t_sample": min(r["t_sample"] for r in rows),
            "t_gram": min(r["t_gram"] for r in rows), "t_solve": min(r["t_solve"] for r in rows),
            "t_error": min(r["t_error"] for r in rows), "icl": best["icl"], "n": best["n"],
            "D": best["D"], "peak_mb": _rss_mb(), "base_mb": base}


def _reference_prompts(rng, n, d, ell, rho, chunk=512):
    """Direct sampling: explicit contexts, then h = [(d/ell) sum y x ; (1/ell) sum y^2]."""
    xq = np.empty((n, d))
    h = np.empty((n, d + 1))
    y = np.empty(n)
    for lo in range(0, n, chunk):
        m = min(n, lo + chunk) - lo
        w = rng.standard_normal((m, d))
        w *= math.sqrt(d) / np.linalg.norm(w, axis=1, keepdims=True)
        X = rng.standard_normal((m, ell, d)) / math.sqrt(d)
        Y = np.einsum("mid,md->mi", X, w) + math.sqrt(rho) * rng.standard_normal((m, ell))
        h[lo:lo + m, :d] = (d / ell) * np.einsum("mi,mid->md", Y, X)
        h[lo:lo + m, d] = (Y * Y).sum(axis=1) / ell
        xq[lo:lo + m] = rng.standard_normal((m, d)) / math.sqrt(d)
        y[lo:lo + m] = np.einsum("md,md->m", xq[lo:lo + m], w) + math.sqrt(rho) * \
            rng.standard_normal(m)
    return xq, h, y


def _reference_fit(xq, h, y, ridge):
    n, d = xq.shape
    phi = np.einsum("ma,mj->maj", xq, h).reshape(n, d * (d + 1))
    gram = phi.T @ phi
    gram[np.diag_indices_from(gram)] += (n / d) * ridge
    return np.linalg.solve(gram, phi.T @ y).reshape(d, d + 1)


def part_reference(d, tau, repeat):
    from rmt_icl.simulate.linear_attention import linear_attention_errors
    from rmt_icl.simulate.paths import ScalingPath

    s = ScalingPath(alpha=ALPHA, tau=tau, rho=RHO, ridge=RIDGE).sizes(d)
    base = _rss_mb()
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        xq, h, y = _reference_prompts(np.random.default_rng(0), s.n, d, s.ell, RHO)
        t1 = time.perf_counter()
        gamma = _reference_fit(xq, h, y, RIDGE)
        t2 = time.perf_counter()
        icl, _ = linear_attention_errors(gamma, s.ell, RHO)
        t3 = time.perf_counter()
        row = {"t_total": t3 - t0, "t_sample": t1 - t0, "t_fit": t2 - t1, "icl": float(icl)}
        best = row if best is None or row["t_total"] < best["t_total"] else best
    best["peak_mb"] = _rss_mb()
    best["base_mb"] = base
    return best


def part_agreement(d, tau):
    """Reference fit and our fit on the same prompts: relative difference of Gamma."""
    from rmt_icl.simulate.data import sample_prompts
    from rmt_icl.simulate.linear_attention import fit_linear_attention
    from rmt_icl.simulate.paths import ScalingPath

    s = ScalingPath(alpha=ALPHA, tau=tau, rho=RHO, ridge=RIDGE).sizes(d)
    P = sample_prompts(np.random.default_rng(1), s.n, d, s.ell, "linear", RHO)
    g_ours = fit_linear_attention(P, RIDGE)
    g_ref = _reference_fit(P.xq, P.h, P.y, RIDGE)
    return {"gamma_rel_diff": float(np.linalg.norm(g_ours - g_ref) / np.linalg.norm(g_ref))}


def part_dgemm(d, tau, repeat):
    from rmt_icl.simulate.paths import ScalingPath

    n = ScalingPath(alpha=ALPHA, tau=tau).sizes(d).n
    p, q = d * (d + 1) // 2, (d + 1) * (d + 2) // 2
    rng = np.random.default_rng(0)
    a = rng.standard_normal((p, n))
    b = rng.standard_normal((n, q))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return {"t": min(times), "gflops": 2.0 * p * n * q / min(times) / 1e9, "peak_mb": _rss_mb()}


def _run_part(name, args):
    cmd = [sys.executable, __file__, "--part", name, "--d", str(args.d), "--tau", str(args.tau),
           "--repeat", str(args.repeat)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=60)
    ap.add_argument("--tau", type=float, default=1.5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--part", choices=("ours", "mixed", "reference", "dgemm", "agreement"))
    args = ap.parse_args(argv)
    if args.part:
        fn = {"ours": lambda: part_ours(args.d, args.tau, args.repeat),
              "mixed": lambda: part_ours(args.d, args.tau, args.repeat, "mixed"),
              "reference": lambda: part_reference(args.d, args.tau, args.repeat),
              "dgemm": lambda: part_dgemm(args.d, args.tau, args.repeat),
              "agreement": lambda: part_agreement(args.d, args.tau)}[args.part]
        print(json.dumps(fn()))
        return 0

    import os

    from rmt_icl.simulate.features import gram_flops

    load0 = os.getloadavg()[0]
    # peak memory first, while this parent process is still small (a forked child's ru_maxrss
    # includes the parent's resident set at fork time): one instance per subprocess
    one = argparse.Namespace(d=args.d, tau=args.tau, repeat=1)
    memory = {name: _run_part(name, one) for name in ("ours", "reference", "mixed")}
    # timings: the parts interleaved in this process, `repeat` rounds, minimum per phase, so
    # that changes in machine load hit all of them alike
    part_ours(8, 1.5, 1)                                   # warm-up
    rounds = {"ours": [], "reference": [], "mixed": [], "dgemm": []}
    for _ in range(args.repeat):
        rounds["dgemm"].append(part_dgemm(args.d, args.tau, 1))
        rounds["ours"].append(part_ours(args.d, args.tau, 1))
        rounds["reference"].append(part_reference(args.d, args.tau, 1))
        rounds["mixed"].append(part_ours(args.d, args.tau, 1, "mixed"))

    def best(rows):
        out = dict(rows[0])
        for k in out:
            if k.startswith("t"):
                out[k] = min(r[k] for r in rows)
        return out

    ours, ref, mixed = (best(rounds[k]) for k in ("ours", "reference", "mixed"))
    dgemm = max(r["gflops"] for r in rounds["dgemm"])
    for name, row in (("ours", ours), ("reference", ref), ("mixed", mixed)):
        row["peak_mb"] = memory[name]["peak_mb"]
        row["grow_mb"] = memory[name]["peak_mb"] - memory[name]["base_mb"]
    agree = _run_part("agreement", one)
    load1 = os.getloadavg()[0]
    n, D = ours["n"], ours["D"]
    flops = gram_flops(n, args.d)
    gram_gflops = flops / ours["t_gram"] / 1e9
    syrk_equiv = n * D * (D + 1) / ours["t_gram"] / 1e9
    ours_fit = ours["t_gram"] + ours["t_solve"]
    print(f"linear attention, d={args.d}, tau={args.tau}, kappa=inf, alpha={ALPHA}, "
          f"rho={RHO}, ridge={RIDGE}: n={n}, D={D}")
    print(f"  ours      total {ours['t_total']:.3f} s  (sample {ours['t_sample']:.3f}, gram "
          f"{ours['t_gram']:.3f}, solve {ours['t_solve']:.3f}, error {ours['t_error']:.4f}); "
          f"peak RSS {ours['peak_mb']:.0f} MB (+{ours['grow_mb']:.0f} MB over imports); "
          f"e_ICL = {ours['icl']:.5f}")
    print(f"  reference total {ref['t_total']:.3f} s  (sample {ref['t_sample']:.3f}, fit "
          f"{ref['t_fit']:.3f}); peak RSS {ref['peak_mb']:.0f} MB (+{ref['grow_mb']:.0f} MB); "
          f"e_ICL = {ref['icl']:.5f}")
    print(f"  speed ratio: end to end {ref['t_total'] / ours['t_total']:.2f}x, fit phase "
          f"{ref['t_fit'] / ours_fit:.2f}x (target >= 3x)")
    print(f"  dominant phase (Gram, {flops / 1e9:.1f} GFLOP incl. pair products and expansion): "
          f"{gram_gflops:.1f} GFLOP/s = {gram_gflops / dgemm:.0%} of dgemm ({dgemm:.1f} GFLOP/s,"
          f" same dimensions); syrk-equivalent rate {syrk_equiv:.1f} GFLOP/s = "
          f"{syrk_equiv / dgemm:.0%} of dgemm (target >= 60%)")
    print(f"  ours, mixed precision (float32 Gram + Cholesky, float64 refinement): total "
          f"{mixed['t_total']:.3f} s (gram {mixed['t_gram']:.3f}, solve+refine "
          f"{mixed['t_solve']:.3f}); peak RSS {mixed['peak_mb']:.0f} MB "
          f"(+{mixed['grow_mb']:.0f} MB); e_ICL = "
          f"{mixed['icl']:.5f}; speed ratio end to end {ref['t_total'] / mixed['t_total']:.2f}x,"
          f" fit phase {ref['t_fit'] / (mixed['t_gram'] + mixed['t_solve']):.2f}x")
    print(f"  ||Gamma_ours - Gamma_ref|| / ||Gamma_ref|| on identical prompts = "
          f"{agree['gamma_rel_diff']:.1e}")
    print(f"  machine: {os.cpu_count()} cores, 1-min load average {load0:.1f} -> {load1:.1f} "
          f"(minimum of {args.repeat} interleaved rounds; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
