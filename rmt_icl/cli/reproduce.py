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
    size.add_argument("--quick", dest="size", action="store_const", const="quick",
                      help="quick sizes, about 8 minutes on 2 cores (default; run in CI)")
    size.add_argument("--full", dest="size", action="store_const", const="full",
                      help="full sizes, where the verdicts' allowances are small: under 2 hours "
                      "on 2 cores; written to figures/full/ by default")
    size.add_argument("--paper", dest="size", action="store_const", const="paper",
                      help="the papers' own sizes (d = 64-100), for a cluster or a GPU; "
                      "written to figures/paper/ by default")
    size.add_argument("--calibrate", dest="size", action="store_const", const="calibrate",
                      help="measure each figure's finite-size allowance on independent runs at "
                      "two or more d and write ALLOWANCES.json next to the scripts")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only this figure (repeatable); see --list")
    p.add_argument("--out", default=None,
                   help="output folder (default: figures/, figures/full/ or figures/paper/)")
    p.add_argument("--figures", "--figures-dir", dest="figures_dir", metavar="DIR", default=None,
                   help="folder of the fig_*.py scripts (default: figures/ under the current "
                   "folder if it holds them, else the source checkout's)")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    p.add_argument("--rejudge", action="store_true",
                   help="re-judge the report in --out (of the chosen sizes) with the current "
                   "ALLOWANCES.json, without simulating; run times are kept")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run, size="quick")
    return p


def _run(args) -> int:
    """Execute ``rmt-icl reproduce``: list, calibrate, or run the figures and print one line
    each; the exit status is 1 if a figure failed or its verdict is "disagree"."""
    from rmt_icl.reporting.gallery import calibrate_figures, rejudge, reproduce

    if args.list:
        from rmt_icl.reporting.catalogue import catalogue, format_catalogue

        for line in format_catalogue(catalogue(args.figures_dir)):
            print(line)
        return 0
    if args.size == "calibrate":
        written = calibrate_figures(only=args.only, figures_dir=args.figures_dir,
                                    progress=not args.no_progress)
        for name, entry in written.items():
            by_d = ", ".join(f"d={d}: {c:.3g}" for d, c in entry["provenance"]["c_by_d"].items())
            print(f"{name:30s} c = {entry['c']:.3g} (c_d: {by_d})")
        return 0
    out = args.out or {"quick": "figures", "full": "figures/full",
                       "paper": "figures/paper"}[args.size]
    if args.rejudge:
        rows = rejudge(quick=args.size == "quick", paper=args.size == "paper", out=out,
                       figures_dir=args.figures_dir)
    else:
        rows = reproduce(quick=args.size == "quick", paper=args.size == "paper",
                         only=args.only, out=out, figures_dir=args.figures_dir,
                         progress=not args.no_progress)
    failed = [r for r in rows if r["status"] != "ok"]
    disagree = [r for r in rows if r.get("verdict") == "disagree"]
    for r in rows:
        state = "FAILED" if r["status"] != "ok" else r.get("verdict", "ok")
        detail = r.get("verdict_text", "") if r["status"] == "ok" else r.get("error", "")
        print(f"{state:12s} {r['figure']:24s} {r['seconds']:7.1f} s  {detail}")
    print(f"report: {out}/REPORT.md")
    for r in failed:
        print(f"\n--- {r['figure']} ---\n{r.get('traceback', '')}", file=sys.stderr)
    if disagree:
        print(f"theory and simulation disagree in: {', '.join(r['figure'] for r in disagree)}",
              file=sys.stderr)
    return 1 if failed or disagree else 0
