"""The reproduction gallery: regenerate every validation figure and write ``REPORT.md``.

Figure scripts live in the checkout's ``figures/`` folder, one per figure
(``figures/fig_*.py``). Each follows one protocol, so that the gallery, the scripts' own
command lines and the notebooks share the same code path (the scripts get it from
:class:`rmt_icl.reporting.figure.Figure`):

``compute(quick=True) -> dict``
    Runs the simulations (through :func:`rmt_icl.sweep.sweep`, with a store under ``results/``
    so an interrupted run resumes) and the theory. The dict carries at least

    * ``"comparison"`` -- one line saying what is compared (e.g. "e_ICL theory vs simulation");
    * ``"max_gap_se"`` -- the largest ``|simulation - theory| / SE`` over the plotted points
      (``None`` for theory-only figures);
    * ``"sizes"`` -- the simulation sizes used (e.g. ``"d=32, runs=5"``);
    * optionally ``"max_rel_gap"`` -- the largest ``|simulation - theory| / theory``.

Each script's one-line caption (its ``CAPTION``, else the first paragraph of its docstring;
:func:`caption`) goes into the report next to its numbers.

``draw(results) -> matplotlib.figure.Figure``
    Draws from the results only (no recomputation).

:func:`reproduce` runs ``compute`` and ``draw`` for every script, saves PNG and PDF through
:func:`rmt_icl.reporting.style.save_figure`, and writes ``REPORT.md``, a table with one row per
figure (``REPORT.json`` keeps the rows, so a run with ``only=`` updates just its figures).

The figures folder is an option (``figures_dir=``, ``rmt-icl reproduce --figures DIR``); by
default it is :func:`default_figures_dir`.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path

from tqdm.auto import tqdm

from rmt_icl import __version__
from rmt_icl.reporting.style import apply_style, save_figure

#: ``figures/`` of the source checkout next to the package (present in an editable install)
CHECKOUT_FIGURES = Path(__file__).resolve().parents[2] / "figures"
_HOW = "pass the folder of the fig_*.py scripts with --figures DIR (figures_dir= in Python)"


def caption(namespace: Mapping) -> str:
    """A figure script's one-line caption: its ``CAPTION``, else its docstring's first paragraph.

    Parameters
    ----------
    namespace : mapping
        The script's module-level names (``globals()`` or ``vars(module)``).

    Returns
    -------
    str
        The caption on one line (whitespace runs collapsed); empty if the script has neither.
    """
    text = namespace.get("CAPTION") or (namespace.get("__doc__") or "").strip().split("\n\n")[0]
    return " ".join(str(text).split())


def _has_scripts(folder: Path) -> bool:
    """Whether ``folder`` exists and holds at least one ``fig_*.py`` script."""
    return folder.is_dir() and any(folder.glob("fig_*.py"))


def default_figures_dir() -> Path:
    """The checkout's ``figures/``: under the current folder, else next to the package.

    ``figures/`` under the current working directory is used if it holds ``fig_*.py`` scripts
    (a run from the repository root); otherwise :data:`CHECKOUT_FIGURES`, the ``figures/`` of
    the source checkout the package was installed from in editable mode.

    Raises
    ------
    ValueError
        Neither folder holds figure scripts (e.g. a regular install run outside a clone).
    """
    here = Path.cwd() / "figures"
    for folder in (here, CHECKOUT_FIGURES):
        if _has_scripts(folder):
            return folder
    raise ValueError(f"no figures folder found: neither {here} nor {CHECKOUT_FIGURES} (the "
                     f"source checkout's) holds fig_*.py scripts; run from the repository "
                     f"root or {_HOW}")


def discover(figures_dir: Path | str | None = None) -> dict[str, Path]:
    """Map figure name (script stem without ``fig_``) to script path, in sorted order.

    Parameters
    ----------
    figures_dir : path, optional
        Folder of the ``fig_*.py`` scripts (default :func:`default_figures_dir`).

    Raises
    ------
    ValueError
        The folder does not exist or holds no ``fig_*.py`` script.
    """
    folder = Path(figures_dir) if figures_dir is not None else default_figures_dir()
    if not folder.is_dir():
        raise ValueError(f"figures folder {folder} does not exist; {_HOW}")
    scripts = {p.stem[len("fig_"):]: p for p in sorted(folder.glob("fig_*.py"))}
    if not scripts:
        raise ValueError(f"figures folder {folder} holds no fig_*.py scripts; {_HOW}")
    return scripts


def load_script(path: Path):
    """Import a figure script by path and check that it follows the protocol."""
    spec = importlib.util.spec_from_file_location(f"rmt_icl_figure_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for attr in ("compute", "draw"):
        if not callable(getattr(module, attr, None)):
            raise ValueError(f"figure script {path} has no {attr}() function")
    return module


def run_figure(name: str, path: Path, *, quick: bool, out: Path) -> dict:
    """Compute, draw and save one figure; return its report row (errors are recorded)."""
    import matplotlib.pyplot as plt

    apply_style()
    t0 = time.perf_counter()
    row = {"figure": name, "script": f"figures/{path.name}", "stem": path.stem}
    try:
        module = load_script(path)
        row["caption"] = caption(vars(module))
        results = module.compute(quick=quick)
        fig = module.draw(results)
        files = save_figure(fig, out / path.stem)
        plt.close(fig)
        row.update(
            status="ok",
            comparison=results.get("comparison", ""),
            max_gap_se=results.get("max_gap_se"),
            max_rel_gap=results.get("max_rel_gap"),
            sizes=results.get("sizes", ""),
            files=[str(f) for f in files],
        )
    except Exception as exc:  # one broken figure must not lose the others
        row.update(status="error", error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc())
    row["seconds"] = time.perf_counter() - t0
    return row


def _cell(text) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, one line)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_report(rows: list[dict], path: Path, *, quick: bool) -> Path:
    """Write ``REPORT.md``: one row per figure with the theory/simulation gap, sizes and its
    one-line caption."""
    lines = [
        "# Validation report",
        "",
        f"Generated by `rmt-icl reproduce {'--quick' if quick else '--full'}` "
        f"(rmt_icl {__version__}). Gaps are |simulation − theory| in units of the simulation's "
        "standard error over independent runs, maximised over the plotted points; finite-size "
        "effects of order 1/d are expected at quick sizes (see each figure's caption).",
        "",
        "| figure | comparison | max gap (SE) | max relative gap | sizes | run time (s) | status "
        "| caption |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = r.get("max_gap_se")
        gap_s = "—" if gap is None else f"{gap:.2f}"
        rel = r.get("max_rel_gap")
        rel_s = "—" if rel is None else f"{100 * rel:.1f} %"
        status = r["status"] if r["status"] == "ok" else f"error: {r.get('error', '')}"
        cells = [_cell(r.get("comparison", "")), gap_s, rel_s, _cell(r.get("sizes", "")),
                 f"{r['seconds']:.1f}", _cell(status), _cell(r.get("caption", ""))]
        lines.append(f"| [{r['figure']}]({r['stem']}.png) | " + " | ".join(cells) + " |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _merge_rows(out: Path, rows: list[dict]) -> list[dict]:
    """Rows of this run merged into those of ``REPORT.json`` (kept for figures not rerun)."""
    path = out / "REPORT.json"
    old = []
    if path.exists():
        try:
            old = json.loads(path.read_text())["rows"]
        except (ValueError, KeyError, TypeError):
            old = []  # an unreadable sidecar only loses the rows of figures not rerun
    names = {r["figure"] for r in rows}
    merged = [r for r in old if r.get("figure") not in names] + rows
    merged.sort(key=lambda r: r["figure"])
    keep = ("figure", "script", "stem", "status", "caption", "comparison", "max_gap_se",
            "max_rel_gap", "sizes", "seconds", "error")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": [{k: r.get(k) for k in keep if k in r}
                                         for r in merged]}, indent=1))
    return merged


def reproduce(*, quick: bool = True, only=None, out="figures", figures_dir=None,
              progress: bool = True) -> list[dict]:
    """Regenerate the validation figures and write ``<out>/REPORT.md``.

    Parameters
    ----------
    quick : bool
        Quick sizes (default; about 10 minutes on 2 cores) or the papers' sizes.
    only : str or sequence of str, optional
        Figure names (see :func:`discover`) to run; default all.
    out : path
        Output folder for PNG, PDF and REPORT.md.
    figures_dir : path, optional
        Folder of the figure scripts (default :func:`default_figures_dir`).
    progress : bool
        Show overall progress: a bar on a terminal, one line per finished figure otherwise
        (logs, CI).

    Returns
    -------
    list of dict
        One report row per figure.
    """
    scripts = discover(figures_dir)
    if only:
        names = [only] if isinstance(only, str) else list(only)
        unknown = sorted(set(names) - set(scripts))
        if unknown:
            raise ValueError(f"only must name figures among {sorted(scripts)}; "
                             f"unknown: {unknown}")
        scripts = {n: scripts[n] for n in scripts if n in names}
    out = Path(out)
    rows = []
    tty = sys.stderr.isatty()
    bar = tqdm(scripts.items(), desc="figures", unit="fig", disable=not (progress and tty))
    for i, (name, path) in enumerate(bar, 1):
        bar.set_postfix_str(name)
        rows.append(run_figure(name, path, quick=quick, out=out))
        # keep the report current; figures not rerun (--only) keep their earlier rows
        write_report(_merge_rows(out, rows), out / "REPORT.md", quick=quick)
        if progress and not tty:
            r = rows[-1]
            print(f"[{i}/{len(scripts)}] {name}: {r['status']} in {r['seconds']:.0f} s",
                  file=sys.stderr, flush=True)
    return rows
