r"""Random transformer (RT), its Hermite-equivalent models and the linear transformer, paired.

Models (Demir & Dogan 2025; ``docs/theory/random_transformer.md``), all on the SAME prompts and
the same ``F``:

* **Random transformer** ``y_hat = a^T sigma(u) / sqrt(k)``, ``u = F vec H_Z``,
  ``F`` (``k x D``, ``D = d(d+1)``) with i.i.d. rows ``N(0, I_D / t)``,
  ``t = Tr Cov(vec H_Z)`` (:mod:`~rmt_icl.simulate.normalisation`: exact formula, or the
  training mean of ``||vec H_Z||^2`` with ``normalisation="estimate"``).
* **Hermite model of degree p**: the same ``F``, with ``sigma`` replaced by
  ``sum_{j<=p} c_j He_j(u) + c*_p z`` (:mod:`~rmt_icl.simulate.rt_feature_maps`), ``z``
  i.i.d. ``N(0, 1)`` per (prompt, neuron), fresh on train (stream ``hermite_noise_train``)
  AND on test (``hermite_noise_test``). All degrees of one run share the same ``z`` (common
  random numbers), and each model's ridge is fitted separately.
* **Linear transformer** ``y_hat = x_q^T Gamma h``, ridge on ``vec H_Z``
  (:func:`rmt_icl.simulate.linear_attention.fit_linear_attention`, Lu et al. 2024's units).

Ridge units
-----------
``ridge`` is ``lambda_bar``: ``a = (Phi^T Phi + lambda_bar I_k)^{-1} Phi^T y`` with ``Phi`` the
``n x k`` matrix of ``phi = sigma(u)/sqrt(k)``; the papers' ``lambda = lambda_bar / n`` is
reported as ``ridge_paper``. The linear transformer is fitted at ``lambda_LA = d t lambda_bar /
n`` -- exactly the ``k/D -> inf`` limit of the identity RT with the same ``lambda_bar``
(:func:`~rmt_icl.simulate.normalisation.ridge_la_from_bar`) -- unless the parameter
``ridge_la`` (Lu's units, penalty ``(n/d) lambda_LA ||Gamma||_F^2``) is given.

Data
----
``x ~ N(0, I_d/d)``, normalised tasks ``||w|| = sqrt(d)``, ``y = g(s) + eps``,
``h = [(d/ell) sum y_i x_i ; (c/ell) sum y_i^2]`` with the y^2-column scale
``c = y2_scale`` (1: linear-attention scaling, the default; ``"companion"`` = ``sqrt(d)``).
Training prompts come from :func:`~rmt_icl.simulate.data.sample_training_prompts`, as for the
linear-attention simulator, so for one seed every model sees the same prompts and the same
``F`` (stream ``features``). Test errors are sampled on test contexts of ``test_queries``
queries each (:mod:`~rmt_icl.simulate.rt_evaluation`); for ``kappa = inf`` IDG = ICL by
definition. For the linear transformer with a linear target the exact errors of the fitted
``Gamma`` are reported too (``icl_exact``, ``idg_exact``).

Finite-d behaviour (measured with this module; see the tests)
-------------------------------------------------------------
At small ``d`` the Hermite model is *not* the RT: pre-activations are a Gaussian scale mixture
(``v = ||vec H||^2 / t`` fluctuates by O(d^{-1/2})), and for ``sigma = tanh``, tanh target,
``lambda_bar = 0.2``, ``alpha = tau = 2``, ``psi = 0.5`` the paired gap ``e_Herm(3) - e_RT`` is
0.015, 0.013, 0.008, 0.005 (+- 0.001-0.002) at d = 12, 16, 24, 32, shrinking roughly like
1/d. With relu and ``lambda_bar = 1`` at d = 12 the degree-4 model is within one paired SE.

Pipeline of :func:`simulate_models`
-----------------------------------
parameters (:mod:`~rmt_icl.simulate.rt_params`) -> memory plan
(:mod:`~rmt_icl.simulate.rt_resources`, raising :class:`~rmt_icl.core.errors.MemoryBudgetError`
before anything large is allocated) -> prompts (:mod:`~rmt_icl.simulate.data`,
:mod:`~rmt_icl.simulate.rt_evaluation`) -> ``t`` -> fits (:mod:`~rmt_icl.simulate.rt_fit`) ->
per-context test errors (:mod:`~rmt_icl.simulate.rt_evaluation`) -> a
:class:`~rmt_icl.simulate.rt_results.MultiModelResult`.

With ``device="gpu"`` (:mod:`~rmt_icl.simulate.device`) the memory plan, ``F``, the fits and the
random-features test errors come from the array path (:mod:`~rmt_icl.simulate.xp_engine`); the
parameters, prompts, ``t`` and results are shared with the CPU path.

Data sources and one gradient step on ``F`` (Demir & Dogan, NeurIPS 2025, arXiv:2510.25753)
-------------------------------------------------------------------------------------------
``sources`` (or the flat two-source keys) draw the prompts from several sources
(:mod:`~rmt_icl.simulate.sources`: training mixture, stratified test set, per-source errors
``icl_source<s>``, ``t`` under the training mixture); ``step_size > 0`` replaces ``F`` by
``F_hat = F + eta G`` (:mod:`~rmt_icl.simulate.gradient_step`) for every random-features
model of the run. Neither is on the GPU path yet (a ``ValueError``).
"""

from __future__ import annotations

import math
import time
from functools import partial

import numpy as np

from rmt_icl.core.seeding import run_seed, stream
from rmt_icl.simulate import xp_engine, xp_linear
from rmt_icl.simulate.data import sample_training_prompts
from rmt_icl.simulate.device import resolve_device
from rmt_icl.simulate.gradient_step import gradient_step, step_eta
from rmt_icl.simulate.normalisation import ridge_la_from_bar, ridge_paper, t_estimate
from rmt_icl.simulate.rt_evaluation import contexts_per_set, evaluate, sample_test_sets
from rmt_icl.simulate.rt_feature_maps import FeatureMap, feature_maps
from rmt_icl.simulate.rt_features import sample_first_layer
from rmt_icl.simulate.rt_fit import fit_linear_transformer, fit_random_features
from rmt_icl.simulate.rt_params import (
    COMPANION_DEFAULTS,
    POINT_DEFAULTS,
    Y2_IMPLICIT,
    Y2_KEY_DEFAULT,
    check_degree,
    parse_models,
    parse_rt_params,
)
from rmt_icl.simulate.rt_resources import PhaseClock, memory_plan
from rmt_icl.simulate.rt_results import (
    ModelResult,
    MultiModelResult,
    RunInfo,
    Timings,
    model_results,
)
from rmt_icl.simulate.sources import (
    contexts_per_source,
    evaluation_q,
    mixture_t,
    sample_mixture_prompts,
)

__all__ = [
    "COMPANION_DEFAULTS",
    "POINT_DEFAULTS",
    "Y2_IMPLICIT",
    "Y2_KEY_DEFAULT",
    "FeatureMap",
    "ModelResult",
    "MultiModelResult",
    "RunInfo",
    "Timings",
    "parse_models",
    "parse_rt_params",
    "simulate_models",
    "simulate_point_rt",
    "simulate_point_hermite",
    "simulate_point_linear",
]


def _normalisation(opts: dict, sizes, train) -> tuple[float, float]:
    """``t`` of ``F``'s rows under the training mixture and its standard error (NaN when
    analytic)."""
    if opts["normalisation"] == "analytic":
        return mixture_t(sizes.d, sizes.ell, opts["data"], opts["y2_scale"]), math.nan
    return t_estimate(train.xq, train.h)


def _prompts(seed, sizes, data, y2_scale: float, role: str = "train"):
    """The ``n`` prompts of stream ``role`` and the task pool: today's sampler
    (:func:`~rmt_icl.simulate.data.sample_training_prompts`, finite ``kappa`` included) for
    one isotropic source, else the sources' mixture (fresh tasks, no pool)."""
    if data.legacy:
        src = data.sources[0]
        return sample_training_prompts(seed, sizes, src.target, src.rho, y2_scale=y2_scale,
                                       role=role)
    return sample_mixture_prompts(stream(seed, role), sizes.n, sizes.d, sizes.ell, data,
                                  y2_scale), None


def _stepped_first_layer(opts: dict, seed, sizes, t_norm: float, clock):
    """``F_hat = F + eta G`` on the step prompts (:mod:`~rmt_icl.simulate.gradient_step`), the
    step prompts drawn like the training prompts from stream ``step_prompts``."""
    F = sample_first_layer(stream(seed, "features"), sizes.k, sizes.D, t_norm)
    step, _ = _prompts(seed, sizes, opts["data"], opts["y2_scale"], role="step_prompts")
    return gradient_step(F, seed, step, step_eta(opts["step_size"], sizes.d),
                         opts["activation"], chunk=opts["chunk"], clock=clock)


def simulate_models(params: dict, seed, models=("rt", "hermite:1..6", "linear"), *,
                    device=None, sampling=None) -> MultiModelResult:
    """One run of several models on the same prompts, ``F`` and Hermite noise.

    Parameters
    ----------
    params : dict
        Point parameters (:func:`~rmt_icl.simulate.rt_params.parse_rt_params`); ``ridge`` is
        ``lambda_bar``.
    seed : numpy.random.SeedSequence or int
        The run's seed (an int ``s`` means ``run_seed(s)``).
    models : sequence of str or str
        Model names (:func:`~rmt_icl.simulate.rt_params.parse_models`), e.g.
        ``("rt", "hermite:1..6", "linear")``.
    device : {"cpu", "gpu"}, rmt_icl.simulate.device.ArrayDevice or None
        Where the run's linear algebra runs (an execution option, not a parameter): the CPU
        path, or the array path (:mod:`~rmt_icl.simulate.xp_engine`) on CuPy; None takes the
        setting of :func:`rmt_icl.simulate.device.use_device` (default ``"cpu"``).
    sampling : {"device", "host"} or None
        The array path's sampling of ``F`` and the Hermite noise (default ``"device"``;
        ``"host"``: the CPU path's numbers, see :mod:`~rmt_icl.simulate.device`).

    Returns
    -------
    MultiModelResult
        ``result[name]`` is the :class:`ModelResult` of one model (``icl``, ``idg``, their
        clustered test-sampling SEs, the paired differences to ``rt`` on the same test
        queries, ``train_mse``, Hermite ``degree`` and ``c_star``, the linear transformer's
        exact errors); ``result.run`` the shared :class:`RunInfo` (sizes, ``t``, ridges,
        ``solver``, ``q = E y^2``, ...); ``result.timings`` the run's :class:`Timings`;
        ``result.flat(name)`` one model's flat dict of JSON-able scalars.

    Raises
    ------
    ValueError
        Bad parameters or model names; on the GPU, an activation it does not implement.
    rmt_icl.core.errors.MemoryBudgetError
        The run would not fit the memory budget (raised before allocating).
    rmt_icl.core.errors.DeviceUnavailableError
        ``device="gpu"`` without CuPy or without a CUDA device.
    """
    t_start = time.perf_counter()
    dev = resolve_device(device, sampling)
    if isinstance(seed, (int, np.integer)):
        seed = run_seed(int(seed))
    names = parse_models(models, degree=params.get("degree", POINT_DEFAULTS["degree"])
                         if isinstance(params, dict) else 4)
    rf_names = [m for m in names if m != "linear"]
    path, sizes, opts = parse_rt_params(params, need_width=bool(rf_names))
    data, step = opts["data"], opts["step_size"] > 0 and bool(rf_names)
    if dev is not None and (data.explicit or opts["step_size"] > 0):
        raise ValueError("sources/step_size are not supported on the GPU path yet; run them "
                         "with device='cpu'")
    maps = feature_maps(rf_names, opts["activation"]) if rf_names else []
    target, rho, ridge, y2 = opts["target"], path.rho, path.ridge, opts["y2_scale"]
    Q = opts["test_queries"]
    n_ctx = contexts_per_set(opts["n_test"], Q)
    if not data.legacy:
        n_ctx = contexts_per_source(n_ctx, data.S) * data.S
    if dev is None:
        _, group = memory_plan(sizes, len(maps), "linear" in names, n_ctx, Q, ridge,
                               opts["chunk"], opts["memory_budget"], step=step)
        clock = PhaseClock()
    else:
        plan = xp_engine.plan_run(dev, sizes, maps, "linear" in names, n_ctx, Q, ridge,
                                  opts["chunk"], params.get("memory_budget"))
        clock = xp_engine.DeviceClock(dev.xp)

    t0 = time.perf_counter()
    train, pool = _prompts(seed, sizes, data, y2)
    tests = sample_test_sets(seed, contexts_per_set(opts["n_test"], Q), Q, sizes, target, rho,
                             y2, pool=pool, model=data)
    t_sample = time.perf_counter() - t0
    t_norm, t_se = _normalisation(opts, sizes, train)

    if dev is None:
        t0 = time.perf_counter()
        F = _stepped_first_layer(opts, seed, sizes, t_norm, clock) if step else None
        t_step = time.perf_counter() - t0
        rf = fit_random_features(maps, seed, train, sizes, t_norm, ridge, group, opts["chunk"],
                                 clock, F=F)
        if step:
            rf.t_first_layer = t_step
    else:
        rf = xp_engine.fit_random_features(dev, plan, maps, seed, train, sizes, t_norm, ridge,
                                           clock)
    ridge_la = opts["ridge_la"]
    if ridge_la is None:
        ridge_la = ridge_la_from_bar(ridge, sizes.d, sizes.n, t_norm)
    linear = None
    if "linear" in names:
        fit = (None if dev is None else
               partial(xp_linear.fit_linear_attention, dev, rows=plan.la_rows,
                       budget=params.get("memory_budget")))
        linear = fit_linear_transformer(train, ridge_la, target=target, ell=sizes.ell, rho=rho,
                                        pool=pool, y2_scale=y2, fit=fit, exact=data.legacy)
        rf.train_mse["linear"] = linear.train_mse
    del train

    t0 = time.perf_counter()
    gammas = {"linear": linear.gamma} if linear is not None else {}
    if dev is None:
        errs = evaluate(seed, tests, rf.F, rf.fitted, gammas, opts["chunk"], clock)
    else:
        errs = xp_engine.evaluate(dev, plan, seed, tests, rf.F, rf.fitted, gammas, clock)
    t_test = time.perf_counter() - t0

    k = sizes.k if maps else None
    run = RunInfo(
        d=sizes.d, ell=sizes.ell, K=sizes.K, n=sizes.n, k=k, D=sizes.D, reuse=sizes.reuse,
        alpha_realised=sizes.alpha, tau_realised=sizes.tau, kappa_realised=sizes.kappa,
        width_ratio_realised=(k / sizes.n if k else None), t=float(t_norm), se_t=float(t_se),
        normalisation=opts["normalisation"], y2_scale=y2, ridge_bar=ridge,
        ridge_paper=ridge_paper(ridge, sizes.n), ridge_la=float(ridge_la), rho=rho,
        activation=(getattr(maps[0].activation, "name", str(opts["activation"])) if maps
                    else None),
        target=data.target_name, n_test=n_ctx * Q, test_queries=Q, solver=rf.solver,
        q=evaluation_q(sizes.d, data), n_sources=data.S,
        eta=step_eta(opts["step_size"], sizes.d) if step else 0.0, isotropic_data=data.legacy)
    results = model_results(names, maps, errs, rf.train_mse, run.activation, linear,
                            source=tests["icl"].source)
    timings = Timings(sample=t_sample, first_layer=rf.t_first_layer, train=rf.t_train,
                      solve=rf.t_solve + (linear.seconds if linear is not None else 0.0),
                      test=t_test, total=time.perf_counter() - t_start, phases=dict(clock.t))
    return MultiModelResult(run=run, timings=timings, models=results)


def simulate_point_rt(params: dict, seed, *, device=None, sampling=None) -> dict:
    """One run of the random transformer (sweep model ``"random-transformer"``).

    ``params`` as in :func:`~rmt_icl.simulate.rt_params.parse_rt_params`; ``seed`` the run's
    SeedSequence; ``device`` and ``sampling`` as in :func:`simulate_models` (execution
    options: by default the :func:`~rmt_icl.simulate.device.use_device` setting). Returns the
    flat dict of the ``"rt"`` model of :func:`simulate_models` (:meth:`MultiModelResult.flat`:
    ``icl``, ``idg``, ``icl_se_test``, sizes, ``ridge_bar``, ``ridge_paper``, ``t``, timings,
    ...), with the same numbers as the ``rt`` entry of a multi-model run with the same seed.
    """
    return simulate_models(params, seed, ("rt",), device=device, sampling=sampling).flat("rt")


def simulate_point_hermite(params: dict, seed, *, device=None, sampling=None) -> dict:
    """One run of the Hermite-equivalent model of degree ``params["degree"]`` (default 4).

    Sweep model ``"hermite"``; see :func:`simulate_point_rt`.
    """
    p = check_degree(params.get("degree", POINT_DEFAULTS["degree"]))
    return simulate_models(params, seed, (f"hermite:{p}",), device=device,
                           sampling=sampling).flat(f"hermite:{p}")


def simulate_point_linear(params: dict, seed, *, device=None, sampling=None) -> dict:
    """One run of the linear transformer on the RT's prompts (sweep ``"linear-transformer"``).

    Fitted at ``lambda_LA = d t ridge / n`` (the identity RT's infinite-width limit) unless
    ``ridge_la`` is given; errors sampled on the shared test queries (``icl``, ``idg``) and,
    for a linear target, exact (``icl_exact``, ``idg_exact``).
    """
    return simulate_models(params, seed, ("linear",), device=device,
                           sampling=sampling).flat("linear")
