"""The equivalence study: |e_Herm(p) - e_RT| vs d on log-log axes, p = 1..6.

After Demir & Dogan (2025, arXiv:2509.15152): the RT's ICL error should approach that of its
degree-p Hermite model as d, ell = alpha d, n = tau d^2, k = psi n grow together, for p at
least some finite p0. Study and criterion: :mod:`rmt_icl.experiments.equivalence` and
``docs/equivalence.md``.

Left: paired gaps (mean of the per-run differences e_Herm(p) - e_RT on shared prompts, F and
noise; bars: their SE over runs), filled markers where the gap is resolved (> 2 SE), open where
it is within 2 SE of zero, dashed: weighted power-law fit with its slope and the verdict.
Degrees identical in law (relu: 2 = 3, 4 = 5) are drawn once. Right: the errors themselves.

Path: relu sigma, tanh target, alpha = 2, tau = 2, psi = 0.5, kappa = inf, rho = 1e-4,
lambda_bar = 0.2 (the study's default). The reported gap is the largest paired
|e_Herm(p) - e_RT| / SE over p at the largest d.

Sizes: quick d = 12, 16, 24, 32 with 6, 5, 4, 3 runs and 2000 test queries (store
``results/rt_equivalence_gap/quick``); ``--full`` d = 12, 16, 24, 32, 48 with 8, 6, 5, 4, 3 runs
(``results/rt_equivalence_gap/full``); ``--paper`` d = 16 ... 96 with the study's default runs
and test sets, in the study's own store ``results/equivalence`` (shared with
``rmt-icl equivalence``).

Verdict: "no theory" -- the figure compares two simulated models; the deterministic
equivalent is checked in ``fig_rt_theory`` and the paired random-transformer figures.

Usage::

    python figures/fig_rt_equivalence_gap.py [--full] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from rmt_icl.experiments.equivalence import FULL_DS
from rmt_icl.reporting.equivalence_plot import draw_gaps
from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.studies import RESULTS_DIR, run_study

ACTIVATION, TARGET = "relu", "tanh"
QUICK = dict(ds=(12, 16, 24, 32), runs={12: 6, 16: 5, 24: 4, 32: 3}, n_test=2000,
             store="rt_equivalence_gap/quick")
FULL = dict(ds=(12, 16, 24, 32, 48), runs={12: 8, 16: 6, 24: 5, 32: 4, 48: 3}, n_test=2000,
            store="rt_equivalence_gap/full")
PAPER = dict(ds=FULL_DS, runs=None, n_test=None, store="equivalence")


def run(cfg: dict, *, quick: bool, results_dir=RESULTS_DIR, backend: str = "serial",
        seed: int = 0) -> dict:
    """Run (or resume) the study at the sizes ``cfg``; the largest gap is taken at the largest d."""
    extra = {"n_test": cfg["n_test"]} if cfg["n_test"] is not None else {}
    res = run_study(ACTIVATION, TARGET, ds=cfg["ds"], runs=cfg["runs"],
                    store=Path(results_dir) / cfg["store"], backend=backend, seed=seed, **extra)
    last = res.table.iloc[-1]
    zs = [last[f"z{p}"] for p in res.degrees if math.isfinite(last[f"z{p}"])]
    runs = ", ".join(f"{int(r.d)}:{int(r.runs)}" for r in res.table.itertuples())
    return {
        "comparison": f"paired |e_Herm(p) - e_RT| vs d, p=1..6 ({ACTIVATION}/{TARGET}); "
                      f"at these sizes {res.p0['text']} (the stored study up to d = 96: "
                      f"docs/equivalence.md, 'p0: the one answer'); gap column: max over p "
                      f"at d={int(last['d'])}",
        "max_gap_se": max(zs) if zs else None,
        "sizes": f"d:runs {runs}, n_test={cfg['n_test'] or 'max(4000,n)'}",
        "study": res,
    }


def draw(results: dict):
    """The study's two panels (:func:`rmt_icl.reporting.equivalence_plot.draw_gaps`)."""
    fig = draw_gaps(results["study"])
    fig.suptitle(f"RT vs Hermite models along the scaling path ({results['sizes']})",
                 fontsize=10)
    return fig


def summary(results: dict) -> str:
    """The figure's own summary line: the comparison, with p0."""
    return results["comparison"]


FIGURE = Figure(globals(), full_help="d = 12 ... 48, 8 to 3 runs", backend="serial")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
