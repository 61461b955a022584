"""Sweep specs: expansion, validation, plugins, and the point keys (ids and seeds)."""

import math
import pathlib

import numpy as np
import pytest

import tests.support.toy_model  # noqa: F401  (registers "toy")
from rmt_icl.core import registry
from rmt_icl.core.registry import canonical, point_identity, register_model, same_value
from rmt_icl.core.seeding import run_seed
from rmt_icl.sweep.spec import canonical_json, digest, load_spec, point_id, seed_key, tomllib
from tests.support.toy_model import DEFAULTS as TOY_DEFAULTS
from tests.support.toy_model import toy_point

#: models that simulate on the random transformer's prompts and share their seeds
RT_FAMILY = ("random-transformer", "hermite", "linear-transformer", "rt-paired",
             "rt-equivalence", "rt-theory")


@pytest.fixture
def models(monkeypatch):
    """A private copy of the registry: models registered in a test vanish after it."""
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))
    monkeypatch.setattr(registry, "_RESOLVED", {})
    return registry.MODELS


def base(**kw):
    spec = {"model": "toy", "seed": 3, "runs": 2, "params": {"d": 10},
            "grid": {"alpha": [0.5, 1.0, 2.0], "kappa": [1.0, 4.0]}}
    spec.update(kw)
    return spec


def test_grid_expansion_order_and_merge():
    s = load_spec(base(points=[{"alpha": 8.0, "kappa": 1.0, "d": 20}]))
    combos = [(p.params["alpha"], p.params["kappa"]) for p in s.points]
    assert combos == [(0.5, 1.0), (0.5, 4.0), (1.0, 1.0), (1.0, 4.0), (2.0, 1.0), (2.0, 4.0),
                      (8.0, 1.0)]
    assert [p.index for p in s.points] == list(range(7))
    assert all(p.params["model"] == "toy" for p in s.points)
    assert s.points[-1].params["d"] == 20 and s.points[0].params["d"] == 10
    assert s.parameters == ["model", "d", "alpha", "kappa"]
    assert (s.seed, s.runs) == (3, 2)


def test_single_point_and_model_axis():
    s = load_spec({"model": "toy", "params": {"alpha": 1.0}})
    assert len(s.points) == 1 and s.runs == 1 and s.seed == 0
    s = load_spec({"model": ["toy", "other"], "grid": {"alpha": [1.0, 2.0]}})
    assert [p.params["model"] for p in s.points] == ["toy", "toy", "other", "other"]
    assert s.models == ["toy", "other"]


def test_toml_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        'model = "toy"\nseed = 1\nruns = 3\n[params]\nd = 5\n[grid]\nalpha = [1.0, 2.0]\n'
        '[[points]]\nalpha = 9.0\n'
    )
    s = load_spec(path)
    assert len(s.points) == 3 and s.runs == 3
    assert s.fingerprint() == load_spec(str(path)).fingerprint()
    assert s.source["grid"] == {"alpha": [1.0, 2.0]}


def test_extending_a_grid_keeps_old_seeds():
    small = load_spec(base())
    big = load_spec(base(grid={"alpha": [0.25, 0.5, 1.0, 2.0, 4.0], "kappa": [4.0, 1.0, 2.0]}))
    keys = {p.point_id: p.key for p in big.points}
    for p in small.points:
        assert keys[p.point_id] == p.key
    assert small.fingerprint() != big.fingerprint()


def test_seed_keys_distinct_and_shared_across_models():
    s = load_spec({"model": ["a", "b"], "grid": {"alpha": [1.0, 2.0, 3.0]}})
    by_model = {}
    for p in s.points:
        by_model.setdefault(p.params["alpha"], set()).add(p.key)
    assert all(len(k) == 1 for k in by_model.values())  # common random numbers
    assert len({next(iter(k)) for k in by_model.values()}) == 3
    s2 = load_spec({"model": ["a", "b"], "grid": {"alpha": [1.0]}, "share_seeds_across": []})
    assert s2.points[0].key != s2.points[1].key
    for p in s.points:
        hi, lo = p.key
        assert 0 <= hi < 2**31 and 0 <= lo < 2**32
        run_seed(0, 0, key=p.key)  # accepted by the seeding module


def test_integral_floats_are_the_same_point():
    assert canonical_json({"b": 1.0, "a": [2.0, 0.5]}) == '{"a":[2,0.5],"b":1}'
    assert seed_key({"alpha": 1}) == seed_key({"alpha": 1.0})
    assert seed_key({"alpha": 1.0}) != seed_key({"alpha": 1.0 + 2**-40})
    assert canonical_json({"kappa": float("inf")}) == '{"kappa":"Infinity"}'
    assert seed_key({"kappa": float("inf")}) != seed_key({"kappa": 1e308})
    assert seed_key({"kappa": np.inf}) == seed_key({"kappa": float("inf")})
    # strings are hashed as written: the keys of stores that spell kappa = "inf" stay
    assert seed_key({"kappa": "inf"}) != seed_key({"kappa": float("inf")})
    assert seed_key({"flag": True}) != seed_key({"flag": 1})  # a bool is not a number
    s = load_spec({"model": "toy", "params": {"alpha": np.float64(0.5), "d": np.int64(4)}})
    assert type(s.points[0].params["d"]) is int and type(s.points[0].params["alpha"]) is float


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"model": "toy", "grids": {}}, "unknown key.*grids"),
        ({"model": "toy", "runs": 0}, "runs must be an integer in \\[1, inf\\]"),
        ({"model": "toy", "seed": -1}, "seed"),
        ({"params": {"alpha": 1.0}}, "point 0 .* has no model"),
        ({"model": "toy", "grid": {"alpha": []}}, "grid axis 'alpha' is empty"),
        ({"model": "toy", "grid": {"alpha": [1.0, 1]}}, "points 0 and 1 are the same point"),
        ({"model": "toy", "params": {"seed": 1}}, "'seed' .* reserved"),
        ({"model": "toy", "params": {"alpha": float("nan")}}, "'alpha' .* not be NaN"),
        ({"model": "toy", "params": {"alpha": {"x": 1}}}, "'alpha' .* must be a string"),
        ({"model": "toy", "params": {"a": 1}, "grid": {"a": [1, 2]}}, "both in \\[params\\]"),
        ({"model": "toy", "share_seeds_across": "model"}, "share_seeds_across"),
        ({"model": "toy", "params": {"schema": 2}}, "'schema' .* reserved"),
        ({"model": "toy", "plugins": "tests.support.toy_model"}, "plugins must be a list"),
        ({"model": "toy", "plugins": ["no_such_plugin_mod"]},
         "plugin 'no_such_plugin_mod' cannot be imported .*PYTHONPATH"),
        ({"model": "toy", "grid": {"alpha": [2.0], "d": [100, 50]}, "points": [{"alpha": 2.0}]},
         "points 0 and 2 are the same point .*default"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        load_spec(spec)


def test_bad_spec_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("model = \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_spec(bad)


def test_docs_spec_example_is_valid():
    """The TOML example in docs/sweeps.md parses and expands as the text says."""
    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "sweeps.md").read_text()
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    s = load_spec(tomllib.loads(block))
    assert len(s.points) == 4 * 2 + 1 and s.runs == 8
    assert s.points[1].params["kappa"] == float("inf")
    assert s.points[-1].params == {"model": "linear-attention", "d": 200, "tau": 2.0,
                                   "rho": 0.1, "ridge": 0.1, "alpha": 8.0, "kappa": 1.0}


def test_reordering_axes_is_the_same_sweep():
    a = load_spec(base())
    b = load_spec(base(grid={"kappa": [4.0, 1.0], "alpha": [2.0, 0.5, 1.0]}))
    assert a.fingerprint() == b.fingerprint()
    assert {p.point_id: p.key for p in a.points} == {p.point_id: p.key for p in b.points}
    assert [p.params["alpha"] for p in b.points[:3]] == [2.0, 0.5, 1.0]  # b's own order


# ----------------------------------------------------------------------------- point keys


def test_canonical_values():
    assert canonical(1.0) == canonical(1) == 1 and canonical(-0.0) == 0
    assert canonical(np.float64(0.5)) == 0.5 and type(canonical(np.int64(3))) is int
    assert canonical(math.inf) == "Infinity" and canonical(-math.inf) == "-Infinity"
    assert canonical("inf") == "inf" and canonical((1.0, "x")) == [1, "x"]
    for spelling in ("inf", "Inf", "+inf", "infinity", "+Infinity", np.inf, math.inf):
        assert same_value(spelling, math.inf) and same_value(math.inf, spelling)
    assert same_value("-inf", -math.inf) and not same_value("-inf", math.inf)
    assert same_value(1, 1.0) and same_value(None, None) and not same_value("1", 1)
    assert same_value(math.nan, math.nan) and not same_value(0.1, 0.1 + 1e-16)
    assert not same_value(True, 1) and not same_value(0, False) and same_value(True, True)


def test_inf_spelled_as_a_string_is_dropped_at_its_default(models):
    register_model("inf-default", toy_point, defaults={"kappa": math.inf})
    keys = {load_spec({"model": "inf-default", "params": {"alpha": 2.0, **extra}}).points[0].key
            for extra in ({}, {"kappa": "inf"}, {"kappa": "Infinity"}, {"kappa": math.inf})}
    assert len(keys) == 1


def test_a_parameter_at_its_default_keeps_id_and_seed():
    """Writing a default value (in any equal spelling) is the same point, same seeds."""
    bare = load_spec({"model": "toy", "params": {"alpha": 2.0}}).points[0]
    for extra in ({"rho": 0.0}, {"rho": 0}, {"d": 100.0, "kappa": 1}, {"fail": False},
                  {"sleep": 0}):
        p = load_spec({"model": "toy", "params": {"alpha": 2.0, **extra}}).points[0]
        assert (p.point_id, p.key) == (bare.point_id, bare.key), extra
        assert p.params == {"model": "toy", "alpha": 2.0, **extra}  # kept as written
    other = load_spec({"model": "toy", "params": {"alpha": 2.0, "rho": 0.1}}).points[0]
    assert other.point_id != bare.point_id and other.key != bare.key
    assert load_spec({"model": "toy", "params": {"fail": 0}}).points[0].point_id != \
        load_spec({"model": "toy"}).points[0].point_id  # 0 is not the default False


def _spec_values(defaults: dict) -> dict:
    """The defaults a spec can spell (TOML has no null)."""
    return {k: v for k, v in defaults.items() if v is not None}


@pytest.mark.parametrize("model", ["linear-attention", *RT_FAMILY])
def test_built_in_defaults_are_dropped(model):
    """Spelling out any registered default of a built-in model keeps its point and seeds."""
    entry = registry.model_entry(model)
    base = {"d": 8, "alpha": 1.5, "tau": 1.5, "ridge": 0.125}
    # a parameter whose default changed (implicit) keeps its old key only when spelled out
    old_meaning = {**base, **{k: entry.defaults[k] for k in entry.implicit
                              if k in entry.defaults}}
    spelled_out = {**_spec_values(entry.defaults), **base}
    bare = load_spec({"model": model, "params": old_meaning}).points[0]
    spelled = load_spec({"model": model, "params": spelled_out}).points[0]
    assert (spelled.point_id, spelled.key) == (bare.point_id, bare.key)
    ident = point_identity(model, {k: v for k, v in spelled.params.items() if k != "model"})
    # ... and an implicit default without an old key value is written into the key
    implicit = {k: v for k, v in entry.implicit.items() if k not in entry.defaults}
    assert {k: v for k, v in ident.items() if k != "schema"} == {**base, **implicit}


@pytest.mark.parametrize("model", [m for m in RT_FAMILY if m != "rt-equivalence"])
def test_a_changed_default_changes_the_key_of_points_that_leave_it_out(model):
    """y2_scale's default became "companion": a point without it is a new point (a store of
    the old default is not reused), one spelling the old value 1 keeps its old key, one spelling
    the new value is the point without it."""
    base = {"d": 8, "alpha": 1.5, "tau": 1.5, "ridge": 0.125}
    bare = load_spec({"model": model, "params": base}).points[0]
    old = load_spec({"model": model, "params": {**base, "y2_scale": 1.0}}).points[0]
    new = load_spec({"model": model, "params": {**base, "y2_scale": "companion"}}).points[0]
    assert bare.point_id != old.point_id and bare.key != old.key
    assert (bare.point_id, bare.key) == (new.point_id, new.key)
    ident = point_identity(model, {**base, "y2_scale": 1.0})
    assert {k: v for k, v in ident.items() if k != "schema"} == base   # the 0.2 key


def test_rt_family_shares_seeds_across_models():
    """Models that simulate on the RT's prompts agree on their shared defaults, so a point
    gets one seed key whatever the model and whichever defaults it spells out."""
    entries = [registry.model_entry(m) for m in RT_FAMILY]
    for a in entries:
        for b in entries:
            for k in set(a.defaults) & set(b.defaults):
                assert same_value(a.defaults[k], b.defaults[k]), (a.name, b.name, k)
    common = set.intersection(*(set(_spec_values(e.defaults)) for e in entries))
    point = {"d": 8, "alpha": 1.0, "tau": 2.0, "width_ratio": 0.5, "ridge": 0.2, "rho": 1e-4}
    spelled = {**{k: entries[0].defaults[k] for k in common}, **point}
    pts = [load_spec({"model": list(RT_FAMILY), "params": p}).points for p in (point, spelled)]
    assert [p.point_id for p in pts[0]] == [p.point_id for p in pts[1]]
    assert len({p.point_id for p in pts[0]}) == len(RT_FAMILY)
    assert len({p.key for p in pts[0] + pts[1]}) == 1  # one seed key for every model


def test_two_spellings_of_one_point_are_a_duplicate():
    with pytest.raises(ValueError, match="points 0 and 1 are the same point"):
        load_spec({"model": "toy", "points": [{"alpha": 2.0}, {"alpha": 2, "rho": 0.0}]})


def test_schema_is_part_of_the_id_not_of_shared_seeds(models):
    own = {"share_seeds_across": []}
    register_model("toy-v", toy_point, defaults=TOY_DEFAULTS)
    v1 = load_spec({"model": "toy-v", "params": {"alpha": 2.0}}).points[0]
    v1_own = load_spec({"model": "toy-v", "params": {"alpha": 2.0}, **own}).points[0]
    register_model("toy-v", toy_point, defaults=TOY_DEFAULTS, schema=2, overwrite=True)
    v2 = load_spec({"model": "toy-v", "params": {"alpha": 2.0}}).points[0]
    v2_own = load_spec({"model": "toy-v", "params": {"alpha": 2.0}, **own}).points[0]
    assert v1.point_id != v2.point_id
    assert v1.key == v2.key  # the schema goes with the model, shared by default
    assert v1_own.key != v2_own.key  # with the model in the key, the schema is too
    with pytest.raises(ValueError, match="may not be named 'schema'"):
        point_identity("toy-v", {"schema": 3})


def test_schema_one_keeps_the_plain_hash():
    """Schema 1 adds nothing: a point written without defaults keeps its pre-0.2 key."""
    assert load_spec({"model": "toy", "params": {"alpha": 2.0}}).points[0].point_id == \
        digest({"model": "toy", "alpha": 2.0})


def test_plugins_register_models(tmp_path, monkeypatch, models):
    plugin = tmp_path / "my_plugin_models.py"
    plugin.write_text(
        "from rmt_icl.core.registry import register_model\n"
        "from tests.support.toy_model import toy_point\n"
        "register_model('from-plugin', toy_point, defaults={'alpha': 1.0})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = load_spec({"model": "from-plugin", "plugins": ["my_plugin_models"],
                      "params": {"alpha": 1.0, "d": 3}})
    assert spec.plugins == ("my_plugin_models",) and "from-plugin" in registry.MODELS
    assert spec.points[0].point_id == point_id({"model": "from-plugin", "d": 3})
    assert "plugins" not in spec.identity()  # where a model comes from is not the sweep
