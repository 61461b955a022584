"""``rmt-icl reproduce``: regenerate every validation figure and ``REPORT.md``."""

from __future__ import annotations

import sys


def register(subparsers):
    """Add the ``reproduce`` subcommand."""
    p = subparsers.add_parser(
        "reproduce",
        help="regenerate every validation figure (quick sizes by default) and REPORT.md",
        description="Regenerate every validation figure: theory over simulation with error "
        "bars, PNG and PDF, and a REPORT.md table. Simulations go through the sweep store, "
        "so an interrupted run resumes where it stopped.",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="full", action="store_false",
                      help="quick sizes, about 10 minutes on 2 cores (default)")
    size.add_argument("--full", dest="full", action="store_true", help="the papers' sizes")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only this figure (repeatable); see --list")
    p.add_argument("--out", default="figures", help="output folder (default: figures/)")
    p.add_argument("--figures", "--figures-dir", dest="figures_dir", metavar="DIR", default=None,
                   help="folder of the fig_*.py scripts (default: figures/ under the current "
                   "folder if it holds them, else the source checkout's)")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run, full=False)
    return p


def _run(args) -> int:
    """Execute ``rmt-icl reproduce``: list the figures, or run them and print one line each."""
    from rmt_icl.reporting.gallery import discover, reproduce

    if args.list:
        for name, path in discover(args.figures_dir).items():
            print(f"{name:32s} {path}")
        return 0
    rows = reproduce(quick=not args.full, only=args.only, out=args.out,
                     figures_dir=args.figures_dir, progress=not args.no_progress)
    failed = [r for r in rows if r["status"] != "ok"]
    for r in rows:
        gap = r.get("max_gap_se")
        gap_s = "theory only" if gap is None else f"max gap {gap:.2f} SE"
        state = "ok" if r["status"] == "ok" else "FAILED"
        print(f"{state:6s} {r['figure']:30s} {r['seconds']:7.1f} s  "
              f"{gap_s if r['status'] == 'ok' else r.get('error', '')}")
    print(f"report: {args.out}/REPORT.md")
    for r in failed:
        print(f"\n--- {r['figure']} ---\n{r.get('traceback', '')}", file=sys.stderr)
    return 1 if failed else 0
