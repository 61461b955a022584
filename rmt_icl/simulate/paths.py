"""Scaling paths: the one place where concrete sizes are computed from ratios.

A :class:`ScalingPath` fixes the proportional-limit ratios

=====================  =======================  ===========================================
ratio                  size at dimension ``d``  meaning
=====================  =======================  ===========================================
``alpha``              ``ell = alpha d``        context length (labelled pairs per prompt)
``kappa``              ``K = kappa d``          pretraining task-pool size (``inf``: fresh)
``tau``                ``n = tau d^2``          number of pretraining prompts
``width_ratio`` (psi)  ``k = psi n``            MLP width of the random transformer
``width_d2`` (pi)      ``k = pi d^2``           alternative width parametrisation
=====================  =======================  ===========================================

and carries the model parameters that do not set sizes (noise variance ``rho`` and
``ridge``), so that ``path.sizes(d)`` for growing ``d`` is a sequence of finite instances of
one proportional limit.

Rounding rule (documented, used everywhere)
-------------------------------------------
``round(x)`` is round-half-up, ``floor(x + 1/2)``.

* ``ell = max(1, round(alpha d))``.
* Finite ``kappa``: ``K = max(1, round(kappa d))`` tasks, each used exactly
  ``r = max(1, round(tau d^2 / K))`` times, so ``n = r K`` (the protocol of Lu et al.: every
  task is seen equally often).
* ``kappa = inf``: a fresh task per prompt, ``K = None``, ``n = max(1, round(tau d^2))``.
* ``k = max(1, round(psi n))`` (or ``round(pi d^2)``), computed from the *realised* ``n``.

Because of rounding, a simulation at ``d`` realises ratios slightly different from the
nominal ones; :class:`Sizes` exposes the realised ratios, and theory values should be
evaluated there when comparing with simulation at small ``d``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from rmt_icl.core.checks import check_int, check_nonnegative, check_positive


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))


def parse_kappa(value) -> float:
    """Task diversity ``kappa`` of a point's parameters.

    ``None``, ``"inf"`` and ``"infinity"`` (any case) mean a fresh task per prompt
    (``math.inf``); anything else must be a number in (0, inf].

    Raises
    ------
    ValueError
        ``kappa`` not positive (the message names it).
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("inf", "infinity")):
        return math.inf
    return float(check_positive("kappa", value, allow_inf=True))


@dataclass(frozen=True)
class Sizes:
    """Concrete sizes of one simulation instance.

    Attributes
    ----------
    d : int
        Token (covariate) dimension.
    ell : int
        Context length.
    n : int
        Number of pretraining prompts.
    K : int or None
        Task-pool size; ``None`` means a fresh task per prompt (``kappa = inf``).
    reuse : int
        Number of times each pool task is used (``n = reuse * K``); 1 for fresh tasks.
    k : int or None
        MLP width (random transformer and Hermite models only).
    """

    d: int
    ell: int
    n: int
    K: int | None = None
    reuse: int = 1
    k: int | None = None

    @property
    def D(self) -> int:
        """Dimension of vec H_Z, ``d (d + 1)``."""
        return self.d * (self.d + 1)

    @property
    def alpha(self) -> float:
        """Realised ``ell / d``."""
        return self.ell / self.d

    @property
    def tau(self) -> float:
        """Realised ``n / d^2``."""
        return self.n / self.d**2

    @property
    def kappa(self) -> float:
        """Realised ``K / d`` (``inf`` for fresh tasks)."""
        return math.inf if self.K is None else self.K / self.d

    @property
    def width_ratio(self) -> float | None:
        """Realised ``k / n``."""
        return None if self.k is None else self.k / self.n

    def as_dict(self) -> dict:
        """Sizes and realised ratios as a flat dict (for JSON output and stores)."""
        out = asdict(self)
        out.update(alpha_realised=self.alpha, tau_realised=self.tau, kappa_realised=self.kappa,
                   width_ratio_realised=self.width_ratio, D=self.D)
        return out


@dataclass(frozen=True)
class ScalingPath:
    """Ratios of a proportional limit, plus the size-independent model parameters.

    Parameters
    ----------
    alpha : float
        Context length ratio ``ell / d``, in (0, inf).
    tau : float
        Pretraining size ratio ``n / d^2``, in (0, inf).
    kappa : float, default inf
        Task diversity ``K / d``, in (0, inf]; ``inf`` draws a fresh task for every prompt.
    rho : float, default 0
        Label-noise variance, in [0, inf).
    ridge : float, default 0
        Ridge parameter in the convention of the model that uses it (``lambda_LA`` for linear
        attention, ``lambda_bar`` for the random transformer; see the README), in [0, inf).
    width_ratio : float, optional
        ``psi = k / n`` in (0, inf). Mutually exclusive with ``width_d2``.
    width_d2 : float, optional
        ``pi = k / d^2`` in (0, inf).

    Examples
    --------
    >>> path = ScalingPath(alpha=2.0, tau=1.5, kappa=0.5, rho=0.1)
    >>> path.sizes(20)
    Sizes(d=20, ell=40, n=600, K=10, reuse=60, k=None)
    """

    alpha: float
    tau: float
    kappa: float = math.inf
    rho: float = 0.0
    ridge: float = 0.0
    width_ratio: float | None = None
    width_d2: float | None = None

    def __post_init__(self):
        for name in ("alpha", "tau"):
            object.__setattr__(self, name, float(check_positive(name, getattr(self, name))))
        object.__setattr__(self, "kappa", float(check_positive("kappa", self.kappa,
                                                               allow_inf=True)))
        for name in ("rho", "ridge"):
            object.__setattr__(self, name, float(check_nonnegative(name, getattr(self, name))))
        if self.width_ratio is not None and self.width_d2 is not None:
            raise ValueError("give at most one of width_ratio (k = psi n) and width_d2 "
                             "(k = pi d^2)")
        for name in ("width_ratio", "width_d2"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(check_positive(name, getattr(self, name))))

    def sizes(self, d: int) -> Sizes:
        """Concrete sizes at dimension ``d`` (see the module docstring for the rounding)."""
        d = check_int("d", d, minimum=1)
        ell = max(1, _round(self.alpha * d))
        if math.isinf(self.kappa):
            K, reuse = None, 1
            n = max(1, _round(self.tau * d * d))
        else:
            K = max(1, _round(self.kappa * d))
            reuse = max(1, _round(self.tau * d * d / K))
            n = reuse * K
        k = None
        if self.width_ratio is not None:
            k = max(1, _round(self.width_ratio * n))
        elif self.width_d2 is not None:
            k = max(1, _round(self.width_d2 * d * d))
        return Sizes(d=d, ell=ell, n=n, K=K, reuse=reuse, k=k)

    def grid(self, ds) -> list[Sizes]:
        """Sizes along the path for each ``d`` in ``ds``."""
        return [self.sizes(d) for d in ds]
