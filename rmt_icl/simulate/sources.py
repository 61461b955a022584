r"""Prompts from S data sources (Demir & Dogan, NeurIPS 2025, arXiv:2510.25753).

Data model
----------
A prompt first draws its source ``s`` with probability ``weight_s`` (the *training mixture*),
then, given ``s``:

* a task ``xi ~ N(0, Sigma_xi,s)``, ``Sigma_xi,s = I + task_spike_s gamma gamma^T``, fresh for
  every prompt (a finite task pool is not part of this model: finite ``kappa`` raises);
* covariates ``x_i`` (context ``i <= ell`` and query) i.i.d. ``N(0, Sigma_x,s / d)``,
  ``Sigma_x,s = I + input_spike_s gamma gamma^T`` (the toolkit's units: ``x`` of the paper
  divided by ``sqrt(d)``), means zero;
* labels ``y = g_s(s_idx) + eps``, ``eps ~ N(0, noise_s^2)``, with the paper's index::

      s_idx = xi^T x_paper / (||xi|| ||Sigma_x,s||^{1/2})
            = sqrt(d) xi_hat^T x / sqrt(1 + input_spike_s),

  ``xi_hat = xi / ||xi||``. Given the task the index is ``N(0, v)`` with
  ``v = xi_hat^T Sigma_x,s xi_hat / ||Sigma_x,s|| = (1 + input_spike c^2)/(1 + input_spike)``,
  ``c = xi_hat^T gamma``: exactly ``N(0, 1)`` for isotropic inputs (whatever the task spike),
  and ``v <= 1`` with a spiked input covariance.

Decisions
---------
* ``gamma = e_1``, the first coordinate axis. Every law here (isotropic parts, the rows of
  ``F``) is rotation invariant, so any fixed unit ``gamma`` gives the same law of every error;
  ``e_1`` makes ``Sigma^{1/2}`` a scaling of one coordinate.
* ``noise`` is the paper's ``Delta_s``, a standard deviation (label-noise variance
  ``noise^2``); a source without ``noise`` has the point's ``rho`` as its noise variance.
* A source without ``target`` uses the point's ``target``. Weights: all given or none (then
  ``1/S`` each); non-negative, summing to 1 within :data:`WEIGHT_TOLERANCE`.
* Training prompts draw their source i.i.d. from the weights (stream ``train``; the step
  prompts of :mod:`~rmt_icl.simulate.gradient_step` from ``step_prompts``). Test sets are
  stratified: ``ceil(n_ctx / S)`` contexts per source (:func:`contexts_per_source`), so the
  mean over all test contexts is the error averaged uniformly over sources (``P(s) = 1/S``,
  whatever the training mixture), and each source's mean is its per-source error.
* One isotropic source is the toolkit's index model: the simulator samples it
  (:attr:`DataModel.legacy`) with the samplers of :mod:`~rmt_icl.simulate.data`, so it gives
  today's numbers exactly (:func:`sample_mixture_prompts` is for the other models).

Exact reduced sampler
---------------------
With ``x = Sigma^{1/2} x'``, ``x' ~ N(0, I/d)``, the index is ``s_idx = w'^T x'`` for the
*effective task* ``w' = sqrt(d) Sigma^{1/2} xi_hat / sqrt(1 + input_spike)``
(:func:`effective_tasks`; coordinate 1 of ``sqrt(d) xi_hat`` kept, the others divided by
``sqrt(1 + input_spike)``). The prompt of ``w'`` under isotropic inputs is drawn by the
O(d)-per-prompt sampler of :mod:`~rmt_icl.simulate.data`, and ``h_1`` and ``x_q`` are then
multiplied by ``Sigma^{1/2}`` (their first coordinate by ``sqrt(1 + input_spike)``).

Normalisation ``t`` under the training mixture
----------------------------------------------
``t = Tr Cov(vec H_Z) = sum_s weight_s t_s`` (every source has mean zero), with
``t_s = E||x_q||^2 E||h||^2 = ((d + input_spike)/d) E||h||^2``. For isotropic inputs ``t_s`` is
:func:`~rmt_icl.simulate.normalisation.t_analytic` (the task spike changes only the task's
direction, which does not enter). With ``lambda = 1 + input_spike``, given ``c^2``:

    E||h_1||^2 = (d/ell) [m22 w2/v^2 + q (d + input_spike - w2/v)] + (1 - 1/ell) d e^2 w2,
    E h_2^2    = m4/ell + (1 - 1/ell) q^2,            w2 = (1 + (lambda^2 - 1) c^2)/lambda,

with the label moments at index variance ``v``: ``q = E y^2``, ``m22 = E[y^2 s^2]``,
``m4 = E y^4``, ``e = E[y s]/v`` (derivation: ``z = s b/v + z_perp`` along
``b = Sigma^{1/2} xi_hat/sqrt(lambda)``). :func:`source_t` averages this over the law of
``c^2 = (1 + task_spike) B / (1 + task_spike B)``, ``B ~ Beta(1/2, (d-1)/2)``, by adaptive
quadrature with the Beta weight (QAWS), the label moments at variance ``v`` by Gauss-Legendre
quadrature on each half-line (exact for the linear target). :func:`mixture_t` and
:func:`evaluation_q` (``E y^2`` under the uniform evaluation law) use it.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import integrate, special

from rmt_icl.core.checks import check_nonnegative, check_probability
from rmt_icl.core.targets import Target, get_target
from rmt_icl.simulate.data import (
    DEFAULT_CHUNK,
    Prompts,
    context_statistics,
    queries,
    sample_tasks,
)
from rmt_icl.simulate.normalisation import t_analytic

__all__ = ["FLAT_DEFAULTS", "SOURCE_KEYS", "WEIGHT_TOLERANCE", "DataModel", "Source",
           "contexts_per_source", "effective_tasks", "evaluation_q", "mixture_t",
           "parse_data_model", "sample_mixture_prompts", "source_block", "source_q",
           "source_t"]

#: keys of one source's dict in the ``sources`` parameter
SOURCE_KEYS = ("weight", "input_spike", "task_spike", "noise", "target")
#: flat, sweepable keys of the two-source model and the values meaning "absent"
FLAT_DEFAULTS = {"mixture": None, "input_spike": 0.0, "task_spike": 0.0, "noise0": None,
                 "noise1": None}
#: tolerance of the sum of the mixture weights
WEIGHT_TOLERANCE = 1e-12
#: Gauss-Legendre nodes per half-line of the label moments at index variance v
_HALF_NODES = 160
#: the half-lines are cut at this many standard deviations
_HALF_LENGTH = 12.0


@dataclass(frozen=True)
class Source:
    """One data source.

    Attributes
    ----------
    weight : float
        Probability of the source in the training mixture.
    target : rmt_icl.core.targets.Target
        Label function ``g_s``.
    rho : float
        Label-noise variance ``Delta_s^2``.
    input_spike, task_spike : float
        ``theta_x`` and ``theta_xi``: spikes of the input and task covariances along ``e_1``.
    """

    weight: float
    target: Target
    rho: float
    input_spike: float = 0.0
    task_spike: float = 0.0

    @property
    def isotropic(self) -> bool:
        """No spike in the input or the task covariance."""
        return self.input_spike == 0.0 and self.task_spike == 0.0

    @property
    def input_scale(self) -> float:
        """``sqrt(1 + input_spike)``: ``Sigma_x^{1/2}`` along ``e_1``."""
        return math.sqrt(1.0 + self.input_spike)


@dataclass(frozen=True)
class DataModel:
    """The sources of a run.

    Attributes
    ----------
    sources : tuple of Source
    explicit : bool
        Whether the point gave ``sources`` or the flat two-source keys.
    """

    sources: tuple
    explicit: bool = False

    @property
    def S(self) -> int:
        """Number of sources."""
        return len(self.sources)

    @property
    def weights(self) -> np.ndarray:
        """The training mixture."""
        return np.array([s.weight for s in self.sources])

    @property
    def legacy(self) -> bool:
        """One isotropic source: the toolkit's index model, sampled as before."""
        return self.S == 1 and self.sources[0].isotropic

    @property
    def target_name(self) -> str:
        """The targets' names, comma-separated, each once."""
        return ",".join(dict.fromkeys(s.target.name for s in self.sources))


# ----------------------------------------------------------------------------- parameters


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return float(check_nonnegative(name, value))


def _source(i: int, spec, weight, target: Target, rho: float) -> Source:
    name = f"sources[{i}]"
    if not isinstance(spec, dict):
        raise ValueError(f"{name} must be a dict with keys {list(SOURCE_KEYS)}, got {spec!r}")
    unknown = sorted(set(spec) - set(SOURCE_KEYS))
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {unknown}; allowed: {list(SOURCE_KEYS)}")
    if spec.get("target") is not None:
        try:
            target = get_target(spec["target"])
        except ValueError as exc:
            raise ValueError(f"{name}.target: {exc}") from exc
    noise = spec.get("noise")
    if noise is not None:
        rho = _number(f"{name}.noise", noise) ** 2
    return Source(weight=weight, target=target, rho=rho,
                  input_spike=_number(f"{name}.input_spike", spec.get("input_spike", 0.0)),
                  task_spike=_number(f"{name}.task_spike", spec.get("task_spike", 0.0)))


def _weights(specs: list) -> list:
    given = [isinstance(s, dict) and s.get("weight") is not None for s in specs]
    if not any(given):
        return [1.0 / len(specs)] * len(specs)
    if not all(given):
        missing = [i for i, g in enumerate(given) if not g]
        raise ValueError(f"sources[{missing[0]}].weight is missing: give the weight of every "
                         "source, or of none (equal weights)")
    weights = [_number(f"sources[{i}].weight", s["weight"]) for i, s in enumerate(specs)]
    total = math.fsum(weights)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise ValueError(f"the weights of sources (the training mixture) must sum to 1 within "
                         f"{WEIGHT_TOLERANCE:g}, got {weights} (sum {total!r})")
    return weights


def _flat_values(opts: dict) -> dict:
    """The flat two-source keys that are set (not at their default), checked by name."""
    out = {}
    for key, default in FLAT_DEFAULTS.items():
        value = opts.get(key, default)
        if key != "mixture" and value is not None and (default is None or value != default):
            out[key] = _number(key, value)
    return out


def _flat_sources(mixture, flat: dict) -> list:
    """The ``sources`` list of the flat two-source keys: source 0 isotropic with weight
    ``1 - mixture`` and noise ``noise0``; source 1 with weight ``mixture``, the spikes and
    ``noise1``."""
    mixture = float(check_probability("mixture", mixture))
    first = {"weight": 1.0 - mixture, "noise": flat.get("noise0")}
    second = {"weight": mixture, "input_spike": flat.get("input_spike", 0.0),
              "task_spike": flat.get("task_spike", 0.0), "noise": flat.get("noise1")}
    return [first, second]


def parse_data_model(opts: dict, *, target: Target, rho: float, kappa: float) -> DataModel:
    """The run's sources from its options (``sources`` or the flat two-source keys).

    Parameters
    ----------
    opts : dict
        The point's options: ``sources`` (list of dicts with keys :data:`SOURCE_KEYS`) or the
        flat keys of :data:`FLAT_DEFAULTS` (``mixture`` = ``P(s = 1)``, ``input_spike`` and
        ``task_spike`` of source 1, ``noise0``, ``noise1``); absent or at their defaults:
        one isotropic source with the point's target and noise.
    target : rmt_icl.core.targets.Target
        The point's target (the default of every source).
    rho : float
        The point's noise variance (the default of every source).
    kappa : float
        Task diversity; sources need fresh tasks (``inf``).

    Raises
    ------
    ValueError
        A parameter out of range (named: ``sources[i].weight``, ``mixture``,
        ``sources[1].input_spike``, ...), weights not summing to 1, an unknown target, both
        ``sources`` and flat keys, flat keys without ``mixture``, or a finite ``kappa``.
    """
    sources, mixture = opts.get("sources"), opts.get("mixture")
    flat = _flat_values(opts)
    if sources is None and mixture is None:
        if flat:
            raise ValueError(f"{sorted(flat)} set the two-source model: give mixture "
                             "(P(s = 1), in [0, 1]) too, or a sources list")
        return DataModel((Source(1.0, target, rho),))
    if sources is not None and (mixture is not None or flat):
        raise ValueError("give either sources or the flat two-source keys (mixture, "
                         "input_spike, task_spike, noise0, noise1), not both")
    if sources is None:
        sources = _flat_sources(mixture, flat)
    if not math.isinf(kappa):
        raise ValueError(f"sources draw a fresh task for every prompt: kappa must be inf, got "
                         f"kappa = {kappa!r}")
    if not isinstance(sources, (list, tuple)) or not sources:
        raise ValueError(f"sources must be a non-empty list of dicts with keys "
                         f"{list(SOURCE_KEYS)}, got {sources!r}")
    weights = _weights(list(sources))
    return DataModel(tuple(_source(i, s, w, target, rho)
                           for i, (s, w) in enumerate(zip(sources, weights, strict=True))),
                     explicit=True)


# ----------------------------------------------------------------------------- sampling


def effective_tasks(rng: np.random.Generator, m: int, d: int, source: Source) -> np.ndarray:
    """``m`` effective tasks ``w' = sqrt(d) Sigma_x^{1/2} xi_hat / sqrt(1 + input_spike)``.

    ``xi ~ N(0, I + task_spike e_1 e_1^T)``; the index of ``x' ~ N(0, I/d)`` is ``w'^T x'``
    (module docstring). For an isotropic source this is
    :func:`~rmt_icl.simulate.data.sample_tasks` (``||w'|| = sqrt(d)``).
    """
    w = sample_tasks(rng, m, d, spike=source.task_spike)
    if source.input_spike:
        w[:, 1:] /= source.input_scale
    return w


def source_block(rng: np.random.Generator, m: int, Q: int, d: int, ell: int, source: Source,
                 y2_scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``m`` contexts of one source with ``Q`` queries each, exactly in law.

    Returns
    -------
    h : ndarray, shape (m, d + 1)
    xq : ndarray, shape (m Q, d)
        Row ``i Q + q`` is query ``q`` of context ``i``.
    y : ndarray, shape (m Q,)
    """
    w = effective_tasks(rng, m, d, source)
    h = context_statistics(rng, w, ell, source.target, source.rho, y2_scale=y2_scale)
    xq, y = queries(rng, w if Q == 1 else np.repeat(w, Q, axis=0), source.target, source.rho)
    if source.input_spike:
        h[:, 0] *= source.input_scale
        xq[:, 0] *= source.input_scale
    return h, xq, y


def sample_mixture_prompts(rng: np.random.Generator, m: int, d: int, ell: int,
                           model: DataModel, y2_scale: float, *,
                           chunk: int = DEFAULT_CHUNK) -> Prompts:
    """``m`` prompts of the training mixture: sources i.i.d. from the weights, then each
    source's prompts in chunks of ``chunk`` (module docstring)."""
    src = (rng.choice(model.S, size=m, p=model.weights) if model.S > 1
           else np.zeros(m, dtype=np.int64))
    xq, h, y = np.empty((m, d)), np.empty((m, d + 1)), np.empty(m)
    for s, source in enumerate(model.sources):
        rows = np.flatnonzero(src == s)
        for lo in range(0, rows.size, chunk):
            sel = rows[lo:lo + chunk]
            h[sel], xq[sel], y[sel] = source_block(rng, sel.size, 1, d, ell, source, y2_scale)
    return Prompts(xq=xq, h=h, y=y)


def contexts_per_source(n_ctx: int, S: int) -> int:
    """Test contexts of each source: ``ceil(n_ctx / S)``, at least 2 (``n_ctx`` for S = 1)."""
    return max(2, -(-n_ctx // S))


# ----------------------------------------------------------------------------- moments


@functools.lru_cache(maxsize=1)
def _half_line_rule() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ``E f(G)``, ``G ~ N(0, 1)``: Gauss-Legendre on ``[-L, 0]`` and
    ``[0, L]`` (so a kink at 0 costs no accuracy), ``L`` = :data:`_HALF_LENGTH`."""
    x, wt = np.polynomial.legendre.leggauss(_HALF_NODES)
    g = 0.5 * _HALF_LENGTH * (x + 1.0)
    wt = 0.5 * _HALF_LENGTH * wt * np.exp(-0.5 * g * g) / math.sqrt(2.0 * math.pi)
    return np.concatenate([-g, g]), np.concatenate([wt, wt])


def _scaled_moments(target: Target, v: float) -> tuple[float, float, float, float]:
    """``(E g^2, E[g^2 s^2], E g^4, E[g s])`` of ``g = g(s)``, ``s ~ N(0, v)``."""
    if target.is_linear:
        return v, 3.0 * v * v, 3.0 * v * v, v
    nodes, wt = _half_line_rule()
    s = math.sqrt(v) * nodes
    g = np.asarray(target.func(s), dtype=np.float64)
    g2 = g * g
    return (float(wt @ g2), float(wt @ (g2 * s * s)), float(wt @ (g2 * g2)),
            float(wt @ (g * s)))


def _label_moments(target: Target, rho: float, v: float) -> tuple[float, float, float, float]:
    """``(q, m22, m4, e)`` of ``y = g(s) + eps``, ``s ~ N(0, v)``, ``Var eps = rho``:
    ``E y^2``, ``E[y^2 s^2]``, ``E y^4`` and ``E[y s]/v``."""
    g2, g2s2, g4, gs = _scaled_moments(target, v)
    return g2 + rho, g2s2 + rho * v, g4 + 6.0 * rho * g2 + 3.0 * rho * rho, gs / v


def _direction_average(f, d: int, task_spike: float) -> float:
    """``E f(c^2)`` over ``c^2 = (xi_hat^T e_1)^2``, ``xi ~ N(0, I + task_spike e_1 e_1^T)``."""
    if d == 1:
        return float(f(1.0))
    a = 1.0 + task_spike

    def g(b):
        return f(a * b / (1.0 + task_spike * b))

    val, _ = integrate.quad(g, 0.0, 1.0, weight="alg", wvar=(-0.5, 0.5 * (d - 3)),
                            epsabs=1e-13, epsrel=1e-11, limit=400)
    return float(val / special.beta(0.5, 0.5 * (d - 1)))


@functools.lru_cache(maxsize=256)
def source_t(d: int, ell: int, source: Source, y2_scale: float = 1.0) -> float:
    """``t_s = Tr Cov(vec H_Z)`` of one source (module docstring).

    Isotropic inputs: :func:`~rmt_icl.simulate.normalisation.t_analytic` exactly; a spiked
    input covariance: the quadrature of the module docstring (relative accuracy ~1e-10).
    """
    target, rho, theta = source.target, source.rho, source.input_spike
    if theta == 0.0:
        return t_analytic(d, ell, target, rho, y2_scale=y2_scale)
    lam = 1.0 + theta
    c = float(y2_scale)

    def conditional(c2):
        v = (1.0 + theta * c2) / lam
        w2 = (1.0 + (lam * lam - 1.0) * c2) / lam
        q, m22, m4, e = _label_moments(target, rho, v)
        h1 = (d / ell) * (m22 * w2 / (v * v) + q * (d + theta - w2 / v)) \
            + (1.0 - 1.0 / ell) * d * e * e * w2
        h2 = m4 / ell + (1.0 - 1.0 / ell) * q * q
        return h1 + c * c * h2

    return (d + theta) / d * _direction_average(conditional, d, source.task_spike)


@functools.lru_cache(maxsize=256)
def source_q(d: int, source: Source) -> float:
    """``E y^2`` of one source (the error of the zero predictor on it)."""
    if source.input_spike == 0.0:
        return source.target.label_moments(source.rho)["q"]
    theta = source.input_spike
    return _direction_average(
        lambda c2: _label_moments(source.target, source.rho, (1.0 + theta * c2) / (1.0 + theta))[0],
        d, source.task_spike)


def mixture_t(d: int, ell: int, model: DataModel, y2_scale: float = 1.0) -> float:
    """``t`` under the training mixture: ``sum_s weight_s t_s`` (:func:`source_t`)."""
    if model.legacy:
        src = model.sources[0]
        return t_analytic(d, ell, src.target, src.rho, y2_scale=y2_scale)
    return math.fsum(s.weight * source_t(d, ell, s, y2_scale) for s in model.sources)


def evaluation_q(d: int, model: DataModel) -> float:
    """``E y^2`` under the evaluation law (sources uniform): the zero predictor's error."""
    if model.legacy:
        src = model.sources[0]
        return src.target.label_moments(src.rho)["q"]
    return math.fsum(source_q(d, s) for s in model.sources) / model.S
