"""Companion model: the random transformer's ICL error vs the number of pretraining prompts n,
the context length ell and the MLP width k, with double descent in n and in k.

After Demir & Dogan (NeurIPS 2025, arXiv:2510.25753), Fig. 1(a, b, c); the model is that of
``docs/companion_model.md`` (data mixing, section 1, with the flat keys of section 2; one
gradient step on F, section 4).

Path (the paper's Fig. 1 setting): two sources with equal weights (``mixture = 0.5``), isotropic
inputs, source 0 with isotropic tasks and source 1 with the task spike ``theta_xi = d^2``;
relu target; label noise ``Delta = 0.01`` on both sources (a standard deviation); one
gradient step on F with ``eta = d^2`` (``step_size = 1``); the paper's ridge
``lambda = 5e-5``, i.e. ``lambda_bar = 5e-5 n`` at the nominal ``n = tau d^2`` (near
ridgeless, so the interpolation peaks show); the companion scaling of the ``y^2`` column
(``y2_scale = "companion"``); relu and tanh activations (relu only at the full sizes, to
keep them within the gallery's time), Hermite model p = 4 (the paper's). Panels, around the
base point ``ell = d``, ``n = 2 d^2``, ``k = d^2/2``:

* (a) ``n / d^2`` in {0.1, 0.2, 0.35, 0.5, 0.7, 1.5, 2, 3} at ``k = d^2/2``: the RT's
  interpolation threshold is ``n = k`` (dashed), the linear transformer's ``n = d(d+1)``
  (light grey, dash-dotted);
* (b) ``ell / d`` in {0.25, 0.5, 1, 2, 4, 8};
* (c) ``k / d^2`` in {0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 4} at ``n = 2 d^2``: the threshold is
  ``k = n``.

Filled markers: the RT, mean +- SE over runs; open rings: its Hermite model on the same
prompts, F-hat and noise (arrows just inside the edge: beyond the axis); dash-dotted black:
the linear transformer on the same prompts (it has no F: the same for every activation); grey
dotted: ``E y^2`` (uniform over the two sources). The error is averaged uniformly over the
sources (``docs/companion_model.md``, section 1).

All points share their random numbers (common random numbers), so the claims are checked on
paired differences over runs, "resolved" meaning beyond the Student-t threshold (z = 2) times
the paired SE: "the MLP transformer beats the linear one" (points where the RT is resolved
better or worse); "double descent in n" and "in k" (the largest interior error of the panel
rises above the smallest error before it and falls to the smallest after it, both resolved);
"the error falls monotonically in ell" (the last below the first, resolved, and no resolved
rise between neighbours); and the paper's equivalence claim, that the Hermite model matches the
RT (a resolved paired gap above 5 % of ``e_RT`` contradicts it). The comparison text says which
the runs support and which they contradict. There is no deterministic equivalent for this model
(``docs/companion_model.md``, section 6), so the gallery's verdict is "no theory";
``max_gap_se`` is the largest paired ``|e_Herm - e_RT| / SE``.

Sizes: quick d = 24, 4 runs, 2000 test queries, relu and tanh; ``--full`` d = 48, 4 runs,
``n_test = max(4000, n)``, relu; ``--paper`` d = 80, 20 runs (the paper's), relu and tanh.
Store ``results/cm_sizes/<quick|full>`` (``results/paper/cm_sizes/full`` for ``--paper``).

Usage::

    python figures/fig_cm_sizes.py [--full | --paper] [--out DIR] [--backend serial]
"""

from __future__ import annotations

import sys

import numpy as np

from rmt_icl.core.stats import mean_se, student_t_threshold
from rmt_icl.experiments.equivalence import max_paired_gap_se
from rmt_icl.reporting.claims import (
    OFF_SCALE,
    Z,
    claim_summary,
    draw_off_scale,
    error_limits,
    format_gap,
    hermite_claim,
    store_runs,
)
from rmt_icl.reporting.figure import Figure, figure_point, figure_sizes
from rmt_icl.reporting.studies import RESULTS_DIR, paired_summary
from rmt_icl.reporting.style import MARKERS, PALETTE, ZERO_PREDICTOR, log_axis, reference_line

STORE = "cm_sizes"
#: the base point: ell = ALPHA0 d, n = TAU0 d^2, k = WIDTH0 d^2
ALPHA0, TAU0, WIDTH0 = 1.0, 2.0, 0.5
TAUS = (0.1, 0.2, 0.35, 0.5, 0.7, 1.5, 2.0, 3.0)
ALPHAS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
WIDTHS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 4.0)
#: the paper's ridge lambda = lambda_bar / n
RIDGE_PAPER = 5e-5
STEP = 1.0
DEGREE = 4
PATH = {"target": "relu", "y2_scale": "companion", "mixture": 0.5, "noise0": 0.01,
        "noise1": 0.01, "step_size": STEP, "degree": DEGREE}
#: panel -> (point key on the x axis, x label)
PANELS = {"n": ("tau", r"pretraining prompts $n / d^2$"),
          "ell": ("alpha", r"context length $\ell / d$"),
          "k": ("width_d2", r"MLP width $k / d^2$")}
TITLES = {"n": r"(a) vs $n$ ($k = d^2/2$, $\ell = d$)",
          "ell": r"(b) vs $\ell$ ($n = 2d^2$, $k = d^2/2$)",
          "k": r"(c) vs $k$ ($n = 2d^2$, $\ell = d$)"}
SHARE_SEEDS_ACROSS = ("model", "activation", "degree", "tau", "alpha", "width_d2", "ridge")
QUICK = dict(d=24, runs=4, n_test=2000, activations=("relu", "tanh"))
FULL = dict(d=48, runs=4, n_test=None, activations=("relu",))
PAPER = dict(d=80, runs=20, n_test=None, activations=("relu", "tanh"))


def _points(cfg: dict) -> list[dict]:
    """The distinct points of the three panels (the base point once), activation by
    activation."""
    d = cfg["d"]
    grid = ([(t, ALPHA0, WIDTH0) for t in cfg.get("taus", TAUS)]
            + [(TAU0, a, WIDTH0) for a in cfg.get("alphas", ALPHAS)]
            + [(TAU0, ALPHA0, w) for w in cfg.get("widths", WIDTHS)])
    grid = list(dict.fromkeys(grid))
    return [figure_point(cfg, {**PATH, "activation": act, "task_spike": float(d * d),
                               "tau": t, "alpha": a, "width_d2": w,
                               "ridge": RIDGE_PAPER * t * d * d})
            for act in cfg.get("activations", ("relu",)) for t, a, w in grid]


def panel_rows(table, panel: str, activation: str) -> np.ndarray:
    """The rows of ``table`` on the curve of ``panel`` for ``activation``, along the x axis."""
    base = {"tau": TAU0, "alpha": ALPHA0, "width_d2": WIDTH0}
    key = PANELS[panel][0]
    on = table["activation"].to_numpy() == activation
    for other, value in base.items():
        if other != key:
            on &= np.isclose(table[other].to_numpy(np.float64), value)
    rows = np.flatnonzero(on)
    return rows[np.argsort(table[key].to_numpy(np.float64)[rows])]



def _diff(values, i: int, j: int) -> tuple[float, float]:
    """Paired ``e_i - e_j`` over runs: mean and SE."""
    return mean_se(values[:, i] - values[:, j])


def double_descent(table, values, rows, key: str, c: float) -> dict:
    """Double descent along ``rows`` (ordered along ``key``): the largest interior mean error,
    its paired rise above the smallest error before it and fall to the smallest after it, and
    ``verdict``: "supports" when both are resolved (``> c SE``), "contradicts" when one is
    resolved negative (no interior peak), else "inconclusive"."""
    mean = table["icl_rt_mean"].to_numpy(np.float64)[rows]
    x = table[key].to_numpy(np.float64)[rows]
    if len(rows) < 3:
        return {"verdict": "inconclusive", "note": "fewer than 3 points"}
    peak = 1 + int(np.argmax(mean[1:-1]))
    left = int(np.argmin(mean[:peak]))
    right = peak + 1 + int(np.argmin(mean[peak + 1:]))
    rise, rise_se = _diff(values, rows[peak], rows[left])
    fall, fall_se = _diff(values, rows[peak], rows[right])
    if rise > c * rise_se and fall > c * fall_se:
        verdict = "supports"
    elif rise < -c * rise_se or fall < -c * fall_se:
        verdict = "contradicts"         # no interior peak: the error is monotone at an end
    else:
        verdict = "inconclusive"
    return {"x_peak": x[peak], "x_left": x[left], "x_right": x[right], "e_peak": mean[peak],
            "e_left": mean[left], "e_right": mean[right], "rise": rise, "rise_se": rise_se,
            "fall": fall, "fall_se": fall_se, "verdict": verdict}


def monotone_fall(table, values, rows, key: str, c: float) -> dict:
    """Does the error fall monotonically along ``rows``? The paired last-minus-first change,
    the resolved rises between neighbours, and ``verdict``."""
    mean = table["icl_rt_mean"].to_numpy(np.float64)[rows]
    x = table[key].to_numpy(np.float64)[rows]
    change, change_se = _diff(values, rows[-1], rows[0])
    rises = []
    for i in range(len(rows) - 1):
        step, se = _diff(values, rows[i + 1], rows[i])
        if step > c * se:
            rises.append((x[i], x[i + 1], step, se))
    if rises or change > c * change_se:
        verdict = "contradicts"
    elif change < -c * change_se:
        verdict = "supports"
    else:
        verdict = "inconclusive"
    return {"x": (x[0], x[-1]), "e": (mean[0], mean[-1]), "change": change,
            "change_se": change_se, "rises": rises, "verdict": verdict}


def size_claims(table, values, runs: int) -> dict:
    """The paper's claims per activation (``c``: the Student-t threshold at z = 2).

    ``"beats_linear"``: ``(wins, losses, points)``, the points where the RT is resolved better
    / worse than the linear transformer (paired); ``"n"``, ``"k"``: :func:`double_descent`;
    ``"ell"``: :func:`monotone_fall`.
    """
    c = float(student_t_threshold(runs, Z))
    out = {}
    for act in dict.fromkeys(table["activation"]):
        on = table["activation"].to_numpy() == act
        diff = table["diff_linear_mean"].to_numpy(np.float64)[on]
        se = table["diff_linear_se"].to_numpy(np.float64)[on]
        out[act] = {
            "beats_linear": (int(np.sum(diff > c * se)), int(np.sum(diff < -c * se)),
                             int(on.sum())),
            "n": double_descent(table, values, panel_rows(table, "n", act), "tau", c),
            "k": double_descent(table, values, panel_rows(table, "k", act), "width_d2", c),
            "ell": monotone_fall(table, values, panel_rows(table, "ell", act), "alpha", c)}
    return out


def _dd_text(r: dict, name: str, x_name: str, threshold: float) -> str:
    if "note" in r:
        return f"double descent in {name}: {r['note']} -- {r['verdict']}"
    return (f"double descent in {name}: e {r['e_left']:.3f} -> {r['e_peak']:.3f} at "
            f"{x_name}={r['x_peak'] / threshold:g} (paired rise {r['rise']:+.3f} +- "
            f"{r['rise_se']:.3f}) -> {r['e_right']:.3f} (paired fall {r['fall']:+.3f} +- "
            f"{r['fall_se']:.3f}) -- {r['verdict']}")


def claim_lines(claims: dict) -> list[str]:
    """Each claim, per activation, with its numbers (paired SEs) and the verdict."""
    parts = []
    for act, r in claims.items():
        wins, losses, total = r["beats_linear"]
        verdict = ("supports" if 2 * wins > total and losses == 0 else
                   "partly supports" if wins > losses else
                   "contradicts" if losses > wins else "inconclusive")
        m = r["ell"]
        rises = ", ".join(f"{a:g}->{b:g}" for a, b, _, _ in m["rises"]) or "none"
        parts += [
            f"{act}: the RT beats the linear transformer at {wins}/{total} points, loses at "
            f"{losses}/{total} (paired) -- {verdict}",
            f"{act}: " + _dd_text(r["n"], "n", "n/k", WIDTH0),
            f"{act}: " + _dd_text(r["k"], "k", "k/n", TAU0),
            f"{act}: the error falls monotonically in ell: e {m['e'][0]:.3f} -> "
            f"{m['e'][1]:.3f} from ell/d={m['x'][0]:g} to {m['x'][1]:g} (paired "
            f"{m['change']:+.3f} +- {m['change_se']:.3f}), resolved rises: {rises} -- "
            f"{m['verdict']}"]
    return parts


def claim_text(claims: dict) -> str:
    """The comparison text of the claims (:func:`claim_lines`)."""
    return "; ".join(claim_lines(claims))



def per_run(results_dir, quick: bool, table, column: str = "icl_rt"):
    """The per-run values of ``column`` in this figure's store (:func:`store_runs`)."""
    return store_runs(STORE, results_dir, quick, table, column)


def run(cfg: dict, *, quick: bool, results_dir=RESULTS_DIR, backend: str = "serial",
        seed: int = 0) -> dict:
    """Simulate the points through the store and check the paper's claims.

    Returns ``"table"`` (one row per distinct point,
    :func:`~rmt_icl.reporting.studies.paired_summary`), ``"claims"`` (:func:`size_claims`),
    ``"claim_lines"`` (:func:`claim_lines` and :func:`hermite_claim`), ``"comparison"``
    (those lines joined), ``"max_gap_se"`` (the largest paired ``|e_Herm - e_RT| / SE``),
    ``"sizes"`` and ``"d"``.
    """
    table = paired_summary(STORE, _points(cfg), runs=cfg["runs"], quick=quick, seed=seed,
                           results_dir=results_dir, backend=backend,
                           share_seeds_across=SHARE_SEEDS_ACROSS)
    rt, herm = (per_run(results_dir, quick, table, col) for col in ("icl_rt", "icl_herm"))
    claims = size_claims(table, rt, cfg["runs"])
    gap = max_paired_gap_se(table)
    lines = [*claim_lines(claims), hermite_claim(table, rt, herm, cfg["runs"], DEGREE)]
    activations = ", ".join(dict.fromkeys(table["activation"]))
    return {"comparison": "; ".join(lines), "max_gap_se": gap,
            "sizes": f"{figure_sizes(cfg)}, activations {activations}", "table": table,
            "claims": claims, "claim_lines": lines, "d": cfg["d"]}


def draw(results: dict):
    """Three panels: e_ICL vs n (a), ell (b) and k (c), one colour per activation; the models'
    legend below the panels, each panel's reference lines in its own legend."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    tab = results["table"]
    d = results["d"]
    activations = list(dict.fromkeys(tab["activation"]))
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2), constrained_layout=True)
    beyond = False
    for ax, (panel, (key, xlabel)) in zip(axes, PANELS.items(), strict=True):
        rows_of = {act: panel_rows(tab, panel, act) for act in activations}
        limits = error_limits(tab.iloc[np.concatenate(list(rows_of.values()))])
        for i, act in enumerate(activations):
            rows = tab.iloc[rows_of[act]]
            ax.errorbar(rows[key], rows["icl_rt_mean"], yerr=rows["icl_rt_se"],
                        fmt=MARKERS[i] + "-", color=PALETTE[i], ms=5, zorder=3)
            beyond |= draw_off_scale(ax, rows[key], rows["icl_herm_mean"], PALETTE[i],
                                   MARKERS[i], limits)
        rows = tab.iloc[rows_of[activations[0]]]
        ax.plot(rows[key], rows["icl_linear_mean"], "k-.", lw=1.1)
        reference_line(ax, float(tab["q"].iloc[0]), ZERO_PREDICTOR)
        if panel == "n":
            reference_line(ax, WIDTH0, "n = k (RT threshold)", axis="x")
            reference_line(ax, (d + 1) / d, "n = d(d+1) (linear TF threshold)", axis="x",
                           ls="-.", color="0.7")
        elif panel == "k":
            reference_line(ax, TAU0, "k = n (RT threshold)", axis="x")
        ax.set_ylim(*limits)
        log_axis(ax, "x", ticks=sorted(set(rows[key])))
        log_axis(ax, "y")
        ax.set_xlabel(xlabel)
        ax.set_title(TITLES[panel], fontsize=11)
        ax.legend(fontsize=8, loc="best")
    axes[0].set_ylabel(r"$e_{\mathrm{ICL}}$ (uniform over sources)")
    handles = []
    for i, act in enumerate(activations):
        handles += [Line2D([], [], color=PALETTE[i], marker=MARKERS[i], ms=5,
                           label=f"RT, σ = {act} (mean ± SE)"),
                    Line2D([], [], color=PALETTE[i], marker=MARKERS[i], mfc="none", ms=9,
                           ls="none", label=f"Hermite model p = {DEGREE}, σ = {act} (paired)")]
    handles.append(Line2D([], [], color="k", ls="-.", lw=1.1,
                          label="linear transformer (same prompts)"))
    if beyond:
        handles.append(Line2D([], [], color="0.3", marker=OFF_SCALE[0], ms=11, ls="none",
                              label="Hermite model beyond the axis (arrows)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4),
               fontsize=8.5)
    fig.suptitle("Companion model: sizes (two sources, task spike θ_ξ = d², relu target, "
                 f"η = d², λ = 5e-5); {results['sizes']}\nmax paired |e_Herm − e_RT| = "
                 f"{format_gap(results['max_gap_se'])} SE", fontsize=10)
    return fig


summary = claim_summary


FIGURE = Figure(globals(), full_help="d=48, 4 runs, relu", backend="serial")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
