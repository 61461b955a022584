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
    * optionally ``"max_rel_gap"`` -- the largest ``|simulation - theory| / theory``;
    * optionally ``"comparisons"`` -- the figure's comparison table
      (:func:`rmt_icl.experiments.verdict.comparison_table`), from which the gallery draws the
      figure's verdict (:func:`figure_verdict`).

Each script's one-line caption (its ``CAPTION``, else the first paragraph of its docstring;
:func:`caption`) goes into the report next to its numbers.

``draw(results) -> matplotlib.figure.Figure``
    Draws from the results only (no recomputation).

:func:`reproduce` runs ``compute`` and ``draw`` for every script, saves PNG and PDF through
:func:`rmt_icl.reporting.style.save_figure`, and writes ``REPORT.md``, a table with one row per
figure and its verdict (``REPORT.json`` keeps the rows and the comparison tables, so a run
with ``only=`` updates just its figures and a test can re-judge a table).

Verdicts (:mod:`rmt_icl.experiments.verdict`): "agree", "disagree", "not covered", "no theory"
(a comparison between simulated models) or "theory only". The finite-size allowances are read
from ``<figures>/ALLOWANCES.json`` (:func:`load_allowances`), which :func:`calibrate_figures`
writes from independent runs at two or more ``d``, with their provenance.

The figures folder is an option (``figures_dir=``, ``rmt-icl reproduce --figures DIR``); by
default it is :func:`default_figures_dir`.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from rmt_icl import __version__
from rmt_icl.experiments.verdict import Allowance, Verdict, calibrate, judge
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


ALLOWANCES_FILE = "ALLOWANCES.json"


def load_allowances(figures_dir: Path | str | None = None) -> dict[str, Allowance]:
    """The figures' finite-size allowances, from ``<figures_dir>/ALLOWANCES.json``.

    Returns
    -------
    dict
        Figure name -> :class:`~rmt_icl.experiments.verdict.Allowance`; empty if the file does
        not exist (every allowance is then ``c = 0``).

    Raises
    ------
    ValueError
        The file exists but is not a valid allowances file (its path is named).
    """
    folder = Path(figures_dir) if figures_dir is not None else default_figures_dir()
    path = folder / ALLOWANCES_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {name: Allowance.from_dict(entry) for name, entry in data["figures"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a valid allowances file ({{'figures': {{name: {{'c': "
                         f"..., 'rate': ..., 'provenance': ...}}}}}}): {exc}; regenerate it "
                         f"with rmt-icl reproduce --calibrate") from exc


def figure_verdict(results: Mapping, allowance: Allowance | None = None) -> Verdict:
    """A figure's verdict from its results (:func:`rmt_icl.experiments.verdict.judge`).

    A figure without a ``"comparisons"`` table is "theory only" when it reports no gap
    (``max_gap_se`` is None) and "no theory" otherwise (it compares simulated models).
    """
    if "comparisons" not in results:
        return Verdict(status="theory only" if results.get("max_gap_se") is None
                       else "no theory")
    return judge(results["comparisons"], allowance=allowance)


def run_figure(name: str, path: Path, *, quick: bool, out: Path, paper: bool = False,
               allowance: Allowance | None = None) -> dict:
    """Compute, draw and save one figure; return its report row (errors are recorded)."""
    import matplotlib.pyplot as plt

    apply_style()
    t0 = time.perf_counter()
    row = {"figure": name, "script": f"figures/{path.name}", "stem": path.stem}
    try:
        module = load_script(path)
        row["caption"] = caption(vars(module))
        results = _compute(module, quick=quick, paper=paper)
        verdict = figure_verdict(results, allowance)
        fig = module.draw(results)
        files = save_figure(fig, out / path.stem)
        plt.close(fig)
        table = results.get("comparisons")
        row.update(
            status="ok",
            comparison=results.get("comparison", ""),
            max_gap_se=results.get("max_gap_se"),
            max_rel_gap=results.get("max_rel_gap"),
            sizes=results.get("sizes", ""),
            files=[str(f) for f in files],
            verdict=verdict.status,
            verdict_text=verdict.summary(),
            resolution=None if math.isnan(verdict.resolution) else verdict.resolution,
            verdict_detail=verdict.to_dict(),
            comparisons=None if table is None else table.to_dict(orient="list"),
        )
    except Exception as exc:  # one broken figure must not lose the others
        row.update(status="error", error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc())
    row["seconds"] = time.perf_counter() - t0
    return row


def _cell(text) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, one line)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _machine() -> str:
    """A short description of this machine (CPU count)."""
    return f"{os.cpu_count()} CPU cores"


def write_report(rows: list[dict], path: Path, *, quick: bool, paper: bool = False) -> Path:
    """Write ``REPORT.md``: one row per figure with its verdict, the theory/simulation gap,
    sizes, run time and its one-line caption, and the total wall time."""
    flag = "--paper" if paper else "--quick" if quick else "--full"
    lines = [
        "# Validation report",
        "",
        f"Generated by `rmt-icl reproduce {flag}` "
        f"(rmt_icl {__version__}). Gaps are |simulation − theory| in units of the simulation's "
        "standard error over independent runs, maximised over the plotted points, and the "
        "relative gap |simulation − theory|/theory.",
        "",
        "**Verdict**: *agree* when every judged point satisfies |sim − theory| ≤ q·SE + "
        "(c/d)·|theory|, with q the two-sided Student-t quantile, Bonferroni-corrected over the "
        "figure's judged points at family-wise level 1 %, SE the larger of the point's own and "
        "the relative SE pooled along its plotted curve, and c/d the finite-size allowance, "
        "with c measured per curve on independent runs at two or more d (`ALLOWANCES.json`, "
        "with its provenance); "
        "*disagree* otherwise (the worst points are listed). Points the theory does not cover, "
        "and points excluded by a stated rule (within 20 % of an interpolation threshold at a "
        "ridge ≤ 1e-3, marked × on the figure), are counted, never dropped. *Resolution* is the "
        "smallest relative theory error the verdict detects at one of its points.",
        "",
        "| figure | verdict | comparison | max gap (SE) | max relative gap | resolution | sizes "
        "| run time (s) | caption |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = r.get("max_gap_se")
        gap_s = "—" if gap is None else f"{gap:.2f}"
        rel = r.get("max_rel_gap")
        rel_s = "—" if rel is None else f"{100 * rel:.1f} %"
        res = r.get("resolution")
        res_s = "—" if res is None else f"{100 * res:.1f} %"
        verdict = (r.get("verdict_text") or r.get("verdict") or "—") if r["status"] == "ok" \
            else f"error: {r.get('error', '')}"
        cells = [_cell(verdict), _cell(r.get("comparison", "")), gap_s, rel_s, res_s,
                 _cell(r.get("sizes", "")), f"{r['seconds']:.1f}", _cell(r.get("caption", ""))]
        lines.append(f"| [{r['figure']}]({r['stem']}.png) | " + " | ".join(cells) + " |")
    total = sum(r.get("seconds") or 0.0 for r in rows)
    lines += ["", f"Total wall time: {total:.0f} s ({total / 60:.1f} min), the sum of the "
                  f"figures' times, on {_machine()} (this run's)."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _jsonable(obj):
    """numpy scalars and arrays for :func:`json.dumps`."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


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
            "max_rel_gap", "sizes", "seconds", "error", "verdict", "verdict_text", "resolution",
            "verdict_detail", "comparisons")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": [{k: r.get(k) for k in keep if k in r}
                                         for r in merged]}, indent=1, default=_jsonable))
    return merged


def _compute(module, *, quick: bool, paper: bool = False, **options) -> dict:
    """``module.compute`` at quick, full or (``paper``) the papers' sizes."""
    if paper:
        options["paper"] = True
    return module.compute(quick=quick, **options)


def reproduce(*, quick: bool = True, paper: bool = False, only=None, out="figures",
              figures_dir=None, progress: bool = True) -> list[dict]:
    """Regenerate the validation figures and write ``<out>/REPORT.md``.

    Parameters
    ----------
    quick : bool
        Quick sizes (default; about 5 minutes on 2 cores) or the full sizes (``False``; under
        2 hours on 2 cores; each script's ``FULL``).
    paper : bool
        The papers' own sizes (each script's ``PAPER``, else ``FULL``), meant for a cluster or
        a GPU; implies ``quick=False``.
    only : str or sequence of str, optional
        Figure names (see :func:`discover`) to run; default all.
    out : path
        Output folder for PNG, PDF and REPORT.md.
    figures_dir : path, optional
        Folder of the figure scripts (default :func:`default_figures_dir`); its
        ``ALLOWANCES.json`` gives the verdicts' finite-size allowances.
    progress : bool
        Show overall progress: a bar on a terminal, one line per finished figure otherwise
        (logs, CI).

    Returns
    -------
    list of dict
        One report row per figure, with its ``"verdict"``.
    """
    scripts = _select(discover(figures_dir), only)
    folder = next(iter(scripts.values())).parent
    allowances = load_allowances(folder)
    quick = quick and not paper
    out = Path(out)
    rows = []
    tty = sys.stderr.isatty()
    bar = tqdm(scripts.items(), desc="figures", unit="fig", disable=not (progress and tty))
    for i, (name, path) in enumerate(bar, 1):
        bar.set_postfix_str(name)
        rows.append(run_figure(name, path, quick=quick, paper=paper, out=out,
                               allowance=allowances.get(name)))
        # keep the report current; figures not rerun (--only) keep their earlier rows
        write_report(_merge_rows(out, rows), out / "REPORT.md", quick=quick, paper=paper)
        if progress and not tty:
            r = rows[-1]
            state = r.get("verdict", "") if r["status"] == "ok" else r["status"]
            print(f"[{i}/{len(scripts)}] {name}: {state} in {r['seconds']:.0f} s",
                  file=sys.stderr, flush=True)
    return rows


def rejudge(*, quick: bool = True, paper: bool = False, out="figures",
            figures_dir=None) -> list[dict]:
    """Re-judge a written report's comparison tables with the current allowances.

    Reads ``<out>/REPORT.json``, recomputes every figure's verdict from its stored comparison
    table (:func:`figure_verdict`) with ``<figures>/ALLOWANCES.json``, and rewrites
    ``REPORT.json`` and ``REPORT.md``; nothing is simulated and the recorded run times are
    kept (e.g. after ``rmt-icl reproduce --calibrate``).

    Returns
    -------
    list of dict
        The report's rows with their new verdicts.

    Raises
    ------
    ValueError
        ``<out>/REPORT.json`` is missing or unreadable.
    """
    out = Path(out)
    path = out / "REPORT.json"
    try:
        rows = json.loads(path.read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is missing or not a report written by rmt-icl reproduce "
                         f"({exc}); run rmt-icl reproduce first") from exc
    allowances = load_allowances(next(iter(discover(figures_dir).values())).parent)
    for row in rows:
        if row.get("status") != "ok":
            continue
        results = {"max_gap_se": row.get("max_gap_se")}
        if row.get("comparisons"):
            results["comparisons"] = pd.DataFrame(row["comparisons"])
        verdict = figure_verdict(results, allowances.get(row["figure"]))
        row.update(verdict=verdict.status, verdict_text=verdict.summary(),
                   resolution=None if math.isnan(verdict.resolution) else verdict.resolution,
                   verdict_detail=verdict.to_dict())
    path.write_text(json.dumps({"rows": rows}, indent=1, default=_jsonable))
    write_report(rows, out / "REPORT.md", quick=quick and not paper, paper=paper)
    return rows


def _select(scripts: dict[str, Path], only) -> dict[str, Path]:
    """The scripts named by ``only`` (all if ``None``)."""
    if not only:
        return scripts
    names = [only] if isinstance(only, str) else list(only)
    unknown = sorted(set(names) - set(scripts))
    if unknown:
        raise ValueError(f"only must name figures among {sorted(scripts)}; unknown: {unknown}")
    return {n: scripts[n] for n in scripts if n in names}


def _commit(folder: Path) -> str:
    """The checkout's commit (``+dirty`` if it has changes), or ``"unknown"``."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=folder, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def measure_allowance(module, name: str, *, results_dir="results/calibration",
                      progress: bool = False, commit: str = "unknown") -> dict:
    """Measure one figure's finite-size allowance from its ``CALIBRATION`` runs.

    Parameters
    ----------
    module
        The loaded figure script (:func:`load_script`), with ``CALIBRATION`` and ``compute``.
    name : str
        The figure's name (its stores are ``<results_dir>/<name>/<size tag>``).
    results_dir : path
        Root of the calibration stores.
    progress : bool
        Print one line per size on standard error.
    commit : str
        The commit recorded in the provenance.

    Returns
    -------
    dict
        ``{"c": ..., "rate": ..., "provenance": {...}}`` (see :func:`calibrate_figures`).
    """
    cal = module.CALIBRATION
    tables = []
    for sizes in cal["sizes"]:
        tag = "-".join(f"{k}{v}" for k, v in sizes.items()) + f"-s{cal['seed']}"
        if progress:
            print(f"calibrating {name} at {sizes} (seed {cal['seed']})", file=sys.stderr,
                  flush=True)
        res = module.compute(quick=True, sizes=sizes, seed=cal["seed"],
                             results_dir=str(Path(results_dir) / name / tag))
        tables.append(res["comparisons"])
    table = pd.concat(tables, ignore_index=True)
    measured = calibrate(table, rate=cal.get("rate", 1.0))
    exponent = measured["median_exponent"]
    return {"c": measured["c"], "rate": measured["rate"], "by_group": measured["by_group"],
            "provenance": {
        "sizes": cal["sizes"], "seed": cal["seed"],
        "runs": sorted({int(v) for v in table["runs"]}),
        "c_by_d": measured["c_by_d"], "worst_point": measured["worst"],
        "median_exponent": None if math.isnan(exponent) else exponent,
        "n_points": measured["n_points"], "commit": commit, "rmt_icl": __version__,
        "date": time.strftime("%Y-%m-%d"),
        "command": f"rmt-icl reproduce --calibrate --only {name}"}}


def calibrate_figures(*, only=None, figures_dir=None, results_dir="results/calibration",
                      progress: bool = True) -> dict[str, dict]:
    """Measure each figure's finite-size allowance and write ``ALLOWANCES.json``.

    A figure script that declares ``CALIBRATION = {"sizes": [{...}, {...}], "seed": s}`` is
    computed at each entry of ``sizes`` (replacing entries of its ``QUICK`` sizes) with the
    sweep seed ``s`` -- runs independent of the figure's own (seed 0) -- in the stores
    ``<results_dir>/<figure>/<size tag>``; its comparison tables at the two or more ``d`` go
    to :func:`rmt_icl.experiments.verdict.calibrate`. The allowance is written with its
    provenance (sizes, runs, seed, commit, command, date, the per-size constants ``c_d`` and
    the median decay exponent) into ``<figures>/ALLOWANCES.json``; entries of other figures
    are kept.

    Returns
    -------
    dict
        Figure name -> the written entry.
    """
    scripts = _select(discover(figures_dir), only)
    folder = next(iter(scripts.values())).parent
    path = folder / ALLOWANCES_FILE
    load_allowances(folder)                              # refuse to overwrite a corrupt file
    data = json.loads(path.read_text()) if path.exists() else {"figures": {}}
    written = {}
    for name, script in scripts.items():
        module = load_script(script)
        if getattr(module, "CALIBRATION", None) is None:
            continue
        entry = measure_allowance(module, name, results_dir=results_dir, progress=progress,
                                  commit=_commit(folder))
        data["figures"][name] = entry
        written[name] = entry
        path.write_text(json.dumps(data, indent=1, sort_keys=True, default=_jsonable) + "\n")
    return written
