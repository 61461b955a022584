"""Declarative sweep specifications: a grid and/or an explicit list of parameter points.

A spec is a TOML file or a dict with these top-level keys (all optional except a model)::

    name = "la-vs-alpha"          # free text, not part of the sweep's identity
    description = "..."           # free text, not part of the sweep's identity
    plugins = ["mypkg.models"]    # modules imported first (they register their own models)
    model = "linear-attention"    # a string, or a list (then it is the first grid axis)
    seed = 0                      # sweep seed, integer >= 0 (default 0)
    runs = 8                      # independent runs per point, integer >= 1 (default 1)
    share_seeds_across = ["model"]  # parameters left out of the seed key (default ["model"])

    [params]                      # fixed values, merged into every point
    d = 100
    rho = 0.1

    [grid]                        # cartesian product of the axes (last axis varies fastest)
    alpha = [0.5, 1.0, 2.0]
    kappa = [1.0, 4.0]

    [[points]]                    # extra explicit points (merged over [params])
    alpha = 8.0
    kappa = 1.0

The points are the grid product followed by the explicit points (a single point ``[params]``
when there is neither). Each point must end up with a ``model``. The built-in models are
registered by :mod:`rmt_icl.experiments`, which this module imports; ``plugins`` names further
modules (importable: installed or on ``PYTHONPATH``) that are imported before the points are
expanded, and again by every worker.

Identity of a point and its seeds
---------------------------------
A point's *identity* is ``model`` plus :func:`rmt_icl.core.registry.point_identity` of its
other parameters: the parameters at the model's registered default are dropped, and the
model's schema version is added as ``schema`` when it is above 1. *point_id* is the SHA-256
of the identity's canonical JSON; it names the point in the store. The *seed key* is derived
the same way from the identity **minus** ``share_seeds_across`` (and minus ``schema`` when
``model`` is shared: the schema belongs to the model): its first 63 bits, split into two
32-bit words ``(hi, lo)``, are the ``key`` of :func:`rmt_icl.core.seeding.run_seed`. Hence

* a point's random numbers depend only on its own parameters, the sweep seed and the run
  number -- not on its position in the grid, the other points, the backend or the worker;
  extending a grid or running a sub-grid reproduces the old points' numbers exactly;
* writing a parameter at its default, or adding a new parameter to a model with a default,
  changes neither the seeds nor the store key; bumping a model's schema changes the key,
  so a store made before is refused instead of reused;
* points that differ only in ``model`` (by default) share their random streams, so the linear
  transformer, the random transformer and the Hermite models see the same tasks and prompts
  (common random numbers) -- provided the models agree on the defaults of the parameters the
  points set.

Values are hashed in canonical form (:func:`rmt_icl.core.registry.canonical`): keys sorted,
integral floats written as integers, infinities as ``"Infinity"``; so ``alpha = 1`` and
``alpha = 1.0`` are the same point. Strings are hashed as written, so ``kappa = "inf"`` and
``kappa = inf`` are different points (as in every earlier store), except at a default, where
both are dropped (:func:`rmt_icl.core.registry.same_value`). ``inf`` is allowed
(``kappa = inf`` in TOML), NaN is not.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import itertools
import json
import math
import numbers
import os
import sys
from dataclasses import dataclass, field

import rmt_icl.experiments  # noqa: F401  (registers the built-in models: keys use defaults)
from rmt_icl.core.checks import check_int
from rmt_icl.core.registry import (
    SCHEMA_KEY,
    canonical,
    check_point,
    model_entry,
    model_record,
    point_identity,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: top-level keys a spec may have
SPEC_KEYS = (
    "name", "description", "plugins", "model", "seed", "runs", "share_seeds_across", "params",
    "grid", "points",
)

#: names a parameter may not use: the result table's columns, and the schema key of identities
RESERVED = frozenset({
    "point", "point_id", "run", "status", "error", "traceback", "wall_time", "version", "seed",
    "key", "host", "pid", "attempts", "started_utc", "finished_utc", SCHEMA_KEY,
})


def canonical_json(obj) -> str:
    """Canonical JSON text of a parameter dict (:func:`rmt_icl.core.registry.canonical`, sorted
    keys, no spaces).

    Parameters
    ----------
    obj : dict, list or scalar
        JSON-able value; ``inf`` is written as the string ``"Infinity"``, integral floats as
        integers (NaN is refused).

    Returns
    -------
    str
    """
    return json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(obj) -> str:
    """SHA-256 hex digest of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def identity(params: dict) -> dict:
    """The identity of a point: ``model`` (if any) plus
    :func:`rmt_icl.core.registry.point_identity` of the other parameters.

    Parameters at the model's default are dropped and the model's schema version is added
    when above 1; the parameters of an unknown model (or of a point without ``model``) are
    kept as they are.
    """
    model = params.get("model")
    rest = {k: v for k, v in params.items() if k != "model"}
    if not isinstance(model, str):
        return dict(params)
    return {"model": model, **point_identity(model, rest)}


def point_id(params: dict) -> str:
    """SHA-256 hex digest naming a point (its :func:`identity`) in a store."""
    return digest(identity(params))


def seed_key(params: dict, share_seeds_across=("model",)) -> tuple[int, int]:
    """Seed key ``(hi, lo)`` of a point: 63 bits of the hash of its :func:`identity`.

    Parameters
    ----------
    params : dict
        The point's parameters, ``model`` included.
    share_seeds_across : sequence of str
        Parameter names left out before hashing (points differing only in these share seeds).
        When it holds ``model``, the model's schema version is left out too.

    Returns
    -------
    tuple of int
        ``(hi, lo)`` with ``0 <= hi < 2**31`` and ``0 <= lo < 2**32``.
    """
    shared = set(share_seeds_across)
    if "model" in shared:
        shared.add(SCHEMA_KEY)
    ident = identity(params)
    h = int(digest({k: v for k, v in ident.items() if k not in shared})[:16], 16) >> 1
    return (h >> 32, h & 0xFFFFFFFF)


def import_plugins(plugins) -> tuple:
    """Import the modules named in ``plugins`` (they register their models); return the names.

    Raises
    ------
    ValueError
        ``plugins`` is not a list of module names, or a module cannot be imported (the
        message names it and the import error).
    """
    if isinstance(plugins, str) or not isinstance(plugins, (list, tuple)) \
            or not all(isinstance(m, str) and m.strip() for m in plugins):
        raise ValueError(f"plugins must be a list of module names, got {plugins!r}")
    for module in plugins:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(
                f"plugin {module!r} cannot be imported ({type(exc).__name__}: {exc}); a plugin "
                "is a module name importable here and on every worker (installed, or on "
                "PYTHONPATH)"
            ) from exc
    return tuple(plugins)


@dataclass(frozen=True)
class Point:
    """One parameter point of a sweep.

    Attributes
    ----------
    index : int
        Position in the expanded spec (grid product, then explicit points).
    params : dict
        All parameters, ``model`` included, as written in the spec.
    point_id : str
        SHA-256 hex digest of the canonical JSON of the point's :func:`identity`.
    key : tuple of int
        Seed key ``(hi, lo)``, see :func:`seed_key`.
    """

    index: int
    params: dict
    point_id: str
    key: tuple


@dataclass
class SweepSpec:
    """A validated, expanded sweep specification (build it with :func:`load_spec`).

    Attributes
    ----------
    points : list of Point
    seed : int
    runs : int
    share_seeds_across : tuple of str
    name, description : str
    plugins : tuple of str
        Modules imported before the points were expanded (and by every worker).
    source : dict
        The spec as given (JSON-able), kept for the record.
    """

    points: list
    seed: int = 0
    runs: int = 1
    share_seeds_across: tuple = ("model",)
    name: str = ""
    description: str = ""
    plugins: tuple = ()
    source: dict = field(default_factory=dict)

    @property
    def parameters(self) -> list:
        """Parameter names in order of first appearance (``model`` first)."""
        names = ["model"]
        for p in self.points:
            names += [k for k in p.params if k not in names]
        return names

    @property
    def models(self) -> list:
        """Distinct model names, in order of first appearance."""
        return list(dict.fromkeys(p.params["model"] for p in self.points))

    def identity(self) -> dict:
        """What makes two specs the same sweep: seed, runs, shared-seed names, the point set."""
        return {
            "seed": self.seed,
            "runs": self.runs,
            "share_seeds_across": sorted(self.share_seeds_across),
            "points": sorted(p.point_id for p in self.points),
        }

    def fingerprint(self) -> str:
        """SHA-256 of :meth:`identity`; equal fingerprints mean interchangeable results."""
        return digest(self.identity())

    def model_records(self) -> dict:
        """Schema and defaults of each registered model of the spec
        (:func:`rmt_icl.core.registry.model_record`), recorded by a store."""
        records = {m: model_record(m) for m in self.models}
        return {m: r for m, r in records.items() if r is not None}

    def check(self) -> None:
        """Check every point before anything runs: its model is registered, its parameters
        pass the model's own check, and its key was computed with the model as registered now.

        Raises
        ------
        ValueError
            Naming the point (index and parameters), the model and the bad parameter.
        """
        for p in self.points:
            model = p.params["model"]
            rest = {k: v for k, v in p.params.items() if k != "model"}
            try:
                model_entry(model)
                check_point(model, rest)
            except ValueError as exc:
                raise ValueError(f"point {p.index} ({canonical_json(p.params)}): {exc}") from exc
            if point_id(p.params) != p.point_id:
                raise ValueError(
                    f"point {p.index} ({canonical_json(p.params)}): its key was computed before "
                    f"model {model!r} was registered as it is now (defaults or schema); load "
                    "the spec again"
                )


def load_spec(spec) -> SweepSpec:
    """Build a :class:`SweepSpec` from a TOML path, a dict or an existing spec.

    Parameters
    ----------
    spec : SweepSpec, dict, str or os.PathLike
        A path is read as TOML (see the module docstring for the format).

    Returns
    -------
    SweepSpec

    Raises
    ------
    ValueError
        Unknown keys, bad values, a point without a model, duplicate points or reserved
        parameter names; the message names the offending key or point.
    """
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ValueError(f"spec file {path!r} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"spec file {path!r} is not valid TOML: {exc}") from exc
        return from_dict(data)
    if isinstance(spec, dict):
        return from_dict(spec)
    raise ValueError(f"spec must be a SweepSpec, a dict or a path to a TOML file, got {spec!r}")


def from_dict(data: dict) -> SweepSpec:
    """Validate and expand a spec given as a dict (same keys as the TOML file)."""
    data = copy.deepcopy(dict(data))
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"spec has unknown key(s) {unknown}; allowed keys are {list(SPEC_KEYS)}")
    plugins = import_plugins(data.get("plugins", []))
    seed = check_int("seed", data.get("seed", 0), minimum=0)
    runs = check_int("runs", data.get("runs", 1), minimum=1)
    shared = data.get("share_seeds_across", ["model"])
    if isinstance(shared, str) or not all(isinstance(s, str) for s in shared):
        raise ValueError(f"share_seeds_across must be a list of parameter names, got {shared!r}")
    for key in ("name", "description"):
        if not isinstance(data.get(key, ""), str):
            raise ValueError(f"{key} must be a string, got {data[key]!r}")
    base = _table(data, "params")
    grid = _table(data, "grid")
    if "model" in data:
        model = data["model"]
        if "model" in base or "model" in grid:
            raise ValueError("model is given both at the top level and in [params]/[grid]")
        if isinstance(model, list):  # the first (slowest) grid axis
            grid = {"model": model, **grid}
        else:
            base["model"] = model
    explicit = data.get("points", [])
    if not isinstance(explicit, list) or not all(isinstance(p, dict) for p in explicit):
        raise ValueError("points must be a list of tables ([[points]] in TOML)")

    raw = []
    if grid:
        axes = {k: (v if isinstance(v, list) else [v]) for k, v in grid.items()}
        for name, values in axes.items():
            if not values:
                raise ValueError(f"grid axis {name!r} is empty; give at least one value")
            clash = name in base
            if clash:
                raise ValueError(f"parameter {name!r} is both in [params] and in [grid]")
        for combo in itertools.product(*axes.values()):
            raw.append({**base, **dict(zip(axes, combo, strict=True))})
    raw += [{**base, **p} for p in explicit]
    if not raw:
        raw = [dict(base)]

    points, seen = [], {}
    for i, params in enumerate(raw):
        params = {k: _check_param(k, v, i) for k, v in sorted(params.items(),
                                                               key=lambda kv: kv[0] != "model")}
        if not isinstance(params.get("model"), str) or not params["model"]:
            raise ValueError(
                f"point {i} ({canonical_json(params)}) has no model; set model = \"NAME\" "
                "at the top level, in [params], [grid] or the point itself"
            )
        pid = point_id(params)
        if pid in seen:
            raise ValueError(
                f"points {seen[pid]} and {i} are the same point {canonical_json(params)} "
                "(parameters at the model's default do not count); remove the duplicate"
            )
        seen[pid] = i
        points.append(Point(i, params, pid, seed_key(params, shared)))
    return SweepSpec(
        points=points, seed=seed, runs=runs, share_seeds_across=tuple(shared),
        name=data.get("name", ""), description=data.get("description", ""), plugins=plugins,
        source=json.loads(json.dumps(data, default=str)),
    )


def _table(data: dict, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a table of name = value pairs, got {value!r}")
    return dict(value)


def _check_param(name, value, index):
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"parameter name {name!r} (point {index}) must be a Python identifier")
    if name in RESERVED:
        raise ValueError(
            f"parameter name {name!r} (point {index}) is reserved for a result column; "
            f"reserved names are {sorted(RESERVED)}"
        )
    return _check_value(name, value, index)


def _check_value(name, value, index):
    """Return ``value`` as plain Python (numpy scalars unwrapped); reject non-JSON values."""
    if isinstance(value, (list, tuple)):
        return [_check_value(name, v, index) for v in value]
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            raise ValueError(f"parameter {name!r} (point {index}) must not be NaN")
        return value
    raise ValueError(
        f"parameter {name!r} (point {index}) must be a string, bool, number or list of those, "
        f"got {value!r} ({type(value).__name__})"
    )
