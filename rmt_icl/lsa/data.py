"""Prompt distributions for LSA pretraining, fresh or from a finite task pool, and their theory.

A :class:`PromptDistribution` draws prompts (X, y, x_q, y_q) with n context pairs:

* linear Gaussian: x ~ N(0, Sigma_x), w ~ N(0, Sigma_w), y = w^T x + eps, eps ~ N(0, sigma^2);
* nonlinear (Mahankali Theorem 3): x ~ N(0, I_d), y = f(x) + eps with a random target f of the
  one-step-GD/LSA model from :mod:`rmt_icl.core.targets` (``signed:relu``, ``signed:tanh:A``,
  ``signed:he1+he3``, ``he3:BETA``, ...).

The query label y_q includes its noise. :meth:`PromptDistribution.theory` returns the optimal
Gamma* and loss L* that the theory predicts for the distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmt_icl.core.checks import check_int, check_nonnegative
from rmt_icl.core.targets import Target, get_target
from rmt_icl.theory.one_step_gd import one_step_gd_nonlinear, optimal_lsa, resolve_covariances

__all__ = ["Prompts", "PromptDistribution", "TaskPool", "parse_cov"]


@dataclass(frozen=True)
class Prompts:
    """A batch of prompts: X (B, n, d), y (B, n), xq (B, d), yq (B,)."""

    X: np.ndarray
    y: np.ndarray
    xq: np.ndarray
    yq: np.ndarray


def parse_cov(spec, d: int) -> np.ndarray | None:
    """Covariate covariance from a string: ``iso`` (None = identity) or ``spiked:THETA``.

    ``spiked:THETA`` is Sigma = I_d + THETA e_1 e_1^T (one spike of size 1 + THETA along the first
    axis; THETA > -1 so that Sigma is positive definite).
    """
    d = check_int("d", d, minimum=1)
    if spec is None or spec in ("iso", "identity", "isotropic"):
        return None
    name, _, arg = str(spec).partition(":")
    if name == "spiked":
        try:
            theta = float(arg)
        except ValueError:
            raise ValueError(f"cov must be 'iso' or 'spiked:THETA' with THETA a number > -1, "
                             f"got {spec!r}") from None
        if not theta > -1 or not np.isfinite(theta):
            raise ValueError(f"cov spike THETA must lie in (-1, inf), got {theta}")
        cov = np.eye(d)
        cov[0, 0] += theta
        return cov
    raise ValueError(f"cov must be 'iso' or 'spiked:THETA', got {spec!r}")


class PromptDistribution:
    """In-context regression prompts with n context pairs in dimension d.

    Parameters
    ----------
    d, n : int
        Dimension and context length, >= 1.
    noise_var : float
        Label-noise variance sigma^2 >= 0.
    cov_x : array_like or None
        Covariate covariance (None: I_d). Only linear targets allow a non-identity covariance.
    cov_w : None, "inverse" or array_like
        Task prior covariance for the linear target (None: I_d; "inverse": cov_x^{-1}).
    target : None, str or Target
        None or "linear" for y = w^T x + eps; otherwise a nonlinear target of the
        one-step-GD/LSA model (``signed:NAME`` or ``he3:BETA``; see :mod:`rmt_icl.core.targets`).
    """

    def __init__(self, d, n, noise_var=0.0, cov_x=None, cov_w=None, target=None):
        self.d = check_int("d", d, minimum=1)
        self.n = check_int("n", n, minimum=1)
        self.noise_var = float(check_nonnegative("noise_var", noise_var))
        self.target: Target = get_target("linear" if target is None else target, context="lsa")
        self.linear = self.target.is_linear
        if not self.linear and (cov_x is not None or cov_w is not None):
            raise ValueError("cov_x and cov_w must be None for a nonlinear target (the theory "
                             "assumes x ~ N(0, I_d))")
        cx = np.eye(self.d) if cov_x is None else cov_x
        self.cov_x, self.cov_w = resolve_covariances(cx, cov_w)
        if self.cov_x.shape != (self.d, self.d):
            raise ValueError(f"cov_x must have shape ({self.d}, {self.d}) to match d, got "
                             f"{self.cov_x.shape}")
        self._lx = np.linalg.cholesky(self.cov_x)
        self._lw = np.linalg.cholesky(self.cov_w)
        self._iso_x = bool(np.array_equal(self.cov_x, np.eye(self.d)))

    def sample_tasks(self, rng: np.random.Generator, size: int):
        """``size`` tasks as (W, s): W (size, d) task vectors/directions, s (size,) signs."""
        size = check_int("size", size, minimum=1)
        if self.linear:
            return rng.standard_normal((size, self.d)) @ self._lw.T, np.ones(size)
        return self.target.lsa_tasks(rng, size, self.d)

    def sample_prompts(self, rng: np.random.Generator, W, s) -> Prompts:
        """One prompt per task (W[b], s[b]): fresh covariates, labels and noise."""
        B = W.shape[0]
        Xall = rng.standard_normal((B, self.n + 1, self.d))
        if self.linear:
            if not self._iso_x:
                Xall = Xall @ self._lx.T
            f = np.matmul(Xall, W[:, :, None])[:, :, 0]
        else:
            f = self.target.lsa_labels(W, s, Xall)
        if self.noise_var > 0:
            f = f + np.sqrt(self.noise_var) * rng.standard_normal(f.shape)
        return Prompts(X=Xall[:, : self.n], y=f[:, : self.n], xq=Xall[:, self.n],
                       yq=f[:, self.n])

    def sample(self, rng: np.random.Generator, batch: int, pool: TaskPool | None = None):
        """A batch of prompts with fresh tasks (``pool=None``) or tasks drawn from ``pool``."""
        batch = check_int("batch", batch, minimum=1)
        if pool is None:
            W, s = self.sample_tasks(rng, batch)
        else:
            W, s = pool.draw(rng, batch)
        return self.sample_prompts(rng, W, s)

    def theory(self):
        """(Gamma*, L*) of the optimal one-layer LSA for this distribution (fresh tasks).

        Linear: :func:`rmt_icl.theory.optimal_lsa`; nonlinear: c*_f I_d and L*_f from
        :func:`rmt_icl.theory.one_step_gd_nonlinear`.
        """
        if self.linear:
            o = optimal_lsa(self.cov_x, self.cov_w, n=self.n, noise_var=self.noise_var)
            return o.gamma, o.loss
        o = one_step_gd_nonlinear(self.target, n=self.n, d=self.d, noise_var=self.noise_var)
        return o.step * np.eye(self.d), o.loss


class TaskPool:
    """A finite pool of K tasks drawn once; batches pick tasks uniformly with replacement.

    Parameters
    ----------
    dist : PromptDistribution
    size : int
        Number of tasks K >= 1.
    rng : numpy.random.Generator
        Stream the tasks are drawn from (use the ``"tasks"`` role of a run seed).
    """

    def __init__(self, dist: PromptDistribution, size: int, rng: np.random.Generator):
        self.size = check_int("task_pool", size, minimum=1)
        self.W, self.s = dist.sample_tasks(rng, self.size)

    def draw(self, rng: np.random.Generator, batch: int):
        idx = rng.integers(0, self.size, size=batch)
        return self.W[idx], self.s[idx]
