"""A slice of the random-transformer validation grid at d = 128, simulated on a GPU.

The slice: :data:`rmt_icl.experiments.rt_theory.ACCEPTANCE_GRID` at ``tau = 0.5`` -- activations
relu, tanh, erf, identity (all four on the same prompts, ``F`` and test queries of a run);
targets linear, relu; ``alpha`` in {0.5, 1, 2, 4}; ``psi = k/n`` in {0.5, 2} (primal and dual
fits); ``lambda_bar`` in {1e-4, 1e-2}; ``kappa = inf``, ``rho = 0.1`` -- 32 points, ``--runs``
runs each (default 2). Each run is :func:`rmt_icl.experiments.rt_theory.theory_point` with the
device set by :func:`rmt_icl.simulate.device.use_device`: the simulated RTs and their
deterministic equivalent at the run's realised ratios with ``t_over_d = t/d``. The summary is
:func:`rmt_icl.experiments.rt_theory.summarise` (per cell: Monte Carlo mean, SE pooled over
alpha and target, theory, gap, gap/SE).

``--y2-scale companion`` runs the same slice in the companion scaling (the y^2 entry of ``h``
scaled by ``sqrt(d)``), with the theory of docs/theory/random_transformer.md, section 10.

Cost at d = 128 (D = 16512, n = 8192; n_test = 16384 queries; four activations per run):
psi = 0.5 (k = 4096, primal) ~ 1.1e12 (features) + 1.1e12 (four Grams) + 2.2e12 (test)
~ 4.4e12 flop; psi = 2 (k = 16384, dual, one neuron block) ~ 4.4e12 + 8.8e12 + 8.9e12 + solves
0.7e12 ~ 2.3e13 flop; 64 runs ~ 8.7e14 flop, about 20-30 s of float64 GEMM on an H200, plus
host sampling, transfers and the theory (~10 ms per activation). The script prints its own
estimate for the sizes it runs.

Usage::

    PYTHONPATH=. python3 validation/gpu_rt_slice.py --out results/gpu_slice_d128.csv
    PYTHONPATH=. python3 validation/gpu_rt_slice.py --y2-scale companion --out ...
    # smoke test on the CPU: the array path's code with NumPy, tiny d
    python validation/gpu_rt_slice.py --device numpy --d 8 --out /tmp/slice.csv

Rows are appended to ``--out`` as runs finish; ``--budget-seconds`` stops before a run that
would not finish in time, keeping the finished ones. The summary is written next to it
(``<out>_summary.csv``).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rmt_icl.core.errors import DeviceUnavailableError
from rmt_icl.core.seeding import run_seed
from rmt_icl.core.stats import student_t_threshold
from rmt_icl.experiments.rt_theory import (
    ACCEPTANCE_GRID,
    FIXED,
    POINT_KEYS,
    summarise,
    theory_point,
)
from rmt_icl.simulate.device import ArrayDevice, resolve_device, use_device
from rmt_icl.simulate.paths import ScalingPath

ACTIVATIONS = ("relu", "tanh", "erf", "identity")
TARGETS = ("linear", "relu")
TAU = 0.5


def points(d: int, n_test: int, test_queries: int, y2_scale: str) -> list[dict]:
    """The slice's point parameters (theory_point's), in grid order."""
    g = ACCEPTANCE_GRID
    out = []
    for target, alpha, psi, ridge in itertools.product(TARGETS, g["alpha"], g["width_ratio"],
                                                       g["ridge"]):
        p = {**FIXED, "d": d, "tau": TAU, "target": target, "alpha": alpha, "width_ratio": psi,
             "ridge": ridge, "n_test": n_test, "test_queries": test_queries,
             "activations": ",".join(ACTIVATIONS)}
        if y2_scale != "la":
            p["y2_scale"] = y2_scale
        out.append(p)
    return out


def run_flops(p: dict) -> float:
    """Floating-point operations of one run (four activations on shared features)."""
    s = ScalingPath(alpha=p["alpha"], tau=p["tau"], width_ratio=p["width_ratio"]).sizes(p["d"])
    n, k, D = s.n, s.k, s.D
    m, acts = min(n, k), len(ACTIVATIONS)
    return 2.0 * n * k * D + acts * (2.0 * n * m * m + m ** 3 / 3) + 2.0 * p["n_test"] * k * D


def device_setting(name: str, sampling: str):
    """``use_device`` argument: "gpu", "cpu" or the array path on NumPy."""
    return ArrayDevice(np, sampling) if name == "numpy" else name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="CSV of the runs (appended as they finish)")
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-test", type=int, default=16384)
    ap.add_argument("--test-queries", type=int, default=16)
    ap.add_argument("--y2-scale", choices=("la", "companion"), default="la",
                    help="la: y^2 column scale 1; companion: sqrt(d) (Demir & Dogan's); the "
                    "theory covers both (docs/theory/random_transformer.md, section 10)")
    ap.add_argument("--device", choices=("gpu", "cpu", "numpy"), default="gpu",
                    help="gpu (CuPy), cpu (the CPU path) or numpy (the GPU path's code run "
                    "with NumPy: a smoke test)")
    ap.add_argument("--sampling", choices=("device", "host"), default="device",
                    help="array path: F drawn on the device (default) or on the host")
    ap.add_argument("--budget-seconds", type=float, default=math.inf,
                    help="stop before a run that would end after this many seconds")
    args = ap.parse_args(argv)

    pts = points(args.d, args.n_test, args.test_queries, args.y2_scale)
    total = args.runs * sum(run_flops(p) for p in pts)
    print(f"slice: d = {args.d}, tau = {TAU}, {len(pts)} points x {args.runs} runs, "
          f"activations {','.join(ACTIVATIONS)}, y2_scale = {args.y2_scale}, device = "
          f"{args.device} ({args.sampling} sampling); estimated {total:.2e} flop "
          f"(~{total / 45e12:.0f} s at 45 TFLOP/s)")
    sys.stdout.flush()
    setting = device_setting(args.device, args.sampling)
    try:
        resolve_device(setting, None if args.device == "cpu" else args.sampling)
    except DeviceUnavailableError as exc:
        print(f"gpu_rt_slice: {exc}")
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, writer, handle = [], None, out.open("w", newline="")
    t_start = time.perf_counter()
    longest = {}
    stopped = False
    try:
        for i, p in enumerate(pts):
            for r in range(args.runs):
                elapsed = time.perf_counter() - t_start
                if elapsed + longest.get(p["width_ratio"], 0.0) > args.budget_seconds:
                    stopped = True
                    break
                t0 = time.perf_counter()
                try:
                    with use_device(setting, sampling=args.sampling if args.device != "cpu"
                                    else None):
                        row = theory_point(dict(p), run_seed(args.seed, r, key=(i,)))
                except Exception as exc:  # noqa: BLE001 - report, keep the other runs
                    print(f"  point {i:2d} run {r}: FAILED {type(exc).__name__}: {exc}")
                    continue
                wall = time.perf_counter() - t0
                longest[p["width_ratio"]] = max(longest.get(p["width_ratio"], 0.0), wall)
                row.update({key: p[key] for key in POINT_KEYS})
                row.update({"point": i, "run": r, "status": "ok", "wall": wall,
                            "device": args.device, "sampling": args.sampling,
                            "y2_scale": args.y2_scale})
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
                handle.flush()
                rows.append(row)
                print(f"  point {i:2d} run {r} ({p['target']}, alpha={p['alpha']:g}, "
                      f"psi={p['width_ratio']:g}, ridge={p['ridge']:g}): "
                      f"{wall:6.2f} s, icl_relu = {row['icl_relu']:.4f}")
                sys.stdout.flush()
            if stopped:
                break
    finally:
        handle.close()
    elapsed = time.perf_counter() - t_start
    done = {(row["point"]) for row in rows if sum(x["point"] == row["point"] for x in rows)
            == args.runs}
    print(f"{len(rows)} runs in {elapsed:.1f} s ({len(done)} of {len(pts)} points complete"
          f"{', stopped by the time budget' if stopped else ''})")
    if not rows:
        return 0
    df = pd.DataFrame([row for row in rows if row["point"] in done] or rows)
    summary = summarise(df)
    summary.to_csv(out.with_name(out.stem + "_summary.csv"), index=False)
    print(f"\n{'cell':<44} {'MC mean':>9} {'SE':>8} {'theory':>9} {'gap':>9} {'gap/SE':>7}")
    for _, s in summary.iterrows():
        cell = (f"{s['activation']:>8} {s['target']:>6} a={s['alpha']:<3g} "
                f"psi={s['width_ratio']:<3g} l={s['ridge']:<6g}")
        print(f"{cell:<44} {s['mc']:>9.5f} {s['se']:>8.5f} {s['theory']:>9.5f} "
              f"{s['gap']:>+9.5f} {s['z']:>+7.2f}")
    finite = summary[np.isfinite(summary["theory"])]
    if len(finite):
        dof = finite["dof"].clip(lower=2)
        bound = np.array([student_t_threshold(int(v) + 1, z=3.0) for v in dof])
        ok = (finite["gap"].abs() <= bound * finite["se"]).mean()
        print(f"\n{len(finite)} cells: median |gap| = {finite['gap'].abs().median():.4f}, "
              f"median |gap|/theory = {(finite['gap'].abs() / finite['theory']).median():.2%}, "
              f"median |gap/SE| = {finite['z'].abs().median():.2f}, "
              f"|gap| <= t(3) SE in {ok:.0%} of the cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
