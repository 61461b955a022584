"""``rmt-icl equivalence``: the joint-scaling equivalence study of the RT and its Hermite models.

Examples
--------
``rmt-icl equivalence --activation relu --target tanh`` (default path alpha = 2, tau = 2,
psi = 0.5, kappa = inf, rho = 1e-4, lambda_bar = 0.2; d = 16, 24, 32, 48, 64) prints, per d,
``e_RT``, ``e_Herm(p)`` (p = 1..6) and ``e_linear`` with SEs, the paired gaps
``Delta_p = e_Herm(p) - e_RT`` with their SEs, the per-degree verdict and ``p0``, and writes the
gap-vs-d log-log figure. See :mod:`rmt_icl.experiments.equivalence` for the criterion.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from rmt_icl.cli._common import print_json, print_table, y2_scale_arg


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``equivalence`` subcommand."""
    p = subparsers.add_parser(
        "equivalence",
        help="RT vs Hermite-model gap along a scaling path, and the degree p0 where it shrinks",
        description="Run (or resume) the equivalence study: along ell = alpha d, n = tau d^2, "
        "k = psi n at fixed lambda_bar, the paired gap |e_RT - e_Herm(p)| for p = 1..6 per d, "
        "its standard error over runs, and the smallest p0 with a shrinking gap for all "
        "p >= p0 (criterion in rmt_icl.experiments.equivalence).",
    )
    p.add_argument("--activation", default="relu", help="MLP activation (default relu)")
    p.add_argument("--target", default="tanh", help="target g: linear, relu, tanh, he2")
    p.add_argument("--alpha", type=float, default=None, help="ell/d > 0 (default 2)")
    p.add_argument("--tau", type=float, default=None, help="n/d^2 > 0 (default 2)")
    p.add_argument("--width-ratio", type=float, default=None, help="psi = k/n > 0 (default 0.5)")
    p.add_argument("--ridge", type=float, default=None,
                   help="lambda_bar >= 0 (ridge in the toolkit's RT units; default 0.2)")
    p.add_argument("--kappa", type=float, default=None, help="K/d > 0 or inf (default inf)")
    p.add_argument("--rho", type=float, default=None, help="noise variance >= 0 (default 1e-4)")
    p.add_argument("--y2-scale", type=y2_scale_arg, default=None,
                   help="y^2 column: la (the study's default path, Lu et al.'s scaling) or "
                   "companion (Demir & Dogan's)")
    p.add_argument("--max-degree", type=int, default=None, help="largest p (default 6)")
    p.add_argument("--n-test", type=int, default=None,
                   help="test queries per run (default max(4000, n))")
    p.add_argument("--runs", type=int, default=None,
                   help="runs per d (>= 2; default 16 at d=16 down to 4 at d=64)")
    p.add_argument("--seed", type=int, default=0, help="seed >= 0 (default 0)")
    p.add_argument("--d", type=int, nargs="+", default=None, help="dimensions (default "
                   "16 24 32 48 64; --full adds 80 96)")
    p.add_argument("--full", action="store_true", help="d up to 96")
    p.add_argument("--store", default="results/equivalence",
                   help="root of the resumable sweep stores (default results/equivalence)")
    p.add_argument("--out", default="figures", help="folder of the gap-vs-d figure")
    p.add_argument("--no-figure", action="store_true", help="do not draw the figure")
    p.add_argument("--backend", default="processes", choices=("serial", "processes", "dask"))
    p.add_argument("--workers", type=int, default=None, help="worker processes")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar over the sweep's runs (shown by default when stderr "
                   "is a terminal and --json is not given)")
    p.set_defaults(func=run)
    return p


def _fmt(m, s) -> str:
    if not math.isfinite(m):
        return "nan"
    return f"{m:.4f}±{s:.4f}" if math.isfinite(s) else f"{m:.4f}"


def _fmt_delta(m, s) -> str:
    return f"{m:+.4f}±{s:.4f}" if math.isfinite(s) else f"{m:+.4f}"


def run(args) -> int:
    from rmt_icl.experiments.equivalence import DEFAULT_DS, FULL_DS
    from rmt_icl.reporting.studies import run_study

    ds = args.d or (FULL_DS if args.full else DEFAULT_DS)
    path = {"alpha": args.alpha, "tau": args.tau, "width_ratio": args.width_ratio,
            "ridge": args.ridge, "kappa": args.kappa, "rho": args.rho,
            "max_degree": args.max_degree, "n_test": args.n_test, "y2_scale": args.y2_scale}
    path = {k: v for k, v in path.items() if v is not None}
    res = run_study(args.activation, args.target, ds=ds, runs=args.runs, seed=args.seed,
                    store=args.store, backend=args.backend, workers=args.workers,
                    progress=not (args.json or args.no_progress) and sys.stderr.isatty(),
                    **path)
    fig_paths = []
    if not args.no_figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from rmt_icl.reporting.equivalence_plot import draw_gaps
        from rmt_icl.reporting.style import apply_style, save_figure

        apply_style()
        fig = draw_gaps(res)
        name = f"equivalence_{res.config['activation']}_{res.config['target']}"
        fig_paths = [str(p) for p in save_figure(fig, Path(args.out) / name)]
        plt.close(fig)
    if args.json:
        out = res.to_dict()
        out["figure"] = fig_paths
        print_json(out)
        return 0
    cfg = res.config
    print(f"equivalence study: sigma={cfg['activation']}, g={cfg['target']}, alpha={cfg['alpha']}"
          f", tau={cfg['tau']}, psi={cfg.get('width_ratio')}, kappa={cfg['kappa']}, "
          f"rho={cfg['rho']}, lambda_bar={cfg['ridge']}, y2_scale={cfg.get('y2_scale', 1.0)}, "
          f"seed={args.seed}")
    degrees = res.degrees
    tab = res.table
    print("\nICL errors (mean ± SE over runs)")
    print_table(["d", "runs", "n", "k", "e_RT"] + [f"p={p}" for p in degrees] + ["linear"],
                [[int(r.d), int(r.runs), int(r.n), int(r.k), _fmt(r.e_rt, r.e_rt_se)]
                 + [_fmt(r[f"e_herm{p}"], r[f"e_herm{p}_se"]) for p in degrees]
                 + [_fmt(r.e_linear, r.e_linear_se)] for _, r in tab.iterrows()])
    print("\npaired gaps e_Herm(p) - e_RT (mean ± SE of the per-run differences)")
    print_table(["d"] + [f"p={p}" for p in degrees] + ["linear-RT"],
                [[int(r.d)] + [_fmt_delta(r[f"delta{p}"], r[f"delta{p}_se"]) for p in degrees]
                 + [_fmt_delta(r.lin_minus_rt, r.lin_minus_rt_se)] for _, r in tab.iterrows()])
    print("\nverdicts (log-log slope of |gap| vs d ± SE; resolved: |gap| > c SE, c = Student-t "
          "quantile of z = 2 for the runs at that d)")
    print_table(["p", "slope", "resolved per d", "verdict"],
                [[p, _fmt_delta(v["slope"], v["slope_se"]),
                  "".join("x" if x else "." for x in v["resolved"]), v["verdict"]]
                 for p, v in res.verdicts.items()])
    print(f"\n{res.p0['text']}")
    for f in fig_paths:
        print(f"wrote {f}")
    return 0
