"""Pretraining loop for one-layer LSA (Adam or GD, analytic gradients, numpy) and evaluation.

Each step draws a batch of prompts (fresh tasks, or tasks from a finite :class:`TaskPool`),
computes the batch-mean squared error of the LSA prediction against the noisy y_q and its exact
gradient (:mod:`rmt_icl.lsa.model`), and updates the weights. The learning rate is constant and
multiplied by ``decay_factor`` for the last ``decay_last`` fraction of the steps.

Randomness: ``run_seed(seed, run)`` from :mod:`rmt_icl.core.seeding`, with the roles
``"init"`` (weights), ``"batches"`` (training prompts), ``"tasks"`` (the task pool) and
``"test"`` (held-out prompts of :func:`evaluate_lsa`).

A non-finite loss or weight raises :class:`rmt_icl.core.errors.TrainingDivergedError` naming the
step and the learning rate; nothing is returned silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rmt_icl.core.checks import check_int, check_nonnegative, check_positive
from rmt_icl.core.errors import TrainingDivergedError
from rmt_icl.core.seeding import run_seed, stream
from rmt_icl.core.stats import mean_se, paired_mean_se
from rmt_icl.lsa.data import PromptDistribution, TaskPool
from rmt_icl.lsa.model import MahankaliLSA, MergedLSA, gram, query_token

__all__ = ["TrainResult", "EvalResult", "train_lsa", "evaluate_lsa"]


@dataclass
class TrainResult:
    """Outcome of :func:`train_lsa`.

    Attributes
    ----------
    model : MergedLSA or MahankaliLSA
        Trained weights.
    gamma_eff : ndarray, shape (d, d)
        Effective preconditioner of the trained model.
    curve_steps : ndarray of int
        Steps at which the learning curve is reported (end of each window).
    curve_loss : ndarray
        Mean training (batch) loss over each window.
    config : dict
        The hyper-parameters used.
    """

    model: object
    gamma_eff: np.ndarray
    curve_steps: np.ndarray
    curve_loss: np.ndarray
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EvalResult:
    """Held-out loss of a model, and of the reference predictor h^T Gamma_ref x_q on the same
    prompts (paired, so ``diff_se`` is small when the two predictors nearly agree).

    Attributes
    ----------
    loss, se : float
        Mean squared error of the model and its standard error.
    ref_loss, ref_se : float
        The same for the reference predictor (NaN if none).
    diff, diff_se : float
        Mean of (model error - reference error) per prompt, and its standard error.
    n_prompts : int
    """

    loss: float
    se: float
    ref_loss: float
    ref_se: float
    diff: float
    diff_se: float
    n_prompts: int


def _diverged(step, lr, loss):
    return TrainingDivergedError(
        f"LSA training diverged at step {step} with learning rate {lr:g} (loss = {loss}); "
        "lower the learning rate (lr) or the initialisation scale"
    )


def train_lsa(dist: PromptDistribution, *, steps: int = 4000, batch_size: int = 2048,
              lr: float = 3e-3, optimizer: str = "adam", parametrization: str = "merged",
              init_scale: float = 0.01, init: str = "random", task_pool: int | None = None,
              seed: int = 0, run: int = 0, decay_last: float = 0.25, decay_factor: float = 0.1,
              betas=(0.9, 0.999), eps: float = 1e-8, curve_points: int = 100) -> TrainResult:
    """Pretrain a one-layer LSA from random initialisation on prompts from ``dist``.

    Minimises the batch-mean squared error mean (y_hat - y_q)^2 with exact gradients:
    Adam (``betas``, ``eps``) or plain gradient descent, learning rate ``lr`` for the first
    (1 - decay_last) of the steps and ``lr * decay_factor`` afterwards.

    Parameters
    ----------
    dist : PromptDistribution
    steps : int
        Number of optimisation steps >= 1.
    batch_size : int
        Prompts per step >= 1.
    lr : float
        Learning rate > 0.
    optimizer : {"adam", "gd"}
    parametrization : {"merged", "mahankali"}
    init_scale : float
        Standard deviation of the i.i.d. Gaussian initial weights (>= 0).
    init : {"random", "zfb"}
        ``"random"``: every weight i.i.d. N(0, init_scale^2). ``"zfb"`` (merged only): the
        Zhang-Frei-Bartlett start p = init_scale e_{d+1}, Q = init_scale [[T T^T, 0], [0, 0]]
        with random T (p_x = q_yx = 0 initially). With strongly anisotropic covariates a fully
        random start can stall where the p_x q_yx^T branch carries the large-variance direction
        (a non-global stationary point; see the docs); the ZFB start avoids that branch.
    task_pool : int or None
        None: a fresh task for every prompt; K: a pool of K tasks drawn once.
    seed, run : int
        Randomness as in :func:`rmt_icl.core.seeding.run_seed`.
    decay_last : float
        Fraction of the final steps at the decayed rate, in [0, 1].
    decay_factor : float
        Multiplier of the learning rate in that phase (> 0).
    curve_points : int
        Number of windows in the returned learning curve.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingDivergedError
        If the loss or a weight becomes non-finite; the message names the step and lr.
    """
    if not isinstance(dist, PromptDistribution):
        raise ValueError(f"dist must be a PromptDistribution, got {type(dist).__name__}")
    steps = check_int("steps", steps, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lr = float(check_positive("lr", lr))
    init_scale = float(check_nonnegative("init_scale", init_scale))
    decay_last = float(check_nonnegative("decay_last", decay_last))
    if decay_last > 1:
        raise ValueError(f"decay_last must lie in [0, 1], got {decay_last}")
    decay_factor = float(check_positive("decay_factor", decay_factor))
    curve_points = check_int("curve_points", curve_points, minimum=1)
    if optimizer not in ("adam", "gd"):
        raise ValueError(f"optimizer must be 'adam' or 'gd', got {optimizer!r}")
    if init not in ("random", "zfb"):
        raise ValueError(f"init must be 'random' or 'zfb', got {init!r}")
    if init == "zfb" and parametrization != "merged":
        raise ValueError("init='zfb' requires parametrization='merged'")
    if parametrization not in ("merged", "mahankali"):
        raise ValueError(f"parametrization must be 'merged' or 'mahankali', got "
                         f"{parametrization!r}")
    b1, b2 = (float(b) for b in betas)

    rs = run_seed(seed, run)
    init_rng = stream(rs, "init")
    batch_rng = stream(rs, "batches")
    pool = None
    if task_pool is not None:
        pool = TaskPool(dist, task_pool, stream(rs, "tasks"))
    if parametrization == "merged" and init == "zfb":
        model = MergedLSA.init_zfb(init_rng, dist.d, init_scale)
    elif parametrization == "merged":
        model = MergedLSA.init(init_rng, dist.d, init_scale)
    else:
        model = MahankaliLSA.init(init_rng, dist.d, dist.n, init_scale)

    m1 = {k: np.zeros_like(v) for k, v in model.params.items()}
    m2 = {k: np.zeros_like(v) for k, v in model.params.items()}
    switch = steps - int(round(decay_last * steps))
    losses = np.empty(steps)
    for t in range(steps):
        rate = lr if t < switch else lr * decay_factor
        batch = dist.sample(batch_rng, batch_size, pool)
        with np.errstate(over="ignore", invalid="ignore"):
            loss, grads = model.loss_and_grad(gram(batch.X, batch.y), query_token(batch.xq),
                                              batch.yq)
            if not np.isfinite(loss):
                raise _diverged(t, rate, loss)
            losses[t] = loss
            for k, g in grads.items():
                if optimizer == "adam":
                    m1[k] = b1 * m1[k] + (1 - b1) * g
                    m2[k] = b2 * m2[k] + (1 - b2) * g * g
                    mhat = m1[k] / (1 - b1 ** (t + 1))
                    vhat = m2[k] / (1 - b2 ** (t + 1))
                    model.params[k] -= rate * mhat / (np.sqrt(vhat) + eps)
                else:
                    model.params[k] -= rate * g
                if not np.all(np.isfinite(model.params[k])):
                    raise _diverged(t, rate, "non-finite weights")

    windows = np.array_split(np.arange(steps), min(curve_points, steps))
    curve_steps = np.array([w[-1] + 1 for w in windows])
    curve_loss = np.array([losses[w].mean() for w in windows])
    config = dict(d=dist.d, n=dist.n, noise_var=dist.noise_var, target=dist.target.name,
                  steps=steps, batch_size=batch_size, lr=lr, optimizer=optimizer,
                  parametrization=parametrization, init=init, init_scale=init_scale,
                  task_pool=task_pool, seed=seed, run=run, decay_last=decay_last,
                  decay_factor=decay_factor)
    return TrainResult(model=model, gamma_eff=model.gamma_eff(), curve_steps=curve_steps,
                       curve_loss=curve_loss, config=config)


def evaluate_lsa(model, dist: PromptDistribution, *, n_prompts: int = 200_000,
                 gamma_ref=None, seed: int = 0, run: int = 0, chunk: int = 25_000) -> EvalResult:
    """Held-out squared error of ``model`` on fresh prompts (role ``"test"``), with standard
    error, and of the canonical predictor h^T Gamma_ref x_q on the same prompts.

    Parameters
    ----------
    model : MergedLSA or MahankaliLSA
    dist : PromptDistribution
    n_prompts : int
        Number of held-out prompts (>= 2).
    gamma_ref : array_like (d, d) or None
        Reference preconditioner (e.g. the theory's Gamma*); None skips the reference.
    seed, run : int
        As in :func:`train_lsa`; the test stream is independent of the training batches.
    chunk : int
        Prompts per vectorised chunk (memory control).
    """
    n_prompts = check_int("n_prompts", n_prompts, minimum=2)
    chunk = check_int("chunk", chunk, minimum=1)
    rng = stream(run_seed(seed, run), "test")
    err, ref = [], []
    done = 0
    while done < n_prompts:
        b = min(chunk, n_prompts - done)
        P = dist.sample(rng, b)
        G = gram(P.X, P.y)
        err.append((model.predict_gram(G, query_token(P.xq)) - P.yq) ** 2)
        if gamma_ref is not None:
            h = np.einsum("bnd,bn->bd", P.X, P.y) / dist.n
            ref.append((np.einsum("bi,ij,bj->b", h, gamma_ref, P.xq) - P.yq) ** 2)
        done += b
    err = np.concatenate(err)
    if gamma_ref is None:
        nan = float("nan")
        return EvalResult(*mean_se(err), nan, nan, nan, nan, n_prompts)
    ref = np.concatenate(ref)
    return EvalResult(*mean_se(err), *mean_se(ref), *paired_mean_se(err, ref), n_prompts)
