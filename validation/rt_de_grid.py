"""The validation grid: the RT deterministic equivalent vs the simulated RT, gap vs d.

Runs :data:`rmt_icl.experiments.rt_theory.ACCEPTANCE_GRID` (activations relu, tanh, erf,
identity; targets linear, relu; alpha in {0.5, 1, 2, 4}; tau in {0.5, 2}; psi = k/n in
{0.5, 2}, both sides of the peak at psi = 1; lambda_bar in {1e-4, 1e-2}; kappa = inf, rho = 0.1)
through the sweep engine, one resumable store per (d, sub-grid) under ``--root``, and reports
the gaps with the finite-size allowance measured off-sample (:func:`rmt_icl.experiments.rt_theory
.judge`).

Usage::

    # compute (resumable; seeds hashed from the parameters, so sub-grids are consistent)
    python validation/rt_de_grid.py run --d 32 --runs 4
    python validation/rt_de_grid.py run --d 64 --runs 2 --tau 2 --psi 2
    # report everything found under --root (text tables; --csv writes the summary)
    python validation/rt_de_grid.py report --csv results/rt-theory/summary.csv

The d = 96 "slow run" is the same command with ``--d 96`` (hours for tau = 2 on two cores).

``--scaling companion`` runs :data:`rmt_icl.experiments.rt_theory.COMPANION_GRID` instead
(Demir & Dogan's scaling of the y^2 column; activations relu, gelu, tanh, erf; targets linear,
relu; alpha, tau, psi in {0.5, 2}; lambda_bar in {1e-3, 1e-1}; kappa in {inf, 1}, with the
IDG error at kappa = 1), with its stores under ``results/rt-theory-companion``::

    python validation/rt_de_grid.py run --scaling companion --d 32 --runs 4
    python validation/rt_de_grid.py report --scaling companion
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from rmt_icl.experiments.rt_theory import (
    ACCEPTANCE_GRID,
    CELL_KEYS,
    COMPANION_GRID,
    grid_spec,
    judge,
    judge_shrink,
    summarise,
)

ROOTS = {"la": Path("results/rt-theory"), "companion": Path("results/rt-theory-companion")}
GRIDS = {"la": ACCEPTANCE_GRID, "companion": COMPANION_GRID}


def _store(root: Path, d: int, taus, psis) -> Path:
    tag = "tau" + "-".join(f"{t:g}" for t in taus) + "_psi" + "-".join(f"{p:g}" for p in psis)
    return root / f"d{d}_{tag}"


def cmd_run(args) -> None:
    from rmt_icl.sweep import sweep

    base = GRIDS[args.scaling]
    taus = args.tau or list(base["tau"])
    psis = args.psi or list(base["width_ratio"])
    grid = {"tau": tuple(taus), "width_ratio": tuple(psis)}
    for key in ("alpha", "ridge", "target", "activation"):
        if getattr(args, key):
            grid[key] = tuple(getattr(args, key))
    if args.kappa:
        grid["kappa"] = tuple("inf" if k.lower() == "inf" else float(k) for k in args.kappa)
    root = Path(args.root or ROOTS[args.scaling])
    store = _store(root, args.d, taus, psis)
    if args.tag:
        store = store.with_name(f"{store.name}_{args.tag}")
    spec = grid_spec(args.d, args.runs, grid=grid, n_test=args.n_test,
                     test_queries=args.test_queries, name=store.name, scaling=args.scaling)
    t0 = time.perf_counter()
    df = sweep(spec, store=store, backend=args.backend, workers=args.workers, progress=False)
    print(f"{store}: {len(df)} runs in {time.perf_counter() - t0:.0f} s", flush=True)


def load_all(root: Path) -> pd.DataFrame:
    from rmt_icl.sweep.store import load

    frames = []
    for folder in sorted(root.glob("d*_tau*")):
        if (folder / "results.sqlite").exists():
            frames.append(load(folder))
    if not frames:
        raise SystemExit(f"no stores under {root}; run the 'run' command first")
    return pd.concat(frames, ignore_index=True)


def _md(df: pd.DataFrame, fmt: str = "{:.4f}") -> str:
    """A pandas table as a GitHub markdown table (no optional dependency)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [fmt.format(v) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(summary: pd.DataFrame) -> str:
    """The tables of docs/theory/random_transformer.md section 6.4, from the summary."""
    s = summary.assign(rel=summary["gap"].abs() / summary["theory"],
                       abs_gap=summary["gap"].abs())
    ds = sorted(s["d"].unique())
    rows = []
    for i, d in enumerate(ds):
        g = s[s["d"] == d]
        row = {"d": int(d), "cells": len(g), "runs": int(g["runs"].median()),
               "median abs gap": float(g["abs_gap"].median()),
               "median rel gap": float(g["rel"].median()),
               "max rel gap": float(g["rel"].max()),
               "within 3 SE": float((g["z"].abs() <= 3).mean())}
        if i:
            j = judge_shrink(s, ds[i - 1], d)
            row["1/d shrink from previous d (cells)"] = (f"{j['pass'].mean():.1%} "
                                                          f"({len(j)})")
        else:
            row["1/d shrink from previous d (cells)"] = "-"
        rows.append(row)
    out = ["#### Per size", _md(pd.DataFrame(rows))]
    for key in (["activation", "target"], ["alpha"], ["tau", "width_ratio", "ridge"],
                ["kappa", "quantity"]):
        tab = s.pivot_table(index=key, columns="d", values="rel", aggfunc="median")
        tab.columns = [f"d={c}" for c in tab.columns]
        out += [f"#### Median relative gap by {', '.join(key)}", _md(tab.reset_index())]
    for i in range(1, len(ds)):
        j = judge_shrink(s, ds[i - 1], ds[i])
        fail = j[~j["pass"]].sort_values("ratio", ascending=False)
        cols = [c for c in CELL_KEYS if c in fail] + ["gap_small", "se_small", "gap_large",
                                                      "se_large", "theory", "ratio"]
        out += [f"#### Failing cells, d = {ds[i - 1]} -> {ds[i]} ({len(fail)} of {len(j)})",
                _md(fail[cols]) if len(fail) else "none"]
    big = s[s["d"] == max(ds)].sort_values("rel").tail(8)
    keys = list(CELL_KEYS)
    small = s[s["d"] == min(ds)].set_index(keys)
    big = big.join(small[["gap"]].rename(columns={"gap": f"gap d={min(ds)}"}), on=keys)
    cols = keys + ["mc", "se", "theory", "gap", f"gap d={min(ds)}", "rel"]
    out += [f"#### Largest relative gaps at d = {max(ds)}", _md(big[cols])]
    return "\n\n".join(out) + "\n"


def cmd_report(args) -> None:
    runs = load_all(Path(args.root or ROOTS[args.scaling]))
    summary = summarise(runs)
    if args.ds:
        summary = summary[summary["d"].isin(args.ds)]
    if args.tau:
        summary = summary[summary["tau"].isin(args.tau)]
    if args.csv:
        summary.to_csv(args.csv, index=False)
    if args.markdown:
        Path(args.markdown).write_text(markdown_report(summary))
    pd.set_option("display.width", 200)
    print("## Pass/fail per d (|gap| <= 3 SE + c/d, c = 90% quantile of d*excess at the other d)")
    print(judge(summary).to_string(index=False, float_format="%.4g"))
    print()
    print("## Per cell: |gap(d2)| <= 3 SE(d2) + (d1/d2)|gap(d1)| (gap shrinks at least like 1/d)")
    ds = sorted(summary["d"].unique())
    for i, d1 in enumerate(ds):
        for d2 in ds[i + 1:]:
            j = judge_shrink(summary, d1, d2)
            worst = j.loc[j["ratio"].idxmax()]
            print(f"d {d1} -> {d2}: {len(j)} cells, pass {j['pass'].mean():.1%}, worst ratio "
                  f"{worst['ratio']:.2f} ({worst['activation']}/{worst['target']}, alpha="
                  f"{worst['alpha']:g}, tau={worst['tau']:g}, psi={worst['width_ratio']:g}, "
                  f"ridge={worst['ridge']:g}, kappa={worst['kappa']:g}, "
                  f"{worst['quantity']})")
    print()
    by = summary.assign(abs_gap=summary["gap"].abs(), abs_gap_x_d=summary["gap"].abs()
                        * summary["d"])
    print("## Median |gap| and |gap|*d by d and activation / target / tau")
    for key in ("activation", "target", "tau", "width_ratio", "ridge", "alpha", "kappa",
                "quantity"):
        tab = by.pivot_table(index=key, columns="d", values="abs_gap", aggfunc="median")
        print(f"\n### median |gap| by {key}\n")
        print(tab.to_string(float_format="%.4f"))
    if args.full:
        print("\n## All points\n")
        print(summary.to_string(index=False, float_format="%.4g"))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--d", type=int, required=True)
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--scaling", choices=sorted(GRIDS), default="la")
    r.add_argument("--tau", type=float, nargs="+", default=None)
    r.add_argument("--psi", type=float, nargs="+", default=None)
    r.add_argument("--alpha", type=float, nargs="+", default=None)
    r.add_argument("--kappa", type=str, nargs="+", default=None,
                   help="task-pool ratios K/d ('inf' for fresh tasks)")
    r.add_argument("--ridge", type=float, nargs="+", default=None)
    r.add_argument("--target", nargs="+", default=None)
    r.add_argument("--activation", nargs="+", default=None)
    r.add_argument("--tag", default=None,
                   help="suffix of the store's name, for a sub-grid with other axes")
    r.add_argument("--n-test", type=int, default=16384)
    r.add_argument("--test-queries", type=int, default=16)
    r.add_argument("--backend", default="processes")
    r.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    r.add_argument("--root", default=None, help="default: results/rt-theory[-companion]")
    r.set_defaults(func=cmd_run)
    p = sub.add_parser("report")
    p.add_argument("--scaling", choices=sorted(GRIDS), default="la")
    p.add_argument("--root", default=None, help="default: results/rt-theory[-companion]")
    p.add_argument("--csv", default=None)
    p.add_argument("--full", action="store_true")
    p.add_argument("--markdown", default=None, help="write the docs' tables to this file")
    p.add_argument("--ds", type=int, nargs="+", default=None, help="only these d")
    p.add_argument("--tau", type=float, nargs="+", default=None, help="only these tau")
    p.set_defaults(func=cmd_report)
    args = ap.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
