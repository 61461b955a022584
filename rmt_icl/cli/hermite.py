"""``rmt-icl hermite``: print the Hermite expansion of an activation.

Example::

    rmt-icl hermite relu --degree 4
    rmt-icl hermite leaky_relu --degree 6 --param slope=0.1 --variance 2 --json
"""

from __future__ import annotations

import argparse
import math

from rmt_icl.cli._common import print_json, print_table


def _parse_param(text: str):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param must look like name=value, got {text!r}")
    name, value = text.split("=", 1)
    name = name.strip()
    try:
        if "," in value:
            return name, tuple(float(x) for x in value.split(",") if x.strip())
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--param {name}: value must be a number or comma-separated numbers, got {value!r}"
        ) from None


#: registered activation names, spelled out so that ``rmt-icl --help`` does not import numba
#: (a test checks that this equals ``rmt_icl.hermite.activation_names()``)
ACTIVATION_NAMES = (
    "abs", "cos", "cubic", "elu", "erf", "gelu", "identity", "leaky_relu", "polynomial",
    "quadratic", "relu", "sigmoid", "sign", "silu", "sin", "softplus", "tanh",
)


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "hermite",
        help="Hermite coefficients c_k = E[σ(√v z) He_k(z)]/k! of an activation",
        description="Print c_k = E[σ(√v z) He_k(z)]/k! (z ~ N(0,1), probabilists' He_k), "
        "k! c_k², the cumulative residual c*_k = sqrt(E σ² - Σ_{j≤k} j! c_j²), E σ² and the "
        "estimated absolute error. Activations: " + ", ".join(ACTIVATION_NAMES) + ".",
    )
    p.add_argument("activation", help="registered activation name")
    p.add_argument("--degree", "-P", type=int, default=8, help="highest degree P (default 8)")
    p.add_argument("--variance", "-v", type=float, default=1.0, help="pre-activation variance v")
    p.add_argument(
        "--param",
        action="append",
        type=_parse_param,
        default=[],
        metavar="NAME=VALUE",
        help="activation parameter, e.g. slope=0.1 (leaky_relu), a=2 (erf), coeffs=0,1,0.5",
    )
    p.add_argument(
        "--method",
        choices=("auto", "closed_form", "quadrature", "mpmath"),
        default="auto",
        help="closed form when available (auto), adaptive quadrature, or the mpmath reference",
    )
    p.add_argument("--precision", type=int, default=30, help="digits of the mpmath path")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from rmt_icl.hermite import hermite_expansion

    params = dict(args.param)
    e = hermite_expansion(
        args.activation,
        args.degree,
        variance=args.variance,
        method=args.method,
        precision=args.precision,
        params=params or None,
    )
    if args.json:
        print_json(e.as_dict())
        return 0
    ps = ", ".join(f"{k}={v}" for k, v in e.params.items())
    print(
        f"Hermite expansion of {e.activation}{'(' + ps + ')' if ps else ''} at variance "
        f"v = {e.variance:g}: σ(√v z) = Σ_k c_k He_k(z), z ~ N(0,1)  [method: {e.method}]"
    )
    rows = [
        (k, f"{c: .15e}", f"{en:.15e}", f"{r:.15e}")
        for k, (c, en, r) in enumerate(zip(e.coefficients, e.energies, e.residuals, strict=True))
    ]
    print_table(("k", "c_k", "k! c_k^2", "c*_k"), rows)
    parseval = float(e.energies.sum()) + e.residual**2
    print(f"E sigma^2            = {e.second_moment:.15e}")
    print(f"sum k! c_k^2 + c*_P^2 = {parseval:.15e}  (Parseval)")
    print(f"residual c*_{e.degree}         = {e.residual:.15e}")
    err = e.error if math.isfinite(e.error) else float("nan")
    print(f"estimated abs. error = {err:.1e}")
    return 0
