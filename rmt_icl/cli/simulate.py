"""``rmt-icl simulate``: Monte Carlo runs of one parameter point, with the theory next to them.

Examples
--------
``rmt-icl simulate --model linear-attention --d 40 --alpha 2 --tau 3 --kappa 2 --rho 0.1
--ridge 0.1 --runs 4 --seed 0 --json``

The JSON object holds the per-run ICL and IDG errors, their means and standard errors, the
theory values at the realised ratios, the sizes used and the mean wall time of each phase
(:func:`rmt_icl.experiments.runner.simulate`).

``--device gpu`` runs the simulators' linear algebra on a CUDA GPU through CuPy (the optional
extras ``gpu-cuda12``/``gpu-cuda13``; :mod:`rmt_icl.simulate.device`); it is an execution
option and does not change the point's parameters.
"""

from __future__ import annotations

import argparse
import math
import sys

from rmt_icl.cli._common import print_json, print_table, y2_scale_arg

MODELS = ("linear-attention", "linear-transformer", "random-transformer", "hermite")


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand."""
    p = subparsers.add_parser(
        "simulate",
        help="Monte Carlo ICL/IDG errors of one point, next to the theory",
        description="Simulate one parameter point over independent runs (sizes ell = alpha d, "
        "K = kappa d, n = tau d^2; see rmt_icl.simulate.paths) and print per-run errors, "
        "mean +- standard error, the deterministic-equivalent theory, sizes and timings.",
    )
    p.add_argument("--model", choices=MODELS, default="linear-attention")
    p.add_argument("--d", type=int, required=True, help="token dimension d >= 1")
    p.add_argument("--alpha", type=float, required=True, help="context length ratio ell/d > 0")
    p.add_argument("--tau", type=float, required=True, help="pretraining ratio n/d^2 > 0")
    p.add_argument("--kappa", type=float, default=math.inf,
                   help="task diversity K/d > 0, or inf for fresh tasks (default inf)")
    p.add_argument("--rho", type=float, default=0.0, help="label-noise variance >= 0")
    p.add_argument("--ridge", type=float, default=0.0,
                   help="ridge lambda >= 0 (linear attention: penalty (n/d) lambda ||Gamma||^2)")
    p.add_argument("--runs", type=int, default=1, help="independent runs (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed >= 0 (default 0)")
    p.add_argument("--target", default=None, help="target g: linear (default), relu, tanh, he2")
    p.add_argument("--y2-scale", type=y2_scale_arg, default=None,
                   help="scale of the y^2 entry of h: la (1, Lu et al.'s; the linear-attention "
                   "default), companion (sqrt(d), Demir & Dogan's; the default of the random "
                   "transformer, Hermite and linear-transformer models) or a number c > 0")
    p.add_argument("--method", choices=("auto", "primal", "dual"), default=None,
                   help="linear attention: ridge solver (default auto, by shape)")
    p.add_argument("--activation", default=None, help="random transformer: activation")
    p.add_argument("--degree", type=int, default=None, help="Hermite model: degree")
    p.add_argument("--width-ratio", type=float, default=None,
                   help="random transformer: width ratio k/n")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="where the simulation runs: cpu (default) or gpu (CuPy; see "
                   "docs/gpu.md)")
    p.add_argument("--sampling", choices=("device", "host"), default=None,
                   help="gpu only: draw F and the Hermite noise on the device (default) or on "
                   "the host, as the CPU path does (exact mode)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar over the runs (shown by default when stderr is a "
                   "terminal)")
    p.set_defaults(func=run)
    return p


def build_params(args) -> dict:
    """The point's parameter dict from parsed arguments (options left unset are omitted)."""
    params = {"d": args.d, "alpha": args.alpha, "tau": args.tau, "kappa": args.kappa,
              "rho": args.rho, "ridge": args.ridge}
    for name in ("target", "y2_scale", "method", "activation", "degree", "width_ratio"):
        value = getattr(args, name)
        if value is not None:
            params[name] = value
    return params


def run(args) -> int:
    """Execute ``rmt-icl simulate``."""
    from rmt_icl.core.errors import DeviceUnavailableError
    from rmt_icl.experiments.runner import simulate
    from rmt_icl.simulate.device import use_device

    try:
        with use_device(args.device, sampling=args.sampling):
            res = simulate(args.model, build_params(args), runs=args.runs, seed=args.seed,
                           progress=not args.no_progress and sys.stderr.isatty())
    except DeviceUnavailableError as exc:   # no GPU here: one clear line, no traceback
        print(f"rmt-icl simulate: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print_json(res)
        return 0
    s = res["sizes"]
    print(f"{res['model']}: " + ", ".join(f"{k}={v}" for k, v in s.items()))
    rows = []
    for q in ("icl", "idg", "gap"):
        theory = res.get(f"theory_{q}")
        if q == "gap":
            theory = res["theory_icl"] - res["theory_idg"]
        mean, se = res[f"{q}_mean"], res[f"{q}_se"]
        z = (mean - theory) / se if se and math.isfinite(se) and se > 0 else math.nan
        rows.append([q, f"{mean:.6g}", f"{se:.2g}", f"{theory:.6g}", f"{z:+.2f}"])
    print_table(["error", "mean", "se", "theory", "(sim-theory)/se"], rows)
    if res.get("theory_note"):
        print(f"theory: {res['theory_note']}")
    print("timings (s, mean per run): " + ", ".join(f"{k}={v:.3g}"
                                                   for k, v in res["timings"].items()))
    return 0
