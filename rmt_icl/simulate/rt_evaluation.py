r"""Test sets and per-context test errors of the models of one random-transformer run.

Design
------
Errors are squared query errors with noise included, estimated on ``n_test`` sampled test
queries arranged as ``n_ctx = n_test / Q`` contexts with ``Q = test_queries`` queries each:
every query is a fresh prompt of the test law (ICL: a fresh task, stream ``test``; IDG: a task
drawn uniformly from the pool, stream ``test_idg``), and the queries of one context share the
task and ``h``. This lets the rank-one route
(:func:`~rmt_icl.simulate.rt_features.shared_context_preactivations`) cost ``2 k D`` flops per
context instead of per query. ``Q = 8`` was chosen by measurement (d = 24, relu, tanh
target): the clustered test SE was 0.0063, 0.0065, 0.0071, 0.0079 for Q = 1, 8, 16, 32 at a
fixed number of test queries -- the within-context (query and noise) variance dominates -- at
a fraction of the cost. The Hermite models draw fresh noise on test (stream
``hermite_noise_test``, one field per test set).

:func:`evaluate` returns, per test set and model, the mean squared error of each context; the
mean over contexts is the run's error and its standard error the clustered test-sampling SE.
For ``kappa = inf`` there is no pool and IDG = ICL by definition (the pretraining task law
*is* the ICL law).

With several data sources (:mod:`~rmt_icl.simulate.sources`) the ICL test set is stratified:
``ceil(n_ctx / S)`` contexts of each source, in source order (:attr:`EvaluationSet.source`),
all from stream ``test``; the mean over contexts is then the error averaged uniformly over
sources, and each source's mean its per-source error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmt_icl.core.seeding import stream
from rmt_icl.simulate.data import context_statistics, queries, sample_tasks
from rmt_icl.simulate.paths import Sizes
from rmt_icl.simulate.rt_feature_maps import apply_feature_map
from rmt_icl.simulate.rt_features import NoiseField, shared_context_preactivations
from rmt_icl.simulate.rt_resources import PhaseClock, chunk_bytes, contexts_per_chunk
from rmt_icl.simulate.sources import DataModel, contexts_per_source, source_block

__all__ = ["EvaluationSet", "context_errors", "contexts_per_set", "evaluate",
           "sample_source_test_set", "sample_test_set", "sample_test_sets"]


@dataclass(frozen=True)
class EvaluationSet:
    """Test prompts with ``Q`` queries per context.

    Attributes
    ----------
    h : ndarray, shape (n_ctx, d + 1)
        Context statistics.
    xq : ndarray, shape (n_ctx, Q, d)
        Queries.
    y : ndarray, shape (n_ctx, Q)
        Query labels (noise included).
    source : ndarray of int, shape (n_ctx,), or None
        The source of each context (None: one source).
    """

    h: np.ndarray
    xq: np.ndarray
    y: np.ndarray
    source: np.ndarray | None = None


def contexts_per_set(n_test: int, Q: int) -> int:
    """Contexts per test set: ``ceil(n_test / Q)``, at least 2 (for a standard error)."""
    return max(2, -(-n_test // Q))


def sample_test_set(rng: np.random.Generator, n_ctx: int, Q: int, sizes: Sizes, target,
                    rho: float, y2_scale: float, pool=None) -> EvaluationSet:
    """``n_ctx`` contexts of ``Q`` queries: fresh tasks, or tasks drawn uniformly from ``pool``."""
    d = sizes.d
    if pool is None:
        w = sample_tasks(rng, n_ctx, d)
    else:
        w = pool[rng.integers(0, pool.shape[0], size=n_ctx)]
    h = context_statistics(rng, w, sizes.ell, target, rho, y2_scale=y2_scale)
    xq, y = queries(rng, np.repeat(w, Q, axis=0), target, rho)
    return EvaluationSet(h, xq.reshape(n_ctx, Q, d), y.reshape(n_ctx, Q))


def sample_source_test_set(rng: np.random.Generator, n_ctx: int, Q: int, sizes: Sizes,
                           model: DataModel, y2_scale: float) -> EvaluationSet:
    """:func:`~rmt_icl.simulate.sources.contexts_per_source` contexts of ``Q`` queries from
    each source in turn (fresh tasks), with their source labels."""
    c = contexts_per_source(n_ctx, model.S)
    parts = [source_block(rng, c, Q, sizes.d, sizes.ell, src, y2_scale)
             for src in model.sources]
    n_all = c * model.S
    return EvaluationSet(np.concatenate([p[0] for p in parts]),
                         np.concatenate([p[1] for p in parts]).reshape(n_all, Q, sizes.d),
                         np.concatenate([p[2] for p in parts]).reshape(n_all, Q),
                         np.repeat(np.arange(model.S), c))


def sample_test_sets(seed, n_ctx: int, Q: int, sizes: Sizes, target, rho: float,
                     y2_scale: float, pool=None, model: DataModel | None = None) -> dict:
    """The run's test sets: ``{"icl": ...}`` (stream ``test``) and, with a pool, ``"idg"``
    (stream ``test_idg``).

    ``model`` (:class:`~rmt_icl.simulate.sources.DataModel`), unless None or one isotropic
    source, gives the stratified ICL set of :func:`sample_source_test_set` (``target`` and
    ``rho`` are then the sources').
    """
    if model is not None and not model.legacy:
        return {"icl": sample_source_test_set(stream(seed, "test"), n_ctx, Q, sizes, model,
                                              y2_scale)}
    tests = {"icl": sample_test_set(stream(seed, "test"), n_ctx, Q, sizes, target, rho,
                                    y2_scale)}
    if pool is not None:
        tests["idg"] = sample_test_set(stream(seed, "test_idg"), n_ctx, Q, sizes, target, rho,
                                       y2_scale, pool=pool)
    return tests


def context_errors(test: EvaluationSet, F, fitted, gammas: dict, noise: NoiseField | None,
                   chunk, clock: PhaseClock) -> dict:
    """Per-context mean squared errors of every model on one test set.

    Parameters
    ----------
    test : EvaluationSet
    F : ndarray, shape (k, D), or None
        The first layer (None without random-features models).
    fitted : list of (FeatureMap, ndarray)
        Random-features models with their coefficients ``c`` (predictions ``S c``).
    gammas : dict
        Name -> ``Gamma`` of linear-transformer models.
    noise : NoiseField or None
        Hermite test noise of shape ``(n_ctx Q, k)``.
    chunk : int or None
        The run's ``chunk`` parameter.
    clock : PhaseClock

    Returns
    -------
    dict
        Model name -> ndarray of shape ``(n_ctx,)``.
    """
    n_ctx, Q, d = test.xq.shape
    errs = {}
    with clock("predict"):
        for name, gamma in gammas.items():
            gh = test.h @ gamma.T                                   # (c, d): Gamma h
            pred = np.einsum("iqa,ia->iq", test.xq, gh)
            errs[name] = np.mean((test.y - pred) ** 2, axis=1)
    if not fitted:
        return errs
    k, D = F.shape
    cb = chunk_bytes(k, D)
    c_ctx = min(contexts_per_chunk(k, D, Q, chunk), n_ctx)
    ubuf, pbuf = np.empty(c_ctx * Q * k), np.empty(c_ctx * Q * k)
    zbuf = np.empty(c_ctx * Q * k) if noise is not None else None
    for fm, _ in fitted:
        errs[fm.name] = np.empty(n_ctx)
    for i0 in range(0, n_ctx, c_ctx):
        i1 = min(n_ctx, i0 + c_ctx)
        r = (i1 - i0) * Q
        # one feature evaluation per model and chunk: few, large kernel calls
        with clock("test_features"):
            u = shared_context_preactivations(F, test.h[i0:i1], test.xq[i0:i1],
                                              out=ubuf[: r * k].reshape(r, k), block_bytes=cb)
        with clock("noise"):
            z = (noise.slice(i0 * Q, i1 * Q, out=zbuf[: r * k].reshape(r, k))
                 if noise is not None else None)
        yq = test.y[i0:i1].reshape(-1)
        for fm, a in fitted:
            with clock("maps"):
                phi = apply_feature_map(fm, u, z, pbuf[: r * k].reshape(r, k))
            with clock("predict"):
                res = yq - phi @ a
                errs[fm.name][i0:i1] = np.mean((res * res).reshape(i1 - i0, Q), axis=1)
    return errs


def evaluate(seed, tests: dict, F, fitted, gammas: dict, chunk, clock: PhaseClock) -> dict:
    """Per-context errors of every model on every test set (:func:`context_errors`).

    The Hermite test noise comes from stream ``hermite_noise_test``, one field per test set.
    Returns ``{"icl": {model: errors}, "idg": {...}}``; without an IDG test set (``kappa =
    inf``) ``"idg"`` is the ICL entry itself.
    """
    need_noise = any(fm.needs_noise for fm, _ in fitted)
    base = stream(seed, "hermite_noise_test").bit_generator.seed_seq
    errs = {}
    for key, (label, test) in enumerate(tests.items()):
        n_ctx, Q = test.y.shape
        noise = (NoiseField(base, (n_ctx * Q, F.shape[0]), axis=0, key=(key,)) if need_noise
                 else None)
        errs[label] = context_errors(test, F, fitted, gammas, noise, chunk, clock)
    if "idg" not in errs:
        errs["idg"] = errs["icl"]        # kappa = inf: IDG = ICL by definition
    return errs
