"""Benchmark of the GPU path: the share of the device's own peak float64 GEMM rate it reaches.

All in one process, on a CUDA GPU through CuPy:

1. **peak**: the best of several float64 matmuls, square (``s x s`` for a few ``s``) and of the
   training GEMM's shape ``(rows x D) @ (D x k)``, timed between device synchronisations;
2. **runs** of :func:`rmt_icl.simulate.random_transformer.simulate_models` with
   ``device="gpu"`` (the RT, relu, tau = 0.5) at ``d = 96`` and ``128``, on both sides of
   ``k = n`` (``psi = 0.5``: primal, ``psi = 2``: dual). The array path's phase clock
   synchronises the device around each phase, so the phases time the device's work; printed
   per phase as a flop rate and a share of the peak:

   * feature pass: ``U = vec H F^T`` (``2 n k D`` flops; twice in the dual when the neurons
     do not fit one block) and the map (``sigma``),
   * Gram: ``2 n min(n,k)^2`` flops per model (GEMM on full matrices),
   * test features: ``2 n_test k D`` flops (explicit route);

3. **exact mode** at ``d = 24``: CPU path vs GPU path with ``sampling="host"`` (the CPU's ``F``
   and noise), several models, primal and dual: the largest relative difference of ``icl``
   and ``idg`` (expected: rounding, about 1e-13).

Without a GPU (no CuPy, or no visible CUDA device) it prints why and exits 0.
``--namespace numpy`` runs the same code with NumPy (a smoke test of this script, with small
``--d``; the shares are then of the CPU's GEMM rate).

Run: ``PYTHONPATH=. python benchmarks/bench_gpu.py`` (``--d 96 128 --exact-d 24``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from rmt_icl.core.errors import DeviceUnavailableError
from rmt_icl.simulate.device import ArrayDevice, array_namespace, synchronize
from rmt_icl.simulate.random_transformer import parse_rt_params, simulate_models
from rmt_icl.simulate.rt_evaluation import contexts_per_set
from rmt_icl.simulate.rt_feature_maps import feature_maps
from rmt_icl.simulate.xp_engine import plan_run


def best_seconds(xp, fn, repeat: int) -> float:
    """Fastest of ``repeat`` calls of ``fn`` (after one warm-up), device-synchronised."""
    fn()
    synchronize(xp)
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        synchronize(xp)
        best = min(best, time.perf_counter() - t0)
    return best


def peak_gemm(xp, sizes, shapes, repeat: int) -> tuple[float, list]:
    """Best float64 GEMM rate (flop/s) over square sizes and ``(m, kk, nn)`` shapes."""
    rows = []
    rng = np.random.default_rng(0)
    for m, kk, nn in [(s, s, s) for s in sizes] + list(shapes):
        a = xp.asarray(rng.standard_normal((m, kk)))
        b = xp.asarray(rng.standard_normal((nn, kk)))
        out = xp.empty((m, nn))
        sec = best_seconds(xp, lambda a=a, b=b, out=out: xp.matmul(a, b.T, out=out), repeat)
        rows.append(((m, kk, nn), 2.0 * m * kk * nn / sec))
        del a, b, out
    return max(r for _, r in rows), rows


def run_shares(dev, d: int, psi: float, peak: float, seed: int = 0) -> dict:
    """One GPU run (after a warm-up run at the same sizes): phase times, rates, shares."""
    params = dict(d=d, alpha=2.0, tau=0.5, width_ratio=psi, ridge=1e-2, activation="relu",
                  target="linear", rho=0.1, kappa="inf", n_test=8192, test_queries=16)
    simulate_models(params, seed, ("rt",), device=dev)               # kernels compiled
    res = simulate_models(params, seed + 1, ("rt",), device=dev)
    run, ph = res.run, res.timings.phases
    _, sizes, opts = parse_rt_params(params)
    plan = plan_run(dev, sizes, feature_maps(["rt"], "relu"), False,
                    contexts_per_set(opts["n_test"], 16), 16, 1e-2, None)
    n, k, D = run.n, run.k, run.D
    passes = 1 if (k <= n or plan.cols >= k) else 2
    flops = {"features": passes * 2.0 * n * k * D, "gram": 2.0 * n * min(n, k) ** 2,
             "test_features": 2.0 * run.n_test * k * D}
    out = {"d": d, "n": n, "k": k, "D": D, "solver": run.solver, "total_s": res.timings.total,
           "icl": res["rt"].icl}
    for key, fl in flops.items():
        sec = ph[key] + (ph["maps"] if key == "features" else 0.0)
        out[f"{key}_s"] = ph[key]
        out[f"{key}_share"] = fl / max(ph[key], 1e-12) / peak
        if key == "features":
            out["features+maps_share"] = fl / max(sec, 1e-12) / peak
    out["overall_share"] = sum(flops.values()) / res.timings.total / peak
    return out


def exact_comparison(dev_host, d: int) -> float:
    """Largest relative ``icl``/``idg`` difference, CPU path vs array path in exact mode."""
    worst = 0.0
    models = ("rt", "hermite:1..4", "linear", "rt:tanh")
    for psi, kappa in ((0.5, "inf"), (2.0, 2.0)):
        params = dict(d=d, alpha=2.0, tau=1.0, width_ratio=psi, kappa=kappa, ridge=0.5,
                      activation="relu", target="tanh", rho=0.1, n_test=2048)
        cpu = simulate_models(params, 7, models, device="cpu")
        gpu = simulate_models(params, 7, models, device=dev_host)
        for m in cpu:
            for q in ("icl", "idg"):
                a, b = getattr(cpu[m], q), getattr(gpu[m], q)
                worst = max(worst, abs(a - b) / abs(a))
    return worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--d", type=int, nargs="+", default=[96, 128])
    ap.add_argument("--exact-d", type=int, default=24)
    ap.add_argument("--peak-sizes", type=int, nargs="+", default=[4096, 8192, 12288])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--namespace", choices=("cupy", "numpy"), default="cupy",
                    help="numpy: run this script's code on the CPU (smoke test)")
    args = ap.parse_args(argv)
    if args.namespace == "cupy":
        try:
            xp = array_namespace("gpu")
        except DeviceUnavailableError as exc:
            print(f"bench_gpu: no GPU here, nothing measured ({exc})")
            return 0
        try:
            name = xp.cuda.runtime.getDeviceProperties(xp.cuda.Device().id)["name"]
            name = name.decode() if isinstance(name, bytes) else str(name)
        except Exception:  # noqa: BLE001 - the name is only printed
            name = "CUDA device"
        print(f"device: {name}, CuPy {xp.__version__}")
    else:
        xp = np
        print("namespace: numpy (smoke test on the CPU)")
    dev = ArrayDevice(xp, "device")

    shapes = [(8192, d * (d + 1), 4096) for d in args.d]
    peak, rows = peak_gemm(xp, args.peak_sizes, shapes, args.repeat)
    print("\nfloat64 GEMM (best of %d):" % args.repeat)
    for (m, kk, nn), rate in rows:
        print(f"  ({m} x {kk}) @ ({kk} x {nn}): {rate / 1e12:8.2f} TFLOP/s")
    print(f"  peak (best): {peak / 1e12:.2f} TFLOP/s")

    print("\nrandom transformer runs on the device (relu, tau = 0.5, n_test = 8192): "
          "shares of the peak")
    head = (f"{'d':>4} {'n':>6} {'k':>6} {'solver':>6} {'total s':>8} {'feat s':>7} "
            f"{'feat':>6} {'feat+map':>8} {'gram s':>7} {'gram':>6} {'test s':>7} "
            f"{'test':>6} {'overall':>7}")
    print(head)
    for d in args.d:
        for psi in (0.5, 2.0):
            r = run_shares(dev, d, psi, peak)
            print(f"{r['d']:>4} {r['n']:>6} {r['k']:>6} {r['solver']:>6} {r['total_s']:>8.2f} "
                  f"{r['features_s']:>7.3f} {r['features_share']:>6.0%} "
                  f"{r['features+maps_share']:>8.0%} {r['gram_s']:>7.3f} "
                  f"{r['gram_share']:>6.0%} {r['test_features_s']:>7.3f} "
                  f"{r['test_features_share']:>6.0%} {r['overall_share']:>7.0%}")
            sys.stdout.flush()

    worst = exact_comparison(ArrayDevice(xp, "host"), args.exact_d)
    print(f"\nexact mode at d = {args.exact_d} (CPU path vs array path, sampling='host', "
          f"rt, hermite:1..4, linear, rt:tanh; primal and dual): max relative difference of "
          f"icl/idg = {worst:.2e} ({'OK' if worst < 1e-10 else 'ABOVE 1e-10'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
