"""The ``rmt-icl`` command line (also ``python -m rmt_icl``).

Each subcommand lives in its own module ``rmt_icl.cli.<name>`` exposing

``register(subparsers) -> argparse.ArgumentParser``
    adds the subcommand's parser and sets ``func`` (``func(args) -> int`` exit status).

A subcommand is listed in :data:`COMMANDS`; modules are imported only when present, so the
CLI starts fast and a missing optional subcommand never breaks the others.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from rmt_icl import __version__

#: subcommand modules, in the order ``rmt-icl --help`` lists them
COMMANDS = ("reproduce", "hermite", "simulate", "equivalence", "lsa_train", "sweep")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rmt-icl",
        description="Random-matrix theory of in-context learning: Hermite expansions, "
        "deterministic-equivalent ICL errors, and Monte Carlo validation.",
    )
    parser.add_argument("--version", action="version", version=f"rmt_icl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        modname = f"rmt_icl.cli.{name}"
        if importlib.util.find_spec(modname) is None:
            continue
        importlib.import_module(modname).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:  # bad input: one clear line, no traceback
        print(f"rmt-icl {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
