"""Benchmark: the random transformer with one gradient step on F vs the same run without it.

Setting (the two-source, structured-task experiment of Demir & Dogan, NeurIPS 2025,
arXiv:2510.25753, Fig. 3(b), at a moderate size): d = 32 (``--d``), ell = d, n = k = d^2/2,
relu activation and target, lambda_bar = 0.5, two sources with mixture 1/2, the task spike
``theta_xi = d^2`` on source 1, noise 0.2 and 0.01; the RT alone (``simulate_models(...,
("rt",))``) with ``step_size = 1`` (``eta = d^2``) and with ``step_size = 0``.

The step adds the step prompts, a forward pass on them (``U = H F^T``), a backward product
(``G += vec H^T M``) and a ``k x D`` buffer: about two GEMMs the size of the training feature
pass. The two variants run alternately ``--repeat`` times (default 5) in one process; each
reports its fastest repeat (robust to other processes on a shared machine). Printed: the ratio
time(with step) / time(without), which must stay within 3 (exit status 1 otherwise), and the
step's time against the training feature pass (``t_phase_features``).

Run: ``python benchmarks/bench_gradient_step.py`` (``--d 24 --repeat 7``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

from rmt_icl.simulate.random_transformer import simulate_models

#: process CPU time when single-threaded (robust to time-sharing on a loaded machine), else wall
TIMER = (time.process_time if os.environ.get("OMP_NUM_THREADS") == "1"
         else time.perf_counter)
#: the largest accepted ratio time(with step) / time(without)
MAX_RATIO = 3.0


def params_for(d: int, step_size: float) -> dict:
    return dict(d=d, alpha=1.0, tau=0.5, width_ratio=1.0, ridge=0.5, activation="relu",
                target="relu", mixture=0.5, task_spike=float(d * d), noise0=0.2, noise1=0.01,
                step_size=step_size)


def run(d: int, step_size: float) -> tuple[float, dict]:
    t0 = TIMER()
    res = simulate_models(params_for(d, step_size), 0, ("rt",))
    return TIMER() - t0, res.flat("rt")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    run(8, 1.0)                                      # warm-up (imports, caches)
    best = {0.0: (math.inf, None), 1.0: (math.inf, None)}
    for _ in range(args.repeat):
        for step in (0.0, 1.0):
            seconds, flat = run(args.d, step)
            if seconds < best[step][0]:
                best[step] = (seconds, flat)
    (t0, f0), (t1, f1) = best[0.0], best[1.0]
    ratio = t1 / t0
    print(f"d = {args.d}: n = {f1['n']}, k = {f1['k']}, D = {f1['D']}, eta = {f1['eta']:g}; "
          f"fastest of {args.repeat}")
    print(f"  without step: {t0:.3f} s (training features {f0['t_phase_features']:.3f} s)")
    print(f"  with step:    {t1:.3f} s (step {f1['t_phase_step']:.3f} s = "
          f"{f1['t_phase_step'] / max(f1['t_phase_features'], 1e-12):.2f} x the training "
          f"feature pass; first layer incl. step prompts {f1['t_first_layer']:.3f} s)")
    print(f"  icl: {f0['icl']:.4f} without, {f1['icl']:.4f} with the step")
    verdict = "PASS" if ratio <= MAX_RATIO else "FAIL"
    print(f"ratio time(with step) / time(without) = {ratio:.2f} (limit {MAX_RATIO:g}): "
          f"{verdict}")
    return 0 if ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
