r"""Ridge-pretrained linear attention at finite ``d``: fit ``Gamma``, exact test errors, one run.

Model and fit (Lu et al. 2024; ``docs/theory/linear_attention.md``)
-------------------------------------------------------------------
``y_hat = x_q^T Gamma h = <Gamma, H_Z>_F`` with ``Gamma in R^{d x (d+1)}`` and
``vec H_Z = x_q (x) h`` (row-major). For ``n`` pretraining prompts and ridge ``lambda >= 0``

    Gamma* = argmin_Gamma  sum_mu (y_mu - <Gamma, H_mu>)^2 + (n/d) lambda ||Gamma||_F^2 ,

so ``lambda`` is the O(1) ratio of the theory (``E vec H vec H^T`` has O(1/d) eigenvalues).
``lambda = 0`` gives the minimum-norm interpolator (``n < D``) or least squares (``n >= D``),
``D = d (d+1)``. Two equivalent solvers, picked by shape
(:func:`rmt_icl.simulate.ridge.prefer_dual`):

* primal: ``vec Gamma = (G + (n/d) lambda I_D)^{-1} b`` with the chunked Gram
  ``G = sum vec H vec H^T`` of :mod:`rmt_icl.simulate.features`; ``O(n D^2/2 + D^3/3)``;
* dual: ``a = (K + (n/d) lambda I_n)^{-1} y`` with ``K = (X_q X_q^T) o (H H^T)``, then
  ``Gamma = X_q^T diag(a) H``; ``O(n^2 d + n^3/3)``.

Many ridge values share one symmetric eigendecomposition
(:class:`~rmt_icl.simulate.ridge.EigenRidge`).

Errors of a fitted ``Gamma``
----------------------------
For the linear target the test errors are *exact* expectations over test prompts
(:func:`rmt_icl.simulate.test_error.linear_attention_test_error`), no test sampling:

* ICL: a fresh task with ``||w||^2 = d`` (the law of the pretraining tasks, which are
  normalised), ``mu = 0``, ``R = I``;
* IDG: a task drawn uniformly from the pool, ``mu`` and ``R`` its empirical mean and second
  moment. For ``kappa = inf`` every pretraining prompt had its own fresh task, so the
  "pretraining task distribution" *is* the ICL law and **IDG = ICL by definition** (the
  theory agrees: ``tau c = e_ICL`` at ``kappa = inf``).

A ``y2_scale`` ``c != 1`` is the same model with the last column of ``Gamma`` multiplied by
``c``, so the exact error applies after that rescaling. For a nonlinear target ``g`` the exact
formula does not hold; the errors are then sampled on ``n_test`` fresh prompts (streams
``"test"`` and ``"test_idg"``).
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.linalg as sla

from rmt_icl.core.checks import check_int, check_nonnegative, check_positive
from rmt_icl.core.seeding import stream
from rmt_icl.core.targets import get_target
from rmt_icl.simulate import xp_linear
from rmt_icl.simulate.data import Prompts, sample_prompts, sample_training_prompts
from rmt_icl.simulate.device import resolve_device
from rmt_icl.simulate.features import (
    compressed_gram,
    expand_gram,
    la_gram,
    la_gram_matvec,
    la_kernel,
    la_rhs,
)
from rmt_icl.simulate.normalisation import parse_y2_scale
from rmt_icl.simulate.paths import ScalingPath, Sizes, parse_kappa
from rmt_icl.simulate.ridge import EigenRidge, prefer_dual, solve_spd
from rmt_icl.simulate.test_error import linear_attention_test_error

__all__ = [
    "fit_linear_attention",
    "predict_linear_attention",
    "linear_attention_errors",
    "sampled_test_error",
    "simulate_point",
]

METHODS = ("auto", "primal", "dual")
PRECISIONS = ("float64", "mixed")

#: parameters of other models that may appear in a shared sweep grid; ignored here
FOREIGN_PARAMS = frozenset({"activation", "degree", "width_ratio", "width_d2", "label"})

#: parameters understood by :func:`simulate_point`, with their defaults
POINT_DEFAULTS = {
    "kappa": math.inf, "rho": 0.0, "ridge": 0.0, "target": "linear", "y2_scale": 1.0,
    "method": "auto", "n_test": 20000, "chunk": None, "precision": "float64",
}


def fit_linear_attention(prompts: Prompts, ridge, *, method: str = "auto",
                         chunk: int | None = None, precision: str = "float64",
                         timings: dict | None = None) -> np.ndarray:
    r"""Ridge fit of linear attention, ``Gamma* = argmin sum (y - x_q^T Gamma h)^2
    + (n/d) lambda ||Gamma||_F^2``.

    Parameters
    ----------
    prompts : Prompts
        Pretraining prompts (``xq`` (n, d), ``h`` (n, d+1), ``y`` (n,)).
    ridge : float or 1-d array_like
        ``lambda >= 0`` (the effective Tikhonov weight is ``(n/d) lambda``). An array returns
        one ``Gamma`` per value, all from one eigendecomposition.
    method : {"auto", "primal", "dual"}
        ``"auto"`` uses the dual (``n x n`` kernel) when ``n < D = d(d+1)``, else the primal
        (``D x D`` Gram).
    chunk : int, optional
        Prompts per chunk of the primal Gram accumulation (memory bound; default from
        :func:`rmt_icl.simulate.features.default_chunk`).
    precision : {"float64", "mixed"}
        ``"mixed"`` (primal solver, scalar ridge only; ignored otherwise) accumulates the Gram
        and factors it in float32 (about twice as fast, half the memory), then refines the
        solution by iterative refinement with exact float64 residuals computed from the
        prompts (:func:`~rmt_icl.simulate.features.la_gram_matvec`) until the correction is
        below ``1e-12`` relative (or stalls below ``1e-9``, the attainable accuracy of an
        ill-conditioned system); if it does not contract, it falls back to float64. The
        result agrees with the float64 solve to the conditioning of the system (tested).
    timings : dict, optional
        If given, receives the seconds spent in ``"gram"`` (Gram or kernel and right-hand
        side) and ``"solve"`` (for ``"mixed"`` also ``"refine_iterations"`` and
        ``"mixed_fallback"``).

    Returns
    -------
    ndarray
        ``Gamma`` of shape ``(d, d+1)`` for a scalar ridge, ``(r, d, d+1)`` for ``r`` ridges.

    Raises
    ------
    ValueError
        Negative or NaN ridge, unknown method, malformed prompts.

    Notes
    -----
    With ``lambda = 0`` and a singular system the minimum-norm solution is returned
    (:func:`rmt_icl.simulate.ridge.solve_spd`). Near the interpolation threshold
    ``n = D`` and tiny ``lambda`` the system is ill-conditioned; that is the physics of the
    double-descent peak, not a solver failure.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    ridges = check_nonnegative("ridge", ridge)
    if ridges.ndim > 1:
        raise ValueError(f"ridge must be a scalar or a 1-d array, got shape {ridges.shape}")
    xq, h, y = prompts.xq, prompts.h, prompts.y
    n, d = xq.shape
    D = d * (d + 1)
    scale = n / d
    dual = prefer_dual(n, D) if method == "auto" else method == "dual"
    t0 = time.perf_counter()
    if precision == "mixed" and not dual and ridges.ndim == 0:
        gamma = _fit_mixed(xq, h, y, scale * float(ridges), chunk, timings)
        if gamma is not None:
            return gamma
        t0 = time.perf_counter()
    compressed = None
    if dual:
        mat = la_kernel(xq, h)
        rhs = y
    else:
        compressed = compressed_gram(xq, h, chunk=chunk)
        mat = expand_gram(compressed, d)
        rhs = la_rhs(xq, h, y).reshape(D)
    t1 = time.perf_counter()
    if ridges.ndim == 0:
        if dual:
            sol = solve_spd(mat, rhs, scale * float(ridges))
        else:
            # factor G in place (no D x D copy); if it is not numerically positive definite,
            # rebuild G from the compressed Gram and take the minimum-norm fallback
            try:
                sol = solve_spd(mat, rhs, scale * float(ridges), overwrite=True)
            except np.linalg.LinAlgError:
                mat = expand_gram(compressed, d, out=mat)
                sol = solve_spd(mat, rhs, scale * float(ridges))
        del mat, compressed
        if dual:
            gamma = (xq * sol[:, None]).T @ h
        else:
            gamma = sol.reshape(d, d + 1)
    else:
        sols = EigenRidge(mat).solve(rhs, scale * ridges)            # (r, n) or (r, D)
        del mat
        if dual:
            gamma = np.einsum("na,rn,nj->raj", xq, sols, h, optimize=True)
        else:
            gamma = sols.reshape(-1, d, d + 1)
    if timings is not None:
        timings["gram"] = timings.get("gram", 0.0) + (t1 - t0)
        timings["solve"] = timings.get("solve", 0.0) + (time.perf_counter() - t1)
    return gamma


def _fit_mixed(xq, h, y, mu, chunk, timings, *, tol=1e-12, accept=1e-9, maxiter=30):
    """Mixed-precision primal solve (see :func:`fit_linear_attention`); None to fall back."""
    n, d = xq.shape
    D = d * (d + 1)
    t0 = time.perf_counter()
    g32 = la_gram(xq, h, chunk=chunk, dtype=np.float32)
    b = la_rhs(xq, h, y)
    t1 = time.perf_counter()
    g32.flat[:: D + 1] += np.float32(mu)
    result, iterations = None, 0
    try:
        # g32.T is Fortran-ordered (no copy inside LAPACK); G is symmetric
        factor = sla.cho_factor(g32.T, lower=False, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        factor = None
    if factor is not None:
        V = np.zeros_like(b)
        r = b
        prev = math.inf
        for it in range(1, maxiter + 1):
            iterations = it
            delta = sla.cho_solve(factor, r.reshape(D).astype(np.float32), check_finite=False)
            delta = delta.astype(np.float64).reshape(d, d + 1)
            V += delta
            eta = np.linalg.norm(delta) / max(np.linalg.norm(V), np.finfo(float).tiny)
            if eta <= tol:
                result = V
                break
            if eta > 0.5 * prev:                      # no longer contracting
                result = V if eta <= accept else None
                break
            prev = eta
            r = b - la_gram_matvec(xq, h, V) - mu * V
    del g32
    if timings is not None:
        timings["gram"] = timings.get("gram", 0.0) + (t1 - t0)
        timings["solve"] = timings.get("solve", 0.0) + (time.perf_counter() - t1)
        timings["refine_iterations"] = iterations
        timings["mixed_fallback"] = result is None
    return result


def predict_linear_attention(gamma, prompts: Prompts) -> np.ndarray:
    """Predictions ``y_hat = x_q^T Gamma h`` for each prompt; shape ``(m,)`` or ``(r, m)``."""
    gamma = np.asarray(gamma, dtype=np.float64)
    if gamma.ndim == 2:
        return np.einsum("ma,aj,mj->m", prompts.xq, gamma, prompts.h, optimize=True)
    return np.einsum("ma,raj,mj->rm", prompts.xq, gamma, prompts.h, optimize=True)


def sampled_test_error(gamma, prompts: Prompts) -> np.ndarray | float:
    """Empirical mean squared query error ``mean (y - x_q^T Gamma h)^2`` on ``prompts``."""
    resid = prompts.y - predict_linear_attention(gamma, prompts)
    out = np.mean(resid * resid, axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def linear_attention_errors(gamma, ell: int, rho: float, pool: np.ndarray | None = None, *,
                            y2_scale: float = 1.0):
    r"""Exact ICL and IDG errors of ``Gamma`` for the linear target (Lu et al. 2024).

    ``e = 1 + rho - (2/d) tr(Gamma' A) + ((1+rho)/d) tr(Gamma' B Gamma'^T)`` with
    ``Gamma' = Gamma diag(1, ..., 1, y2_scale)``; ICL uses ``mu = 0, R = I``, IDG the pool's
    ``mu = mean_j w_j``, ``R = (1/K) sum_j w_j w_j^T`` (tasks normalised to ``||w||^2 = d``).

    Parameters
    ----------
    gamma : ndarray, shape (..., d, d+1)
    ell : int
        Realised context length.
    rho : float
        Noise variance.
    pool : ndarray, shape (K, d), optional
        Pretraining pool; ``None`` (``kappa = inf``) returns IDG = ICL.
    y2_scale : float
        Scale of the ``y^2`` entry of ``h`` used in training.

    Returns
    -------
    (icl, idg) : floats or arrays over the leading axes of ``gamma``
    """
    gamma = np.array(gamma, dtype=np.float64)
    gamma[..., -1] *= float(check_positive("y2_scale", y2_scale))
    icl = linear_attention_test_error(gamma, None, rho, ell=ell)
    if pool is None:
        return icl, icl
    mu = pool.mean(axis=0)
    R = pool.T @ pool / pool.shape[0]
    idg = linear_attention_test_error(gamma, None, rho, task_mean=mu, task_second_moment=R,
                                      ell=ell)
    return icl, idg


def parse_point_params(params: dict) -> tuple[ScalingPath, Sizes, dict]:
    """Validate a point's parameters; returns the path, the sizes at ``d`` and the options.

    Required keys ``d``, ``alpha``, ``tau``; optional (defaults in :data:`POINT_DEFAULTS`)
    ``kappa`` (``inf``, ``"inf"`` or ``None`` for fresh tasks), ``rho``, ``ridge``,
    ``target``, ``y2_scale``, ``method``, ``n_test`` (test prompts for nonlinear targets),
    ``chunk`` and ``precision`` (``"float64"`` or ``"mixed"``, see
    :func:`fit_linear_attention`). Keys of other models (:data:`FOREIGN_PARAMS`) are
    ignored; any other key raises.
    """
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict, got {type(params).__name__}")
    missing = [k for k in ("d", "alpha", "tau") if k not in params]
    if missing:
        raise ValueError(f"params must contain {missing} (linear-attention needs d, alpha, tau)")
    known = {"d", "alpha", "tau"} | set(POINT_DEFAULTS) | FOREIGN_PARAMS
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown linear-attention parameter(s) {unknown}; allowed: "
                         f"{sorted({'d', 'alpha', 'tau'} | set(POINT_DEFAULTS))}")
    opts = {**POINT_DEFAULTS, **{k: v for k, v in params.items() if k in POINT_DEFAULTS}}
    d = check_int("d", params["d"], minimum=1)
    path = ScalingPath(alpha=params["alpha"], tau=params["tau"], kappa=parse_kappa(opts["kappa"]),
                       rho=opts["rho"], ridge=opts["ridge"])
    opts["y2_scale"] = parse_y2_scale(opts["y2_scale"], d)
    opts["n_test"] = check_int("n_test", opts["n_test"], minimum=1)
    if opts["chunk"] is not None:
        opts["chunk"] = check_int("chunk", opts["chunk"], minimum=1)
    if opts["method"] not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {opts['method']!r}")
    if opts["precision"] not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {opts['precision']!r}")
    opts["target"] = get_target(opts["target"])
    return path, path.sizes(d), opts


def simulate_point(params: dict, seed: np.random.SeedSequence, *, device=None,
                   sampling=None) -> dict:
    """One Monte Carlo run of ridge-pretrained linear attention (the sweep point function).

    Steps: task pool and ``n`` pretraining prompts
    (:func:`~rmt_icl.simulate.data.sample_training_prompts`: ``K = kappa d`` normalised tasks
    from stream ``"tasks"``, each used ``reuse`` times, none for ``kappa = inf``; prompts from
    stream ``"train"``), the ridge fit, and the exact ICL/IDG errors of the fitted ``Gamma``.

    Parameters
    ----------
    params : dict
        ``d``, ``alpha``, ``tau`` and optionally ``kappa``, ``rho``, ``ridge``, ``target``,
        ``y2_scale``, ``method``, ``n_test``, ``chunk``, ``precision`` (see
        :func:`parse_point_params`).
    seed : numpy.random.SeedSequence
        The run's seed (:func:`rmt_icl.core.seeding.run_seed`).
    device : {"cpu", "gpu"}, rmt_icl.simulate.device.ArrayDevice or None
        Where the fit runs (an execution option, not a parameter; None: the
        :func:`~rmt_icl.simulate.device.use_device` setting, default ``"cpu"``). On the GPU
        the Gram (or kernel) and its solve run on the device in float64 (``precision`` is a
        CPU option), the errors of ``Gamma`` on the host.
    sampling : {"device", "host"} or None
        Accepted for symmetry with the random transformer; linear attention draws only
        prompts, always on the host.

    Returns
    -------
    dict
        Flat JSON-able scalars: ``icl``, ``idg`` (IDG = ICL for ``kappa = inf``),
        sizes ``d, ell, K, n, reuse, D`` and realised ratios,
        ``method`` (primal/dual), ``exact`` (True when the errors are exact expectations), and
        timings ``t_sample, t_gram, t_solve, t_error, t_total`` in seconds.
    """
    t_start = time.perf_counter()
    dev = resolve_device(device, sampling)
    path, sizes, opts = parse_point_params(params)
    target = opts["target"]
    d, ell, n = sizes.d, sizes.ell, sizes.n
    rho = path.rho
    timings: dict = {}

    t0 = time.perf_counter()
    train, pool = sample_training_prompts(seed, sizes, target, rho, y2_scale=opts["y2_scale"])
    timings["sample"] = time.perf_counter() - t0

    dual = prefer_dual(n, sizes.D) if opts["method"] == "auto" else opts["method"] == "dual"
    if dev is None:
        gamma = fit_linear_attention(train, path.ridge, method="dual" if dual else "primal",
                                     chunk=opts["chunk"], precision=opts["precision"],
                                     timings=timings)
    else:
        gamma = xp_linear.fit_linear_attention(dev, train, path.ridge,
                                               method="dual" if dual else "primal",
                                               rows=opts["chunk"], timings=timings)
    del train

    t0 = time.perf_counter()
    exact = target.is_linear
    if exact:
        icl, idg = linear_attention_errors(gamma, ell, rho, pool, y2_scale=opts["y2_scale"])
    else:
        m = opts["n_test"]
        test = sample_prompts(stream(seed, "test"), m, d, ell, target, rho,
                              y2_scale=opts["y2_scale"])
        icl = sampled_test_error(gamma, test)
        if pool is None:
            idg = icl
        else:
            test = sample_prompts(stream(seed, "test_idg"), m, d, ell, target, rho, pool=pool,
                                  y2_scale=opts["y2_scale"])
            idg = sampled_test_error(gamma, test)
    timings["error"] = time.perf_counter() - t0

    out = {
        "icl": float(icl), "idg": float(idg),
        "d": d, "ell": ell, "K": sizes.K, "n": n, "reuse": sizes.reuse, "D": sizes.D,
        "alpha_realised": sizes.alpha, "tau_realised": sizes.tau,
        "kappa_realised": sizes.kappa, "method": "dual" if dual else "primal",
        "exact": bool(exact),
    }
    for phase in ("sample", "gram", "solve", "error"):
        out[f"t_{phase}"] = float(timings.get(phase, 0.0))
    out["t_total"] = time.perf_counter() - t_start
    return out
