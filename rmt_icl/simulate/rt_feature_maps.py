r"""Feature maps on the pre-activations ``u = F vec H_Z``: the RT's ``sigma``, Hermite models.

* **Random transformer**: ``s = sigma(u)``.
* **Hermite model of degree p**: ``s = sum_{j<=p} c_j He_j(u) + c*_p z`` with
  ``c_j = E[sigma(G) He_j(G)]/j!`` and ``c*_p = (E sigma^2 - sum_{j<=p} j! c_j^2)^{1/2}``
  (:mod:`rmt_icl.hermite`), ``z`` i.i.d. ``N(0, 1)`` per (prompt, neuron)
  (:class:`~rmt_icl.simulate.rt_features.NoiseField`).

The features are left unscaled: the models use ``phi = s / sqrt(k)`` through the equivalent
unscaled ridge problem (:mod:`rmt_icl.simulate.rt_fit`). ReLU and tanh from the activation
registry are evaluated straight into the feature buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas

from rmt_icl.hermite import get_activation, hermite_expansion, hermite_series

__all__ = ["FeatureMap", "apply_feature_map", "feature_maps", "inplace_form"]


@dataclass(frozen=True)
class FeatureMap:
    """One random-features model on ``u = F vec H_Z``: the RT or a Hermite model.

    Attributes
    ----------
    name : str
        ``"rt"``, ``"rt:NAME"`` or ``"hermite:P"``.
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
        """Whether the map adds Hermite noise (a Hermite model with ``c*_p > 0``)."""
        return self.degree is not None and self.residual > 0.0


#: activations evaluated straight into the feature buffer (no temporary); same values as
#: the registry's implementations
_INPLACE = {
    "relu": lambda u, out: np.maximum(u, 0.0, out=out),
    "tanh": lambda u, out: np.tanh(u, out=out),
}


def inplace_form(act):
    """The in-place form ``f(u, out)`` of a *registry* activation (same implementation), else
    None (a user callable that only shares the name, or a parametrised activation)."""
    name = getattr(act, "name", None)
    if name not in _INPLACE or getattr(act, "params", None):
        return None
    return _INPLACE[name] if getattr(get_activation(name), "func", None) is act.func else None


def apply_feature_map(fm: FeatureMap, u: np.ndarray, z, out: np.ndarray) -> np.ndarray:
    """Unscaled features ``s = sigma(u)`` (RT) or ``sum c_j He_j(u) + c* z`` (Hermite).

    Parameters
    ----------
    fm : FeatureMap
    u : ndarray
        Pre-activations.
    z : ndarray or None
        Hermite noise of the same shape (used when ``fm.needs_noise``).
    out : ndarray
        Buffer of ``u``'s shape, C-contiguous.

    Returns
    -------
    ndarray
        ``out``, or a new array for an activation without an in-place form.
    """
    if fm.degree is None:
        inplace = fm.inplace
        if inplace is None:
            return fm.activation(u)
        inplace(u, out)
        return out
    hermite_series(u, fm.coefficients, out=out)
    if fm.needs_noise:
        blas.daxpy(z.reshape(-1), out.reshape(-1), a=fm.residual)
    return out


def feature_maps(names: list[str], activation) -> list[FeatureMap]:
    """The feature maps of canonical model names (:func:`~rmt_icl.simulate.rt_params.parse_models`).

    ``"rt"`` and ``"hermite:P"`` use ``activation`` (the point's), ``"rt:NAME"`` the registered
    activation ``NAME``; other names (``"linear"``) have no feature map and are skipped.
    """
    act = get_activation(activation)
    maps = []
    for name in names:
        if name == "rt":
            maps.append(FeatureMap("rt", act, inplace=inplace_form(act)))
        elif name.startswith("rt:"):
            other = get_activation(name[3:])
            maps.append(FeatureMap(name, other, inplace=inplace_form(other)))
        elif name.startswith("hermite:"):
            p = int(name.split(":")[1])
            e = hermite_expansion(act, p)
            maps.append(FeatureMap(name, act, p, np.array(e.coefficients, dtype=np.float64),
                                   float(e.residual)))
    return maps
