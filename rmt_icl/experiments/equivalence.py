r"""The joint-scaling equivalence study: does the RT's ICL error approach its Hermite model's?

Claim (Demir & Dogan 2025, the equivalence theorem): along a scaling path
``ell = alpha d``, ``n = tau d^2``, ``k = psi n`` (``K = kappa d``), with the ridge ``lambda_bar``
held fixed,

.. math::

    \Delta_p(d) := e_{\mathrm{ICL}}(\mathrm{Herm}_p) - e_{\mathrm{ICL}}(\mathrm{RT})
    \longrightarrow 0 \qquad (d \to \infty)

for some finite degree ``p``, where ``Herm_p`` replaces ``sigma`` by
``sum_{j<=p} c_j He_j(u) + c*_p z`` on the same ``F`` (fresh Gaussian ``z`` on train and test).

What the study does
-------------------
For each ``d`` of a list (default :data:`DEFAULT_DS`) it runs ``R_d`` independent runs of the
point function :func:`equivalence_point` (sweep model ``"rt-equivalence"``), each of which fits
the RT, the Hermite models ``p = 1..6`` and the linear transformer on the SAME prompts, ``F``
and Hermite noise (:func:`rmt_icl.simulate.random_transformer.simulate_models`), and records
the per-run paired differences ``Delta_p^{(r)} = e_Herm(p)^{(r)} - e_RT^{(r)}`` on the same test
queries. Per ``d``:

* ``e_RT``, ``e_Herm(p)``, ``e_linear``: mean +- SE over runs;
* ``Delta_p(d)`` = mean of the per-run differences,
  ``SE_p(d) = std(Delta^{(r)}, ddof=1) / sqrt(R_d)`` (paired over runs: the common random
  numbers cancel most of the run-to-run spread);
* the gap ``|Delta_p(d)|`` with that SE.

The driver :func:`rmt_icl.reporting.studies.run_study` runs it through the sweep engine.
Replicate ``r`` is a sweep point of its own (parameter ``replicate``, so its seed is hashed
from the parameters and ``r``), and each ``(configuration, d, seed)`` folder
(:func:`rmt_icl.reporting.studies.study_store`) holds one store per block of
replicates ``rep<a>-<b>``: an interrupted study resumes, asking for more runs computes only the
new replicates (a new block), and asking for fewer reads the old ones.

Degrees identical in law
------------------------
When ``c_{p+1} = 0`` (relu, gelu, softplus: ``c_3 = c_5 = 0``; tanh, erf: ``c_2 = c_4 = c_6 = 0``)
the degree-``p+1`` model equals the degree-``p`` one (same coefficients, same residual, same
``z``): the point function simulates one representative per class of expansions equal to
``1e-12`` and copies its numbers (column ``herm<p>_same_as``).

The criterion "the gap shrinks with d" (:func:`shrink_verdict`)
----------------------------------------------------------------
With ``g_i = |Delta_p(d_i)|``, ``s_i = SE_p(d_i)`` from ``R_i`` runs, and "resolved" meaning
``g_i > c_i s_i`` with ``c_i`` the Student-t quantile (``R_i - 1`` degrees of freedom) at the
one-sided level of ``z = 2`` (:func:`resolve_threshold`: 4.53 for 3 runs, 3.31 for 4, 2.32 for
10, -> 2 for many; the SE of a few runs is itself uncertain):

* slope: weighted least squares of ``log max(g_i, s_i)`` on ``log d_i`` with weights
  ``(max(g_i, s_i) / s_i)^2`` (delta method; an unresolved gap is floored at its SE and gets
  weight 1, i.e. counts weakly). Its SE is the larger of the known-variance SE and the
  residual-scaled one (``sqrt(chi^2 / dof)`` inflation, when ``dof >= 1``);
* verdict ``"shrinks"``: slope ``b < 0`` AND (``b + z SE_b < 0``, a significant decrease, OR the
  gap is resolved at the smallest ``d`` and not resolved at the largest ``d``);
* ``"zero"``: the gap is not resolved at any ``d`` (equivalence within Monte Carlo error at
  every size, but no decrease demonstrated);
* ``"grows"``: resolved at the largest ``d`` and ``b - z SE_b > 0``;
* ``"does not shrink"``: anything else (e.g. resolved at the largest ``d`` without a
  significant decrease).

``p0`` (:func:`find_p0`) is the smallest ``p`` such that every ``p' >= p`` (up to the largest
degree studied) is ``"shrinks"`` or ``"zero"``; ``None`` ("does not shrink") when even the
largest degree fails. The report says which of the degrees ``>= p0`` only reached ``"zero"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rmt_icl.core.checks import check_int, check_positive
from rmt_icl.core.registry import register_model
from rmt_icl.core.stats import mean_se, student_t_threshold
from rmt_icl.hermite import MAX_DEGREE, get_activation, hermite_expansion
from rmt_icl.simulate.random_transformer import parse_rt_params, simulate_models
from rmt_icl.simulate.rt_params import COMPANION_DEFAULTS, Y2_IMPLICIT, Y2_KEY_DEFAULT

__all__ = [
    "DEFAULT_DS",
    "FULL_DS",
    "DEFAULT_PATH",
    "StudyResult",
    "default_runs",
    "equivalence_point",
    "paired_point",
    "max_paired_gap_se",
    "gap_table",
    "loglog_fit",
    "shrink_verdict",
    "resolve_threshold",
    "find_p0",
    ]

#: dimensions of the default study, and of ``full=True``
DEFAULT_DS = (16, 24, 32, 48, 64)
FULL_DS = (16, 24, 32, 48, 64, 80, 96)
#: default scaling path (linear-attention scaling of the y^2 column; avoids tau = 1 and
#: psi = 1): ell = 2d, n = 2d^2, k = n/2, fresh tasks, noise variance 1e-4, lambda_bar = 0.2
DEFAULT_PATH = {"alpha": 2.0, "tau": 2.0, "width_ratio": 0.5, "kappa": math.inf, "rho": 1e-4,
                "ridge": 0.2, "y2_scale": 1.0}
#: runs per d when not given: many at small d (cheap, noisy), few at large d (costly, quiet)
_RUNS = {16: 16, 24: 10, 32: 8, 48: 6, 64: 4, 80: 3, 96: 2}
#: z-score for "resolved" and "significant"
Z = 2.0
#: the sweep model name of :func:`equivalence_point`
MODEL = "rt-equivalence"


def default_runs(d: int) -> int:
    """Runs at dimension ``d`` when not given (16 at d=16 down to 2 at d >= 96)."""
    d = check_int("d", d, minimum=1)
    for dd in sorted(_RUNS):
        if d <= dd:
            return _RUNS[dd]
    return 2


# ----------------------------------------------------------------------------- point function


def _representatives(activation, degrees) -> dict[int, int]:
    """Map each degree to the smallest degree with the same expansion (coefficients padded with
    zeros and residual ``c*_p`` equal to 1e-12)."""
    act = get_activation(activation)
    pmax = max(degrees)
    keys = {}
    for p in degrees:
        e = hermite_expansion(act, p)
        c = np.zeros(pmax + 1)
        c[: p + 1] = e.coefficients
        keys[p] = (c, float(e.residual))
    rep = {}
    for p in sorted(degrees):
        rep[p] = p
        for q in sorted(rep):
            if q < p and rep[q] == q and np.allclose(keys[q][0], keys[p][0], rtol=0, atol=1e-12) \
                    and abs(keys[q][1] - keys[p][1]) <= 1e-12:
                rep[p] = q
                break
    return rep


def equivalence_point(params: dict, seed) -> dict:
    """One run of the RT, the Hermite models ``p = 1..max_degree`` and the linear transformer.

    Sweep model ``"rt-equivalence"``. All models share the prompts, ``F`` and the Hermite noise
    of the run (:func:`rmt_icl.simulate.random_transformer.simulate_models`).

    Parameters
    ----------
    params : dict
        The point parameters of :func:`rmt_icl.simulate.random_transformer.parse_rt_params`
        (``d, alpha, tau, width_ratio`` or ``width_d2``, ``kappa, rho, ridge`` = ``lambda_bar``,
        ``activation, target, y2_scale, n_test``, ...) plus the optional ``max_degree``
        (integer in [1, 12], default 6) and ``replicate`` (integer >= 0; it only enters the
        run's seed through the sweep's parameter hash: the study runs replicate ``r`` as a
        point of its own, so that adding replicates never changes the old ones).
    seed : numpy.random.SeedSequence or int
        The run's seed.

    Returns
    -------
    dict
        Flat: ``icl``, ``idg`` (the RT's), ``icl_rt``, ``icl_herm<p>``, ``icl_linear`` (and
        ``idg_*``), the paired differences on the same test queries ``diff_herm<p> =
        icl_herm<p> - icl_rt`` and ``diff_linear`` with their test-sampling SEs
        ``diff_*_se_test``, ``herm<p>_same_as`` (representative degree), ``c_star<p>``, the
        realised sizes ``d, ell, n, k, D``, ``t``, ``ridge_bar``, ``ridge_paper``, ``q``
        (``E y^2``) and the run's ``t_total``.
    """
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict, got {type(params).__name__}")
    params = dict(params)
    check_int("replicate", params.pop("replicate", 0), minimum=0)
    pmax = check_int("max_degree", params.pop("max_degree", 6), minimum=1, maximum=12)
    params.pop("degree", None)
    degrees = list(range(1, pmax + 1))
    rep = _representatives(params.get("activation", "relu"), degrees)
    reps = sorted(set(rep.values()))
    models = ["rt"] + [f"hermite:{p}" for p in reps] + ["linear"]
    res = simulate_models(params, seed, models)
    rt = res["rt"]
    out = {"icl": rt.icl, "idg": rt.idg}
    for key in ("d", "ell", "n", "k", "D", "K", "t", "ridge_bar", "ridge_paper", "ridge_la", "q",
                "activation", "target", "n_test", "y2_scale"):
        out[key] = getattr(res.run, key)
    out["t_total"] = res.timings.total
    for name, label in [("rt", "rt"), ("linear", "linear")] + [
            (f"hermite:{rep[p]}", f"herm{p}") for p in degrees]:
        r = res[name]
        out[f"icl_{label}"] = r.icl
        out[f"idg_{label}"] = r.idg
        out[f"icl_{label}_se_test"] = r.icl_se_test
        if label != "rt":
            out[f"diff_{label}"] = r.icl_minus_rt
            out[f"diff_{label}_se_test"] = r.icl_minus_rt_se_test
            out[f"diff_idg_{label}"] = r.idg_minus_rt
    for p in degrees:
        out[f"herm{p}_same_as"] = rep[p]
        out[f"c_star{p}"] = res[f"hermite:{rep[p]}"].c_star
    return out


def paired_point(params: dict, seed) -> dict:
    """One run of the RT, ONE Hermite model (degree ``params["degree"]``, default 4) and the
    linear transformer on shared prompts, ``F`` and noise (sweep model ``"rt-paired"``).

    The cheap companion of :func:`equivalence_point` for the figures. Returns ``icl``, ``idg``
    (the RT's), ``icl_rt``, ``icl_herm``, ``icl_linear`` (and ``idg_*``), the paired
    differences ``diff_herm = icl_herm - icl_rt``, ``diff_linear = icl_linear - icl_rt`` on
    the same test queries, ``degree``, ``c_star``, sizes, ``t``, ``ridge_bar``, ``ridge_la``,
    ``q`` (``E y^2``) and ``t_total``.
    """
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict, got {type(params).__name__}")
    p = check_int("degree", params.get("degree", 4), minimum=0, maximum=MAX_DEGREE)
    res = simulate_models(params, seed, ["rt", f"hermite:{p}", "linear"])
    rt, herm, lin = res["rt"], res[f"hermite:{p}"], res["linear"]
    out = {"icl": rt.icl, "idg": rt.idg}
    for key in ("d", "ell", "n", "k", "D", "K", "t", "ridge_bar", "ridge_paper", "ridge_la", "q",
                "n_test", "solver"):
        out[key] = getattr(res.run, key)
    out["t_total"] = res.timings.total
    for label, r in (("rt", rt), ("herm", herm), ("linear", lin)):
        out[f"icl_{label}"], out[f"idg_{label}"] = r.icl, r.idg
        out[f"icl_{label}_se_test"] = r.icl_se_test
        if label != "rt":
            out[f"diff_{label}"] = r.icl_minus_rt
            out[f"diff_{label}_se_test"] = r.icl_minus_rt_se_test
    out["degree_used"], out["c_star"] = p, herm.c_star
    return out


# ----------------------------------------------------------------------------- the study


def study_config(activation, target, path: dict) -> dict:
    """The study's configuration: :data:`DEFAULT_PATH` updated by ``path`` (``None`` values
    ignored; ``width_d2`` replaces ``width_ratio``), plus the activation and target.

    Raises
    ------
    ValueError
        A key of ``path`` that is not a path parameter, ``width_d2``, ``n_test``,
        ``max_degree`` or a key of the companion model (data sources, ``step_size``;
        :data:`rmt_icl.simulate.rt_params.COMPANION_DEFAULTS`).
    """
    cfg = dict(DEFAULT_PATH)
    extra = {"width_d2", "n_test", "max_degree", *COMPANION_DEFAULTS}
    unknown = sorted(set(path) - set(DEFAULT_PATH) - extra)
    if unknown:
        raise ValueError(f"unknown path parameter(s) {unknown}; allowed: "
                         f"{sorted(set(DEFAULT_PATH) | extra)}")
    cfg.update({k: v for k, v in path.items() if v is not None})
    if cfg.get("width_d2") is not None:
        cfg.pop("width_ratio", None)
    cfg["activation"] = str(activation)
    cfg["target"] = str(target)
    return cfg


@dataclass
class StudyResult:
    """Result of :func:`run_study`.

    Attributes
    ----------
    config : dict
        The scaling path and model parameters (``ridge`` is ``lambda_bar``).
    runs : pandas.DataFrame
        One row per (d, run): the outputs of :func:`equivalence_point`.
    table : pandas.DataFrame
        :func:`gap_table` of ``runs``: one row per ``d``.
    verdicts : dict
        ``{p: shrink_verdict(...)}``.
    p0 : dict
        :func:`find_p0` of ``verdicts``.
    """

    config: dict
    runs: pd.DataFrame
    table: pd.DataFrame
    verdicts: dict = field(default_factory=dict)
    p0: dict = field(default_factory=dict)

    @property
    def degrees(self) -> list[int]:
        return sorted(self.verdicts)

    def to_dict(self) -> dict:
        """JSON-able summary: configuration, the per-d table, verdicts and ``p0``."""
        return {"config": self.config, "table": self.table.to_dict(orient="records"),
                "verdicts": {str(p): v for p, v in self.verdicts.items()}, "p0": self.p0}


def gap_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per ``d`` from the per-run outputs of :func:`equivalence_point`.

    Columns: ``d``, ``runs``, ``n``, ``k``, ``q`` (``E y^2``); ``e_rt``, ``e_herm<p>``,
    ``e_linear`` with ``*_se`` (SE over runs); ``delta<p>`` (mean paired difference
    ``e_Herm(p) - e_RT``), ``delta<p>_se`` (SE of the per-run differences), ``gap<p> =
    |delta<p>|``, ``z<p> = gap / SE``; ``lin_minus_rt`` and its SE.
    """
    ok = df[df["status"] == "ok"] if "status" in df.columns else df
    dcol = "out_d" if "out_d" in ok.columns else "d"
    degrees = sorted(int(c[len("diff_herm"):]) for c in ok.columns
                     if c.startswith("diff_herm") and c[len("diff_herm"):].isdigit())
    rows = []
    for d, g in ok.groupby(dcol, sort=True):
        row = {"d": int(d), "runs": int(len(g))}
        for c in ("n", "k", "q"):
            col = f"out_{c}" if f"out_{c}" in g.columns else c
            if col in g.columns:
                row[c] = g[col].iloc[0]
        row["e_rt"], row["e_rt_se"] = mean_se(g["icl_rt"])
        for p in degrees:
            row[f"e_herm{p}"], row[f"e_herm{p}_se"] = mean_se(g[f"icl_herm{p}"])
        row["e_linear"], row["e_linear_se"] = mean_se(g["icl_linear"])
        for p in degrees:
            m, s = mean_se(g[f"diff_herm{p}"])
            row[f"delta{p}"], row[f"delta{p}_se"] = m, s
            row[f"gap{p}"] = abs(m)
            row[f"z{p}"] = abs(m) / s if s > 0 else math.nan
        row["lin_minus_rt"], row["lin_minus_rt_se"] = mean_se(g["diff_linear"])
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the criterion


def loglog_fit(ds, gaps, ses) -> tuple[float, float, float]:
    """Weighted log-log fit of the gap vs ``d``: ``(intercept a, slope b, SE of b)``.

    Fits ``log max(g_i, s_i) = a + b log d_i`` with weights ``(max(g_i, s_i)/s_i)^2`` (delta
    method: ``Var log g ~ (s/g)^2``; a gap below its SE is floored at the SE with weight 1).
    The SE of ``b`` is ``sqrt((X^T W X)^{-1}_{bb})``, inflated by ``sqrt(chi^2/dof)`` when that
    exceeds 1 and ``dof = m - 2 >= 1`` (scatter beyond the SEs, e.g. a non-power-law decay).
    """
    d = np.asarray(ds, dtype=np.float64)
    g = np.abs(np.asarray(gaps, dtype=np.float64))
    s = np.asarray(ses, dtype=np.float64)
    if d.size < 2 or np.any(~np.isfinite(s)) or np.any(s <= 0) or np.any(d <= 0):
        return math.nan, math.nan, math.nan
    gf = np.maximum(g, s)
    y = np.log(gf)
    w = (gf / s) ** 2
    X = np.column_stack([np.ones_like(d), np.log(d)])
    A = X.T @ (w[:, None] * X)
    cov = np.linalg.inv(A)
    coef = cov @ (X.T @ (w * y))
    b, se_b = float(coef[1]), float(math.sqrt(cov[1, 1]))
    dof = d.size - 2
    if dof >= 1:
        chi2 = float(np.sum(w * (y - X @ coef) ** 2))
        se_b *= max(1.0, math.sqrt(chi2 / dof))
    return float(coef[0]), b, se_b


def resolve_threshold(runs, z: float = Z) -> np.ndarray:
    """Threshold in SE units for "resolved" (``|Delta| > c SE``) with ``R`` runs: the
    Student-t equivalent of ``z`` (:func:`rmt_icl.core.stats.student_t_threshold`)."""
    return student_t_threshold(runs, z)


def shrink_verdict(ds, deltas, ses, *, z: float = Z, runs=None) -> dict:
    """Does the gap ``|Delta(d)|`` shrink with ``d``? (criterion of the module docstring)

    Parameters
    ----------
    ds : sequence of int
        Dimensions (at least 2, increasing order not required).
    deltas, ses : sequences of float
        Mean paired differences and their standard errors (> 0, finite).
    z : float
        z-score for "resolved" (``|Delta| > c SE``, ``c`` from :func:`resolve_threshold`)
        and "significant" (``|b| > z SE_b``).
    runs : sequence of int, optional
        Runs behind each SE; the "resolved" threshold is then the Student-t quantile of
        :func:`resolve_threshold` (default: ``z`` itself, for SEs known exactly).

    Returns
    -------
    dict
        ``verdict`` (``"shrinks"``, ``"zero"``, ``"grows"``, ``"does not shrink"``),
        ``slope``, ``slope_se``, ``intercept`` (:func:`loglog_fit`), ``resolved`` (list of
        bool per d, ascending d), ``threshold`` (per d, in SE units), ``z``.

    Raises
    ------
    ValueError
        Fewer than 2 dimensions, mismatched lengths, or a non-positive / non-finite SE.
    """
    d = np.asarray(ds, dtype=np.float64)
    delta = np.asarray(deltas, dtype=np.float64)
    s = np.asarray(ses, dtype=np.float64)
    if not (d.shape == delta.shape == s.shape) or d.ndim != 1 or d.size < 2:
        raise ValueError("ds, deltas and ses must be 1-d sequences of equal length >= 2")
    if np.any(~np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("ses must be finite and > 0 (at least 2 runs per d)")
    if np.any(~np.isfinite(delta)):
        raise ValueError("deltas must be finite")
    z = float(check_positive("z", z))
    thr = np.broadcast_to(resolve_threshold(runs, z), d.shape).astype(np.float64)
    order = np.argsort(d)
    d, delta, s, thr = d[order], delta[order], s[order], thr[order]
    g = np.abs(delta)
    resolved = g > thr * s
    a, b, se_b = loglog_fit(d, g, s)
    if not resolved.any():
        verdict = "zero"
    elif b < 0 and (b + z * se_b < 0 or (resolved[0] and not resolved[-1])):
        verdict = "shrinks"
    elif resolved[-1] and b - z * se_b > 0:
        verdict = "grows"
    else:
        verdict = "does not shrink"
    return {"verdict": verdict, "slope": b, "slope_se": se_b, "intercept": a,
            "resolved": [bool(x) for x in resolved], "threshold": [float(x) for x in thr],
            "z": z}


def find_p0(verdicts: dict) -> dict:
    """Smallest degree ``p0`` with every ``p >= p0`` ``"shrinks"`` or ``"zero"``.

    Parameters
    ----------
    verdicts : dict
        ``{p: shrink_verdict(...)}`` (or ``{p: verdict string}``).

    Returns
    -------
    dict
        ``p0`` (int, or None when the largest degree itself fails: "does not shrink"),
        ``zero_only`` (the degrees ``>= p0`` whose gap was never resolved: compatible with
        the claim, but no decrease was demonstrated), ``text`` (one line).
    """
    if not verdicts:
        raise ValueError("verdicts must not be empty")
    v = {int(p): (x["verdict"] if isinstance(x, dict) else str(x)) for p, x in verdicts.items()}
    good = ("shrinks", "zero")
    p0 = None
    for p in sorted(v, reverse=True):
        if v[p] not in good:
            break
        p0 = p
    if p0 is None:
        return {"p0": None, "zero_only": [],
                "text": f"does not shrink: the gap at p = {max(v)} is '{v[max(v)]}'"}
    zero_only = [p for p in sorted(v) if p >= p0 and v[p] == "zero"]
    text = f"p0 = {p0}"
    if zero_only:
        text += f" (p = {', '.join(map(str, zero_only))}: within MC error at every d)"
    return {"p0": p0, "zero_only": zero_only, "text": text}


# ----------------------------------------------------------------------------- figure helpers

#: per-run values summarised by :func:`paired_summary`
PAIRED_VALUES = ("icl_rt", "icl_herm", "icl_linear", "diff_herm", "diff_linear")


def max_paired_gap_se(table: pd.DataFrame) -> float | None:
    """Largest ``|mean(e_Herm - e_RT)| / SE`` (paired) over the rows of a
    :func:`paired_summary` table; None when no row has a finite positive SE."""
    m = table["diff_herm_mean"].to_numpy(dtype=np.float64)
    s = table["diff_herm_se"].to_numpy(dtype=np.float64)
    ok = np.isfinite(m) & np.isfinite(s) & (s > 0)
    return float(np.max(np.abs(m[ok]) / s[ok])) if ok.any() else None


def _check(params: dict) -> None:
    params = dict(params)
    check_int("replicate", params.pop("replicate", 0), minimum=0)
    check_int("max_degree", params.pop("max_degree", 6), minimum=1, maximum=12)
    parse_rt_params(params)


# y2_scale: the default changed to "companion" (rmt_icl.simulate.rt_params.Y2_IMPLICIT). The
# study's points always spelled y2_scale = 1 (DEFAULT_PATH), which stays in their keys; the
# paired figures' points left it out and now spell 1, dropped as the old key default
register_model(MODEL, equivalence_point, check=_check, implicit=Y2_IMPLICIT,
               description="RT, Hermite p = 1..max_degree and linear TF, paired")
register_model("rt-paired", paired_point, check=parse_rt_params, defaults=Y2_KEY_DEFAULT,
               implicit=Y2_IMPLICIT,
               description="RT, one Hermite model and the linear TF, paired")
