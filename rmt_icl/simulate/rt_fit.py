r"""Ridge fits of one run: the random-features models (primal or dual) and the linear transformer.

Random-features models
----------------------
With ``phi = sigma(u)/sqrt(k)`` the second layer is ``a = (Phi^T Phi + lambda_bar I_k)^{-1}
Phi^T y``. The features are left unscaled, ``S = sigma(U) = sqrt(k) Phi``, and the equivalent
problem ``(S^T S + k lambda_bar I) c = S^T y`` (dual: ``(S S^T + k lambda_bar I) beta = y``,
``c = S^T beta``) is solved, with ``a = sqrt(k) c`` and ``y_hat = Phi a = S c``: identical
estimator, one pass fewer over every feature chunk. :func:`fit_random_features` returns the
coefficients ``c`` (the evaluation predicts with ``S c``).

* primal (``k <= n``): one pass over prompt chunks, packed ``k x k`` Grams
  (:func:`fit_primal`);
* dual (``k > n``): ``n x n`` Grams accumulated over neuron blocks, then ``c = S^T beta`` in a
  second pass (:func:`fit_dual`).

All models of one group share the pre-activations and the Hermite noise of each chunk; the
groups come from :func:`rmt_icl.simulate.rt_resources.memory_plan`.

Linear transformer
------------------
``y_hat = x_q^T Gamma h``, ridge on ``vec H_Z`` in Lu et al. 2024's units
(:func:`rmt_icl.simulate.linear_attention.fit_linear_attention`); for a linear target the exact
errors of the fitted ``Gamma`` come with it (:func:`fit_linear_transformer`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from rmt_icl.core.seeding import stream
from rmt_icl.simulate.data import Prompts
from rmt_icl.simulate.linear_attention import (
    fit_linear_attention,
    linear_attention_errors,
    predict_linear_attention,
)
from rmt_icl.simulate.paths import Sizes
from rmt_icl.simulate.rt_feature_maps import FeatureMap, apply_feature_map
from rmt_icl.simulate.rt_features import (
    NoiseField,
    preactivations,
    rfp_solve,
    sample_first_layer,
    sfrk_update,
)
from rmt_icl.simulate.rt_resources import PhaseClock, dual_columns, dual_rows, primal_rows

__all__ = ["LinearFit", "RandomFeaturesFit", "fit_dual", "fit_linear_transformer",
           "fit_primal", "fit_random_features"]


def fit_primal(maps: list[FeatureMap], F: np.ndarray, train: Prompts, ridge: float,
               noise_base, chunk, clock: PhaseClock) -> tuple[list, list]:
    """Primal fit (``k <= n``): one pass over prompt chunks, packed ``k x k`` Grams (dsfrk).

    ``ridge`` is the unscaled problem's ``k lambda_bar``; returns the coefficients ``c`` and
    the training mean squared errors, one per map.
    """
    k, D = F.shape
    xq, h, y = train.xq, train.h, train.y
    n = y.shape[0]
    rows = primal_rows(k, D, chunk)
    grams = [np.zeros(k * (k + 1) // 2) for _ in maps]     # RFP storage (half the memory)
    rhs = [np.zeros(k) for _ in maps]
    noise = (NoiseField(noise_base, (n, k), axis=0) if any(fm.needs_noise for fm in maps)
             else None)
    ubuf, pbuf, work = np.empty(rows * k), np.empty(rows * k), np.empty(rows * D)
    zbuf = np.empty(rows * k) if noise is not None else None
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        r = hi - lo
        with clock("features"):
            u = preactivations(F, xq[lo:hi], h[lo:hi], out=ubuf[: r * k].reshape(r, k),
                               work=work)
        with clock("noise"):
            z = (noise.slice(lo, hi, out=zbuf[: r * k].reshape(r, k)) if noise is not None
                 else None)
        for j, fm in enumerate(maps):
            with clock("maps"):
                phi = apply_feature_map(fm, u, z, pbuf[: r * k].reshape(r, k))
            with clock("gram"):
                sfrk_update(grams[j], phi, rows_are_samples=True)
                rhs[j] += phi.T @ y[lo:hi]
    coefs, train_mse = [], []
    yy = float(y @ y)
    with clock("solve"):
        for j in range(len(maps)):
            a = rfp_solve(grams[j], k, rhs[j], ridge)
            grams[j] = None
            coefs.append(a)
            train_mse.append(max(0.0, yy - float(a @ rhs[j]) - ridge * float(a @ a)) / n)
    return coefs, train_mse


def fit_dual(maps: list[FeatureMap], F: np.ndarray, train: Prompts, ridge: float, noise_base,
             chunk, clock: PhaseClock) -> tuple[list, list]:
    """Dual fit (``k > n``): ``n x n`` Grams over neuron blocks, then ``c = S^T beta``.

    Same arguments and returns as :func:`fit_primal`.
    """
    k, D = F.shape
    y = train.y
    n = y.shape[0]
    cols = dual_columns(n, k, D, chunk)
    rows_vh = dual_rows(k, D)
    grams = [np.zeros(n * (n + 1) // 2) for _ in maps]     # RFP storage
    noise = (NoiseField(noise_base, (n, k), axis=1) if any(fm.needs_noise for fm in maps)
             else None)
    ubuf, pbuf, work = np.empty(n * cols), np.empty(n * cols), np.empty(rows_vh * D)
    zbuf = np.empty(n * cols) if noise is not None else None

    def features():
        """Yield ``(c0, c1, j, S[:, c0:c1])`` of map ``j`` over neuron blocks (``U`` and the
        noise computed once per block, for all prompts)."""
        for c0 in range(0, k, cols):
            c1 = min(k, c0 + cols)
            size = n * (c1 - c0)
            u = ubuf[:size].reshape(n, c1 - c0)
            with clock("features"):
                for lo in range(0, n, rows_vh):
                    hi = min(n, lo + rows_vh)
                    preactivations(F[c0:c1], train.xq[lo:hi], train.h[lo:hi], out=u[lo:hi],
                                   work=work)
            z = None
            if noise is not None:
                with clock("noise"):
                    z = noise.slice(c0, c1, out=zbuf[:size].reshape(n, c1 - c0))
            for j, fm in enumerate(maps):
                with clock("maps"):
                    phi = apply_feature_map(fm, u, z, pbuf[:size].reshape(n, c1 - c0))
                yield c0, c1, j, phi

    for _, _, j, phi in features():
        with clock("gram"):
            sfrk_update(grams[j], phi, rows_are_samples=False)
    betas = []
    with clock("solve"):
        for j in range(len(maps)):
            betas.append(rfp_solve(grams[j], n, y, ridge))
            grams[j] = None
    coefs = [np.empty(k) for _ in maps]
    for c0, c1, j, phi in features():                      # second pass: c = S^T beta
        with clock("solve"):
            coefs[j][c0:c1] = phi.T @ betas[j]
    train_mse = [ridge * ridge * float(b @ b) / n for b in betas]
    return coefs, train_mse


@dataclass
class RandomFeaturesFit:
    """The random-features models fitted in one run.

    Attributes
    ----------
    F : ndarray, shape (k, D), or None
        The first layer (None when no random-features model is run).
    fitted : list of (FeatureMap, ndarray)
        Each map with its coefficients ``c`` (predictions ``S c``).
    train_mse : dict
        Model name -> training mean squared error.
    solver : str or None
        ``"primal"`` (``k <= n``), ``"dual"`` or None.
    t_first_layer, t_train, t_solve : float
        Seconds spent drawing ``F``, on features and Grams, and in the solves.
    """

    F: np.ndarray | None = None
    fitted: list = field(default_factory=list)
    train_mse: dict = field(default_factory=dict)
    solver: str | None = None
    t_first_layer: float = 0.0
    t_train: float = 0.0
    t_solve: float = 0.0

    def add_group(self, maps, clock: PhaseClock, fit_group) -> None:
        """Fit one group of ``maps`` by ``fit_group() -> (coefs, train_mses)`` and record it.

        The group's wall time is split into ``t_solve`` (what ``clock`` counted as ``solve``
        meanwhile) and ``t_train`` (the rest: features and Grams).
        """
        t0 = time.perf_counter()
        solve0 = clock.t["solve"]
        coefs, mses = fit_group()
        t_solve = clock.t["solve"] - solve0
        self.t_train += time.perf_counter() - t0 - t_solve
        self.t_solve += t_solve
        self.fitted.extend(zip(maps, coefs, strict=True))
        self.train_mse.update({fm.name: v for fm, v in zip(maps, mses, strict=True)})


def fit_random_features(maps: list[FeatureMap], seed, train: Prompts, sizes: Sizes,
                        t_norm: float, ridge: float, group: int, chunk,
                        clock: PhaseClock, *, F: np.ndarray | None = None) -> RandomFeaturesFit:
    """Draw ``F`` (stream ``features``) and fit every map, ``group`` maps per training pass.

    Parameters
    ----------
    maps : list of FeatureMap
        The models (may be empty: nothing is drawn).
    seed : numpy.random.SeedSequence
        The run's seed; the Hermite training noise uses stream ``hermite_noise_train``.
    train : Prompts
        Training prompts.
    sizes : rmt_icl.simulate.paths.Sizes
        The run's sizes (``k``, ``D``, ``n``).
    t_norm : float
        Normalisation ``t`` of ``F``'s rows (:mod:`rmt_icl.simulate.normalisation`).
    ridge : float
        ``lambda_bar``.
    group : int
        Maps fitted per pass (:func:`rmt_icl.simulate.rt_resources.memory_plan`).
    chunk : int or None
        The run's ``chunk`` parameter.
    clock : PhaseClock
    F : ndarray, shape (k, D), optional
        The first layer to use instead of drawing one (``F_hat`` after a gradient step,
        :mod:`~rmt_icl.simulate.gradient_step`); its time is the caller's to report.
    """
    out = RandomFeaturesFit()
    if not maps:
        return out
    t0 = time.perf_counter()
    k = sizes.k
    out.F = sample_first_layer(stream(seed, "features"), k, sizes.D, t_norm) if F is None else F
    out.t_first_layer = time.perf_counter() - t0
    base = stream(seed, "hermite_noise_train").bit_generator.seed_seq
    # phi = s / sqrt(k): (Phi^T Phi + lambda_bar I) a = Phi^T y  <=>
    # (S^T S + k lambda_bar I) c = S^T y with a = sqrt(k) c and y_hat = Phi a = S c
    ridge_s = k * ridge
    out.solver = "primal" if k <= sizes.n else "dual"
    fit = fit_primal if out.solver == "primal" else fit_dual
    for g0 in range(0, len(maps), group):
        chunk_maps = maps[g0:g0 + group]
        out.add_group(chunk_maps, clock,
                      lambda m=chunk_maps: fit(m, out.F, train, ridge_s, base, chunk, clock))
    return out


@dataclass(frozen=True)
class LinearFit:
    """The linear transformer fitted in one run.

    Attributes
    ----------
    gamma : ndarray, shape (d, d + 1)
    train_mse : float
    icl_exact, idg_exact : float
        Exact errors of ``gamma`` for a linear target (NaN otherwise).
    seconds : float
        Time of the fit and the exact errors.
    """

    gamma: np.ndarray
    train_mse: float
    icl_exact: float = math.nan
    idg_exact: float = math.nan
    seconds: float = 0.0


def fit_linear_transformer(train: Prompts, ridge_la: float, *, target, ell: int, rho: float,
                           pool, y2_scale: float, fit=None, exact: bool = True) -> LinearFit:
    """Fit ``Gamma`` at ``ridge_la`` (Lu's units) and, for a linear target, its exact errors.

    ``target`` is a :class:`~rmt_icl.core.targets.Target`; ``pool`` the task pool (None for
    fresh tasks), for the exact IDG error; ``fit(train, ridge_la)``, if given, returns ``Gamma``
    on the host instead of :func:`~rmt_icl.simulate.linear_attention.fit_linear_attention`
    (the array path passes its device fit). ``exact=False`` skips the exact errors (NaN): they
    hold for the isotropic index model only, not for several or spiked sources.
    """
    t0 = time.perf_counter()
    gamma = (fit or fit_linear_attention)(train, ridge_la)
    res = train.y - predict_linear_attention(gamma, train)
    train_mse = float(res @ res) / len(train)
    icl = idg = math.nan
    if exact and target.is_linear:
        icl, idg = linear_attention_errors(gamma, ell, rho, pool, y2_scale=y2_scale)
    return LinearFit(gamma, train_mse, float(icl), float(idg), time.perf_counter() - t0)
