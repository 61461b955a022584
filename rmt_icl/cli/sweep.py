"""``rmt-icl sweep``: run a parameter sweep into a durable, resumable store, or show its status.

Examples
--------
``rmt-icl sweep examples/sweep_example.toml --store results/example``
``rmt-icl sweep --store results/example --status``
``rmt-icl sweep spec.toml --store results/big --backend dask --scheduler tcp://host:8786``
``rmt-icl sweep spec.toml --store results/big --device gpu``
"""

from __future__ import annotations

import argparse
import sys

from rmt_icl.cli._common import print_json, print_table
from rmt_icl.core.errors import DeviceUnavailableError, StoreError


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand."""
    p = subparsers.add_parser(
        "sweep",
        help="run a parameter sweep into a resumable results store",
        description="Run every (point, run) of a TOML sweep spec that the store does not hold "
        "yet; finished runs are committed one by one, so an interrupted sweep resumes where "
        "it stopped. See docs/sweeps.md.",
    )
    p.add_argument("spec", nargs="?", help="sweep spec (TOML); optional with --status")
    p.add_argument("--store", required=True, help="results directory, e.g. results/NAME")
    p.add_argument("--backend", choices=("serial", "processes", "dask"), default="processes",
                   help="where to compute (default: local processes on all cores)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (with --backend dask; default: a LocalCluster)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (processes backend or Dask LocalCluster; default: "
                   "all cores)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="where the simulators run: cpu (default) or gpu (CuPy, one point at a "
                   "time per device; see docs/gpu.md); not part of the points' keys")
    p.add_argument("--status", action="store_true",
                   help="show what is done, failed and missing; compute nothing")
    p.add_argument("--json", action="store_true", help="with --status: print JSON")
    p.add_argument("--force-new", action="store_true",
                   help="if the store holds a different spec (or is corrupt), move it to "
                   "STORE/superseded/<time>/ and start a new one")
    p.add_argument("--keep-failed", action="store_true",
                   help="do not retry runs that failed in an earlier invocation")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Execute ``rmt-icl sweep``; exit 0 when every run is ok, 1 when some failed."""
    try:
        if args.status:
            return _status(args)
        if not args.spec:
            raise ValueError("a SPEC.toml is required (except with --status)")
        from rmt_icl.sweep.run import sweep

        df = sweep(
            args.spec, store=args.store, backend=args.backend, workers=args.workers,
            scheduler=args.scheduler, progress=not args.no_progress,
            force_new=args.force_new, retry_failed=not args.keep_failed, device=args.device,
        )
    except (StoreError, DeviceUnavailableError) as exc:
        print(f"rmt-icl sweep: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rmt-icl sweep: interrupted; every finished run is saved - run the same command "
              "to resume", file=sys.stderr)
        return 130
    from rmt_icl.sweep.store import Store

    st = Store(args.store)
    try:
        info = st.status()
    finally:
        st.close()
    _print_status(info)
    failed = int((df["status"] != "ok").sum())
    if failed:
        print(f"{failed} run(s) failed; re-run the same command to retry them", file=sys.stderr)
    return 1 if failed else 0


def _status(args) -> int:
    from rmt_icl.sweep.spec import load_spec
    from rmt_icl.sweep.store import Store

    st = Store(args.store)
    try:
        info = st.status()
        if args.spec:
            try:
                st.check_spec(load_spec(args.spec))
                info["spec_matches"] = True
            except StoreError as exc:
                info["spec_matches"] = False
                print(f"warning: {exc}", file=sys.stderr)
    finally:
        st.close()
    if args.json:
        print_json(info)
    else:
        _print_status(info)
    return 0


def _print_status(info: dict) -> None:
    print(f"store: {info['store']}" + (f"  ({info['name']})" if info.get("name") else ""))
    print_table(
        ["", "total", "ok", "failed", "missing"],
        [["runs", info["runs_total"], info["runs_ok"], info["runs_failed"],
          info["runs_missing"]]],
    )
    print(
        f"points: {info['points']} ({info['runs_per_point']} run(s) each): "
        f"{info['points_complete']} complete, {info['points_with_failures']} with failures, "
        f"{info['points_untouched']} not started"
    )
    for f in info["failures"]:
        print(f"  failed: point {f['point']} run {f['run']}: {f['error']}")
    if info["runs_failed"] > len(info["failures"]):
        print(f"  ... and {info['runs_failed'] - len(info['failures'])} more failed run(s)")
    for m in info["missing"]:
        params = ", ".join(f"{k}={v}" for k, v in m["params"].items())
        print(f"  missing: point {m['point']} ({m['runs_missing']} run(s)): {params}")
    if info["points_with_missing_runs"] > len(info["missing"]):
        extra = info["points_with_missing_runs"] - len(info["missing"])
        print(f"  ... and {extra} more point(s) with missing runs")
