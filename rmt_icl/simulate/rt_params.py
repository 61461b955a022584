"""Parameters of a random-transformer run: the point parameters and the model-name language.

* :func:`parse_rt_params` validates a point's parameter dict (the sweep contract: ``d``,
  ``alpha``, ``tau``, a width and the options of :data:`POINT_DEFAULTS`) and returns the
  :class:`~rmt_icl.simulate.paths.ScalingPath`, the sizes at ``d`` and the resolved options;
* :func:`parse_models` turns model names such as ``"rt, hermite:1..4, linear"`` into the
  canonical list ``["rt", "hermite:1", ..., "hermite:4", "linear"]``.

Data sources and the gradient step (Demir & Dogan, NeurIPS 2025, arXiv:2510.25753)
-----------------------------------------------------------------------------------
``sources`` (a list of dicts, :mod:`~rmt_icl.simulate.sources`) or the flat, sweepable keys of
the two-source model -- ``mixture`` (``P(s = 1)``), ``input_spike`` and ``task_spike`` (of
source 1), ``noise0`` and ``noise1`` (standard deviations) -- set the data sources; absent,
one isotropic source with the point's ``target`` and ``rho`` (today's data). ``step_size``
(>= 0, ``eta = step_size d^2``, :mod:`~rmt_icl.simulate.gradient_step`) takes one gradient
step on ``F`` before the fit. Each new key's default means "absent", so existing points keep
their numbers and their keys.
"""

from __future__ import annotations

import math
import re

from rmt_icl.core.checks import check_int, check_nonnegative
from rmt_icl.core.targets import get_target
from rmt_icl.hermite import MAX_DEGREE, activation_names
from rmt_icl.simulate.gradient_step import check_step_size
from rmt_icl.simulate.normalisation import parse_y2_scale
from rmt_icl.simulate.paths import ScalingPath, Sizes, parse_kappa
from rmt_icl.simulate.rt_resources import memory_budget
from rmt_icl.simulate.sources import FLAT_DEFAULTS, parse_data_model

__all__ = ["COMPANION_DEFAULTS", "FOREIGN_PARAMS", "NORMALISATIONS", "POINT_DEFAULTS",
           "Y2_IMPLICIT", "Y2_KEY_DEFAULT", "check_degree", "parse_models", "parse_rt_params",
           "parse_y2_scale"]

#: the keys of the data sources and the gradient step, at their defaults (each meaning
#: "absent"; registered with the sweep models so that points without them keep their keys)
COMPANION_DEFAULTS = {"sources": None, **FLAT_DEFAULTS, "step_size": 0.0}
#: the y^2-column scale: its default was 1 (Lu et al.'s scaling) up to rmt_icl 0.2 and is now
#: Demir & Dogan's ``"companion"`` (sqrt(d)). Registered with the sweep models as a key default
#: of 1 (a point spelling ``y2_scale = 1`` keeps its old key and seeds) and as an implicit
#: default (a point leaving it out has ``"companion"`` written into its key, so a store made
#: under the old default is refused; :func:`rmt_icl.core.registry.point_identity`)
Y2_KEY_DEFAULT = {"y2_scale": 1.0}
Y2_IMPLICIT = {"y2_scale": "companion"}
#: optional parameters of the point functions and their defaults
POINT_DEFAULTS = {
    "kappa": math.inf, "rho": 0.0, "ridge": 0.0, "width_ratio": None, "width_d2": None,
    "activation": "relu", "target": "linear", "degree": 4, "y2_scale": "companion",
    "n_test": None,
    "test_queries": 8, "normalisation": "analytic", "ridge_la": None, "memory_budget": None,
    "chunk": None, **COMPANION_DEFAULTS,
}
#: keys of other models that may share a sweep grid; accepted and ignored
FOREIGN_PARAMS = frozenset({"method", "label", "model"})
NORMALISATIONS = ("analytic", "estimate")


def check_degree(value) -> int:
    """A Hermite degree: an integer in ``[0, MAX_DEGREE]``."""
    return check_int("degree", value, minimum=0, maximum=MAX_DEGREE)


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
        integer in ``[0, MAX_DEGREE]``), ``y2_scale`` (> 0, ``"la"`` (1) or ``"companion"``
        (``sqrt(d)``, the default)),
        ``n_test`` (test queries per test set, default ``max(4000, n)``), ``test_queries``
        (queries per test context, >= 1), ``normalisation`` (``"analytic"`` or
        ``"estimate"``), ``ridge_la`` (linear transformer ridge in Lu's units; default
        ``d t ridge / n``), ``memory_budget`` (bytes), ``chunk`` (rows per chunk of the
        feature passes); ``sources`` or ``mixture``, ``input_spike``, ``task_spike``,
        ``noise0``, ``noise1`` (data sources, :func:`~rmt_icl.simulate.sources.parse_data_model`)
        and ``step_size`` (gradient step on ``F``, >= 0).
    need_width : bool
        Require a width (False for the linear transformer alone).

    Returns
    -------
    path : rmt_icl.simulate.paths.ScalingPath
    sizes : rmt_icl.simulate.paths.Sizes
    opts : dict
        The options of :data:`POINT_DEFAULTS`, resolved: ``target`` a
        :class:`~rmt_icl.core.targets.Target`, ``y2_scale`` a float, ``n_test`` an int,
        ``memory_budget`` in bytes, ``step_size`` a float; plus ``data``, the
        :class:`~rmt_icl.simulate.sources.DataModel`.

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
    path = ScalingPath(alpha=params["alpha"], tau=params["tau"],
                       kappa=parse_kappa(opts["kappa"]), rho=opts["rho"], ridge=opts["ridge"],
                       width_ratio=opts["width_ratio"], width_d2=opts["width_d2"])
    sizes = path.sizes(d)
    opts["y2_scale"] = parse_y2_scale(opts["y2_scale"], d)
    opts["target"] = get_target(opts["target"])
    opts["degree"] = check_degree(opts["degree"])
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
    opts["step_size"] = check_step_size(opts["step_size"])
    opts["data"] = parse_data_model(opts, target=opts["target"], rho=path.rho,
                                    kappa=path.kappa)
    return path, sizes, opts


_HERMITE = re.compile(r"^hermite(?::(.*))?$")


def _rt_name(spec, s: str) -> str:
    act = s[3:].strip()
    act = "identity" if act == "linear" else act
    if act not in activation_names():
        raise ValueError(f"model {spec!r}: activation must be one of {activation_names()}")
    return f"rt:{act}"


def _hermite_degrees(spec, arg: str | None, degree) -> list[int]:
    if arg is None or arg == "":
        return [check_degree(degree)]
    if ".." in arg:
        lo, hi = arg.split("..", 1)
        lo = check_degree(int(lo)) if lo.strip() else 0
        return list(range(lo, check_degree(int(hi)) + 1))
    try:
        degrees = [int(x) for x in arg.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"model {spec!r}: Hermite degrees must be integers in "
                         f"[0, {MAX_DEGREE}]") from None
    return [check_degree(p) for p in degrees]


def parse_models(models, *, degree: int = 4) -> list[str]:
    """Normalise a model list to canonical names ``rt``, ``rt:NAME``, ``hermite:P``, ``linear``.

    Accepted spellings: ``"rt"``/``"random-transformer"``, ``"rt:NAME"`` (the RT with the
    registered activation ``NAME`` instead of the point's, e.g. ``"rt:tanh"``: several
    activations on the same prompts and ``F``), ``"linear"``/``"linear-transformer"``,
    ``"hermite"`` (degree ``degree``), ``"hermite:P"``, ``"hermite:P1..P2"`` (inclusive range)
    and ``"hermite:P1,P2,..."``; a comma-separated string of these works too. Duplicates are
    dropped, order kept.

    Raises
    ------
    ValueError
        An unknown name, an unregistered activation, or a degree outside
        ``[0, MAX_DEGREE]``.
    """
    if isinstance(models, str):
        models = [m for m in re.split(r"[;\s]+|,(?![\d.])", models) if m]
    out: list[str] = []
    for spec in models:
        s = str(spec).strip().lower()
        if s in ("rt", "random-transformer", "random_transformer"):
            names = ["rt"]
        elif s.startswith("rt:"):
            names = [_rt_name(spec, s)]
        elif s in ("linear", "linear-transformer", "linear_transformer", "lt"):
            names = ["linear"]
        else:
            m = _HERMITE.match(s)
            if m is None:
                raise ValueError(f"unknown model {spec!r}; use 'rt', 'rt:ACTIVATION', 'linear', "
                                 f"'hermite', 'hermite:P', 'hermite:P1..P2' or 'hermite:P1,P2'")
            names = [f"hermite:{p}" for p in _hermite_degrees(spec, m.group(1), degree)]
        for name in names:
            if name not in out:
                out.append(name)
    if not out:
        raise ValueError("models must name at least one model")
    return out
