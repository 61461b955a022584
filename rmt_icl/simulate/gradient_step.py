r"""One gradient step on the first layer: ``F_hat = F + eta G`` (Demir & Dogan, NeurIPS 2025).

Model and loss
--------------
Before the second layer is fitted, the network ``y_hat = w^T sigma(F vec H_Z) / sqrt(k)`` takes
one step of gradient descent on ``F`` with ``w`` at its initialisation ``w ~ N(0, I_k / k)``
(stream ``step_init``), on ``n`` prompts of their own (stream ``step_prompts``, drawn like the
training prompts), for the squared loss

    L(F) = (1 / 2n) sum_mu (y_mu - w^T sigma(F h_mu) / sqrt(k))^2,    h_mu = vec H_Z of prompt mu.

``G = -grad_F L`` (:func:`first_layer_gradient`), so that ``F_hat = F + eta G`` lowers ``L``:

    G = (1 / (n sqrt(k))) diag(w) [sigma'(U) (.) r 1^T]^T H,
    U = H F^T,    r = y - sigma(U) w / sqrt(k),

with ``H`` the ``n x D`` matrix of the ``h_mu``. It costs a forward pass (``U``, one GEMM the
size of the training feature pass) and a backward product (a second GEMM), chunk by chunk,
accumulated in one ``k x D`` buffer. The second layer is then fitted by ridge on the training
prompts, independent of the step prompts, with ``F_hat`` frozen (two stages, as in the paper).
Every model of the run (RT, Hermite, ``rt:NAME``) uses the same ``F_hat``; the step uses the
point's ``activation``.

Unit of the step size
---------------------
``eta = step_size * d^2`` (:func:`step_eta`). The leading term of ``G`` is rank one,
``G ~ E[sigma'(z)] w v^T``, ``v = H^T y / (n sqrt(k))``, so a test pre-activation moves by

    eta (G vec H)_r ~ step_size (d^2 / k) E[sigma'(z)] (sqrt(k) w_r) (sqrt(k) v^T vec H),

with ``sqrt(k) w_r ~ N(0, 1)`` and ``sqrt(k) v^T vec H = O(1)`` (``t``-normalised inputs). With
``k = pi d^2`` the change is ``O(step_size / pi)``: the paper's ``eta ~ d^2`` is an ``O(1)``
``step_size``, and a sweep over the width ``k`` keeps ``eta`` fixed, as in the paper.
``step_size = 0`` skips the step (no stream is drawn: the random transformer's numbers).

Derivatives
-----------
:func:`activation_derivative` gives ``sigma'`` in closed form for the registered activations
(:func:`rmt_icl.hermite.activation_names`; 0 at kinks such as relu's), and by central
differences for a user callable.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special
from scipy.linalg import blas

from rmt_icl.core.checks import check_nonnegative
from rmt_icl.core.seeding import stream
from rmt_icl.hermite import get_activation
from rmt_icl.simulate.data import Prompts
from rmt_icl.simulate.rt_features import vec_h
from rmt_icl.simulate.rt_resources import PhaseClock, primal_rows

__all__ = ["activation_derivative", "check_step_size", "first_layer_gradient", "gradient_step",
           "step_eta", "step_loss"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def check_step_size(value) -> float:
    """``step_size >= 0`` (finite), as a float."""
    if isinstance(value, bool):
        raise ValueError(f"step_size must be a number in [0, inf), got {value!r}")
    return float(check_nonnegative("step_size", value))


def step_eta(step_size: float, d: int) -> float:
    """The learning rate ``eta = step_size * d^2`` (module docstring)."""
    return float(step_size) * d * d


def _poly_derivative(coeffs):
    der = np.polynomial.polynomial.polyder(np.asarray(coeffs, dtype=np.float64))
    return lambda u: np.polynomial.polynomial.polyval(u, der)


def _sigmoid_derivative(u):
    s = special.expit(u)
    return s * (1.0 - s)


def _silu_derivative(u):
    s = special.expit(u)
    return s * (1.0 + u * (1.0 - s))


#: name -> builder(params) of sigma' for the registered activations
_DERIVATIVES = {
    "identity": lambda p: (lambda u: np.ones_like(u)),
    "relu": lambda p: (lambda u: np.heaviside(u, 0.0)),
    "leaky_relu": lambda p: (lambda u: np.where(u > 0, 1.0, p["slope"])),
    "abs": lambda p: np.sign,
    "sign": lambda p: np.zeros_like,
    "erf": lambda p: (lambda u: (p["a"] * 2.0 / math.sqrt(math.pi))
                      * np.exp(-(p["a"] * u) ** 2)),
    "tanh": lambda p: (lambda u: 1.0 - np.tanh(u) ** 2),
    "sigmoid": lambda p: _sigmoid_derivative,
    "softplus": lambda p: special.expit,
    "gelu": lambda p: (lambda u: special.ndtr(u) + u * _INV_SQRT_2PI * np.exp(-0.5 * u * u)),
    "silu": lambda p: _silu_derivative,
    "elu": lambda p: (lambda u: np.where(u > 0, 1.0, p["alpha"] * np.exp(np.minimum(u, 0.0)))),
    "quadratic": lambda p: _poly_derivative((0.0, 0.0, 1.0)),
    "cubic": lambda p: _poly_derivative((0.0, 0.0, 0.0, 1.0)),
    "polynomial": lambda p: _poly_derivative(p["coeffs"]),
    "sin": lambda p: (lambda u: p["freq"] * np.cos(p["freq"] * u)),
    "cos": lambda p: (lambda u: -p["freq"] * np.sin(p["freq"] * u)),
}


def activation_derivative(activation):
    """``sigma'`` of an activation (a name, an :class:`~rmt_icl.hermite.Activation` or a
    callable), as a function of a float64 array.

    Registered activations: closed forms (the one-sided value 0 at relu's kink, as
    ``np.heaviside(u, 0)``); anything else: central differences with step
    ``6e-6 (1 + |u|)``.
    """
    act = get_activation(activation)
    build = _DERIVATIVES.get(act.name) if act.key is not None else None
    if build is not None:
        return build(dict(act.params))

    def central(u):
        step = 6e-6 * (1.0 + np.abs(u))
        return (act(u + step) - act(u - step)) / (2.0 * step)

    return central


def step_loss(F: np.ndarray, w: np.ndarray, prompts: Prompts, activation) -> float:
    """The loss ``L(F) = (1/2n) sum (y - w^T sigma(F h)/sqrt(k))^2`` of the step (for tests and
    diagnostics; it forms ``vec H`` for all prompts at once)."""
    act = get_activation(activation)
    u = vec_h(prompts.xq, prompts.h) @ F.T
    r = prompts.y - act(u) @ w / math.sqrt(F.shape[0])
    return float(r @ r) / (2.0 * len(prompts))


def first_layer_gradient(F: np.ndarray, w: np.ndarray, prompts: Prompts, activation, *,
                         scale: float = 1.0, chunk: int | None = None,
                         out: np.ndarray | None = None) -> np.ndarray:
    """``scale * G``, ``G = -grad_F L`` on ``prompts`` (module docstring), in chunks of prompts.

    Parameters
    ----------
    F : ndarray, shape (k, D)
        The first layer at which the gradient is taken (not modified).
    w : ndarray, shape (k,)
        The second layer (its initialisation ``N(0, I/k)``).
    prompts : Prompts
        The step prompts (``n`` of them).
    activation : str, Activation or callable
    scale : float
        Factor folded into the accumulation (``eta`` for the step itself).
    chunk : int or None
        Prompts per chunk (default: :func:`~rmt_icl.simulate.rt_resources.primal_rows`).
    out : ndarray, shape (k, D), C order, optional
        The accumulator; ``scale * G`` is ADDED to it (``out = F`` takes the step in place).
        Default: a new zero array.

    Returns
    -------
    ndarray, shape (k, D)
        ``out``.
    """
    act = get_activation(activation)
    deriv = activation_derivative(act)
    k, D = F.shape
    n = len(prompts)
    if out is None:
        out = np.zeros((k, D))
    if not (out.shape == (k, D) and out.flags.c_contiguous):
        raise ValueError(f"out must be a C-contiguous array of shape {(k, D)}")
    rows = primal_rows(k, D, chunk)
    coef = float(scale) / (n * math.sqrt(k))
    work, ubuf = np.empty(rows * D), np.empty(rows * k)
    # the forward pass reads F; with out = F, accumulate the chunks apart and add once
    acc = np.zeros((k, D)) if out is F else out
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        r = hi - lo
        vh = vec_h(prompts.xq[lo:hi], prompts.h[lo:hi], out=work)
        u = np.matmul(vh, F.T, out=ubuf[: r * k].reshape(r, k))
        resid = prompts.y[lo:hi] - act(u) @ w / math.sqrt(k)
        m = deriv(u)
        m *= w
        m *= (coef * resid)[:, None]
        # acc^T (D x k, Fortran) += vh^T m: one dgemm, no copies
        res = blas.dgemm(1.0, vh.T, m.T, beta=1.0, c=acc.T, trans_b=True, overwrite_c=True)
        if not np.shares_memory(res, acc):  # pragma: no cover - the wrapper copied
            acc[...] = res.T
    if acc is not out:
        out += acc
    return out


def gradient_step(F: np.ndarray, seed: np.random.SeedSequence, prompts: Prompts, eta: float,
                  activation, *, chunk: int | None = None,
                  clock: PhaseClock | None = None) -> np.ndarray:
    """Take the step in place: ``F <- F + eta G``, ``w ~ N(0, I/k)`` from stream ``step_init``.

    Parameters
    ----------
    F : ndarray, shape (k, D), C order
        The random first layer; overwritten by ``F_hat``.
    seed : numpy.random.SeedSequence
        The run's seed.
    prompts : Prompts
        The step prompts (stream ``step_prompts``).
    eta : float
        The learning rate (:func:`step_eta`).
    activation : str, Activation or callable
    chunk : int or None
        The run's ``chunk`` parameter.
    clock : PhaseClock, optional
        Timed as phase ``"step"``.

    Returns
    -------
    ndarray
        ``F`` (now ``F_hat``).
    """
    clock = clock or PhaseClock()
    k = F.shape[0]
    with clock("step"):
        w = stream(seed, "step_init").standard_normal(k) / math.sqrt(k)
        return first_layer_gradient(F, w, prompts, activation, scale=eta, chunk=chunk, out=F)
