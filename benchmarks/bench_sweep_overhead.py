"""Per-run overhead of the sweep engine, measured side by side in one run.

Compares, for N runs of the cheap ``toy`` model (a test fixture, ``tests/support/toy_model.py``,
loaded by the spec's ``plugins``):

1. calling the point function directly in a loop (the floor);
2. ``sweep(..., backend="serial")`` into a fresh store (seeding, validation, one SQLite
   transaction per run, reading the table back), with the store's default
   ``synchronous=NORMAL``;
3. the same with ``synchronous=FULL`` (an fsync per committed run), the alternative we
   rejected.

Prints milliseconds per run and the ratios. Usage::

    python benchmarks/bench_sweep_overhead.py [--runs 1000]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from rmt_icl.core.registry import get_model
from rmt_icl.core.seeding import run_seed
from rmt_icl.sweep import load_spec, sweep

#: the checkout's root, where the ``tests.support`` package lives
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="total runs (default 1000)")
    args = parser.parse_args()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    n_points = max(1, args.runs // 10)
    spec = {"model": "toy", "plugins": ["tests.support.toy_model"], "runs": 10,
            "params": {"d": 10}, "grid": {"alpha": [0.01 * (i + 1) for i in range(n_points)]}}
    s = load_spec(spec)
    toy_point = get_model("toy")
    n = len(s.points) * s.runs

    t = time.perf_counter()
    for p in s.points:
        params = {k: v for k, v in p.params.items() if k != "model"}
        for r in range(s.runs):
            toy_point(params, run_seed(s.seed, r, key=p.key))
    direct = (time.perf_counter() - t) / n

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        sweep(spec, store=f"{tmp}/normal", backend="serial", progress=False)
        normal = (time.perf_counter() - t) / n

        real_connect = sqlite3.connect

        def full_connect(*a, **k):
            conn = real_connect(*a, **k)
            conn.execute("PRAGMA synchronous=FULL")
            return _Full(conn)

        with mock.patch("rmt_icl.sweep.store.sqlite3.connect", full_connect):
            t = time.perf_counter()
            sweep(spec, store=f"{tmp}/full", backend="serial", progress=False)
            full = (time.perf_counter() - t) / n

    print(f"{n} runs of the toy model (d=10)")
    print(f"  direct point calls          {direct * 1e3:8.3f} ms/run")
    print(f"  sweep, synchronous=NORMAL   {normal * 1e3:8.3f} ms/run  "
          f"(overhead {(normal - direct) * 1e3:.3f} ms/run)")
    print(f"  sweep, synchronous=FULL     {full * 1e3:8.3f} ms/run  "
          f"(overhead {(full - direct) * 1e3:.3f} ms/run)")
    print(f"  FULL / NORMAL = {full / normal:.1f}x")


class _Full:
    """Connection wrapper that keeps synchronous=FULL (the store sets NORMAL on connect)."""

    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql, *args):
        if sql.startswith("PRAGMA synchronous"):
            sql = "PRAGMA synchronous=FULL"
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


if __name__ == "__main__":
    main()
