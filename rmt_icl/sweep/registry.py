"""Model registry: model name -> point function, imported lazily.

A *model* is a function computing ONE run of one parameter point::

    point(params: dict, seed: numpy.random.SeedSequence) -> dict

* ``params`` holds the point's parameters as written in the spec, **without** ``model``.
* ``seed`` is the run's :class:`numpy.random.SeedSequence`
  (:func:`rmt_icl.simulate.seeding.run_seed`); derive every random number from it, e.g. with
  :func:`rmt_icl.simulate.seeding.stream`.
* It returns a flat dict of JSON-able scalars (float, int, bool, str, None; numpy scalars are
  accepted) containing at least ``"icl"`` and ``"idg"`` (floats, NaN when not defined), and
  optionally ``"theory_icl"``, ``"theory_idg"``, realised sizes (``"d"``, ``"ell"``, ``"K"``,
  ``"n"``, ``"k"``) and timings.
* Raising an exception marks the run as failed; the sweep records the message and goes on.

Entries are ``"module:function"`` strings, imported only when a sweep uses them, so a
registered model whose module does not exist yet costs nothing until it is asked for. Register
your own with :func:`register_model`.
"""

from __future__ import annotations

import importlib

#: built-in models: name -> "module:function"
MODELS: dict = {
    "linear-attention": "rmt_icl.simulate.linear_attention:simulate_point",
    "linear-transformer": "rmt_icl.simulate.linear_transformer:simulate_point",
    "random-transformer": "rmt_icl.simulate.random_transformer:simulate_point_rt",
    "hermite": "rmt_icl.simulate.random_transformer:simulate_point_hermite",
    "rt-equivalence": "rmt_icl.equivalence:equivalence_point",
    "rt-paired": "rmt_icl.equivalence:paired_point",
    "rt-theory": "rmt_icl.rt_theory_validation:theory_point",
    # cheap closed-form model with Monte Carlo noise, for tests and demos only
    "toy": "rmt_icl.sweep.toy:toy_point",
}

_RESOLVED: dict = {}


def known_models() -> list:
    """Sorted names of the registered models."""
    return sorted(MODELS)


def register_model(name: str, func_or_path, *, overwrite: bool = False) -> None:
    """Register a point function under ``name``.

    Parameters
    ----------
    name : str
        Model name used in specs (``model = "NAME"``).
    func_or_path : callable or str
        The point function, or ``"package.module:function"`` (imported when first used).
        Use a module-level function or a path for the ``processes`` and ``dask`` backends:
        the function is sent to the workers by pickling (a path is always safe).
    overwrite : bool
        Replace an existing entry (default: refuse).

    Raises
    ------
    ValueError
        Empty name, a malformed path, or an existing name without ``overwrite=True``.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"model name must be a non-empty string, got {name!r}")
    if isinstance(func_or_path, str):
        _split(name, func_or_path)
    elif not callable(func_or_path):
        raise ValueError(
            f"model {name!r} must be a callable or a 'module:function' string, "
            f"got {func_or_path!r}"
        )
    if name in MODELS and not overwrite and MODELS[name] is not func_or_path:
        raise ValueError(
            f"model {name!r} is already registered as {MODELS[name]!r}; "
            "pass overwrite=True to replace it"
        )
    MODELS[name] = func_or_path
    _RESOLVED.pop(name, None)


def model_target(name: str):
    """What a worker needs to find the model: its ``"module:function"`` path or the callable.

    Raises
    ------
    ValueError
        Unknown model name (the message lists the known ones).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models are {known_models()}")
    return MODELS[name]


def get_model(name: str):
    """Import and return the point function of model ``name``.

    Raises
    ------
    ValueError
        Unknown model, or a registered model that cannot be imported (yet); the message names
        the model, its path, the import error and the known models.
    """
    target = model_target(name)
    cached = _RESOLVED.get(name)
    if cached is not None and cached[0] is target:
        return cached[1]
    func = resolve_target(target, name)
    _RESOLVED[name] = (target, func)
    return func


def resolve_target(target, name: str = "?"):
    """Turn a registry entry (callable or ``"module:function"``) into the callable."""
    if callable(target):
        return target
    module_name, func_name = _split(name, target)
    try:
        module = importlib.import_module(module_name)
        func = getattr(module, func_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"model {name!r} is registered as {target!r} but cannot be imported "
            f"({type(exc).__name__}: {exc}); known models are {known_models()}"
        ) from exc
    if not callable(func):
        raise ValueError(f"model {name!r}: {target!r} is not callable")
    return func


def _split(name: str, path: str) -> tuple:
    module_name, sep, func_name = path.partition(":")
    if not sep or not module_name or not func_name:
        raise ValueError(
            f"model {name!r}: path must look like 'package.module:function', got {path!r}"
        )
    return module_name, func_name
