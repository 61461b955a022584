"""The command line shared by every figure script in ``figures/``.

Each script defines ``compute(quick=True, ...) -> dict`` and ``draw(results) -> Figure`` (the
gallery protocol, see :mod:`rmt_icl.reporting.gallery`) and ends with::

    def main(argv=None) -> int:
        return figure_main(argv, script=__file__, doc=__doc__, compute=compute, draw=draw,
                           full_help="paper sizes (...)", backend="processes", report=_report)

which gives it ``--full`` (the papers' sizes), ``--out DIR`` (default: the script's folder)
and, for simulation figures, ``--backend serial|processes|dask``; it writes
``<out>/<script name>.png`` and ``.pdf``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def figure_main(argv, *, script: str, doc: str, compute, draw, full_help: str,
                backend: str | None = None, report=None) -> int:
    """Parse the figure command line, compute, draw, save PNG + PDF, print a summary.

    Parameters
    ----------
    argv : list of str or None
        Command-line arguments (``None``: ``sys.argv[1:]``).
    script : str
        The script's ``__file__``: names the output files and the default output folder.
    doc : str
        The script's docstring; its first line is the ``--help`` description.
    compute, draw : callable
        The script's gallery functions.
    full_help : str
        What ``--full`` means for this figure.
    backend : str, optional
        Default sweep backend; ``None`` for figures that run no sweep (no ``--backend``).
    report : callable, optional
        ``report(results)`` prints the figure's own summary lines.
    """
    from rmt_icl.reporting.style import apply_style, save_figure

    script = Path(script).resolve()
    p = argparse.ArgumentParser(description=(doc or script.stem).strip().splitlines()[0])
    p.add_argument("--full", action="store_true", help=full_help)
    p.add_argument("--out", default=str(script.parent), help="output folder (default: figures/)")
    if backend is not None:
        p.add_argument("--backend", default=backend, choices=("serial", "processes", "dask"),
                       help=f"sweep backend (default: {backend})")
    args = p.parse_args(argv)
    kwargs = {"backend": args.backend} if backend is not None else {}
    apply_style()
    results = compute(quick=not args.full, **kwargs)
    paths = save_figure(draw(results), Path(args.out) / script.stem)
    if report is not None:
        report(results)
    print("wrote", ", ".join(str(path) for path in paths))
    return 0
