"""Paper Fig. 3 (theory only): where the ridgeless linear-attention error is non-monotone in alpha.

Lu, Letey, Zavatone-Veth, Maiti & Pehlevan (2024, arXiv:2405.11751), Fig. 3. For each
(kappa, rho) cell the ridgeless error ``e(alpha)`` is scanned over log-spaced
``alpha in [1e-2, 1e3]``; the cell shows the alpha of the first interior local minimum (a dip of
more than ``tol = 1e-5`` on both sides), grey if the curve has none (monotone up to ``tol``).
Panels: ``e_ICL`` at ``tau = 0.5``, ``e_IDG`` at ``tau = 0.5``, ``e_ICL`` at ``tau = 20``. White
markers: the ``(kappa, rho)`` curves of the paper's Fig. 2; dashed line: ``kappa = min(tau, 1)``,
below which the ridgeless e_ICL grows linearly in alpha (Lu et al. 2024;
``docs/theory/linear_attention.md``, "Decisions and findings").

Grid: quick 101 kappa x 60 rho x 250 alpha (a few seconds); ``--full`` is the paper's
401 x 300 x 500 (kappa in [0.1, 2.1], rho in [0.01, 1]).

Usage::

    python figures/fig_la_nonmonotonicity.py [--full] [--out DIR]
"""

from __future__ import annotations

import sys

import numpy as np

from rmt_icl.reporting.figure import Figure
from rmt_icl.reporting.style import reference_line
from rmt_icl.theory import linear_attention_icl_error, linear_attention_idg_error

PANELS = (
    # (key, quantity, tau, Fig. 2 companion: rho, kappas)
    ("icl_tau0.5", "icl", 0.5, 0.1, (0.2, 0.4, 0.5, 0.6, 1.5)),
    ("idg_tau0.5", "idg", 0.5, 0.5, (0.1, 0.3, 0.5, 0.7, 2.0)),
    ("icl_tau20", "icl", 20.0, 0.5, (0.25, 0.75, 1.0, 1.1, 2.0)),
)
TOL = 1e-5
QUICK = dict(n_kappa=101, n_rho=60, n_alpha=250)
FULL = dict(n_kappa=401, n_rho=300, n_alpha=500)


def first_interior_minimum(e: np.ndarray, tol: float = TOL) -> np.ndarray:
    """Index of the first interior local minimum along the last axis, or -1 if none.

    Index ``i`` (``0 < i < n-1``) qualifies if ``e[i] <= e[i-1]``, ``e[i] <= e[i+1]``, and the
    curve rises by more than ``tol`` above ``e[i]`` somewhere on *both* sides (so flat
    stretches and round-off wiggles do not count as minima).
    """
    e = np.asarray(e, dtype=np.float64)
    left_max = np.maximum.accumulate(e, axis=-1)
    right_max = np.flip(np.maximum.accumulate(np.flip(e, axis=-1), axis=-1), axis=-1)
    mid = e[..., 1:-1]
    is_min = (
        (mid <= e[..., :-2])
        & (mid <= e[..., 2:])
        & (left_max[..., :-2] - mid > tol)
        & (right_max[..., 2:] - mid > tol)
    )
    has = is_min.any(axis=-1)
    return np.where(has, np.argmax(is_min, axis=-1) + 1, -1)


def _panel_map(quantity, tau, kappa, rho, alpha, chunk_rows=8):
    fn = linear_attention_icl_error if quantity == "icl" else linear_attention_idg_error
    out = np.full((rho.size, kappa.size), np.nan)
    for r0 in range(0, rho.size, chunk_rows):
        r = rho[r0 : r0 + chunk_rows]
        e = fn(alpha=alpha[None, None, :], tau=tau, kappa=kappa[None, :, None], rho=r[:, None,
                                                                                      None])
        idx = first_interior_minimum(e)
        out[r0 : r0 + chunk_rows] = np.where(idx >= 0, alpha[np.maximum(idx, 0)], np.nan)
    return out


def run(cfg: dict, *, quick: bool) -> dict:
    """Compute the three maps (ridgeless theory only). Returns arrays plus summary numbers."""
    kappa = np.linspace(0.1, 2.1, cfg["n_kappa"])
    rho = np.linspace(0.01, 1.0, cfg["n_rho"])
    alpha = np.logspace(-2, 3, cfg["n_alpha"])
    maps, fractions = {}, {}
    for key, quantity, tau, _, _ in PANELS:
        amin = _panel_map(quantity, tau, kappa, rho, alpha)
        maps[key] = amin
        line = min(tau, 1.0)
        nonmono = np.isfinite(amin)
        # Linear growth in alpha (Lu et al. 2024): e(1e9) > 5 e(1e8) means e ~ slope alpha
        fn = linear_attention_icl_error if quantity == "icl" else linear_attention_idg_error
        e8, e9 = (fn(alpha=a, tau=tau, kappa=kappa[None, :], rho=rho[:, None]) for a in (1e8, 1e9))
        growing = e9 > 5.0 * e8
        fractions[key] = {
            "nonmonotone_fraction_left_of_line": float(nonmono[:, kappa < line].mean()),
            "nonmonotone_fraction_right_of_line": float(nonmono[:, kappa > line].mean()),
            "linear_growth_fraction_left_of_line": float(growing[:, kappa < line].mean()),
            "linear_growth_fraction_right_of_line": float(growing[:, kappa > line].mean()),
        }
    return {
        "comparison": "theory only: alpha of the first interior minimum of ridgeless e(alpha)",
        "max_gap_se": None,
        "sizes": (
            f"grid kappa x rho x alpha = {kappa.size} x {rho.size} x {alpha.size}"
            f" ({'quick' if quick else 'full'})"
        ),
        "kappa": kappa,
        "rho": rho,
        "alpha": alpha,
        "maps": maps,
        "summary": fractions,
    }


def draw(results: dict):
    """Draw the three heatmaps from :func:`compute` output."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    kappa, rho, alpha = results["kappa"], results["rho"], results["alpha"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True, constrained_layout=True)
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.8")
    norm = LogNorm(vmin=alpha[0], vmax=alpha[-1])
    titles = {"icl": r"$e_{\mathrm{ICL}}$", "idg": r"$e_{\mathrm{IDG}}$"}
    mesh = None
    for ax, (key, quantity, tau, rho2, kappas2) in zip(axes, PANELS, strict=True):
        data = np.ma.masked_invalid(results["maps"][key])
        mesh = ax.pcolormesh(
            kappa, rho, data, cmap=cmap, norm=norm, shading="nearest", rasterized=True
        )
        line = min(tau, 1.0)
        reference_line(ax, line, rf"$\kappa=\min(\tau,1)={line:g}$", axis="x", color="k",
                       ls="--", lw=1.2)
        ax.plot(kappas2, [rho2] * len(kappas2), "o", mfc="w", mec="k", ms=6, label="Fig. 2 curves")
        ax.set_title(f"{titles[quantity]}, " + rf"$\tau={tau:g}$ (ridgeless)")
        ax.set_xlabel(r"task diversity $\kappa$")
        ax.grid(False)
        ax.legend(loc="upper right", framealpha=0.9)
    axes[0].set_ylabel(r"noise variance $\rho$")
    cb = fig.colorbar(mesh, ax=axes, shrink=0.9)
    cb.set_label(r"$\alpha$ at the interior minimum of $e(\alpha)$ (grey: monotone)")
    fig.suptitle(
        f"Non-monotonicity of the linear-attention error in context length ({results['sizes']})",
        fontsize=11,
    )
    return fig


def summary(results: dict) -> str:
    """Per panel, the fractions of non-monotone and linearly growing cells on each side of
    ``kappa = min(tau, 1)``."""
    return "\n".join(
        f"  {key}: fraction of cells left | right of kappa = min(tau, 1): non-monotone "
        f"{s['nonmonotone_fraction_left_of_line']:.3f} | "
        f"{s['nonmonotone_fraction_right_of_line']:.3f}; growing linearly in alpha "
        f"{s['linear_growth_fraction_left_of_line']:.3f} | "
        f"{s['linear_growth_fraction_right_of_line']:.3f}"
        for key, s in results["summary"].items())


FIGURE = Figure(globals(), full_help="paper grid 401 x 300 x 500")
compute, main = FIGURE.compute, FIGURE.main

if __name__ == "__main__":
    sys.exit(main())
