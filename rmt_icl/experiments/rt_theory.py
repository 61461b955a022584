r"""Validation of the random transformer's deterministic equivalent against the simulated RT.

The validation grid: :func:`rmt_icl.theory.random_transformer_icl_error` against the simulated
random transformer across activations, targets, context lengths ``alpha``, pretraining sizes
``tau``, widths on both sides of the interpolation peak and two ridges
(:data:`ACCEPTANCE_GRID`), at several ``d``, with a finite-size allowance measured by showing
that the gaps shrink with ``d``.

Data flow
---------
* :func:`theory_point` (sweep model ``"rt-theory"``) is ONE run of one grid point: the RTs of
  every activation in ``params["activations"]`` on the same prompts, ``F`` and test queries
  (:func:`rmt_icl.simulate.random_transformer.simulate_models` with models ``"rt:NAME"``), and
  the deterministic equivalent of each, evaluated at the run's realised ratios
  ``ell/d, n/d^2, k/n`` with the run's exact normalisation ``t/d`` (so that nothing but the
  limit ``d -> inf`` separates the two;
  :func:`rmt_icl.experiments.models.realised_rt_theory`).
* :func:`grid_spec` builds the sweep over :data:`ACCEPTANCE_GRID` at one ``d``; runs go through
  :func:`rmt_icl.sweep.sweep` (resumable store, seeds hashed from the parameters, bit-identical
  across backends).
* :func:`point_theory` is the same equivalent for a point that is *not* run here (e.g. an
  ``rt-paired`` point of a figure): its realised sizes and exact analytic ``t`` follow from
  the parameters alone (:func:`~rmt_icl.simulate.random_transformer.parse_rt_params`,
  :func:`~rmt_icl.simulate.sources.mixture_t`), with the simulator's own rounding.
* :func:`threshold_ratio` and :func:`exclusions` state where a point sits relative to the
  interpolation threshold, for the verdicts' exclusion rule
  (:func:`rmt_icl.experiments.verdict.near_threshold`).
* :func:`summarise` turns the tidy run table into one row per (point, activation): the Monte
  Carlo mean and its standard error over runs, the theory, the gap and ``gap/SE``.
* :func:`allowance` measures the finite-size allowance ``c/d`` on sizes *other* than the one
  being judged, and :func:`judge` applies the criterion ``|gap| <= 3 SE + c/d``.

Test errors are sampled (``n_test`` queries in contexts of ``test_queries`` queries each); the
standard error over runs includes that sampling noise, the training draw and ``F``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rmt_icl.core.errors import ConvergenceError
from rmt_icl.core.registry import register_model
from rmt_icl.core.stats import mean_se
from rmt_icl.experiments.models import realised_rt_errors, realised_rt_theory
from rmt_icl.experiments.verdict import near_threshold
from rmt_icl.hermite import get_activation
from rmt_icl.simulate.gradient_step import step_eta
from rmt_icl.simulate.random_transformer import POINT_DEFAULTS, parse_rt_params, simulate_models
from rmt_icl.simulate.rt_params import Y2_IMPLICIT, Y2_KEY_DEFAULT
from rmt_icl.simulate.sources import mixture_t

__all__ = [
    "ACCEPTANCE_GRID",
    "CELL_KEYS",
    "COMPANION_FIXED",
    "COMPANION_GRID",
    "MODEL",
    "IDENTITY_THRESHOLD_REASON",
    "THRESHOLD_REASON",
    "allowance",
    "exclusions",
    "grid_spec",
    "judge",
    "judge_shrink",
    "point_model",
    "point_record",
    "point_theory",
    "points_theory",
    "summarise",
    "theory_point",
    "threshold_ratio",
]

#: the validation grid (``ridge`` is the toolkit's lambda_bar)
ACCEPTANCE_GRID = {
    "activation": ("relu", "tanh", "erf", "identity"),
    "target": ("linear", "relu"),
    "alpha": (0.5, 1.0, 2.0, 4.0),
    "tau": (0.5, 2.0),
    "width_ratio": (0.5, 2.0),
    "ridge": (1e-4, 1e-2),
}
#: fixed settings of the grid: fresh task per prompt, label-noise variance 0.1, Lu et al.'s
#: scaling of the y^2 column
FIXED = {"kappa": "inf", "rho": 0.1, "y2_scale": 1.0}
#: the validation grid in Demir & Dogan's own scaling of the y^2 column (docs section 10):
#: activations with and without a degree-2 component, finite and infinite task pools
COMPANION_GRID = {
    "activation": ("relu", "gelu", "tanh", "erf"),
    "target": ("linear", "relu"),
    "alpha": (0.5, 2.0),
    "tau": (0.5, 2.0),
    "width_ratio": (0.5, 2.0),
    "ridge": (1e-3, 1e-1),
    "kappa": ("inf", 1.0),
}
#: fixed settings of the companion grid
COMPANION_FIXED = {"rho": 0.1, "y2_scale": "companion"}
#: sweep model name of :func:`theory_point`
MODEL = "rt-theory"
#: axes that may vary between sweep points (the activations share a point); a grid uses those
#: it has (:func:`grid_spec`), the others come from its fixed settings
POINT_KEYS = ("target", "alpha", "tau", "width_ratio", "ridge", "kappa")


def _activations(params: dict) -> list[str]:
    acts = params.get("activations", ",".join(ACCEPTANCE_GRID["activation"]))
    acts = [a.strip() for a in (acts.split(",") if isinstance(acts, str) else acts)]
    if not acts or not all(acts):
        raise ValueError(f"activations must name at least one activation, got {acts!r}")
    return acts


def theory_point(params: dict, seed) -> dict:
    """One run: the RT for each activation on shared prompts, and its deterministic equivalent.

    Parameters
    ----------
    params : dict
        Point parameters of :func:`rmt_icl.simulate.random_transformer.parse_rt_params` (``d``,
        ``alpha``, ``tau``, ``width_ratio``, ``kappa``, ``rho``, ``ridge`` = lambda_bar,
        ``target``, ``n_test``, ``test_queries``, ...) plus ``activations``: a comma-separated
        string (default ``"relu,tanh,erf,identity"``).
    seed : numpy.random.SeedSequence or int
        The run's seed.

    Returns
    -------
    dict
        ``icl_<act>``, ``icl_se_test_<act>`` (test-sampling SE of this run) and
        ``theory_<act>`` for each activation, and for a finite task pool the IDG error's
        ``idg_<act>``, ``idg_se_test_<act>`` and ``theory_idg_<act>``; ``icl`` and ``idg`` (the
        first activation's, required by the sweep), realised sizes and ratios, ``t``,
        ``y2_scale`` and ``t_total``.
    """
    acts = _activations(params)
    sim = {k: v for k, v in params.items() if k != "activations"}
    out = simulate_models(sim, seed, [f"rt:{a}" for a in acts])
    first = out.flat(f"rt:{acts[0]}")          # the row's shared columns, by name
    row = {key: first[key] for key in ("d", "ell", "n", "k", "D", "alpha_realised",
                                       "tau_realised", "width_ratio_realised", "t", "q",
                                       "y2_scale", "n_test", "test_queries", "t_total",
                                       "target")}
    pool = first["kappa_realised"] is not None and math.isfinite(first["kappa_realised"])
    row["icl"] = first["icl"]
    row["idg"] = first["idg"] if pool else math.nan
    target = params.get("target", "linear")
    for act in acts:
        res = out[f"rt:{act}"]
        row[f"icl_{act}"] = res.icl
        row[f"icl_se_test_{act}"] = res.icl_se_test
        theory_icl, theory_idg = realised_rt_errors(first, act, target)
        row[f"theory_{act}"] = theory_icl
        if pool:
            row[f"idg_{act}"] = res.idg
            row[f"idg_se_test_{act}"] = res.idg_se_test
            row[f"theory_idg_{act}"] = theory_idg
    return row


def point_record(params: dict) -> dict:
    """The realised sizes, ratios and exact ``t`` of one RT point, without simulating it.

    The fields of a run's flat record (:meth:`rmt_icl.simulate.rt_results.MultiModelResult.flat`)
    that :func:`~rmt_icl.experiments.models.realised_rt_theory` reads: the sizes of
    :meth:`rmt_icl.simulate.paths.ScalingPath.sizes` (the simulator's rounding), their ratios,
    ``rho``, ``ridge_bar``, ``y2_scale``, ``isotropic_data``, ``eta`` and ``t``, the analytic
    ``t = Tr Cov(vec H_Z)`` of the training mixture
    (:func:`~rmt_icl.simulate.sources.mixture_t`), which is the run's exact ``t`` under the
    default ``normalisation="analytic"``. (With ``normalisation="estimate"`` a run uses an
    estimate of this ``t`` from its own prompts.) Also ``ridge_la = d t lambda_bar / n``, the
    linear transformer's ridge on the same prompts when the point gives no ``ridge_la``.

    Parameters
    ----------
    params : dict
        Point parameters of :func:`~rmt_icl.simulate.random_transformer.parse_rt_params`
        (``d``, ``alpha``, ``tau``, a width, ...).

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        Bad point parameters (the message names the parameter).
    """
    path, sizes, opts = parse_rt_params({k: v for k, v in params.items()
                                         if k not in ("activations", "replicate", "max_degree")})
    t = mixture_t(sizes.d, sizes.ell, opts["data"], opts["y2_scale"])
    ridge_la = opts["ridge_la"]
    if ridge_la is None:
        ridge_la = sizes.d * t * path.ridge / sizes.n
    return {**sizes.as_dict(), "rho": path.rho, "ridge_bar": path.ridge,
            "ridge_la": float(ridge_la),
            "y2_scale": opts["y2_scale"], "isotropic_data": opts["data"].legacy,
            "eta": step_eta(opts["step_size"], sizes.d) if opts["step_size"] > 0 else 0.0,
            "t": float(t)}


def point_theory(params: dict, activation=None, target=None) -> tuple[float, str]:
    """The deterministic equivalent of one RT point at its realised ratios, and why not.

    :func:`~rmt_icl.experiments.models.realised_rt_theory` on :func:`point_record`: the value
    that the sweep model ``"random-transformer"`` attaches to a run of the same point (the
    same sizes and ``t``), computed from the parameters alone.

    Parameters
    ----------
    params : dict
        Point parameters (:func:`point_record`).
    activation, target : optional
        Override the point's ``activation`` and ``target`` (defaults: the point's, else the
        simulator's, :data:`rmt_icl.simulate.rt_params.POINT_DEFAULTS`).

    Returns
    -------
    theory : float
        The ICL error, NaN where the equivalent does not cover the point.
    note : str
        ``""``, or why the value is NaN: the :class:`NotImplementedError` message of
        :func:`~rmt_icl.experiments.models.realised_rt_theory` (e.g. a target with
        ``a_1 = 0`` such as ``he2``), or a fixed point that did not converge.

    Raises
    ------
    ValueError
        Bad point parameters.
    """
    act, tgt = point_model(params)
    return _record_theory(point_record(params), act if activation is None else activation,
                          tgt if target is None else target)


def point_model(params: dict) -> tuple:
    """A point's ``(activation, target)``, the simulator's defaults where it gives none
    (:data:`rmt_icl.simulate.rt_params.POINT_DEFAULTS`)."""
    return (params.get("activation", POINT_DEFAULTS["activation"]),
            params.get("target", POINT_DEFAULTS["target"]))


def _record_theory(record: dict, activation, target) -> tuple[float, str]:
    """:func:`point_theory` of a :func:`point_record`."""
    try:
        return realised_rt_theory(record, activation, target), ""
    except NotImplementedError as exc:
        return math.nan, str(exc)
    except ConvergenceError as exc:
        return math.nan, f"the theory's fixed point did not converge: {exc}"


def points_theory(points: list[dict]) -> pd.DataFrame:
    """:func:`point_theory` of each point, with the realised sizes it used.

    Parameters
    ----------
    points : list of dict
        Point parameters (:func:`point_record`), each with its ``activation`` and ``target``.

    Returns
    -------
    pandas.DataFrame
        One row per point, in order: ``theory_icl`` (NaN where not covered),
        ``theory_covered`` (bool), ``theory_note`` (``""`` or why not covered), the realised
        ``ell``, ``n``, ``k``, ``alpha_realised``, ``tau_realised``, ``kappa_realised``,
        ``width_ratio_realised``, ``t`` and ``ridge_la`` (:func:`point_record`).
    """
    rows = []
    for params in points:
        record = point_record(params)
        theory, note = _record_theory(record, *point_model(params))
        rows.append({"theory_icl": theory, "theory_covered": bool(math.isfinite(theory)),
                     "theory_note": note,
                     **{key: record[key] for key in ("ell", "n", "k", "alpha_realised",
                                                     "tau_realised", "kappa_realised",
                                                     "width_ratio_realised", "t",
                                                     "ridge_la")}})
    return pd.DataFrame(rows)


#: exclusion reasons of a point near the RT's interpolation threshold (:func:`exclusions`):
#: a nonlinear activation's, and the identity's
THRESHOLD_REASON = "near the interpolation threshold psi = 1"
IDENTITY_THRESHOLD_REASON = "near the interpolation threshold min(k, D) = n"


def threshold_ratio(activation, width_ratio, tau) -> np.ndarray:
    """Where a point sits relative to the RT's interpolation threshold (1 at the threshold).

    The ridgeless fit interpolates when the rank of the ``n x k`` feature matrix reaches ``n``.
    A nonlinear ``sigma`` makes it full rank, ``min(k, n)``: the ratio is ``psi = k/n``. The
    identity's features ``F vec H_Z`` have rank ``min(k, D)`` with ``D = d(d+1) ~ d^2``: the
    threshold is ``min(k, D) = n``, and the ratio is ``min(psi tau, 1) / tau`` (``psi`` for
    ``psi tau <= 1``; ``1/tau`` above, the linear-attention threshold ``tau = 1``).

    Parameters
    ----------
    activation : str, Activation or callable
        The RT's activation (a name of :func:`rmt_icl.hermite.get_activation`, ``"linear"``
        meaning the identity, or a callable: nonlinear).
    width_ratio, tau : array_like
        ``psi = k/n`` and ``tau = n/d^2`` (> 0), broadcast together.

    Returns
    -------
    ndarray of float64
    """
    psi, tau = np.broadcast_arrays(np.asarray(width_ratio, dtype=np.float64),
                                   np.asarray(tau, dtype=np.float64))
    if np.any(~(psi > 0)) or np.any(~(tau > 0)):
        raise ValueError(f"width_ratio and tau must be > 0, got {width_ratio!r} and {tau!r}")
    if _is_identity(activation):
        return np.minimum(psi * tau, 1.0) / tau
    return psi.copy()


def _is_identity(activation) -> bool:
    """Whether ``activation`` is the identity (``"linear"`` is the theory's alias of it)."""
    return get_activation("identity" if activation == "linear" else activation).name == "identity"


def exclusions(activation, width_ratio, tau, ridge) -> np.ndarray:
    """The verdict's exclusion reason per point near the RT's interpolation threshold.

    A point is excluded when :func:`threshold_ratio` lies within
    :data:`rmt_icl.experiments.verdict.THRESHOLD_WINDOW` of 1 at a ridge at most
    :data:`rmt_icl.experiments.verdict.NEAR_RIDGELESS`
    (:func:`rmt_icl.experiments.verdict.near_threshold`).

    Parameters
    ----------
    activation : str, Activation or callable
        The RT's activation (one for all points).
    width_ratio, tau, ridge : array_like
        ``psi``, ``tau`` and ``lambda_bar``, broadcast together.

    Returns
    -------
    ndarray of str
        :data:`THRESHOLD_REASON` (:data:`IDENTITY_THRESHOLD_REASON` for the identity) or
        ``""``.
    """
    near = near_threshold(threshold_ratio(activation, width_ratio, tau), 1.0, ridge)
    return np.where(near, IDENTITY_THRESHOLD_REASON if _is_identity(activation)
                    else THRESHOLD_REASON, "")


def grid_spec(d: int, runs: int, *, grid: dict | None = None, n_test: int = 16384,
              test_queries: int = 16, seed: int = 0, name: str | None = None,
              scaling: str = "la") -> dict:
    """Sweep spec (dict form of :class:`rmt_icl.sweep.spec.SweepSpec`) of the grid at one ``d``.

    Parameters
    ----------
    d : int
        Dimension.
    runs : int
        Independent runs per point.
    grid : dict, optional
        Axes to use instead of :data:`ACCEPTANCE_GRID` (same keys; missing keys keep the
        acceptance values).
    n_test, test_queries : int
        Test queries per run and queries per test context.
    seed : int
        Root seed.
    name : str, optional
        Sweep name (default ``rt-theory-d<d>``, ``rt-theory-companion-d<d>``).
    scaling : {"la", "companion"}
        :data:`ACCEPTANCE_GRID` with :data:`FIXED` (linear-attention scaling of the y^2
        column), or :data:`COMPANION_GRID` with :data:`COMPANION_FIXED` (Demir & Dogan's).
    """
    if scaling not in ("la", "companion"):
        raise ValueError(f"scaling must be 'la' or 'companion', got {scaling!r}")
    base, fixed = ((ACCEPTANCE_GRID, FIXED) if scaling == "la"
                   else (COMPANION_GRID, COMPANION_FIXED))
    g = {**base, **(grid or {})}
    axes = [key for key in POINT_KEYS if key in g]
    tag = "" if scaling == "la" else "-companion"
    return {
        "name": name or f"rt-theory{tag}-d{d}",
        "model": MODEL,
        "seed": seed,
        "runs": runs,
        "params": {**{k: v for k, v in fixed.items() if k not in axes}, "d": d,
                   "n_test": n_test, "test_queries": test_queries,
                   "activations": ",".join(g["activation"])},
        "grid": {key: list(g[key]) for key in axes},
    }


#: cells whose run-to-run *relative* variance is pooled (summarise's ``se``)
POOL_KEYS = ("d", "tau", "width_ratio", "ridge", "kappa", "activation", "quantity")
#: the columns that name one cell of :func:`summarise`'s table (besides ``d``)
CELL_KEYS = (*POINT_KEYS, "activation", "quantity")

_QUANTITY_COLUMNS = {"icl": ("icl_{}", "icl_se_test_{}", "theory_{}"),
                     "idg": ("idg_{}", "idg_se_test_{}", "theory_idg_{}")}


def _kappa(value) -> float:
    """A stored ``kappa`` (``"inf"``, a number or missing) as a float."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.inf
    return float(value)


def summarise(runs: pd.DataFrame, *, pool=POOL_KEYS) -> pd.DataFrame:
    """One row per (d, point, activation, quantity) from the sweep's tidy run table.

    Columns: ``d``, the :data:`POINT_KEYS` (``kappa`` as a float, ``inf`` for fresh tasks),
    ``activation``, ``quantity`` (``"icl"``; also ``"idg"`` for a finite task pool), ``runs``,
    ``mc`` (mean error), ``se_cell`` (the cell's own standard error over runs,
    ``std(ddof=1)/sqrt(R)``), ``se`` (the pooled standard error, below), ``dof`` (its
    degrees of freedom), ``theory`` (mean over runs of the equivalent at the realised ratios),
    ``gap = mc - theory``, ``z = gap/se`` and ``q`` (``E y^2``, the zero predictor's error).

    Pooling: with 2-4 runs a cell's own SE has 1-3 degrees of freedom, too few for a "3 SE"
    criterion. The run-to-run coefficient of variation ``std/mean`` is therefore pooled over
    the cells sharing ``pool`` (default ``d, tau, psi, ridge, kappa, activation, quantity``:
    the same sizes and model, different ``alpha`` and target), ``cv^2 = sum((R-1) cv_i^2) /
    sum(R-1)``, and ``se = mc * cv / sqrt(R)`` with ``dof = sum(R-1)`` (8-24 for the
    acceptance grid). Cells with one run get their test-sampling SE and ``dof = 0``.
    """
    df = runs[runs["status"] == "ok"] if "status" in runs else runs
    df = df.assign(kappa=[_kappa(v) for v in df["kappa"]] if "kappa" in df
                   else math.inf)
    acts = sorted({c[len("theory_"):] for c in df.columns if c.startswith("theory_")
                   and not c.startswith("theory_idg_") and df[c].notna().any()})
    keys = ["d", *POINT_KEYS]
    rows = []
    for point, grp in df.groupby(keys, sort=True, dropna=False):
        for act in acts:
            for quantity, (col, se_col, th_col) in _QUANTITY_COLUMNS.items():
                col, se_col, th_col = (c.format(act) for c in (col, se_col, th_col))
                if col not in grp or th_col not in grp or grp[col].isna().all():
                    continue
                x = grp[col].to_numpy(dtype=float)
                r = x.size
                se = mean_se(x)[1] if r > 1 else float(grp[se_col].iloc[0])
                theory = float(grp[th_col].mean())
                mc = float(x.mean())
                rows.append({**dict(zip(keys, point, strict=True)), "activation": act,
                             "quantity": quantity, "runs": r, "mc": mc, "se_cell": se,
                             "theory": theory, "gap": mc - theory,
                             "q": float(grp["q"].iloc[0]),
                             "_cv2": (se * math.sqrt(r) / mc) ** 2 if r > 1 else math.nan})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    dof_cell = (out["runs"] - 1).where(out["runs"] > 1, 0)
    grp_keys = list(pool)
    weighted = (out["_cv2"].fillna(0.0) * dof_cell).groupby(
        [out[k] for k in grp_keys]).transform("sum")
    dof = dof_cell.groupby([out[k] for k in grp_keys]).transform("sum")
    cv = np.sqrt(weighted / dof.where(dof > 0, np.nan))
    out["se"] = (out["mc"] * cv / np.sqrt(out["runs"])).where(dof > 0, out["se_cell"])
    out["dof"] = dof
    out["z"] = out["gap"] / out["se"]
    return out.drop(columns="_cv2")


def allowance(summary: pd.DataFrame, *, exclude_d: int | None = None, quantile: float = 0.9,
              z: float = 3.0) -> float:
    r"""Finite-size allowance constant ``c`` of ``|gap| <= z SE + c/d``, measured off-sample.

    ``c`` is the ``quantile`` of ``d * max(|gap| - z SE, 0)`` over the rows whose ``d`` differs
    from ``exclude_d`` (the size being judged), so the allowance at ``d`` comes from the other
    sizes only, never from the data it judges. That the excess over ``z SE`` scales like ``1/d``
    is what :func:`judge`'s table shows (``excess * d`` roughly constant across ``d``).
    """
    rows = summary if exclude_d is None else summary[summary["d"] != exclude_d]
    if rows.empty:
        raise ValueError("allowance needs rows at a d other than exclude_d")
    excess = np.maximum(np.abs(rows["gap"].to_numpy()) - z * rows["se"].to_numpy(), 0.0)
    return float(np.quantile(excess * rows["d"].to_numpy(), quantile))


def judge(summary: pd.DataFrame, *, z: float = 3.0, quantile: float = 0.9) -> pd.DataFrame:
    """Apply ``|gap| <= z SE + c/d`` at every ``d``, ``c`` from the other sizes (:func:`allowance`).

    Returns one row per ``d``: points, median ``|gap|``, median ``|gap| * d``, the median
    excess ``max(|gap| - z SE, 0) * d``, the allowance ``c`` used, the fraction of points passing
    and the largest ``|gap|/(z SE + c/d)``.
    """
    out = []
    ds = sorted(summary["d"].unique())
    for d in ds:
        rows = summary[summary["d"] == d]
        c = allowance(summary, exclude_d=d, quantile=quantile, z=z) if len(ds) > 1 else 0.0
        bound = z * rows["se"] + c / d
        gap = rows["gap"].abs()
        excess = np.maximum(gap - z * rows["se"], 0.0) * d
        out.append({"d": int(d), "points": len(rows), "median_abs_gap": float(gap.median()),
                    "median_abs_gap_x_d": float((gap * d).median()),
                    "median_excess_x_d": float(excess.median()), "allowance_c": c,
                    "pass_fraction": float((gap <= bound).mean()),
                    "worst_ratio": float((gap / bound).max())})
    return pd.DataFrame(out)


def judge_shrink(summary: pd.DataFrame, d_small: int, d_large: int, *,
                 z: float = 3.0) -> pd.DataFrame:
    r"""Per cell: has the gap shrunk at least like ``1/d`` from ``d_small`` to ``d_large``?

    For each (point, activation) present at both sizes the finite-size allowance is measured at
    the smaller size only, ``c = d_small |gap(d_small)|``, and the cell passes when
    ``|gap(d_large)| <= z SE(d_large) + c / d_large``: a gap that does not shrink passes only
    if it is unresolved at ``d_large``. Returns one row per cell with ``c``, both gaps and SEs,
    ``ratio = |gap(d_large)| / (z SE(d_large) + c/d_large)`` and ``pass``.
    """
    keys = [k for k in CELL_KEYS if k in summary]
    both = pd.merge(summary[summary["d"] == d_small], summary[summary["d"] == d_large],
                    on=keys, how="inner", suffixes=("_small", "_large")).set_index(keys)
    if both.empty:
        raise ValueError(f"no cell is present at both d_small = {d_small} and "
                         f"d_large = {d_large}")
    c = d_small * both["gap_small"].abs()
    bound = z * both["se_large"] + c / d_large
    out = pd.DataFrame({"gap_small": both["gap_small"], "se_small": both["se_small"],
                        "gap_large": both["gap_large"], "se_large": both["se_large"],
                        "theory": both["theory_large"], "c": c,
                        "ratio": both["gap_large"].abs() / bound})
    out["pass"] = out["ratio"] <= 1.0
    return out.reset_index()


def _check(params: dict) -> None:
    _activations(params)
    parse_rt_params({k: v for k, v in params.items() if k != "activations"})


register_model(MODEL, theory_point, check=_check, defaults=Y2_KEY_DEFAULT, implicit=Y2_IMPLICIT,
               description="RT per activation on shared prompts, with its deterministic equivalent")
