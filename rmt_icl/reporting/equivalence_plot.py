"""Figure of the equivalence study: gap ``|e_Herm(p) - e_RT|`` vs d (log-log) and the errors vs d.

Left panel: for each distinct Hermite degree p (degrees identical in law are drawn once,
labelled e.g. "p=2≡3"), markers at ``|Delta_p(d)|`` with ±1 SE bars (SE of the per-run paired
differences; lower bars clipped at the axis), filled where the gap is resolved
(``|Delta| > c SE``, ``c`` the Student-t threshold of
:func:`rmt_icl.experiments.equivalence.resolve_threshold`), open where it is not, and the
weighted power-law fit of :func:`rmt_icl.experiments.equivalence.loglog_fit` with its slope in
the legend (dashed; dotted and thin when the gap is never resolved, where the fit only
describes noise).
Right panel: ``e_RT`` (black), ``e_Herm(p)`` and ``e_linear`` vs d, mean ± SE over runs.
"""

from __future__ import annotations

import numpy as np

from rmt_icl.reporting.style import MARKERS, PALETTE, ZERO_PREDICTOR, log_axis, reference_line


def degree_classes(result) -> dict[int, list[int]]:
    """``{representative degree: [degrees identical in law]}`` from the study's runs."""
    runs = result.runs
    classes: dict[int, list[int]] = {}
    for p in result.degrees:
        col = f"herm{p}_same_as"
        rep = int(runs[col].iloc[0]) if col in runs.columns else p
        classes.setdefault(rep, []).append(p)
    return classes


def draw_gaps(result, axes=None):
    """Draw the two panels of a :class:`rmt_icl.experiments.equivalence.StudyResult`.

    Parameters
    ----------
    result : rmt_icl.experiments.equivalence.StudyResult
        The study (:func:`rmt_icl.reporting.studies.run_study`).
    axes : pair of matplotlib Axes, optional
        Where to draw (default: a new figure with two panels).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    else:
        fig = axes[0].figure
    tab = result.table
    d = tab["d"].to_numpy(dtype=float)
    ax = axes[0]
    dd = np.geomspace(d.min(), d.max(), 50)
    floor = np.inf
    for i, (rep, group) in enumerate(degree_classes(result).items()):
        col, mk = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        g = tab[f"gap{rep}"].to_numpy(dtype=float)
        s = tab[f"delta{rep}_se"].to_numpy(dtype=float)
        v = result.verdicts[rep]
        res = np.asarray(v["resolved"], dtype=bool)
        label = "p=" + "≡".join(map(str, group))
        lo = np.minimum(s, g * 0.9)
        pos = np.concatenate([g[g > 0], s[s > 0]])
        if pos.size:
            floor = min(floor, float(pos.min()) / 2)
        ax.errorbar(d, g, yerr=[lo, s], fmt="none", ecolor=col, alpha=0.8)
        ax.plot(d[res], g[res], mk, color=col, ls="none")
        ax.plot(d[~res], g[~res], mk, color=col, mfc="white", ls="none")
        if np.isfinite(v["slope"]):
            zero = v["verdict"] == "zero"
            ax.plot(dd, np.exp(v["intercept"]) * dd ** v["slope"], ":" if zero else "--",
                    color=col, lw=0.8 if zero else 1.1,
                    label=f"{label}: slope {v['slope']:+.2f}±{v['slope_se']:.2f} "
                          f"({v['verdict']})")
        else:
            ax.plot([], [], mk, color=col, label=f"{label} ({v['verdict']})")
    log_axis(ax, "x", ticks=d)
    log_axis(ax, "y")
    if np.isfinite(floor) and floor > 0:
        ax.set_ylim(bottom=floor)
    ax.set_xlabel("d")
    ax.set_ylabel(r"$|e_{\mathrm{Herm}(p)} - e_{\mathrm{RT}}|$ (paired)")
    ax.set_title(f"{result.p0['text']}\nopen markers: gap not resolved (Student-t, z = 2)",
                 fontsize=9)
    ax.legend(fontsize=7.5)

    ax = axes[1]
    ax.errorbar(d, tab["e_rt"], yerr=tab["e_rt_se"], fmt="o", color="black", label="RT",
                zorder=5)
    for i, (rep, group) in enumerate(degree_classes(result).items()):
        ax.errorbar(d * (1 + 0.012 * (i + 1)), tab[f"e_herm{rep}"], yerr=tab[f"e_herm{rep}_se"],
                    fmt=MARKERS[i % len(MARKERS)] + "-", color=PALETTE[i % len(PALETTE)],
                    mfc="white", lw=0.9, label="Herm p=" + "≡".join(map(str, group)))
    ax.errorbar(d, tab["e_linear"], yerr=tab["e_linear_se"], fmt="s:", color="0.45",
                label="linear TF")
    if "q" in tab.columns:
        reference_line(ax, float(tab["q"].iloc[0]), ZERO_PREDICTOR, color="0.6", lw=0.8)
    log_axis(ax, "x", ticks=d)
    ax.set_xlabel("d")
    ax.set_ylabel(r"$e_{\mathrm{ICL}}$ (mean ± SE over runs)")
    cfg = result.config
    ax.set_title(f"σ={cfg['activation']}, g={cfg['target']}: α={cfg['alpha']:g}, "
                 f"τ={cfg['tau']:g}, ψ={cfg.get('width_ratio', float('nan')):g}, "
                 f"λ̄={cfg['ridge']:g}", fontsize=10)
    ax.legend(fontsize=7.5, ncol=2)
    return fig
