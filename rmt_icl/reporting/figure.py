"""The protocol shared by the figure scripts in ``figures/``.

A figure script ``figures/fig_NAME.py`` holds only what is particular to its figure, as
module-level names:

``__doc__``
    What the figure shows, after which paper; its first paragraph is the ``--help`` line and,
    unless ``CAPTION`` is given, the figure's one-line caption in ``REPORT.md``.
``CAPTION``, optional
    The one-line caption, when the docstring's first paragraph is not one.
``QUICK``, ``FULL``
    Dicts of sizes: the quick sizes (``rmt-icl reproduce``'s default) and the papers' sizes
    (``--full``).
``run(cfg, *, quick, **options) -> dict``
    Simulates and evaluates the figure at the sizes ``cfg`` (a copy of ``QUICK`` or ``FULL``)
    and returns the results with the keys of the gallery's report (``"comparison"``,
    ``"max_gap_se"``, ``"sizes"``, optionally ``"max_rel_gap"``; see
    :mod:`rmt_icl.reporting.gallery`) and whatever ``draw`` needs. Random-transformer figures
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
``main(argv=None)``, the command line ``python figures/fig_NAME.py [--full] [--out DIR]``
(plus ``--backend serial|processes|dask`` for figures that run sweeps), which writes
``<out>/fig_NAME.png`` and ``.pdf`` and prints a summary.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path

from rmt_icl.experiments.equivalence import max_paired_gap_se
from rmt_icl.reporting.gallery import caption
from rmt_icl.reporting.studies import RESULTS_DIR, paired_summary
from rmt_icl.reporting.style import apply_style, save_figure

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

    def run(self, cfg: dict, *, quick: bool, **options) -> dict:
        """The script's ``run(cfg, quick=quick, **options)``."""
        return self.namespace["run"](cfg, quick=quick, **options)

    def compute(self, quick: bool = True, *, sizes: Mapping | None = None, **options) -> dict:
        """Compute the figure's results at its quick (default) or full sizes.

        Parameters
        ----------
        quick : bool
            ``QUICK`` sizes (default) or ``FULL``.
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
        cfg = dict(self.namespace["QUICK" if quick else "FULL"])
        cfg.update(sizes or {})
        if self.backend is not None:
            options.setdefault("backend", self.backend)
        t0 = time.perf_counter()
        results = self.run(cfg, quick=quick, **options)
        results["seconds"] = time.perf_counter() - t0
        return results

    def report(self, results: dict) -> str:
        """The printed summary: sizes, run time, the largest gaps and the script's ``summary``."""
        text = f"{results['sizes']}: {results['seconds']:.1f} s"
        if results.get("max_gap_se") is not None:
            text += f"; max gap {results['max_gap_se']:.2f} SE"
        if results.get("max_rel_gap") is not None:
            text += f", max relative gap {100 * results['max_rel_gap']:.1f} %"
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
        parser.add_argument("--full", action="store_true", help=self.full_help)
        parser.add_argument("--out", default=str(script.parent),
                            help="output folder (default: the script's folder)")
        if self.backend is not None:
            parser.add_argument("--backend", default=self.backend, choices=BACKENDS,
                                help=f"sweep backend (default: {self.backend})")
        args = parser.parse_args(argv)
        options = {"backend": args.backend} if self.backend is not None else {}
        apply_style()
        results = self.compute(quick=not args.full, **options)
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

    The results hold ``"table"`` (one row per point, in the order of ``POINTS``),
    ``"max_gap_se"``, the largest paired ``|e_Herm - e_RT| / SE``
    (:func:`~rmt_icl.experiments.equivalence.max_paired_gap_se`), and ``"sizes"``.
    """

    REQUIRED = ("QUICK", "FULL", "STORE", "POINTS", "SHARE_SEEDS_ACROSS", "COMPARISON", "draw")

    def __init__(self, namespace: Mapping, *, full_help: str, backend: str = "serial"):
        super().__init__(namespace, full_help=full_help, backend=backend)

    def run(self, cfg: dict, *, quick: bool, results_dir=RESULTS_DIR,
            backend: str = "serial") -> dict:
        """Simulate ``POINTS`` at the sizes ``cfg`` and summarise them."""
        ns = self.namespace
        points = [figure_point(cfg, p) for p in ns["POINTS"]]
        table = paired_summary(ns["STORE"], points, runs=cfg["runs"], quick=quick,
                               results_dir=results_dir, backend=backend,
                               share_seeds_across=ns["SHARE_SEEDS_ACROSS"])
        results = {"comparison": ns["COMPARISON"], "max_gap_se": max_paired_gap_se(table),
                   "sizes": figure_sizes(cfg), "table": table}
        annotate = ns.get("annotate")
        if annotate is not None:
            annotate(results)
        return results
