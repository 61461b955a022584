"""Results of a random-transformer run: per-model errors plus what the models share.

:func:`~rmt_icl.simulate.random_transformer.simulate_models` returns a
:class:`MultiModelResult`: the shared :class:`RunInfo` (sizes, normalisation, ridges, test
design), the run's :class:`Timings` and one :class:`ModelResult` per model, in the requested
order. :meth:`MultiModelResult.flat` gives one model's flat dict of JSON-able scalars, the
sweep point functions' contract.

With several data sources (:mod:`~rmt_icl.simulate.sources`) the test set is stratified by
source: each model's ``icl`` (= ``idg``, fresh tasks) is the uniform average of its per-source
errors ``icl_source<s>``, and its SE the stratified one, ``sqrt(sum_s SE_s^2) / S``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from rmt_icl.core.stats import mean_se, paired_mean_se

__all__ = ["ModelResult", "MultiModelResult", "RunInfo", "Timings", "model_results"]


@dataclass(frozen=True)
class RunInfo:
    """What the models of one run share.

    Attributes
    ----------
    d, ell, K, n, k, D, reuse : int (``K``, ``k`` None when absent)
        Realised sizes (:class:`~rmt_icl.simulate.paths.Sizes`).
    alpha_realised, tau_realised, kappa_realised, width_ratio_realised : float
        Realised ratios (``width_ratio_realised`` None without a width).
    t, se_t : float
        Normalisation ``t = Tr Cov(vec H_Z)`` of ``F`` and its standard error when estimated
        from the training prompts (NaN when analytic).
    normalisation : str
        ``"analytic"`` or ``"estimate"``.
    y2_scale : float
        Scale of the y^2 entry of ``h``.
    ridge_bar, ridge_paper, ridge_la : float
        ``lambda_bar``, the papers' ``lambda_bar / n`` and the linear transformer's ridge in
        Lu's units.
    rho : float
        The point's label-noise variance (sources may set their own, ``noise^2``).
    activation : str or None
        The activation of the run's first random-features model (the point's ``activation``
        unless that model is ``rt:NAME``); None without random-features models.
    target : str
        Target name (with several sources: their targets, comma-separated, each once).
    n_test, test_queries : int
        Test queries per test set (all sources together) and queries per test context.
    solver : str or None
        ``"primal"`` (``k <= n``), ``"dual"``, or None without random-features models.
    q : float
        ``E y^2``, the error of the zero predictor (under the evaluation law: sources uniform).
    n_sources : int
        Number of data sources (:mod:`~rmt_icl.simulate.sources`).
    eta : float
        The learning rate of the gradient step on ``F`` (``step_size d^2``; 0: no step).
    isotropic_data : bool
        Whether the prompts are the toolkit's isotropic index model (one isotropic source, as
        without ``sources``); the random transformer's deterministic equivalent assumes it
        and ``eta = 0``.
    """

    d: int
    ell: int
    K: int | None
    n: int
    k: int | None
    D: int
    reuse: int
    alpha_realised: float
    tau_realised: float
    kappa_realised: float
    width_ratio_realised: float | None
    t: float
    se_t: float
    normalisation: str
    y2_scale: float
    ridge_bar: float
    ridge_paper: float
    ridge_la: float
    rho: float
    activation: str | None
    target: str
    n_test: int
    test_queries: int
    solver: str | None
    q: float
    n_sources: int = 1
    eta: float = 0.0
    isotropic_data: bool = True

    def as_dict(self) -> dict:
        """The fields as a flat dict, in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Timings:
    """Seconds spent by one run, shared by all its models.

    Attributes
    ----------
    sample, first_layer, train, solve, test, total : float
        Prompt sampling, drawing ``F``, training features and Grams, solves (and the linear
        transformer's fit), test evaluation, and the whole run.
    phases : dict
        The random-features work split by kind
        (:class:`~rmt_icl.simulate.rt_resources.PhaseClock`): ``features`` (training
        ``F vec H`` GEMMs), ``test_features`` (rank-one test route), ``noise`` (Hermite noise),
        ``maps`` (``sigma`` and Hermite series), ``gram`` (``dsfrk``), ``solve``, ``predict``.
    """

    sample: float
    first_layer: float
    train: float
    solve: float
    test: float
    total: float
    phases: dict

    def as_dict(self) -> dict:
        """``t_<name>`` for the totals and ``t_phase_<kind>`` for the phases."""
        out = {f"t_{name}": float(getattr(self, name))
               for name in ("sample", "first_layer", "train", "solve", "test", "total")}
        out.update({f"t_phase_{key}": float(v) for key, v in self.phases.items()})
        return out


@dataclass(frozen=True)
class ModelResult:
    """Errors of one model of a run.

    Attributes
    ----------
    model : str
        Canonical name (``rt``, ``rt:NAME``, ``hermite:P`` or ``linear``).
    icl, idg : float
        Mean squared query errors (noise included) on the ICL and IDG test sets.
    icl_se_test, idg_se_test : float
        Their test-sampling standard errors, clustered over test contexts.
    train_mse : float
        Training mean squared error.
    activation : str or None
        The model's activation (``rt:NAME``: ``NAME``; else the run's).
    degree : int or None
        Hermite degree (None for other models).
    c_star : float
        Hermite residual ``c*_p`` (NaN for other models).
    icl_minus_rt, idg_minus_rt : float or None
        Paired differences to the ``rt`` model on the same test queries (None when ``rt`` is
        not run, and for ``rt`` itself).
    icl_minus_rt_se_test, idg_minus_rt_se_test : float or None
        Their standard errors over test contexts.
    icl_exact, idg_exact : float or None
        The linear transformer's exact errors for a linear target (NaN for other targets;
        None for other models).
    per_source : dict
        With several sources: ``icl_source<s>``, ``icl_source<s>_se_test`` and, when paired,
        ``icl_source<s>_minus_rt`` and its ``_se_test``, for each source ``s`` (empty
        otherwise).
    """

    model: str
    icl: float
    icl_se_test: float
    idg: float
    idg_se_test: float
    train_mse: float
    activation: str | None
    degree: int | None = None
    c_star: float = math.nan
    icl_minus_rt: float | None = None
    icl_minus_rt_se_test: float | None = None
    idg_minus_rt: float | None = None
    idg_minus_rt_se_test: float | None = None
    icl_exact: float | None = None
    idg_exact: float | None = None
    per_source: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MultiModelResult:
    """Several models of one run (same prompts, ``F`` and Hermite noise).

    Attributes
    ----------
    run : RunInfo
    timings : Timings
    models : dict
        Model name -> :class:`ModelResult`, in the requested order.

    ``result[name]`` is ``result.models[name]``; iterating gives the model names.
    """

    run: RunInfo
    timings: Timings
    models: dict

    def __getitem__(self, name: str) -> ModelResult:
        return self.models[name]

    def __iter__(self):
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    @property
    def names(self) -> list[str]:
        """The model names, in order."""
        return list(self.models)

    def flat(self, name: str) -> dict:
        """One model's flat dict of JSON-able scalars (the sweep point functions' records).

        Keys: ``model``; the :class:`RunInfo` fields (``activation`` the model's); the
        :class:`Timings` as ``t_*``; ``icl``, ``icl_se_test`` (and, when paired with ``rt``,
        ``icl_minus_rt``, ``icl_minus_rt_se_test``), the same for ``idg``; ``train_mse``,
        ``degree``, ``c_star``; for the linear transformer ``icl_exact``, ``idg_exact``.
        """
        m = self.models[name]
        out = {"model": m.model, **self.run.as_dict(), **self.timings.as_dict()}
        out["activation"] = m.activation
        for label in ("icl", "idg"):
            out[label] = getattr(m, label)
            out[f"{label}_se_test"] = getattr(m, f"{label}_se_test")
            if m.icl_minus_rt is not None:
                out[f"{label}_minus_rt"] = getattr(m, f"{label}_minus_rt")
                out[f"{label}_minus_rt_se_test"] = getattr(m, f"{label}_minus_rt_se_test")
        out["train_mse"] = m.train_mse
        out["degree"] = m.degree
        out["c_star"] = m.c_star
        if m.icl_exact is not None:
            out["icl_exact"], out["idg_exact"] = m.icl_exact, m.idg_exact
        out.update(m.per_source)
        return out

    def as_dict(self) -> dict:
        """``{name: flat(name)}`` for every model."""
        return {name: self.flat(name) for name in self.models}


def _context_mean_se(errors: np.ndarray, reference: np.ndarray | None = None):
    """Mean ± SE over test contexts of ``errors`` (or of ``errors - reference``, paired).

    :func:`rmt_icl.core.stats.mean_se` drops non-finite values (failed runs); a non-finite
    context error means a diverged predictor, so it is kept: the mean is then non-finite and
    the SE NaN.
    """
    if np.isfinite(errors).all() and (reference is None or np.isfinite(reference).all()):
        return mean_se(errors) if reference is None else paired_mean_se(errors, reference)
    x = errors if reference is None else errors - reference
    return float(np.mean(x)), math.nan


def _stratified_mean_se(errors: np.ndarray, reference, source: np.ndarray, out: dict,
                        key: str):
    """Per-source mean ± SE (into ``out[key.format(s)]``) and their uniform average with the
    stratified SE ``sqrt(sum_s SE_s^2) / S``."""
    means, ses = [], []
    for s in range(int(source.max()) + 1):
        sel = source == s
        m, se = _context_mean_se(errors[sel], None if reference is None else reference[sel])
        out[key.format(s)], out[key.format(s) + "_se_test"] = m, se
        means.append(m)
        ses.append(se)
    S = len(means)
    return math.fsum(means) / S, math.sqrt(math.fsum(se * se for se in ses)) / S


def model_results(names: list[str], maps: list, errs: dict, train_mse: dict,
                  run_activation: str | None, linear=None, *,
                  source: np.ndarray | None = None) -> dict:
    """One :class:`ModelResult` per model name.

    Parameters
    ----------
    names : list of str
        Canonical model names, in order.
    maps : list of FeatureMap
        The random-features models (:mod:`rmt_icl.simulate.rt_feature_maps`).
    errs : dict
        ``{"icl": {name: per-context errors}, "idg": {...}}``
        (:func:`rmt_icl.simulate.rt_evaluation.evaluate`).
    train_mse : dict
        Name -> training mean squared error.
    run_activation : str or None
        :attr:`RunInfo.activation`.
    linear : rmt_icl.simulate.rt_fit.LinearFit, optional
        The linear transformer's fit (for its exact errors).
    source : ndarray of int, optional
        The source of each test context (several sources; the test sets are then the ICL
        set, IDG = ICL): per-source errors and the stratified average.
    """
    by_name = {fm.name: fm for fm in maps}
    paired = "rt" in names
    stratified = source is not None and int(source.max()) > 0

    def summary(errors, reference, key, per_source):
        if stratified:
            return _stratified_mean_se(errors, reference, source, per_source, key)
        return _context_mean_se(errors, reference)

    out = {}
    for name in names:
        kw = {}
        per_source: dict = {}
        for label in ("icl", "idg"):
            e = errs[label]
            kw[label], kw[f"{label}_se_test"] = summary(e[name], None, "icl_source{}",
                                                        per_source)
            if paired and name != "rt":
                kw[f"{label}_minus_rt"], kw[f"{label}_minus_rt_se_test"] = summary(
                    e[name], e["rt"], "icl_source{}_minus_rt", per_source)
        if per_source:
            kw["per_source"] = per_source
        fm = by_name.get(name)
        activation = run_activation
        if fm is not None and name.startswith("rt:"):
            activation = getattr(fm.activation, "name", name[3:])
        if fm is not None and fm.degree is not None:
            kw["degree"], kw["c_star"] = fm.degree, fm.residual
        if name == "linear":
            kw["icl_exact"] = linear.icl_exact if linear is not None else math.nan
            kw["idg_exact"] = linear.idg_exact if linear is not None else math.nan
        out[name] = ModelResult(model=name, train_mse=float(train_mse.get(name, math.nan)),
                                activation=activation, **kw)
    return out
