"""The shared matplotlib style of rmt_icl figures.

* readable fonts (11 pt body, 12 pt titles), thin grids, no top/right spines;
* the Okabe–Ito colour-blind-safe palette (:data:`PALETTE`), with distinct markers
  (:data:`MARKERS`) so that series stay distinguishable in greyscale;
* :func:`save_figure` writes PNG (150 dpi) and PDF side by side.

Convention for validation figures: theory as lines, simulations as markers with error bars
(mean ± one standard error over independent runs), parameters in the legend or title.
"""

from __future__ import annotations

from pathlib import Path

#: Okabe & Ito (2008) colour-blind-safe palette (black first for theory references)
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

_RC = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "errorbar.capsize": 2.5,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
}


def apply_style() -> None:
    """Apply the rmt_icl rcParams (fonts, grid, palette) to the current matplotlib session."""
    import matplotlib.pyplot as plt
    from cycler import cycler

    plt.rcParams.update(_RC)
    plt.rcParams["axes.prop_cycle"] = cycler(color=PALETTE)


def save_figure(fig, path_without_ext, formats=("png", "pdf")) -> list[Path]:
    """Write ``fig`` as ``<path>.png`` and ``<path>.pdf`` (creating the folder); return paths."""
    base = Path(path_without_ext)
    base.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in formats:
        p = base.with_suffix(f".{ext}")
        fig.savefig(p)
        out.append(p)
    return out

