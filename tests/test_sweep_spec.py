"""Sweep specs: expansion, validation, and the parameter-hash seed keys."""

import numpy as np
import pytest

from rmt_icl.core.seeding import run_seed
from rmt_icl.sweep.spec import canonical_json, load_spec, seed_key


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
    import pathlib

    from rmt_icl.sweep.spec import tomllib  # tomli on Python 3.10

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
