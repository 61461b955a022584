"""The protocol shared by the figure scripts in ``figures/``.

A figure script ``figures/fig_NAME.py`` holds only what is particular to its figure, as
module-level names:

``__doc__``
    What the figure shows, after which paper; its first paragraph is the ``--help`` line and,
    unless ``CAPTION`` is given, the figure's one-line caption in ``REPORT.md``.
``CAPTION``, optional
    The one-line caption, when the docstring's first paragraph is not one.
``QUICK``, ``FULL``, ``PAPER`` (optional)
    Dicts of sizes: the quick sizes (``rmt-icl reproduce``'s default, run in CI), the full
    sizes (``--full``: where the verdicts' allowances are small, all figures within 2 hours on
    2 cores) and the papers' own sizes (``--paper``, for a cluster or a GPU; default
    ``FULL``).
``CALIBRATION``, optional
    ``{"sizes": [{...}, {...}], "seed": s}``: the size overrides (two or more ``d``) and the
    sweep seed of the runs that measure the figure's finite-size allowance
    (:func:`rmt_icl.reporting.gallery.calibrate_figures`).
``run(cfg, *, quick, **options) -> dict``
    Simulates and evaluates the figure at the sizes ``cfg`` (a copy of ``QUICK``, ``FULL`` or
    ``PAPER``) and returns the results with the keys of the gallery's report
    (``"comparison"``, ``"max_gap_se"``, ``"sizes"``, optionally ``"max_rel_gap"`` and the
    comparison table ``"comparisons"`` that the verdict judges; see
    :mod:`rmt_icl.reporting.gallery`) and whatever ``draw`` needs. A figure that runs sweeps
    takes the options ``results_dir``, ``backend`` and ``seed``. Random-transformer figures
    of ``rt-paired`` points declare their points instead (:class:`PairedFigure`).
``draw(results) -> matplotlib.figure.Figure``
    Draws from the results only (no recomputation).
``summary(results) -> str``, optional
    The figure's own lines in the summary that its command line prints.

and ends with::

    FIGURE = Figure(globals(), full_help="d=32, 4 runs", backend="serial")
    compute, main = FIGURE.compute, FIGURE.main

    if __name__ == "__main__":
        sys.exit(main())

:class:`Figure` reads these names when it is called (so a test may replace ``QUICK``) and gives
the script the gallery's ``compute(quick=True)`` (``run`` at the chosen sizes, timed) and
``main(argv=None)``, the command line
``python figures/fig_NAME.py [--full | --paper] [--out DIR]`` (plus
``--backend serial|processes|dask`` for figures that run sweeps), which writes
``<out>/fig_NAME.png`` and ``.pdf`` and prints a summary with the verdict.
"""

from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from rmt_icl.experiments.equivalence import max_paired_gap_se
from rmt_icl.experiments.rt_theory import exclusions, point_model, points_theory
from rmt_icl.experiments.verdict import comparison_table, max_gaps
from rmt_icl.reporting.gallery import caption, figure_verdict, load_allowances
from rmt_icl.reporting.studies import RESULTS_DIR, paired_summary
from rmt_icl.reporting.style import apply_style, mark_excluded, save_figure

BACKENDS = ("serial", "processes", "dask")


def figure_point(cfg: dict, params: dict) -> dict:
    """One ``rt-paired`` point of an RT figure at the figure's size ``cfg``.

    ``cfg`` holds ``d`` and ``n_test`` (``None``: the point function's default test-set size,
    and then no ``n_test`` key, so the point's seed key is that of the default).
    """
    point = {"d": cfg["d"], **params}
    if cfg["n_test"] is not None:
        point["n_test"] = cfg["n_test"]
    return point


def figure_sizes(cfg: dict) -> str:
    """The ``sizes`` line of an RT figure's report row."""
    return f"d={cfg['d']}, runs={cfg['runs']}, n_test={cfg['n_test'] or 'max(4000,n)'}"


class Figure:
    """The protocol of one figure script, bound to the script's module-level names.

    Parameters
    ----------
    namespace : mapping
        The script's ``globals()``: ``__file__``, ``__doc__`` and the names listed in
        :attr:`REQUIRED` (see the module docstring), read when the figure is computed.
    full_help : str
        What ``--full`` means for this figure (e.g. ``"d=32, 4 runs"``).
    backend : {"serial", "processes", "dask"}, optional
        Default sweep backend of a figure that runs sweeps, passed to ``run`` as ``backend``;
        ``None`` for a figure that runs none (its command line has no ``--backend``).
    """

    #: the module-level names a script must define
    REQUIRED = ("QUICK", "FULL", "run", "draw")

    def __init__(self, namespace: Mapping, *, full_help: str, backend: str | None = None):
        missing = [name for name in ("__file__", *self.REQUIRED) if name not in namespace]
        if missing:
            raise ValueError(f"namespace must be a figure script's globals() defining "
                             f"{', '.join(self.REQUIRED)}; missing: {', '.join(missing)}")
        if backend is not None and backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
        self.namespace = namespace
        self.full_help = full_help
        self.backend = backend

    @property
    def script(self) -> Path:
        """Path of the figure script; its stem names the output files."""
        return Path(self.namespace["__file__"]).resolve()

    @property
    def run_function(self):
        """The callable that computes the figure (the script's ``run``)."""
        return self.namespace["run"]

    def run(self, cfg: dict, *, quick: bool, **options) -> dict:
        """The script's ``run(cfg, quick=quick, **options)``."""
        return self.namespace["run"](cfg, quick=quick, **options)

    def compute(self, quick: bool = True, *, paper: bool = False, sizes: Mapping | None = None,
                **options) -> dict:
        """Compute the figure's results at its quick (default), full or papers' sizes.

        Parameters
        ----------
        quick : bool
            ``QUICK`` sizes (default) or ``FULL``.
        paper : bool
            The papers' sizes ``PAPER`` (default ``FULL``), with the stores under
            ``results/paper/`` so that they never meet the full sizes' stores.
        sizes : mapping, optional
            Entries replacing those of the chosen sizes (e.g. a smaller ``d`` in a test).
        **options
            Passed to ``run`` (e.g. ``results_dir``, ``seed``); ``backend`` defaults to the
            figure's.

        Returns
        -------
        dict
            ``run``'s results, plus ``"seconds"``, its wall time.
        """
        ns = self.namespace
        cfg = dict(ns.get("PAPER", ns["FULL"]) if paper else ns["QUICK" if quick else "FULL"])
        cfg.update(sizes or {})
        if self.backend is not None:
            options.setdefault("backend", self.backend)
        if paper and "results_dir" in inspect.signature(self.run_function).parameters:
            options.setdefault("results_dir", f"{RESULTS_DIR}/paper")
        t0 = time.perf_counter()
        results = self.run(cfg, quick=quick, **options)
        results["seconds"] = time.perf_counter() - t0
        return results

    def report(self, results: dict) -> str:
        """The printed summary: sizes, run time, the largest gaps and the script's ``summary``."""
        allowance = load_allowances(self.script.parent).get(self.script.stem[len("fig_"):])
        text = f"{results['sizes']}: {results['seconds']:.1f} s"
        if results.get("max_gap_se") is not None:
            text += f"; max gap {results['max_gap_se']:.2f} SE"
        if results.get("max_rel_gap") is not None:
            text += f", max relative gap {100 * results['max_rel_gap']:.1f} %"
        text += f"\nverdict: {figure_verdict(results, allowance).summary()}"
        summary = self.namespace.get("summary")
        return text if summary is None else f"{text}\n{summary(results)}"

    def main(self, argv: list[str] | None = None) -> int:
        """The script's command line: compute, draw, save PNG and PDF, print the summary.

        Parameters
        ----------
        argv : list of str, optional
            Command-line arguments (default ``sys.argv[1:]``).

        Returns
        -------
        int
            Exit status 0.
        """
        script = self.script
        parser = argparse.ArgumentParser(prog=script.name,
                                         description=caption(self.namespace) or script.stem)
        size = parser.add_mutually_exclusive_group()
        size.add_argument("--full", action="store_true", help=self.full_help)
        size.add_argument("--paper", action="store_true",
                          help="the papers' sizes (for a cluster or a GPU)")
        parser.add_argument("--out", default=str(script.parent),
                            help="output folder (default: the script's folder)")
        if self.backend is not None:
            parser.add_argument("--backend", default=self.backend, choices=BACKENDS,
                                help=f"sweep backend (default: {self.backend})")
        args = parser.parse_args(argv)
        options = {"backend": args.backend} if self.backend is not None else {}
        apply_style()
        results = self.compute(quick=not args.full, paper=args.paper, **options)
        paths = save_figure(self.namespace["draw"](results), Path(args.out) / script.stem)
        print(self.report(results))
        print("wrote", ", ".join(str(path) for path in paths))
        return 0


class PairedFigure(Figure):
    """A random-transformer figure of ``rt-paired`` points (Demir & Dogan 2025).

    Each point runs the RT, one Hermite-equivalent model and the linear transformer on shared
    prompts, F and noise (:func:`rmt_icl.experiments.equivalence.paired_point`), through the
    store ``results/<STORE>/<quick|full>`` (:func:`rmt_icl.reporting.studies.paired_summary`).
    Instead of ``run`` the script defines

    ``QUICK``, ``FULL``
        Sizes with ``d``, ``runs`` and ``n_test`` (``None``: the point function's default).
    ``STORE``
        The store's name.
    ``POINTS``
        The parameters of each point, without ``d`` and ``n_test``.
    ``SHARE_SEEDS_ACROSS``
        The parameters whose points share their random numbers (``share_seeds_across`` of
        :func:`~rmt_icl.reporting.studies.paired_summary`).
    ``COMPARISON``
        The report's comparison text.
    ``annotate(results)``, optional
        Adds the figure's own numbers to the results (and may rewrite ``"comparison"``).

    The results hold

    ``"table"``
        One row per point, in the order of ``POINTS``: the paired summary plus the RT's
        deterministic equivalent at the point's realised ratios
        (:func:`rmt_icl.experiments.rt_theory.points_theory`: the simulator's rounded sizes
        and exact ``t``), ``theory_icl`` (NaN where not covered), ``theory_covered``,
        ``theory_note`` (``""`` or why not covered) and ``excluded`` (the verdict's exclusion
        reason or ``""``: near the interpolation threshold at a near-ridgeless ridge,
        :func:`rmt_icl.experiments.rt_theory.exclusions`);
    ``"comparisons"``
        The comparison table of the simulated RT (``icl_rt_mean``, ``icl_rt_se``) with that
        theory (:func:`rmt_icl.experiments.verdict.comparison_table`), one row per point;
    ``"max_gap_se"``, ``"max_rel_gap"``
        The largest ``|e_RT - theory| / SE`` (the verdict's SE,
        :func:`rmt_icl.experiments.verdict.max_gaps`) and
        ``|e_RT - theory| / theory`` over the judged rows (covered, not excluded; None if
        there are none);
    ``"max_herm_gap_se"``
        The largest paired ``|e_Herm - e_RT| / SE``
        (:func:`~rmt_icl.experiments.equivalence.max_paired_gap_se`), also appended to
        ``"comparison"``;
    ``"sizes"``
        The sizes line of the report (:func:`figure_sizes`).
    """

    REQUIRED = ("QUICK", "FULL", "STORE", "POINTS", "SHARE_SEEDS_ACROSS", "COMPARISON", "draw")
    #: the point keys that label a comparison row (``tau``, ``kappa`` and ``rho`` only when
    #: they vary between the figure's points)
    LABEL_KEYS = ("activation", "target", "alpha", "tau", "kappa", "rho", "width_ratio",
                  "ridge")
    _ALWAYS = ("activation", "target", "alpha", "width_ratio", "ridge")
    _SHORT = {"width_ratio": "psi"}

    def __init__(self, namespace: Mapping, *, full_help: str, backend: str = "serial"):
        super().__init__(namespace, full_help=full_help, backend=backend)

    @property
    def run_function(self):
        """:meth:`run` (the script defines points, not a ``run``)."""
        return self.run

    def run(self, cfg: dict, *, quick: bool, results_dir=RESULTS_DIR,
            backend: str = "serial", seed: int = 0) -> dict:
        """Simulate ``POINTS`` at the sizes ``cfg`` (sweep seed ``seed``), compare them with the
        deterministic equivalent and summarise them (see the class docstring)."""
        ns = self.namespace
        points = [figure_point(cfg, p) for p in ns["POINTS"]]
        table = paired_summary(ns["STORE"], points, runs=cfg["runs"], quick=quick, seed=seed,
                               results_dir=results_dir, backend=backend,
                               share_seeds_across=ns["SHARE_SEEDS_ACROSS"])
        table = self.with_theory(table, points)
        comparisons = self.comparisons(table, ns["POINTS"])
        gap_se, rel_gap = max_gaps(comparisons)
        herm = max_paired_gap_se(table)
        comparison = ns["COMPARISON"]
        if herm is not None:
            comparison += f"; Hermite model vs RT (paired): max {herm:.1f} SE"
        results = {"comparison": comparison, "max_gap_se": gap_se, "max_rel_gap": rel_gap,
                   "max_herm_gap_se": herm, "sizes": figure_sizes(cfg), "table": table,
                   "comparisons": comparisons}
        annotate = ns.get("annotate")
        if annotate is not None:
            annotate(results)
        return results

    @staticmethod
    def with_theory(table: pd.DataFrame, points: list[dict]) -> pd.DataFrame:
        """``table`` with the theory columns of ``points`` (its rows, in order) and
        ``excluded``.

        Raises
        ------
        RuntimeError
            The simulated runs' sizes ``n``, ``k`` (where the table has them) differ from the
            realised sizes the theory used.
        """
        theory = points_theory(points)
        for key in ("n", "k"):
            if key in table.columns and not np.array_equal(
                    table[key].to_numpy(np.float64), theory[key].to_numpy(np.float64)):
                raise RuntimeError(f"the simulated runs' sizes {key} differ from those the "
                                   f"theory is evaluated at: {table[key].tolist()} vs "
                                   f"{theory[key].tolist()}")
        out = table.copy()
        for col in ("theory_icl", "theory_covered", "theory_note", "t", "ridge_la",
                    "alpha_realised", "tau_realised", "kappa_realised",
                    "width_ratio_realised"):
            out[col] = theory[col].to_numpy()
        out["excluded"] = [exclusions(point_model(p)[0], p["width_ratio"], p["tau"],
                                      p.get("ridge", 0.0)).item()
                           if "width_ratio" in p else "" for p in points]
        return out

    @classmethod
    def label(cls, point: Mapping, varying=()) -> str:
        """The short label of a point in a comparison table, e.g.
        ``"relu/tanh alpha=2 psi=0.5 ridge=0.2"``."""
        act, tgt = point_model(point)
        parts = [f"{act}/{tgt}"]
        for key in cls.LABEL_KEYS[2:]:
            if key in point and (key in cls._ALWAYS or key in varying):
                value = point[key]
                text = f"{value:g}" if isinstance(value, (int, float)) else str(value)
                parts.append(f"{cls._SHORT.get(key, key)}={text}")
        return " ".join(parts)

    @classmethod
    def comparisons(cls, table: pd.DataFrame, points: list[dict]) -> pd.DataFrame:
        """The comparison table of the simulated RT with the theory columns of ``table``
        (one row per point of ``points``, the rows of ``table``)."""
        varying = [key for key in cls.LABEL_KEYS
                   if len({str(p.get(key)) for p in points}) > 1]
        # a curve: the points that differ only in the most-sampled parameter (the x axis)
        numeric = [k for k in varying if k in cls.LABEL_KEYS[2:]]
        x_key = max(numeric, key=lambda k: len({str(p.get(k)) for p in points}),
                    default=None)
        return comparison_table(
            [cls.label(p, varying) for p in points], table["d"], table["runs"],
            table["icl_rt_mean"], table["icl_rt_se"],
            table["theory_icl"], covered=table["theory_covered"].to_numpy(bool),
            excluded=table["excluded"].to_numpy(str),
            group=[" ".join([cls.label(p, ()).split()[0]]
                            + [f"{k}={p.get(k)}" for k in numeric if k != x_key])
                   for p in points])

    # ------------------------------------------------------------------ drawing, shared by the
    # paired figures: theory as lines, the RT as filled markers with error bars, the Hermite
    # model as open rings around them, excluded points crossed

    #: legend label of the theory lines
    THEORY_LABEL = "deterministic equivalent (lines; d → ∞)"
    #: marker size of the Hermite model's open rings (drawn around the RT's filled markers)
    RING_SIZE = 9.0

    @classmethod
    def draw_points(cls, ax, rows: pd.DataFrame, x: str, color, marker: str, *,
                    label: str | None = None) -> None:
        """The RT (filled ``marker``, mean ± SE) and the Hermite model (open ring, mean) of
        ``rows`` (rows of the results' ``"table"``) at the column ``x``, in ``color``."""
        ax.errorbar(rows[x], rows["icl_rt_mean"], yerr=rows["icl_rt_se"], fmt=marker,
                    color=color, ms=5, zorder=3, label=label)
        ax.plot(rows[x], rows["icl_herm_mean"], marker, color=color, mfc="none",
                ms=cls.RING_SIZE, mew=1.0, ls="none", zorder=2)

    @staticmethod
    def mark_excluded_points(ax, rows: pd.DataFrame, x: str):
        """Cross the RT markers of the ``rows`` that the verdict excludes (their ``excluded``
        column is not empty) with :func:`~rmt_icl.reporting.style.mark_excluded`; call it once
        per axes, so that its legend holds one entry."""
        out = rows[rows["excluded"] != ""]
        return mark_excluded(ax, out[x], out["icl_rt_mean"])

    @classmethod
    def legend(cls, where, ax, *, hermite: str = "Hermite model", **kwargs):
        """Draw the legend of ``ax`` on ``where`` (the axes or the figure), followed by grey
        entries saying what the lines, the filled markers and the open rings are; ``kwargs``
        go to ``where.legend``."""
        from matplotlib.lines import Line2D

        handles, labels = ax.get_legend_handles_labels()
        keys = {cls.THEORY_LABEL: Line2D([], [], color="0.3", ls="-"),
                "random transformer (filled, mean ± SE)": Line2D([], [], color="0.3",
                                                                 marker="o", ls="none", ms=5),
                f"{hermite}, paired (open rings)": Line2D([], [], color="0.3", marker="o",
                                                          mfc="none", ms=cls.RING_SIZE,
                                                          mew=1.0, ls="none")}
        return where.legend(handles + list(keys.values()), labels + list(keys), **kwargs)
