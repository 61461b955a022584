r"""Random transformer (RT), its Hermite-equivalent models and the linear transformer, paired.

Models (reference ``random_transformer_theory.md``; all on the SAME prompts and the same ``F``)
-----------------------------------------------------------------------------------------------
* **Random transformer** ``y_hat = a^T sigma(u) / sqrt(k)``, ``u = F vec H_Z``,
  ``F`` (``k x D``, ``D = d(d+1)``) with i.i.d. rows ``N(0, I_D / t)``,
  ``t = Tr Cov(vec H_Z)`` (:mod:`~rmt_icl.simulate.normalisation`: exact formula, or the
  training mean of ``||vec H_Z||^2`` with ``normalisation="estimate"``).
* **Hermite model of degree p**: the same ``F``, with ``sigma`` replaced by
  ``sum_{j<=p} c_j He_j(u) + c*_p z``, ``c_j = E[sigma(G) He_j(G)]/j!``,
  ``c*_p = (E sigma^2 - sum_{j<=p} j! c_j^2)^{1/2}`` (:mod:`rmt_icl.hermite`), ``z`` i.i.d.
  ``N(0, 1)`` per (prompt, neuron), fresh on train (stream ``hermite_noise_train``) AND on test
  (``hermite_noise_test``). All degrees of one run share the same ``z`` (common random
  numbers), and each model's ridge is fitted separately.
* **Linear transformer** ``y_hat = x_q^T Gamma h``, ridge on ``vec H_Z``
  (:func:`rmt_icl.simulate.linear_attention.fit_linear_attention`, Lu's units).

Ridge units
-----------
``ridge`` is ``lambda_bar`` (reference section 3.3): ``a = (Phi^T Phi + lambda_bar I_k)^{-1}
Phi^T y`` with ``Phi`` the ``n x k`` matrix of ``phi = sigma(u)/sqrt(k)``; the papers'
``lambda = lambda_bar / n`` is reported as ``ridge_paper``. The linear transformer is fitted at
``lambda_LA = d t lambda_bar / n`` -- exactly the ``k/D -> inf`` limit of the identity RT with the
same ``lambda_bar`` (:func:`~rmt_icl.simulate.normalisation.ridge_la_from_bar`) -- unless the
parameter ``ridge_la`` (Lu's units, penalty ``(n/d) lambda_LA ||Gamma||_F^2``) is given.

Internally the features are left unscaled, ``S = sigma(U) = sqrt(k) Phi``, and the equivalent
problem ``(S^T S + k lambda_bar I) c = S^T y`` (dual: ``(S S^T + k lambda_bar I) beta = y``,
``c = S^T beta``) is solved, with ``a = sqrt(k) c`` and ``y_hat = Phi a = S c``: identical
estimator, one pass fewer over every feature chunk.

Data
----
``x ~ N(0, I_d/d)``, normalised tasks ``||w|| = sqrt(d)``, ``y = g(s) + eps``,
``h = [(d/ell) sum y_i x_i ; (c/ell) sum y_i^2]`` with the y^2-column scale
``c = y2_scale`` (1: linear-attention scaling, the default; ``"companion"`` = ``sqrt(d)``).
Training prompts are drawn exactly as by the linear-attention simulator (pool of ``K = kappa d``
tasks from stream ``tasks``, each used ``reuse`` times; fresh tasks for ``kappa = inf``;
stream ``train``), so for one seed every model sees the same prompts and the same ``F``
(stream ``features``).

Test errors (decision)
----------------------
Errors are squared query errors with noise included, estimated on ``n_test`` sampled test
queries (default ``max(4000, n)``) arranged as ``n_test / Q`` contexts with ``Q =
test_queries`` (default 8) queries each: every query is a fresh prompt of the test law
(ICL: fresh task, stream ``test``; IDG: a task drawn uniformly from the pool, stream
``test_idg``), queries of one context share task and ``h``. This lets the rank-one route
(:func:`~rmt_icl.simulate.rt_features.shared_context_preactivations`) cost ``2 k D`` flops
per context instead of per query. Q = 8 was chosen by measurement (d = 24, relu, tanh
target): the clustered test SE was 0.0063, 0.0065, 0.0071, 0.0079 for Q = 1, 8, 16, 32 at a
fixed number of test queries -- the within-context (query and noise) variance dominates -- at
a fraction of the cost. The reported ``*_se_test`` is the standard error over
contexts (clustered), i.e. the test-sampling error of this run; the run-to-run spread must be
added by averaging runs. For ``kappa = inf`` the pretraining task law *is* the ICL law and
IDG = ICL by definition (as in the linear-attention simulator). For the linear transformer
with a linear target the exact errors of the fitted ``Gamma`` are reported too
(``icl_exact``, ``idg_exact``).

Finite-d behaviour (measured with this module; see the tests)
-------------------------------------------------------------
At small ``d`` the Hermite model is *not* the RT: pre-activations are a Gaussian scale mixture
(``v = ||vec H||^2 / t`` fluctuates by O(d^{-1/2})), and for ``sigma = tanh``, tanh target,
``lambda_bar = 0.2``, ``alpha = tau = 2``, ``psi = 0.5`` the paired gap ``e_Herm(3) - e_RT`` is
0.015, 0.013, 0.008, 0.005 (+- 0.001-0.002) at d = 12, 16, 24, 32, shrinking roughly like
1/d. With relu and ``lambda_bar = 1`` at d = 12 the degree-4 model is within one paired SE.

Cost and memory
---------------
(Threads: with numba's OpenMP layer, set ``OMP_WAIT_POLICY=PASSIVE`` on a shared or loaded
machine; the default active wait burns ~8 ms of CPU per call of the parallel Hermite kernel.)

``2 n k D`` flops for the training pre-activations (twice in the dual case ``k > n``, where
the ``n x n`` Gram is accumulated over neuron blocks and ``a = Phi^T beta`` needs a second
pass), ``n min(n,k)^2`` per model for the Grams (``dsfrk``; stored in LAPACK's rectangular full
packed format, half a square matrix), ``min(n,k)^3/3`` per solve (``dpftrf``), and ``2 k D``
per test context. Memory: ``F`` (``8 k D`` bytes), one packed Gram (``4 min(n,k)^2`` bytes)
per model fitted in the same pass, and chunk buffers (about ``F``'s size / 16 each); models
are fitted in groups when their Grams do not fit the budget together, and
:class:`~rmt_icl.core.errors.MemoryBudgetError` is raised before
allocating when even one does not.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas

from rmt_icl.core.checks import check_int, check_nonnegative, check_positive
from rmt_icl.simulate.data import context_statistics, queries, sample_prompts, sample_tasks
from rmt_icl.simulate.normalisation import (
    ridge_la_from_bar,
    ridge_paper,
    t_analytic,
    t_estimate,
)
from rmt_icl.simulate.paths import ScalingPath, Sizes
from rmt_icl.simulate.rt_features import (
    NoiseField,
    check_memory,
    chunk_bytes,
    default_rows,
    memory_budget,
    preactivations,
    rfp_solve,
    sample_first_layer,
    sfrk_update,
    shared_context_preactivations,
)
from rmt_icl.core.seeding import run_seed, stream
from rmt_icl.core.targets import get_target

__all__ = [
    "POINT_DEFAULTS",
    "FeatureMap",
    "parse_models",
    "parse_rt_params",
    "simulate_models",
    "simulate_point_rt",
    "simulate_point_hermite",
    "simulate_point_linear",
]

#: optional parameters of the point functions and their defaults
POINT_DEFAULTS = {
    "kappa": math.inf, "rho": 0.0, "ridge": 0.0, "width_ratio": None, "width_d2": None,
    "activation": "relu", "target": "linear", "degree": 4, "y2_scale": 1.0, "n_test": None,
    "test_queries": 8, "normalisation": "analytic", "ridge_la": None, "memory_budget": None,
    "chunk": None,
}
#: keys of other models that may share a sweep grid; accepted and ignored
FOREIGN_PARAMS = frozenset({"method", "label", "model"})
NORMALISATIONS = ("analytic", "estimate")
#: smallest chunks of the feature passes (GEMM efficiency vs buffer memory)
TRAIN_MIN_ROWS = 64
TEST_MIN_CONTEXTS = 64


# ----------------------------------------------------------------------------- parameters


def _y2_scale(value, d: int) -> float:
    if isinstance(value, str):
        key = value.strip().lower()
        if key in ("la", "linear-attention", "1"):
            return 1.0
        if key in ("companion", "sqrt_d", "sqrt(d)", "sqrtd"):
            return math.sqrt(d)
        raise ValueError(f"y2_scale must be a positive number, 'la' (1) or 'companion' "
                         f"(sqrt(d)), got {value!r}")
    return float(check_positive("y2_scale", value))


def _kappa(value) -> float:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("inf", "infinity")):
        return math.inf
    return float(check_positive("kappa", value, allow_inf=True))


def parse_rt_params(params: dict, *, need_width: bool = True) -> tuple[ScalingPath, Sizes, dict]:
    """Validate a point's parameters; returns the path, the sizes at ``d`` and the options.

    Parameters
    ----------
    params : dict
        Required ``d`` (int >= 1), ``alpha``, ``tau`` (> 0) and, for the RT and Hermite models,
        one of ``width_ratio`` (``psi = k/n`` > 0) or ``width_d2`` (``pi = k/d^2`` > 0).
        Optional (defaults in :data:`POINT_DEFAULTS`): ``kappa`` (``inf``/``"inf"``/``None``:
        fresh tasks), ``rho`` (noise variance >= 0), ``ridge`` (``lambda_bar >= 0``),
        ``activation`` (a name of :func:`rmt_icl.hermite.get_activation` or a callable),
        ``target`` (``linear, relu, tanh, he2`` or a callable), ``degree`` (Hermite degree,
        integer in [0, 170]), ``y2_scale`` (> 0, ``"la"`` or ``"companion"``), ``n_test``
        (test queries per test set, default ``max(4000, n)``), ``test_queries`` (queries per
        test context, >= 1), ``normalisation`` (``"analytic"`` or ``"estimate"``),
        ``ridge_la`` (linear transformer ridge in Lu's units; default ``d t ridge / n``),
        ``memory_budget`` (bytes), ``chunk`` (rows per chunk of the feature passes).
    need_width : bool
        Require a width (False for the linear transformer alone).

    Raises
    ------
    ValueError
        Missing or unknown keys, or a value out of range (the message names it).
    """
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict, got {type(params).__name__}")
    missing = [key for key in ("d", "alpha", "tau") if key not in params]
    if missing:
        raise ValueError(f"params must contain {missing} (the RT needs d, alpha, tau)")
    allowed = {"d", "alpha", "tau"} | set(POINT_DEFAULTS)
    unknown = sorted(set(params) - allowed - FOREIGN_PARAMS)
    if unknown:
        raise ValueError(f"unknown random-transformer parameter(s) {unknown}; allowed: "
                         f"{sorted(allowed)}")
    opts = {**POINT_DEFAULTS, **{k: v for k, v in params.items() if k in POINT_DEFAULTS}}
    d = check_int("d", params["d"], minimum=1)
    if need_width and opts["width_ratio"] is None and opts["width_d2"] is None:
        raise ValueError("give the MLP width: width_ratio (psi = k/n, in (0, inf)) or "
                         "width_d2 (pi = k/d^2, in (0, inf))")
    path = ScalingPath(alpha=params["alpha"], tau=params["tau"], kappa=_kappa(opts["kappa"]),
                       rho=opts["rho"], ridge=opts["ridge"], width_ratio=opts["width_ratio"],
                       width_d2=opts["width_d2"])
    sizes = path.sizes(d)
    opts["y2_scale"] = _y2_scale(opts["y2_scale"], d)
    opts["target"] = get_target(opts["target"])
    opts["degree"] = check_int("degree", opts["degree"], minimum=0, maximum=170)
    opts["n_test"] = (max(4000, sizes.n) if opts["n_test"] is None
                      else check_int("n_test", opts["n_test"], minimum=2))
    opts["test_queries"] = check_int("test_queries", opts["test_queries"], minimum=1)
    if opts["normalisation"] not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, "
                         f"got {opts['normalisation']!r}")
    if opts["ridge_la"] is not None:
        opts["ridge_la"] = float(check_nonnegative("ridge_la", opts["ridge_la"]))
    if opts["chunk"] is not None:
        opts["chunk"] = check_int("chunk", opts["chunk"], minimum=1)
    opts["memory_budget"] = memory_budget(opts["memory_budget"])
    return path, sizes, opts


# ----------------------------------------------------------------------------- models


@dataclass(frozen=True)
class FeatureMap:
    """One random-features model on ``u = F vec H_Z``: the RT or a Hermite model.

    Attributes
    ----------
    name : str
        ``"rt"`` or ``"hermite:P"``.
    activation : rmt_icl.hermite.Activation
    degree : int or None
        Hermite degree ``p`` (None for the RT).
    coefficients : ndarray or None
        ``c_0..c_p`` (None for the RT).
    residual : float
        ``c*_p`` (0 for the RT).
    inplace : callable or None
        ``f(u, out)`` writing ``sigma(u)`` into ``out`` (RT with a registry relu/tanh).
    """

    name: str
    activation: object
    degree: int | None = None
    coefficients: np.ndarray | None = None
    residual: float = 0.0
    inplace: object = None

    @property
    def needs_noise(self) -> bool:
        return self.degree is not None and self.residual > 0.0


#: activations evaluated straight into the feature buffer (no temporary); same values as
#: the registry's implementations
_INPLACE = {
    "relu": lambda u, out: np.maximum(u, 0.0, out=out),
    "tanh": lambda u, out: np.tanh(u, out=out),
}


def _inplace(act):
    """The in-place form of a *registry* activation (same implementation), else None."""
    name = getattr(act, "name", None)
    if name not in _INPLACE or getattr(act, "params", None):
        return None
    from rmt_icl.hermite import get_activation

    return _INPLACE[name] if getattr(get_activation(name), "func", None) is act.func else None


def _apply(fm: FeatureMap, u: np.ndarray, z, out: np.ndarray) -> np.ndarray:
    """Unscaled features ``s = sigma(u)`` (RT) or ``sum c_j He_j(u) + c* z`` (Hermite), in
    ``out`` (or a new array for activations without an in-place form). The models use
    ``phi = s / sqrt(k)`` through the equivalent unscaled ridge problem (module docstring)."""
    if fm.degree is None:
        inplace = fm.inplace
        if inplace is None:
            return fm.activation(u)
        inplace(u, out)
        return out
    from rmt_icl.hermite import hermite_series

    hermite_series(u, fm.coefficients, out=out)
    if fm.needs_noise:
        blas.daxpy(z.reshape(-1), out.reshape(-1), a=fm.residual)
    return out


_HERMITE = re.compile(r"^hermite(?::(.*))?$")


def parse_models(models, *, activation="relu", degree: int = 4) -> list[str]:
    """Normalise a model list to canonical names ``rt``, ``hermite:P``, ``linear``.

    Accepted spellings: ``"rt"``/``"random-transformer"``, ``"rt:NAME"`` (the RT with the
    registered activation ``NAME`` instead of the point's, e.g. ``"rt:tanh"``: several
    activations on the same prompts and ``F``), ``"linear"``/``"linear-transformer"``,
    ``"hermite"`` (degree ``degree``), ``"hermite:P"``, ``"hermite:P1..P2"`` (inclusive range)
    and ``"hermite:P1,P2,..."``; a comma-separated string of these works too. Duplicates are
    dropped, order kept.
    """
    if isinstance(models, str):
        models = [m for m in re.split(r"[;\s]+|,(?![\d.])", models) if m]
    out: list[str] = []
    for spec in models:
        s = str(spec).strip().lower()
        if s in ("rt", "random-transformer", "random_transformer"):
            names = ["rt"]
        elif s.startswith("rt:"):
            from rmt_icl.hermite import activation_names

            act = s[3:].strip()
            act = "identity" if act == "linear" else act
            if act not in activation_names():
                raise ValueError(f"model {spec!r}: activation must be one of "
                                 f"{activation_names()}")
            names = [f"rt:{act}"]
        elif s in ("linear", "linear-transformer", "linear_transformer", "lt"):
            names = ["linear"]
        else:
            m = _HERMITE.match(s)
            if m is None:
                raise ValueError(f"unknown model {spec!r}; use 'rt', 'rt:ACTIVATION', 'linear', "
                                 f"'hermite', 'hermite:P', 'hermite:P1..P2' or 'hermite:P1,P2'")
            arg = m.group(1)
            if arg is None or arg == "":
                degrees = [check_int("degree", degree, minimum=0, maximum=170)]
            elif ".." in arg:
                lo, hi = arg.split("..", 1)
                lo = check_int("degree", int(lo), minimum=0, maximum=170) if lo.strip() else 0
                hi = check_int("degree", int(hi), minimum=0, maximum=170)
                degrees = list(range(lo, hi + 1))
            else:
                try:
                    degrees = [int(x) for x in arg.split(",") if x.strip()]
                except ValueError:
                    raise ValueError(f"model {spec!r}: Hermite degrees must be integers in "
                                     "[0, 170]") from None
                degrees = [check_int("degree", p, minimum=0, maximum=170) for p in degrees]
            names = [f"hermite:{p}" for p in degrees]
        for name in names:
            if name not in out:
                out.append(name)
    if not out:
        raise ValueError("models must name at least one model")
    return out


def _feature_maps(names: list[str], activation) -> list[FeatureMap]:
    from rmt_icl.hermite import get_activation, hermite_expansion

    act = get_activation(activation)
    maps = []
    for name in names:
        if name == "rt":
            maps.append(FeatureMap("rt", act, inplace=_inplace(act)))
        elif name.startswith("rt:"):
            other = get_activation(name[3:])
            maps.append(FeatureMap(name, other, inplace=_inplace(other)))
        elif name.startswith("hermite:"):
            p = int(name.split(":")[1])
            e = hermite_expansion(act, p)
            maps.append(FeatureMap(name, act, p, np.array(e.coefficients, dtype=np.float64),
                                   float(e.residual)))
    return maps


# ----------------------------------------------------------------------------- data


def _train_prompts(seed, sizes: Sizes, target, rho: float, y2_scale: float):
    """Pool and training prompts, drawn exactly as the linear-attention simulator draws them."""
    pool = task = None
    if sizes.K is not None:
        pool = sample_tasks(stream(seed, "tasks"), sizes.K, sizes.d)
        task = np.tile(np.arange(sizes.K), sizes.reuse)
    train = sample_prompts(stream(seed, "train"), sizes.n, sizes.d, sizes.ell, target, rho,
                           pool=pool, task=task, y2_scale=y2_scale)
    return pool, train


@dataclass(frozen=True)
class _TestSet:
    h: np.ndarray       # (c, d+1)
    xq: np.ndarray      # (c, Q, d)
    y: np.ndarray       # (c, Q)


def _test_set(rng, n_ctx: int, Q: int, sizes: Sizes, target, rho: float, y2_scale: float,
              pool=None) -> _TestSet:
    d = sizes.d
    if pool is None:
        w = sample_tasks(rng, n_ctx, d)
    else:
        w = pool[rng.integers(0, pool.shape[0], size=n_ctx)]
    h = context_statistics(rng, w, sizes.ell, target, rho, y2_scale=y2_scale)
    xq, y = queries(rng, np.repeat(w, Q, axis=0), target, rho)
    return _TestSet(h, xq.reshape(n_ctx, Q, d), y.reshape(n_ctx, Q))


# ----------------------------------------------------------------------------- memory


def _memory_plan(sizes: Sizes, n_rf: int, linear: bool, n_ctx: int, Q: int, ridge: float,
                 chunk, budget: int) -> tuple[dict, int]:
    """Itemised bytes and the number of Grams fitted per training pass (raises if over budget)."""
    d, n, D = sizes.d, sizes.n, sizes.D
    k = sizes.k or 0
    f8 = 8
    items = {
        "prompts": f8 * (n * (2 * d + 2) + 2 * n_ctx * (d + 1 + Q * (d + 1))),
    }
    if linear:
        from rmt_icl.simulate.features import gram_memory_bytes
        items["linear transformer Gram"] = (2 * f8 * n * n if n < D else gram_memory_bytes(d))
    group = 0
    if n_rf:
        m = min(n, k)
        items["F"] = f8 * k * D
        cb = chunk_bytes(k, D)
        if k <= n:
            rows = chunk or default_rows(max(D, k), lo=TRAIN_MIN_ROWS, target=cb)
            train_buf = f8 * rows * (D + 4 * k)
        else:
            cols = chunk or default_rows(n, lo=256, target=cb)
            train_buf = f8 * (default_rows(D, target=cb) * D + 4 * n * cols)
        c_ctx = (max(1, chunk // Q) if chunk
                 else max(TEST_MIN_CONTEXTS, default_rows(k, target=cb) // Q))
        test_buf = f8 * (4 * c_ctx * Q * k) + 2 * cb
        items["chunk buffers"] = max(train_buf, test_buf)
        half = m * (m + 1) // 2                        # RFP storage of the Gram
        gram = f8 * (half + 2 * k) + (f8 * half if ridge == 0 else 0)
        fixed = sum(items.values())
        group = int(min(n_rf, max(0, (budget - fixed) // gram)))
        items["Gram (per model)" if group <= 1 else f"Grams ({group} models per pass)"] = \
            gram * max(1, group)
    what = (f"the random-transformer run at d={d}, n={n}, k={k}, D={D}"
            if n_rf else f"the linear-transformer run at d={d}, n={n}, D={D}")
    check_memory(items, budget, what)
    return items, max(1, group)


# ----------------------------------------------------------------------------- fitting


#: clock of the ``t_phase_*`` timings (wall time; a benchmark may set ``time.process_time``)
PHASE_TIMER = time.perf_counter


class _Clock:
    """Accumulated time per phase (:data:`PHASE_TIMER`): ``with clock("features"): ...``."""

    PHASES = ("features", "test_features", "noise", "maps", "gram", "solve", "predict")

    def __init__(self):
        self.t = dict.fromkeys(self.PHASES, 0.0)
        self._phase = None

    def __call__(self, phase: str):
        self._phase = phase
        return self

    def __enter__(self):
        self._t0 = PHASE_TIMER()
        self._name = self._phase

    def __exit__(self, *exc):
        self.t[self._name] += PHASE_TIMER() - self._t0


def _fit_primal(maps, F, train, ridge, noise_base, chunk, clock):
    """Primal fit (``k <= n``): one pass over prompt chunks, packed ``k x k`` Grams (dsfrk)."""
    k, D = F.shape
    xq, h, y = train.xq, train.h, train.y
    n = y.shape[0]
    rows = chunk or default_rows(max(D, k), lo=TRAIN_MIN_ROWS, target=chunk_bytes(k, D))
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
                phi = _apply(fm, u, z, pbuf[: r * k].reshape(r, k))
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


def _dual_blocks(F, train, cols, rows_vh, ubuf, work, clock):
    """Yield ``(lo, hi, U[:, lo:hi])`` over neuron blocks (``U = vec H F^T``, all prompts)."""
    k, D = F.shape
    n = train.y.shape[0]
    for c0 in range(0, k, cols):
        c1 = min(k, c0 + cols)
        u = ubuf[: n * (c1 - c0)].reshape(n, c1 - c0)
        with clock("features"):
            for lo in range(0, n, rows_vh):
                hi = min(n, lo + rows_vh)
                preactivations(F[c0:c1], train.xq[lo:hi], train.h[lo:hi], out=u[lo:hi],
                               work=work)
        yield c0, c1, u


def _fit_dual(maps, F, train, ridge, noise_base, chunk, clock):
    """Dual fit (``k > n``): ``n x n`` Grams over neuron blocks, then ``a = Phi^T beta``."""
    k, D = F.shape
    y = train.y
    n = y.shape[0]
    cols = chunk or default_rows(n, lo=256, target=chunk_bytes(k, D))
    rows_vh = default_rows(D, target=chunk_bytes(k, D))
    grams = [np.zeros(n * (n + 1) // 2) for _ in maps]     # RFP storage
    noise = (NoiseField(noise_base, (n, k), axis=1) if any(fm.needs_noise for fm in maps)
             else None)
    ubuf, pbuf, work = np.empty(n * cols), np.empty(n * cols), np.empty(rows_vh * D)
    zbuf = np.empty(n * cols) if noise is not None else None

    def noise_block(c0, c1):
        if noise is None:
            return None
        with clock("noise"):
            return noise.slice(c0, c1, out=zbuf[: n * (c1 - c0)].reshape(n, c1 - c0))

    for c0, c1, u in _dual_blocks(F, train, cols, rows_vh, ubuf, work, clock):
        z = noise_block(c0, c1)
        for j, fm in enumerate(maps):
            with clock("maps"):
                phi = _apply(fm, u, z, pbuf[: n * (c1 - c0)].reshape(n, c1 - c0))
            with clock("gram"):
                sfrk_update(grams[j], phi, rows_are_samples=False)
    betas = []
    with clock("solve"):
        for j in range(len(maps)):
            betas.append(rfp_solve(grams[j], n, y, ridge))
            grams[j] = None
    coefs = [np.empty(k) for _ in maps]
    for c0, c1, u in _dual_blocks(F, train, cols, rows_vh, ubuf, work, clock):
        z = noise_block(c0, c1)
        for j, fm in enumerate(maps):
            with clock("maps"):
                phi = _apply(fm, u, z, pbuf[: n * (c1 - c0)].reshape(n, c1 - c0))
            with clock("solve"):
                coefs[j][c0:c1] = phi.T @ betas[j]
    train_mse = [ridge * ridge * float(b @ b) / n for b in betas]
    return coefs, train_mse


# ----------------------------------------------------------------------------- testing


def _test_errors(test: _TestSet, F, fitted, gammas: dict, noise: NoiseField | None, chunk,
                 clock) -> dict:
    """Per-context mean squared errors of every model on one test set."""
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
    c_ctx = max(1, chunk // Q) if chunk else max(TEST_MIN_CONTEXTS, default_rows(k, target=cb) // Q)
    c_ctx = min(c_ctx, n_ctx)
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
                phi = _apply(fm, u, z, pbuf[: r * k].reshape(r, k))
            with clock("predict"):
                res = yq - phi @ a
                errs[fm.name][i0:i1] = np.mean((res * res).reshape(i1 - i0, Q), axis=1)
    return errs


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    m = x.shape[0]
    return float(x.mean()), (float(x.std(ddof=1) / math.sqrt(m)) if m > 1 else math.nan)


# ----------------------------------------------------------------------------- driver


def simulate_models(params: dict, seed, models=("rt", "hermite:1..6", "linear")) -> dict:
    """One run of several models on the same prompts, ``F`` and Hermite noise.

    Parameters
    ----------
    params : dict
        Point parameters (:func:`parse_rt_params`); ``ridge`` is ``lambda_bar``.
    seed : numpy.random.SeedSequence or int
        The run's seed (an int ``s`` means ``run_seed(s)``).
    models : sequence of str or str
        Model names (:func:`parse_models`), e.g. ``("rt", "hermite:1..6", "linear")``.

    Returns
    -------
    dict
        ``{model_name: result}``; each ``result`` is a flat dict of JSON-able scalars:
        ``icl``, ``idg`` and their test-sampling standard errors ``icl_se_test``,
        ``idg_se_test`` (clustered over test contexts); for every model other than ``rt`` when
        ``rt`` is run too, the paired differences on the same test queries ``icl_minus_rt``,
        ``idg_minus_rt`` with ``icl_minus_rt_se_test``, ``idg_minus_rt_se_test``;
        ``train_mse``; the Hermite ``degree``, ``c_star`` (NaN otherwise); and the shared
        ``model``, ``d, ell, K, n, k, D, reuse``, realised ratios, ``t`` (and ``se_t``, its
        standard error when estimated from the training prompts), ``normalisation``,
        ``y2_scale``, ``ridge_bar``, ``ridge_paper`` (``lambda_bar / n``), ``ridge_la`` (the
        linear transformer's), ``activation``, ``target``, ``n_test``, ``test_queries``,
        ``solver`` (``primal``/``dual``), ``q`` (``E y^2``, the zero predictor's error) and
        timings ``t_sample``, ``t_first_layer``, ``t_train`` (features and Grams),
        ``t_solve``, ``t_test``, ``t_total`` (shared by all models of the run), and the
        random-features work split by kind: ``t_phase_features`` (training ``F vec H`` GEMMs),
        ``t_phase_test_features`` (rank-one test route), ``t_phase_noise`` (Hermite noise),
        ``t_phase_maps`` (``sigma`` and Hermite series), ``t_phase_gram`` (``dsfrk``),
        ``t_phase_solve``, ``t_phase_predict``.

    Raises
    ------
    ValueError
        Bad parameters or model names.
    rmt_icl.core.errors.MemoryBudgetError
        The run would not fit the memory budget (raised before allocating).
    """
    t_start = time.perf_counter()
    if isinstance(seed, (int, np.integer)):
        seed = run_seed(int(seed))
    names = parse_models(models, degree=params.get("degree", POINT_DEFAULTS["degree"])
                         if isinstance(params, dict) else 4)
    rf_names = [m for m in names if m != "linear"]
    path, sizes, opts = parse_rt_params(params, need_width=bool(rf_names))
    maps = _feature_maps(rf_names, opts["activation"]) if rf_names else []
    target, rho, ridge = opts["target"], path.rho, path.ridge
    d, n, D, Q = sizes.d, sizes.n, sizes.D, opts["test_queries"]
    k = sizes.k if rf_names else None
    n_ctx = max(2, -(-opts["n_test"] // Q))
    _, group = _memory_plan(sizes, len(maps), "linear" in names, n_ctx, Q, ridge,
                            opts["chunk"], opts["memory_budget"])
    timings = dict.fromkeys(("sample", "first_layer", "train", "solve", "test"), 0.0)
    clock = _Clock()

    t0 = time.perf_counter()
    pool, train = _train_prompts(seed, sizes, target, rho, opts["y2_scale"])
    tests = {"icl": _test_set(stream(seed, "test"), n_ctx, Q, sizes, target, rho,
                              opts["y2_scale"])}
    if pool is not None:
        tests["idg"] = _test_set(stream(seed, "test_idg"), n_ctx, Q, sizes, target, rho,
                                 opts["y2_scale"], pool=pool)
    timings["sample"] = time.perf_counter() - t0

    if opts["normalisation"] == "analytic":
        t_norm = t_analytic(d, sizes.ell, target, rho, y2_scale=opts["y2_scale"])
        t_se = math.nan
    else:
        t_norm, t_se = t_estimate(train.xq, train.h)

    F = None
    fitted: list = []
    train_mse: dict = {}
    solver = None
    if maps:
        t0 = time.perf_counter()
        F = sample_first_layer(stream(seed, "features"), k, D, t_norm)
        timings["first_layer"] = time.perf_counter() - t0
        base = stream(seed, "hermite_noise_train").bit_generator.seed_seq
        # phi = s / sqrt(k): (Phi^T Phi + lambda_bar I) a = Phi^T y  <=>
        # (S^T S + k lambda_bar I) c = S^T y with a = sqrt(k) c and y_hat = Phi a = S c
        ridge_s = k * ridge
        solver = "primal" if k <= n else "dual"
        fit = _fit_primal if solver == "primal" else _fit_dual
        for g0 in range(0, len(maps), group):
            chunk_maps = maps[g0:g0 + group]
            t0 = time.perf_counter()
            solve0 = clock.t["solve"]
            coefs, mses = fit(chunk_maps, F, train, ridge_s, base, opts["chunk"], clock)
            t_solve = clock.t["solve"] - solve0
            timings["train"] += time.perf_counter() - t0 - t_solve
            timings["solve"] += t_solve
            fitted.extend(zip(chunk_maps, coefs, strict=True))
            train_mse.update({fm.name: v for fm, v in zip(chunk_maps, mses, strict=True)})

    gammas, exact = {}, {}
    ridge_la = opts["ridge_la"]
    if ridge_la is None:
        ridge_la = ridge_la_from_bar(ridge, d, n, t_norm)
    if "linear" in names:
        from rmt_icl.simulate.linear_attention import (
            fit_linear_attention,
            linear_attention_errors,
            predict_linear_attention,
        )
        t0 = time.perf_counter()
        gamma = fit_linear_attention(train, ridge_la)
        gammas["linear"] = gamma
        res = train.y - predict_linear_attention(gamma, train)
        train_mse["linear"] = float(res @ res) / n
        if target.is_linear:
            exact = dict(zip(("icl_exact", "idg_exact"), linear_attention_errors(
                gamma, sizes.ell, rho, pool, y2_scale=opts["y2_scale"]), strict=True))
        timings["solve"] += time.perf_counter() - t0
    del train

    t0 = time.perf_counter()
    test_base = stream(seed, "hermite_noise_test").bit_generator.seed_seq
    need_noise = any(fm.needs_noise for fm in maps)
    errs = {}
    for key, (label, test) in enumerate(tests.items()):
        noise = (NoiseField(test_base, (n_ctx * Q, k), axis=0, key=(key,)) if need_noise
                 else None)
        errs[label] = _test_errors(test, F, fitted, gammas, noise, opts["chunk"], clock)
    timings["test"] = time.perf_counter() - t0
    if "idg" not in errs:
        errs["idg"] = errs["icl"]        # kappa = inf: IDG = ICL by definition

    mom = target.label_moments(rho)
    shared = {
        "d": d, "ell": sizes.ell, "K": sizes.K, "n": n, "k": k, "D": D, "reuse": sizes.reuse,
        "alpha_realised": sizes.alpha, "tau_realised": sizes.tau,
        "kappa_realised": sizes.kappa, "width_ratio_realised": (k / n if k else None),
        "t": float(t_norm), "se_t": float(t_se), "normalisation": opts["normalisation"],
        "y2_scale": opts["y2_scale"], "ridge_bar": ridge, "ridge_paper": ridge_paper(ridge, n),
        "ridge_la": float(ridge_la), "rho": rho,
        "activation": getattr(maps[0].activation, "name", str(opts["activation"])) if maps
        else None,
        "target": target.name, "n_test": n_ctx * Q, "test_queries": Q, "solver": solver,
        "q": mom["q"],
    }
    timings["total"] = time.perf_counter() - t_start
    shared.update({f"t_{key}": float(v) for key, v in timings.items()})
    shared.update({f"t_phase_{key}": float(v) for key, v in clock.t.items()})
    out = {}
    for name in names:
        r = {"model": name, **shared}
        for label in ("icl", "idg"):
            r[label], r[f"{label}_se_test"] = _mean_se(errs[label][name])
            if "rt" in names and name != "rt":
                r[f"{label}_minus_rt"], r[f"{label}_minus_rt_se_test"] = _mean_se(
                    errs[label][name] - errs[label]["rt"])
        r["train_mse"] = float(train_mse.get(name, math.nan))
        fm = next((m for m in maps if m.name == name), None)
        if fm is not None and name.startswith("rt:"):
            r["activation"] = getattr(fm.activation, "name", name[3:])
        r["degree"] = fm.degree if fm is not None and fm.degree is not None else None
        r["c_star"] = fm.residual if fm is not None and fm.degree is not None else math.nan
        if name == "linear":
            r["icl_exact"] = float(exact.get("icl_exact", math.nan))
            r["idg_exact"] = float(exact.get("idg_exact", math.nan))
        out[name] = r
    return out


def simulate_point_rt(params: dict, seed) -> dict:
    """One run of the random transformer (sweep model ``"random-transformer"``).

    ``params`` as in :func:`parse_rt_params`; ``seed`` the run's SeedSequence. Returns the
    ``"rt"`` entry of :func:`simulate_models` (keys ``icl``, ``idg``, ``icl_se_test``, sizes,
    ``ridge_bar``, ``ridge_paper``, ``t``, timings, ...). Identical numbers to the ``rt`` entry
    of a multi-model run with the same seed.
    """
    return simulate_models(params, seed, ("rt",))["rt"]


def simulate_point_hermite(params: dict, seed) -> dict:
    """One run of the Hermite-equivalent model of degree ``params["degree"]`` (default 4).

    Sweep model ``"hermite"``; see :func:`simulate_point_rt`.
    """
    p = check_int("degree", params.get("degree", POINT_DEFAULTS["degree"]), minimum=0,
                  maximum=170)
    return simulate_models(params, seed, (f"hermite:{p}",))[f"hermite:{p}"]


def simulate_point_linear(params: dict, seed) -> dict:
    """One run of the linear transformer on the RT's prompts (sweep ``"linear-transformer"``).

    Fitted at ``lambda_LA = d t ridge / n`` (the identity RT's infinite-width limit) unless
    ``ridge_la`` is given; errors sampled on the shared test queries (``icl``, ``idg``) and,
    for a linear target, exact (``icl_exact``, ``idg_exact``).
    """
    return simulate_models(params, seed, ("linear",))["linear"]
