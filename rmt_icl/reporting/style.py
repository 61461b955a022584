"""The shared matplotlib style of rmt_icl figures.

* readable fonts (11 pt body, 12 pt titles), thin grids, no top/right spines;
* the Okabe–Ito colour-blind-safe palette (:data:`PALETTE`), with distinct markers
  (:data:`MARKERS`) so that series stay distinguishable in greyscale;
* :func:`log_axis` puts an axis on a log scale with tick labels that stay readable whatever
  its span (a span of a decade or two gets labels at 1, 2 and 5 times powers of ten, a
  shorter one at evenly spaced round values, instead of none);
* :func:`reference_line` draws a horizontal or vertical reference (the zero predictor's error
  ``E y^2``, an interpolation threshold, ...) with the label that puts it in the legend;
* :func:`save_figure` writes PNG (150 dpi) and PDF side by side.

Convention for validation figures: theory as lines, simulations as markers with error bars
(mean ± one standard error over independent runs), parameters in the legend or title; every
reference line in the legend.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

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


#: legend label of the zero predictor's error, the reference line of every error plot
ZERO_PREDICTOR = r"$E\,y^2$ (zero predictor)"
#: ``gid`` of the lines drawn by :func:`reference_line` (how a test finds them)
REFERENCE_GID = "rmt_icl-reference-line"
#: fewest labelled ticks :func:`log_axis` aims for inside the view
MIN_LOG_LABELS = 3
#: mantissas tried in turn, coarsest first, until enough ticks fall inside the view
_LOG_SUBS = ((1.0,), (1.0, 2.0, 5.0))
#: below 1e-3 or from 1e4 on, tick labels are powers of ten; in between, plain numbers
_PLAIN_RANGE = (1e-3, 1e4)


@functools.cache
def _log_ticker():
    """The locator and formatter classes of :func:`log_axis` (matplotlib imported lazily)."""
    from matplotlib import ticker

    class ReadableLogLocator(ticker.LogLocator):
        """Decades when at least :data:`MIN_LOG_LABELS` lie in the view, else the mantissas 1,
        2 and 5, else (a span of about a decade or less, where a log axis is nearly linear)
        evenly spaced round values."""

        def __init__(self):
            super().__init__(base=10.0, numticks=9)

        def tick_values(self, vmin, vmax):
            vmin, vmax = sorted((vmin, vmax))
            if not (vmin > 0 and math.isfinite(vmax)):
                return super().tick_values(vmin, vmax)
            lo, hi = vmin * (1 - 1e-9), vmax * (1 + 1e-9)
            decades = 10.0 ** np.arange(math.floor(math.log10(vmin)),
                                        math.ceil(math.log10(vmax)) + 1)
            candidates = [np.unique(np.outer(decades, subs).ravel()) for subs in _LOG_SUBS]
            # within about a decade a log axis is nearly linear: evenly spaced round values
            candidates += [ticker.MaxNLocator(nbins=n, steps=(1, 2, 2.5, 5, 10))
                           .tick_values(vmin, vmax) for n in (5, 8)]
            for i, ticks in enumerate(candidates):
                if np.count_nonzero((ticks >= lo) & (ticks <= hi)) >= MIN_LOG_LABELS:
                    return super().tick_values(vmin, vmax) if i == 0 else ticks
            return candidates[-1]

    class ReadableLogFormatter(ticker.Formatter):
        """Plain numbers (``0.2``, ``5``, ``300``); powers of ten (``10^-4``) on an axis whose
        visible ticks leave ``[1e-3, 1e4)``."""

        powers = False
        digits = 6

        def set_locs(self, locs):
            super().set_locs(locs)
            vmin, vmax = sorted(self.axis.get_view_interval()) if self.axis else (0, np.inf)
            shown = [x for x in locs if vmin * (1 - 1e-9) <= x <= vmax * (1 + 1e-9) and x > 0]
            self.powers = any(not _PLAIN_RANGE[0] <= x < _PLAIN_RANGE[1] for x in shown)
            # enough significant digits to tell the shown ticks apart (a very narrow view)
            self.digits = next((n for n in range(6, 16)
                                if len({f"{x:.{n}g}" for x in shown}) == len(shown)), 16)

        def __call__(self, x, pos=None):
            if not (x > 0 and math.isfinite(x)):
                return ""
            if not self.powers:
                return f"{x:.{self.digits}g}"
            exponent = math.floor(math.log10(x) + 1e-9)
            mantissa = x / 10.0**exponent
            if math.isclose(mantissa, 1.0, rel_tol=1e-9):
                return f"$10^{{{exponent}}}$"
            return f"${mantissa:g}\\times10^{{{exponent}}}$"

    return ReadableLogLocator, ReadableLogFormatter


def log_axis(ax, axis: str = "y", *, ticks: Sequence[float] | None = None) -> None:
    """Put the ``axis`` (``"x"`` or ``"y"``) of ``ax`` on a log scale with readable labels.

    Parameters
    ----------
    ax : matplotlib Axes
    axis : {"x", "y"}
        Which axis.
    ticks : sequence of float, optional
        Label exactly these values (e.g. the sampled widths), and draw no minor ticks on this
        axis. By default the ticks adapt to the view when the figure is drawn: decades when
        three or more lie in view, else the mantissas 1, 2, 5, else evenly spaced round values,
        so that at least two ticks are labelled whatever the span.

    Raises
    ------
    ValueError
        ``axis`` is not ``"x"`` or ``"y"``, or a tick is not positive.
    """
    from matplotlib import ticker

    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    getattr(ax, f"set_{axis}scale")("log")
    which = ax.xaxis if axis == "x" else ax.yaxis
    locator, formatter = _log_ticker()
    if ticks is None:
        which.set_major_locator(locator())
        which.set_minor_locator(ticker.LogLocator(base=10.0, subs="auto"))
    else:
        values = np.asarray(ticks, dtype=np.float64)
        if values.size == 0 or not np.all(values > 0):
            raise ValueError(f"ticks must be positive values on a log axis, got {ticks!r}")
        which.set_major_locator(ticker.FixedLocator(values))
        which.set_minor_locator(ticker.NullLocator())
    which.set_major_formatter(formatter())
    which.set_minor_formatter(ticker.NullFormatter())


def reference_line(ax, value: float, label: str, *, axis: str = "y", **style):
    """Draw a reference line with its legend label; return the matplotlib ``Line2D``.

    Parameters
    ----------
    ax : matplotlib Axes
    value : float
        Where the line is: ``y = value`` for ``axis="y"`` (horizontal), ``x = value`` for
        ``axis="x"`` (vertical).
    label : str
        Its legend entry (e.g. :data:`ZERO_PREDICTOR`, ``"$\\tau = 1$ (interpolation
        threshold)"``); the legend of ``ax`` must be drawn after this call to show it.
    axis : {"y", "x"}
        The axis the value is on.
    **style
        Line properties replacing the defaults: grey, dotted and 1 pt for a horizontal line (a
        level such as ``E y^2``), dashed and 0.8 pt for a vertical one (a threshold).

    Raises
    ------
    ValueError
        An empty label, or ``axis`` not ``"x"`` or ``"y"``.
    """
    if not isinstance(label, str) or not label.strip() or label.startswith("_"):
        raise ValueError(f"label must be a non-empty legend label (not starting with '_'), "
                         f"got {label!r}")
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    if axis == "y":
        draw, default = ax.axhline, {"color": "0.5", "ls": ":", "lw": 1.0}
    else:
        draw, default = ax.axvline, {"color": "0.5", "ls": "--", "lw": 0.8}
    line = draw(value, **{**default, **style}, label=label)
    line.set_gid(REFERENCE_GID)
    return line


#: legend label of the points a verdict excludes by its threshold rule
EXCLUDED_LABEL = "excluded from the verdict (near a threshold)"
EXCLUDED_GID = "rmt_icl-excluded-points"


def mark_excluded(ax, x, y, *, label: str | None = EXCLUDED_LABEL):
    """Mark points that a figure's verdict excludes by a stated rule with a grey cross.

    Parameters
    ----------
    ax : matplotlib Axes
    x, y : array_like
        The excluded points' coordinates (nothing is drawn if empty).
    label : str or None
        Legend entry (default :data:`EXCLUDED_LABEL`); ``None`` for a second call on the
        same axes, so the legend holds one entry.

    Returns
    -------
    matplotlib artist or None
        The scatter collection, or ``None`` if there was nothing to mark.
    """
    x, y = np.atleast_1d(np.asarray(x, dtype=np.float64)), np.atleast_1d(
        np.asarray(y, dtype=np.float64))
    if x.size == 0:
        return None
    art = ax.scatter(x, y, marker="x", s=70, color="0.35", linewidths=1.4, zorder=5,
                     label=label if label is not None else "_" + EXCLUDED_LABEL)
    art.set_gid(EXCLUDED_GID)
    return art


def figure_legend(fig, axes, **kwargs):
    """One figure-level legend with one entry per label, collected from every panel.

    Parameters
    ----------
    fig : matplotlib Figure
    axes : iterable of matplotlib Axes
        The panels, in the order their labels should appear (first occurrence wins).
    **kwargs
        Passed to :meth:`matplotlib.figure.Figure.legend` (``loc``, ``ncol``, ``fontsize``).

    Returns
    -------
    matplotlib Legend
    """
    entries = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    return fig.legend(entries.values(), entries.keys(), **kwargs)


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

