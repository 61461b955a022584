"""ICL prompts: tasks, context statistics and queries, sampled exactly in O(d) per prompt.

Data model (shared by the whole toolkit)
----------------------------------------
* covariates ``x_i ~ N(0, I_d/d)`` i.i.d. (context ``i <= ell`` and query ``x_q``);
* tasks ``w ~ N(0, I_d)``, by default rescaled to ``||w|| = sqrt(d)`` so that the index
  ``s = <x, w>`` is exactly ``N(0, 1)`` (``normalise_tasks=False`` keeps Gaussian norms);
* labels ``y = g(s) + eps``, ``eps ~ N(0, rho)`` (``rho`` is a variance);
* the attention statistic ``h = [ (d/ell) sum_i y_i x_i ; (c/ell) sum_i y_i^2 ]`` with the
  y^2-column scale ``c`` (``y2_scale``, 1 by default; ``sqrt(d)`` reproduces the companion
  paper's scaling), and ``H_Z = x_q h^T``. A model sees a prompt only through ``(x_q, h)``.

Exact reduced sampler
---------------------
Write ``u = w/||w||`` and ``theta = ||w||/sqrt(d)``. Each context covariate splits as
``x_i = (s_i/||w||^2) w + x_i^perp`` with ``s_i ~ N(0, theta^2)`` independent of
``x_i^perp ~ N(0, (I - u u^T)/d)``. Given the labels,
``sum_i y_i x_i^perp ~ N(0, ||y||^2 (I - u u^T)/d)``, hence, exactly in law,

    sum_i y_i x_i = (y . s) u / (theta sqrt(d)) + ||y|| (I - u u^T) z / sqrt(d),  z ~ N(0, I_d).

This costs O(ell + d) per prompt for any target ``g``. For the linear target the two label
sums ``y.s`` and ``||y||^2`` are drawn from chi-square laws (Lu et al.; see
:func:`_linear_label_sums`), so a prompt costs O(d), independently of ``ell``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rmt_icl.core.checks import check_int, check_nonnegative, check_positive
from rmt_icl.core.seeding import stream
from rmt_icl.core.targets import Target, get_target
from rmt_icl.simulate.paths import Sizes

#: prompts are generated in chunks of this many, so temporary arrays stay small
DEFAULT_CHUNK = 4096
#: assignments of the pool tasks to the training prompts (:func:`sample_training_prompts`)
TASK_ORDERS = ("cycle", "blocks")


@dataclass(frozen=True)
class Prompts:
    """A batch of prompts as the models see them.

    Attributes
    ----------
    xq : ndarray, shape (m, d)
        Query covariates.
    h : ndarray, shape (m, d + 1)
        Attention statistics ``h = [(d/ell) sum y_i x_i ; (c/ell) sum y_i^2]``.
    y : ndarray, shape (m,)
        Query labels (noise included).
    task : ndarray of int, shape (m,), or None
        Index of each prompt's task in the pool (``None`` for fresh tasks).
    """

    xq: np.ndarray
    h: np.ndarray
    y: np.ndarray
    task: np.ndarray | None = None

    def __len__(self) -> int:
        return self.y.shape[0]

    @property
    def d(self) -> int:
        return self.xq.shape[1]


def sample_tasks(rng: np.random.Generator, count: int, d: int, *,
                 normalise: bool = True, spike: float = 0.0) -> np.ndarray:
    """``count`` tasks ``w ~ N(0, I_d + spike e_1 e_1^T)``, rescaled to ``||w|| = sqrt(d)`` if
    ``normalise``.

    ``spike`` (>= 0) is the task-covariance spike ``theta_xi`` along the first axis
    (:mod:`rmt_icl.simulate.sources`); 0 draws isotropic tasks. Returns an array of shape
    ``(count, d)``.
    """
    count = check_int("count", count, minimum=1)
    d = check_int("d", d, minimum=1)
    w = rng.standard_normal((count, d))
    if spike:
        w[:, 0] *= math.sqrt(1.0 + float(check_nonnegative("spike", spike)))
    if normalise:
        w *= math.sqrt(d) / np.linalg.norm(w, axis=1, keepdims=True)
    return w


def _linear_label_sums(rng, theta, ell, rho):
    """``(y . s, ||y||^2)`` for the linear target, exactly, without drawing the ``ell`` labels.

    With ``r = s/theta ~ N(0, I_ell)`` and ``e ~ N(0, rho I_ell)``, ``y = theta r + e``.
    Rotating ``e`` onto the first axis: ``||r||^2 = a^2 + chi``, ``r.e = a eta``,
    ``||e||^2 = eta^2`` with ``a ~ N(0,1)``, ``chi ~ chi^2_{ell-1}``, ``eta^2 ~ rho chi^2_ell``.
    """
    m = theta.shape[0]
    a = rng.standard_normal(m)
    chi = rng.chisquare(ell - 1, m) if ell > 1 else np.zeros(m)
    eta = np.sqrt(rho * rng.chisquare(ell, m)) if rho > 0 else np.zeros(m)
    rr = a * a + chi
    re = a * eta
    ys = theta * (theta * rr + re)            # y . s  with s = theta r
    yy = theta**2 * rr + 2.0 * theta * re + eta**2
    return ys, yy


def _label_sums(rng, target: Target, theta, ell, rho):
    """``(y . s, ||y||^2)`` for a general target by drawing the ``ell`` indices per prompt."""
    m = theta.shape[0]
    s = rng.standard_normal((m, ell)) * theta[:, None]
    y = target.func(s)
    if rho > 0:
        y = y + math.sqrt(rho) * rng.standard_normal((m, ell))
    return np.einsum("ij,ij->i", y, s), np.einsum("ij,ij->i", y, y)


def context_statistics(rng: np.random.Generator, w: np.ndarray, ell: int, target, rho: float,
                       *, y2_scale: float = 1.0) -> np.ndarray:
    """Sample ``h`` for one context per row of ``w``, exactly in law (module docstring).

    Parameters
    ----------
    rng : numpy.random.Generator
    w : ndarray, shape (m, d)
        The task of each context.
    ell : int
        Context length, >= 1.
    target : str, callable or Target
    rho : float
        Noise variance, >= 0.
    y2_scale : float
        Scale ``c`` of the y^2 entry, ``h_{d+1} = (c/ell) sum y_i^2``.

    Returns
    -------
    ndarray, shape (m, d + 1)
    """
    target = get_target(target)
    ell = check_int("ell", ell, minimum=1)
    rho = float(check_nonnegative("rho", rho))
    m, d = w.shape
    norm = np.linalg.norm(w, axis=1)
    theta = norm / math.sqrt(d)
    u = w / norm[:, None]
    if target.is_linear:
        ys, yy = _linear_label_sums(rng, theta, ell, rho)
    else:
        ys, yy = _label_sums(rng, target, theta, ell, rho)
    z = rng.standard_normal((m, d))
    z -= np.einsum("ij,ij->i", z, u)[:, None] * u          # (I - u u^T) z
    sum_yx = (ys / (theta * math.sqrt(d)))[:, None] * u + (np.sqrt(yy) / math.sqrt(d))[:, None] * z
    h = np.empty((m, d + 1))
    h[:, :d] = (d / ell) * sum_yx
    h[:, d] = (y2_scale / ell) * yy
    return h


def queries(rng: np.random.Generator, w: np.ndarray, target, rho: float):
    """Query covariates ``x_q ~ N(0, I/d)`` and labels ``y_q = g(<x_q, w>) + eps``."""
    target = get_target(target)
    m, d = w.shape
    xq = rng.standard_normal((m, d)) / math.sqrt(d)
    s = np.einsum("ij,ij->i", xq, w)
    y = target.func(s)
    if rho > 0:
        y = y + math.sqrt(rho) * rng.standard_normal(m)
    return xq, np.asarray(y, dtype=np.float64)


def sample_prompts(rng: np.random.Generator, m: int, d: int, ell: int, target, rho: float, *,
                   pool: np.ndarray | None = None, task: np.ndarray | None = None,
                   normalise_tasks: bool = True, y2_scale: float = 1.0,
                   chunk: int = DEFAULT_CHUNK) -> Prompts:
    """Sample ``m`` prompts, in chunks of ``chunk`` so that temporaries stay bounded.

    Parameters
    ----------
    rng : numpy.random.Generator
    m, d, ell : int
        Number of prompts, dimension, context length.
    target : str, callable or Target
        Label function ``g``.
    rho : float
        Noise variance.
    pool : ndarray, shape (K, d), optional
        Task pool. If given, prompt ``i`` uses task ``pool[task[i]]``; if ``task`` is None the
        indices are drawn uniformly. If ``pool`` is None every prompt gets a fresh task.
    task : ndarray of int, shape (m,), optional
        Task index of each prompt (requires ``pool``).
    normalise_tasks : bool
        Rescale fresh tasks to ``||w|| = sqrt(d)``.
    y2_scale : float
        Scale of the y^2 entry of ``h``.
    chunk : int
        Prompts generated per chunk. The stream of random numbers depends on ``chunk``; keep
        the default for reproducible numbers.

    Returns
    -------
    Prompts
    """
    m = check_int("m", m, minimum=1)
    d = check_int("d", d, minimum=1)
    chunk = check_int("chunk", chunk, minimum=1)
    check_positive("y2_scale", y2_scale)
    target = get_target(target)
    if task is not None and pool is None:
        raise ValueError("task indices need a task pool (pool=None)")
    if pool is not None:
        pool = np.asarray(pool, dtype=np.float64)
        if pool.ndim != 2 or pool.shape[1] != d:
            raise ValueError(f"pool must have shape (K, d={d}), got {pool.shape}")
        if task is None:
            task = rng.integers(0, pool.shape[0], size=m)
        task = np.asarray(task)
        if task.shape != (m,):
            raise ValueError(f"task must have shape (m={m},), got {task.shape}")
    xq = np.empty((m, d))
    h = np.empty((m, d + 1))
    y = np.empty(m)
    for lo in range(0, m, chunk):
        hi = min(m, lo + chunk)
        if pool is None:
            w = sample_tasks(rng, hi - lo, d, normalise=normalise_tasks)
        else:
            w = pool[task[lo:hi]]
        h[lo:hi] = context_statistics(rng, w, ell, target, rho, y2_scale=y2_scale)
        xq[lo:hi], y[lo:hi] = queries(rng, w, target, rho)
    return Prompts(xq=xq, h=h, y=y, task=task)


def sample_training_prompts(seed: np.random.SeedSequence, sizes: Sizes, target, rho: float, *,
                            y2_scale: float = 1.0, task_order: str = "cycle",
                            role: str = "train") -> tuple[Prompts, np.ndarray | None]:
    """The ``n`` pretraining prompts of one run and the task pool they are drawn from.

    Finite ``kappa``: a pool of ``K`` normalised tasks (stream ``"tasks"``), each used exactly
    ``reuse`` times (the protocol of Lu et al. 2024), so ``n = reuse K``. ``kappa = inf``: a
    fresh task per prompt and no pool. The prompts come from stream ``role`` (``"train"``).
    Every simulator of the toolkit draws its training prompts here, so for one seed they all
    see the same prompts.

    Parameters
    ----------
    seed : numpy.random.SeedSequence
        The run's seed (:func:`rmt_icl.core.seeding.run_seed`).
    sizes : rmt_icl.simulate.paths.Sizes
        ``d``, ``ell``, ``n``, ``K`` (None for fresh tasks) and ``reuse``.
    target : str, callable or Target
        Label function ``g``.
    rho : float
        Label-noise variance, >= 0.
    y2_scale : float
        Scale ``c`` of the y^2 entry of ``h``, > 0.
    task_order : {"cycle", "blocks"}
        Which task each prompt uses: ``"cycle"`` (the simulators' order) gives prompt ``i`` the
        task ``i mod K``; ``"blocks"`` gives it ``i // reuse`` (each task's prompts
        consecutive). Both use every task ``reuse`` times; for one seed they give different
        prompts.
    role : str
        The stream of the prompts (:data:`rmt_icl.core.seeding.ROLES`): ``"train"``, or
        ``"step_prompts"`` for the prompts of the gradient step on ``F``
        (:mod:`rmt_icl.simulate.gradient_step`), drawn like the training prompts, from the same
        task pool, independently of them.

    Returns
    -------
    prompts : Prompts
        With ``task`` the pool index of each prompt (None for fresh tasks).
    pool : ndarray, shape (K, d), or None
        The task pool (None for fresh tasks).

    Raises
    ------
    ValueError
        ``task_order`` not one of :data:`TASK_ORDERS`, or a bad ``rho``/``y2_scale``.
    """
    if task_order not in TASK_ORDERS:
        raise ValueError(f"task_order must be one of {TASK_ORDERS}, got {task_order!r}")
    pool = task = None
    if sizes.K is not None:
        pool = sample_tasks(stream(seed, "tasks"), sizes.K, sizes.d)
        order = np.arange(sizes.K)
        task = (np.tile(order, sizes.reuse) if task_order == "cycle"
                else np.repeat(order, sizes.reuse))
    prompts = sample_prompts(stream(seed, role), sizes.n, sizes.d, sizes.ell, target, rho,
                             pool=pool, task=task, y2_scale=y2_scale)
    return prompts, pool
