"""The companion y^2 scaling at single points: the RT, Herm(1), Herm(2) and the equivalent vs d.

Two studies of docs/theory/random_transformer.md, section 10.4:

* ``point`` (table (a)): relu or tanh RT with its Hermite models of degree 1 and 2 on the same
  prompts, F and noise, at alpha = tau = 2, psi = 0.5, lambda_bar = 0.02, rho = 0.1, linear
  target, companion scaling; the deterministic equivalent at each run's realised ratios and
  exact t.
* ``quadratic`` (table (b)): sigma(u) = u + b He_2(u), whose quadratic part puts a structured
  block of weight w = 2 b^2 theta^2 on the queries' quadratic features; RT minus its paired
  Herm(1) in both scalings, and the equivalent.

One JSON line per run on stdout; ``--summary`` prints the tables' rows from such a file.

Usage::

    python validation/rt_companion_points.py point --activation relu --ds 32 48 64 \
        --run-ids 0 1 2 3 100 101 102 103 104 105 106 107 108 109 > a.jsonl
    python validation/rt_companion_points.py quadratic --b 1 --ds 24 32 48 --runs 8 > q.jsonl
    python validation/rt_companion_points.py quadratic --b 1 --ds 64 --runs 6 >> q.jsonl
    python validation/rt_companion_points.py --summary q.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict

import numpy as np

from rmt_icl.core.stats import mean_se
from rmt_icl.experiments.models import realised_rt_theory
from rmt_icl.simulate.random_transformer import simulate_models


def _quadratic(b: float):
    def sigma(u):
        return u + b * (u * u - 1.0)

    sigma.__name__ = f"u_plus_{b:g}_He2"
    return sigma


#: seed of run r at dimension d: BASE[kind] * d + r (+ --seed)
BASE = {"point": 1000, "quadratic": 7000}


def run(kind: str, activation, scales, ds, run_ids, ridge: float, seed: int):
    models = ("rt", "hermite:1", "hermite:2") if kind == "point" else ("rt", "hermite:1")
    for scale in scales:
        for d in ds:
            for r in run_ids:
                p = dict(d=d, alpha=2.0, tau=2.0, width_ratio=0.5, ridge=ridge, rho=0.1,
                         activation=activation, target="linear", y2_scale=scale, n_test=8192)
                t0 = time.perf_counter()
                res = simulate_models(p, seed + BASE[kind] * d + r, models=models)
                flat = res.flat("rt")
                row = {"kind": kind, "scale": scale, "d": d, "run": r,
                       "theory": realised_rt_theory(flat, activation, "linear"),
                       "seconds": time.perf_counter() - t0}
                row.update({m: res.flat(m)["icl"] for m in models})
                print(json.dumps(row), flush=True)


def summary(path: str) -> None:
    groups = defaultdict(list)
    for line in open(path):
        row = json.loads(line)
        groups[(row["kind"], row["scale"], row["d"])].append(row)
    for (kind, scale, d), rows in sorted(groups.items()):
        rt = np.array([r["rt"] for r in rows])
        h1 = np.array([r["hermite:1"] for r in rows])
        m, s = mean_se(rt)
        dm, ds_ = mean_se(rt - h1)
        extra = ""
        if "hermite:2" in rows[0]:
            e, es = mean_se(np.array([r["hermite:2"] for r in rows]) - h1)
            extra = f" | Herm(2) - Herm(1) {e:+.4f} +- {es:.4f}"
        print(f"{kind} {scale} d={d} runs={len(rows)}: RT {m:.4f} +- {s:.4f} | Herm(1) "
              f"{h1.mean():.4f} | RT - Herm(1) {dm:+.4f} +- {ds_:.4f}{extra} | theory "
              f"{rows[0]['theory']:.4f} | RT - theory {m - rows[0]['theory']:+.4f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", nargs="?", choices=("point", "quadratic"))
    ap.add_argument("--activation", default="relu")
    ap.add_argument("--b", type=float, default=1.0, help="quadratic: the He_2 coefficient")
    ap.add_argument("--ds", type=int, nargs="+", default=[32, 48, 64])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--run-ids", type=int, nargs="+", default=None,
                    help="the runs' numbers r (default 0 .. runs-1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--summary", default=None, help="print the tables from a JSON-lines file")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary)
        return 0
    if args.kind is None:
        ap.error("give 'point', 'quadratic' or --summary FILE")
    ids = args.run_ids if args.run_ids is not None else list(range(args.runs))
    if args.kind == "point":
        run("point", args.activation, ["companion"], args.ds, ids, 0.02, args.seed)
    else:
        run("quadratic", _quadratic(args.b), ["companion", "la"], args.ds, ids, 0.1, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
