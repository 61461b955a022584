"""The figure catalogue behind ``rmt-icl reproduce --list``: captions and measured wall times.

One row per figure script of the figures folder (:func:`rmt_icl.reporting.gallery.discover`):
its name, its one-line caption (:func:`rmt_icl.reporting.gallery.caption`) and the wall time
that its last successful run took at quick and at full sizes. The times are measured, not
modelled: they are the ``seconds`` of the figure's row in the report sidecars that
:func:`rmt_icl.reporting.gallery.reproduce` writes,

* ``<figures_dir>/REPORT.json`` -- the quick run (``rmt-icl reproduce``);
* ``<figures_dir>/full/REPORT.json`` -- the full run (``rmt-icl reproduce --full --out
  figures/full``),

each ``{"rows": [{"figure": name, "seconds": s, "status": "ok", ...}, ...]}``. A time is
``None`` ("not measured") where the file is missing or unreadable, the figure has no row, its
row records a failed run (``status`` other than ``"ok"``; the time to a failure says nothing
about a full run) or its ``seconds`` is not a finite number ``>= 0``.

The caption is read from the script's source (its module docstring and a literal ``CAPTION``
assignment) without running it; only a ``CAPTION`` computed by code makes the script be
imported (:func:`rmt_icl.reporting.gallery.load_script`), which runs no simulation.
"""

from __future__ import annotations

import ast
import json
import math
from numbers import Real
from pathlib import Path

from rmt_icl.reporting.gallery import caption, default_figures_dir, discover, load_script

#: the report sidecars, relative to the figures folder: size -> path
REPORTS = {"quick": Path("REPORT.json"), "full": Path("full") / "REPORT.json"}

NOT_MEASURED = "not measured"


def measured_seconds(report: Path | str) -> dict[str, float]:
    """Wall time in seconds of each figure's successful run recorded in a ``REPORT.json``.

    Parameters
    ----------
    report : path
        A report sidecar written by :func:`rmt_icl.reporting.gallery.reproduce`.

    Returns
    -------
    dict of str to float
        Figure name -> ``seconds`` for the rows with ``status == "ok"`` (or no ``status``) and
        a finite ``seconds >= 0``. Empty if the file is missing, is not valid JSON or has no
        ``rows`` list; malformed rows are skipped. Never raises for the file's content.
    """
    try:
        rows = json.loads(Path(report).read_text(encoding="utf-8"))["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(rows, list):
        return {}
    times = {}
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("figure"), str):
            continue
        seconds = row.get("seconds")
        if row.get("status", "ok") != "ok" or isinstance(seconds, bool):
            continue
        if isinstance(seconds, Real) and math.isfinite(seconds) and seconds >= 0:
            times[row["figure"]] = float(seconds)
    return times


def script_caption(path: Path | str) -> str:
    """A figure script's one-line caption, read from its source without running it.

    The rule is :func:`rmt_icl.reporting.gallery.caption`'s (``CAPTION``, else the module
    docstring's first paragraph). A top-level ``CAPTION`` that is a literal is read from the
    syntax tree; any other ``CAPTION`` (built by code) is read by importing the script.

    Parameters
    ----------
    path : path
        A ``fig_*.py`` script.

    Returns
    -------
    str
        The caption on one line; empty if the script has none, and ``"unreadable script:
        <error>"`` if it cannot be parsed (or, for a computed ``CAPTION``, imported).
    """
    path = Path(path)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        return f"unreadable script: {type(exc).__name__}: {exc}"
    namespace = {"__doc__": ast.get_docstring(tree, clean=False)}
    value = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "CAPTION"
                                                for t in node.targets):
            value = node.value
        elif (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
              and node.target.id == "CAPTION" and node.value is not None):
            value = node.value
    if value is not None:
        try:
            namespace["CAPTION"] = ast.literal_eval(value)
        except ValueError:  # computed by code: the script has to run to know it
            try:
                namespace = vars(load_script(path))
            except Exception as exc:  # a broken script must not break the listing
                return f"unreadable script: {type(exc).__name__}: {exc}"
    return caption(namespace)


def catalogue(figures_dir: Path | str | None = None) -> list[dict]:
    """One row per figure script: name, caption and measured quick and full wall times.

    Parameters
    ----------
    figures_dir : path, optional
        Folder of the ``fig_*.py`` scripts and of the report sidecars (:data:`REPORTS`);
        default :func:`rmt_icl.reporting.gallery.default_figures_dir`.

    Returns
    -------
    list of dict
        In :func:`rmt_icl.reporting.gallery.discover`'s (sorted) order, each with ``figure``
        (name), ``caption`` (:func:`script_caption`), ``quick_seconds`` and ``full_seconds``
        (:func:`measured_seconds` of the quick and full sidecars; ``None`` where not measured)
        and ``script`` (the script's path, as a string).

    Raises
    ------
    ValueError
        The folder does not exist or holds no ``fig_*.py`` script.
    """
    folder = Path(figures_dir) if figures_dir is not None else default_figures_dir()
    scripts = discover(folder)
    quick = measured_seconds(folder / REPORTS["quick"])
    full = measured_seconds(folder / REPORTS["full"])
    return [{"figure": name, "caption": script_caption(path), "quick_seconds": quick.get(name),
             "full_seconds": full.get(name), "script": str(path)}
            for name, path in scripts.items()]


def format_duration(seconds: float | None) -> str:
    """``"not measured"`` for ``None``; else seconds below 100 s, minutes below 1 h, hours."""
    if seconds is None:
        return NOT_MEASURED
    if seconds < 100:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _total(values: list[float | None]) -> tuple[str, int]:
    """Total cell of a time column and the number of figures it leaves out.

    ``"not measured"`` if no figure is measured; ``">= <sum>"`` (a lower bound) if some are
    not; the sum itself if all are.
    """
    known = [v for v in values if v is not None]
    missing = len(values) - len(known)
    if not known:
        return NOT_MEASURED, missing
    return (">= " if missing else "") + format_duration(math.fsum(known)), missing


def format_catalogue(rows: list[dict]) -> list[str]:
    """Lines of the ``rmt-icl reproduce --list`` table for :func:`catalogue`'s rows.

    Columns ``figure``, ``quick``, ``full`` (:func:`format_duration`) and ``caption``, then a
    ``total`` line summing each time column. A total over a column with unmeasured figures
    is a lower bound, marked ``>=`` and explained in a note line below the table.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`catalogue`.

    Returns
    -------
    list of str
        The table's lines, without trailing newlines.
    """
    totals = {size: _total([r[f"{size}_seconds"] for r in rows]) for size in ("quick", "full")}
    cells = [[r["figure"], format_duration(r["quick_seconds"]),
              format_duration(r["full_seconds"]), r["caption"]] for r in rows]
    head = ["figure", "quick", "full", "caption"]
    foot = ["total", totals["quick"][0], totals["full"][0], ""]
    widths = [max(len(row[i]) for row in [head, *cells, foot]) for i in range(3)]

    def line(row):
        padded = [c.ljust(w) for c, w in zip(row[:3], widths, strict=True)]
        return "  ".join(padded + [row[3]]).rstrip()

    lines = [line(head)] + [line(row) for row in cells] + [line(foot)]
    for size, (_, missing) in totals.items():
        if missing and missing < len(rows):
            lines.append(f">= : {missing} of {len(rows)} figure(s) not measured at {size} "
                         f"sizes; the total counts the measured ones only")
    return lines
