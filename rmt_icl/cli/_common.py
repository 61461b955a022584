"""Helpers shared by the CLI subcommands: JSON output and table printing."""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np


def to_jsonable(obj):
    """Recursively convert numpy scalars/arrays and non-finite floats to JSON-safe values.

    ``inf`` and ``nan`` become the strings ``"inf"``, ``"-inf"``, ``"nan"`` so that the output
    is strict JSON that any parser accepts.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def print_json(obj, stream=None) -> None:
    json.dump(to_jsonable(obj), stream or sys.stdout, indent=2, allow_nan=False)
    (stream or sys.stdout).write("\n")


def print_table(headers, rows, stream=None) -> None:
    """Print a plain fixed-width table."""
    stream = stream or sys.stdout
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for j, r in enumerate(cells):
        stream.write("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
        if j == 0:
            stream.write("  ".join("-" * w for w in widths) + "\n")


def y2_scale_arg(value: str):
    """``--y2-scale``: ``la`` (1), ``companion`` (sqrt(d), Demir & Dogan's) or a number > 0."""
    key = value.strip().lower()
    if key in ("la", "companion"):
        return key
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not number > 0 or not math.isfinite(number):
        raise argparse.ArgumentTypeError(
            f"y2_scale must be 'la', 'companion' or a positive number, got {value!r}")
    return number
