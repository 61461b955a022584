"""The one model registry: model name -> point function, its defaults and its schema version.

A *model* is a function computing ONE run of one parameter point::

    point(params: dict, seed: numpy.random.SeedSequence) -> dict

* ``params`` holds the point's parameters as written in the spec, **without** ``model``.
* ``seed`` is the run's :class:`numpy.random.SeedSequence`
  (:func:`rmt_icl.core.seeding.run_seed`); derive every random number from it, e.g. with
  :func:`rmt_icl.core.seeding.stream`.
* It returns a flat dict of JSON-able scalars (float, int, bool, str, None; numpy scalars are
  accepted) containing at least ``"icl"`` and ``"idg"`` (floats, NaN when not defined), and
  optionally ``"theory_icl"``, ``"theory_idg"``, realised sizes (``"d"``, ``"ell"``, ``"K"``,
  ``"n"``, ``"k"``) and timings.
* Raising an exception marks the run as failed; the sweep records the message and goes on.

Each entry (:class:`ModelEntry`) also carries

* ``defaults``: parameter values that the model assumes when a parameter is absent. A
  parameter at its default is dropped before a point is hashed (:func:`point_identity`;
  values are compared by :func:`same_value`, so ``1`` equals ``1.0`` and ``"inf"`` equals
  ``inf``), so adding a parameter to a model keeps every existing seed and store valid. A
  sweep store records the defaults (:func:`model_record`) and refuses to resume when one of
  them has changed. The built-in models register the parameters added since their keys were
  first fixed (rmt_icl 0.1.0): a parameter of 0.1.0 spelled out at its default keeps the key
  it always had, so existing stores and the figures' seeds are unchanged;
* ``schema``: an integer bumped whenever the model's numbers change for the same parameters
  (a changed default, a changed statistic). It is part of the point's identity, so stores
  made by an older schema are refused instead of silently reused;
* ``check``: the model's own parameter check, run on every point of a sweep before anything
  is computed (a bad value raises :class:`ValueError` naming the parameter).

The built-in models are registered by :mod:`rmt_icl.experiments` when it is imported; a user
model is registered with :func:`register_model`, either as a callable (module-level, so that
the ``processes`` and ``dask`` backends can pickle it) or as a ``"package.module:function"``
path imported on first use.
"""

from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelEntry:
    """A registered model (see the module docstring).

    Attributes
    ----------
    name : str
    point : callable or str
        The point function, or its ``"package.module:function"`` path.
    defaults : mapping
        Parameter name -> default value; parameters at their default are dropped from keys.
    schema : int
        Version of the model's numbers, part of every point key (``>= 1``).
    check : callable or None
        ``check(params) -> None``; raises ``ValueError`` for a bad point.
    description : str
    implicit : mapping
        Parameter name -> the model's *current* default, for parameters whose default changed
        after keys were fixed: a point that leaves one out has it written into its identity
        (:func:`point_identity`), so its key says what it means and a store made under the old
        default is not reused.
    """

    name: str
    point: object
    defaults: Mapping = field(default_factory=dict)
    schema: int = 1
    check: Callable | None = None
    description: str = ""
    implicit: Mapping = field(default_factory=dict)


#: key of the schema version in :func:`point_identity` (only when the schema is above 1)
SCHEMA_KEY = "schema"

#: registered models: name -> ModelEntry
MODELS: dict[str, ModelEntry] = {}

_RESOLVED: dict = {}


def known_models() -> list:
    """Sorted names of the registered models."""
    return sorted(MODELS)


def register_model(name: str, point, *, defaults: Mapping | None = None, schema: int = 1,
                   check: Callable | None = None, description: str = "",
                   implicit: Mapping | None = None, overwrite: bool = False) -> ModelEntry:
    """Register a point function under ``name``.

    Parameters
    ----------
    name : str
        Model name used in specs (``model = "NAME"``).
    point : callable or str
        The point function, or ``"package.module:function"`` (imported when first used).
        Use a module-level function or a path for the ``processes`` and ``dask`` backends:
        the function is sent to the workers by pickling (a path is always safe).
    defaults : mapping, optional
        Parameter values the model assumes when absent; dropped from point keys.
    schema : int
        Version of the model's numbers (``>= 1``); bump it when they change.
    check : callable, optional
        ``check(params)`` raising ``ValueError`` for a bad point; run before a sweep starts.
    description : str
        One line for listings.
    implicit : mapping, optional
        Changed defaults (:class:`ModelEntry`): written into the identity of a point that
        leaves them out. A parameter may be in both ``defaults`` (its old value, dropped from
        keys so that points spelling it keep their old keys) and ``implicit`` (its new value).
    overwrite : bool
        Replace an existing entry (default: refuse).

    Returns
    -------
    ModelEntry

    Raises
    ------
    ValueError
        Empty name, a malformed path, a schema below 1, or an existing name without
        ``overwrite=True``.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"model name must be a non-empty string, got {name!r}")
    if isinstance(point, str):
        _split(name, point)
    elif not callable(point):
        raise ValueError(
            f"model {name!r} must be a callable or a 'module:function' string, got {point!r}"
        )
    if isinstance(schema, bool) or not isinstance(schema, numbers.Integral) or schema < 1:
        raise ValueError(f"schema of model {name!r} must be an integer >= 1, got {schema!r}")
    if check is not None and not callable(check):
        raise ValueError(f"check of model {name!r} must be callable, got {check!r}")
    entry = ModelEntry(name, point, dict(defaults or {}), int(schema), check, description,
                       dict(implicit or {}))
    old = MODELS.get(name)
    if old is not None and not overwrite and old.point is not point:
        raise ValueError(
            f"model {name!r} is already registered as {old.point!r}; "
            "pass overwrite=True to replace it"
        )
    MODELS[name] = entry
    _RESOLVED.pop(name, None)
    return entry


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``.

    Raises
    ------
    ValueError
        Unknown model name (the message lists the known ones).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models are {known_models()}")
    return MODELS[name]


def model_target(name: str):
    """What a worker needs to find the model: its ``"module:function"`` path or the callable."""
    return model_entry(name).point


def get_model(name: str):
    """Import and return the point function of model ``name``.

    Raises
    ------
    ValueError
        Unknown model, or a registered model that cannot be imported; the message names the
        model, its path, the import error and the known models.
    """
    target = model_target(name)
    cached = _RESOLVED.get(name)
    if cached is not None and cached[0] is target:
        return cached[1]
    func = resolve_target(target, name)
    _RESOLVED[name] = (target, func)
    return func


def resolve_target(target, name: str = "?"):
    """Turn a registry entry's point (callable or ``"module:function"``) into the callable."""
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


def check_point(name: str, params: dict) -> None:
    """Run model ``name``'s own parameter check on ``params`` (without ``model``).

    Raises
    ------
    ValueError
        Unknown model, or a bad parameter (the check's ``ValueError`` or ``TypeError``,
        re-raised as ``ValueError`` naming the model; the check names the parameter).
    """
    entry = model_entry(name)
    if entry.check is None:
        return
    try:
        entry.check(dict(params))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"model {name!r}: {exc}") from exc


#: spellings of +-infinity that models accept as strings (``kappa = "inf"``), any case
_INF_STRINGS = {"inf": math.inf, "+inf": math.inf, "infinity": math.inf, "+infinity": math.inf,
                "-inf": -math.inf, "-infinity": -math.inf}


def canonical(value):
    """The canonical, JSON-able form of a parameter value, as hashed into point keys.

    * integral floats become ints (``1.0`` -> ``1``; ``-0.0`` -> ``0``), other floats stay;
    * infinities become the strings ``"Infinity"`` / ``"-Infinity"``;
    * numpy scalars become Python scalars, tuples become lists, dict keys become strings;
    * bools, strings and ``None`` are kept (``True`` is not ``1``).

    Strings are hashed as written: ``kappa = "inf"`` and ``kappa = inf`` are different keys,
    as they were in every store made before (:func:`same_value` treats them as equal when
    comparing with a default). NaN is kept as a float (it equals nothing; a spec refuses it).
    """
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer():
            return int(value)
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # numpy bool, str
        return canonical(value.item())
    return value


def same_value(value, default) -> bool:
    """Whether a parameter value equals a default: equal :func:`canonical` forms, where a
    string spelling of infinity (``"inf"``, ``"+Infinity"``, ``"-inf"``, any case) counts as
    the number.

    NaN equals NaN, and a bool equals only a bool.
    """
    a, b = canonical(_number_if_inf(value)), canonical(_number_if_inf(default))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):  # True is not 1
        return a is b
    return a == b


def _number_if_inf(value):
    if isinstance(value, str):
        return _INF_STRINGS.get(value.strip().lower(), value)
    return value


def point_identity(name: str, params: dict) -> dict:
    """The parameters that identify a point of model ``name``: hashed for stores and seeds.

    A parameter of the model's ``implicit`` defaults that the point leaves out is written in at
    its current default; then parameters at the model's (key) default value (compared by
    :func:`same_value`: ``1`` equals ``1.0`` and ``"inf"`` equals ``inf``) are dropped, and the
    model's schema version is
    added as ``"schema"`` when it is above 1 (schema 1 adds nothing, so a point of a model
    that never changed, written without its defaults, keeps its key). Unknown models are
    returned unchanged.

    Parameters
    ----------
    name : str
        Model name.
    params : dict
        The point's parameters, without ``model``.

    Returns
    -------
    dict
        A new dict (the values as given, not canonicalised).

    Raises
    ------
    ValueError
        ``params`` holds a parameter named ``"schema"`` for a model whose schema is above 1
        (the name is the key's).
    """
    entry = MODELS.get(name)
    if entry is None:
        return dict(params)
    full = {**entry.implicit, **params}
    out = {k: v for k, v in full.items()
           if not (k in entry.defaults and same_value(v, entry.defaults[k]))}
    if entry.schema > 1:
        if SCHEMA_KEY in out:
            raise ValueError(f"model {name!r}: a parameter may not be named {SCHEMA_KEY!r}; "
                             "that name holds the model's schema version in point keys")
        out[SCHEMA_KEY] = entry.schema
    return out


def model_record(name: str) -> dict | None:
    """What a store records of model ``name`` to notice a change later: its schema and its
    canonical defaults (:func:`canonical`); None for an unknown model."""
    entry = MODELS.get(name)
    if entry is None:
        return None
    record = {"schema": entry.schema,
              "defaults": {k: _recordable(canonical(v)) for k, v in entry.defaults.items()}}
    if entry.implicit:  # recorded only where used, so older stores' records stay equal
        record["implicit"] = {k: _recordable(canonical(v)) for k, v in entry.implicit.items()}
    return record


def _recordable(value):
    """``value`` if it is JSON-able, else its ``repr`` (a default that is an object)."""
    if isinstance(value, list):
        return [_recordable(v) for v in value]
    if isinstance(value, dict):
        return {k: _recordable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return "NaN" if isinstance(value, float) and math.isnan(value) else value
    return repr(value)


def _split(name: str, path: str) -> tuple:
    module_name, sep, func_name = path.partition(":")
    if not sep or not module_name or not func_name:
        raise ValueError(
            f"model {name!r}: path must look like 'package.module:function', got {path!r}"
        )
    return module_name, func_name
