"""The equivalence study: table shape and paired SEs, the shrink criterion and p0, CLI, resumption.

Tiny sizes (d <= 7, n_test = 400): these tests check the bookkeeping, not the claim; the
measured study is in docs/equivalence.md.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rmt_icl.experiments.equivalence import (
    equivalence_point,
    find_p0,
    gap_table,
    loglog_fit,
    paired_point,
    resolve_threshold,
    shrink_verdict,
)
from rmt_icl.reporting.studies import paired_summary, run_study

TINY = {"n_test": 400}


def _params(**kw):
    p = {"d": 5, "alpha": 2.0, "tau": 2.0, "width_ratio": 0.5, "ridge": 0.2, "rho": 1e-4,
         "activation": "relu", "target": "tanh", "n_test": 400}
    p.update(kw)
    return p


def test_point_columns_and_degree_classes():
    out = equivalence_point(_params(), 3)
    for p in range(1, 7):
        assert f"icl_herm{p}" in out and f"diff_herm{p}" in out
        # paired difference on the same test queries = difference of the errors
        assert out[f"diff_herm{p}"] == pytest.approx(out[f"icl_herm{p}"] - out["icl_rt"],
                                                     abs=1e-12)
    assert out["diff_linear"] == pytest.approx(out["icl_linear"] - out["icl_rt"], abs=1e-12)
    assert out["icl"] == out["icl_rt"]
    # relu: c_3 = c_5 = 0, so p = 3 is p = 2 and p = 5 is p = 4 (same numbers); 1, 2, 4, 6 differ
    assert [out[f"herm{p}_same_as"] for p in range(1, 7)] == [1, 2, 2, 4, 4, 6]
    assert out["icl_herm3"] == out["icl_herm2"] and out["icl_herm5"] == out["icl_herm4"]
    assert len({out["icl_herm1"], out["icl_herm2"], out["icl_herm4"], out["icl_herm6"]}) == 4
    tanh = equivalence_point(_params(activation="tanh", max_degree=4), 3)
    assert [tanh[f"herm{p}_same_as"] for p in range(1, 5)] == [1, 1, 3, 3]
    assert "icl_herm5" not in tanh


def test_paired_point_matches_the_multi_model_point():
    full = equivalence_point(_params(), 4)
    pair = paired_point(_params(degree=4), 4)
    # same seed, same prompts, F and noise: the same numbers as in the 6-degree run
    assert pair["icl_rt"] == full["icl_rt"]
    assert pair["icl_herm"] == full["icl_herm4"]
    assert pair["icl_linear"] == full["icl_linear"]
    assert pair["diff_herm"] == pytest.approx(pair["icl_herm"] - pair["icl_rt"], abs=1e-12)


def test_paired_summary(tmp_path):
    pts = [_params(ridge=r) for r in (0.1, 1.0)]
    tab = paired_summary("t", pts, runs=2, results_dir=tmp_path, share_seeds_across=("model",
                                                                                     "ridge"))
    assert list(tab["ridge"]) == [0.1, 1.0] and list(tab["runs"]) == [2, 2]
    for v in ("icl_rt", "icl_herm", "icl_linear", "diff_herm", "diff_linear"):
        assert np.all(np.isfinite(tab[f"{v}_mean"])) and np.all(tab[f"{v}_se"] >= 0)
    assert tab["q"].iloc[0] == pytest.approx(0.394394, abs=1e-4)


def test_point_rejects_bad_degree():
    with pytest.raises(ValueError, match="max_degree"):
        equivalence_point(_params(max_degree=0), 0)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    store = tmp_path_factory.mktemp("eq")
    res = run_study("relu", "tanh", ds=(5, 7), runs=3, store=store, backend="serial", **TINY)
    return store, res


def test_table_shape_and_paired_se(study):
    _, res = study
    tab = res.table
    assert list(tab["d"]) == [5, 7] and list(tab["runs"]) == [3, 3]
    for p in range(1, 7):
        for col in (f"e_herm{p}", f"e_herm{p}_se", f"delta{p}", f"delta{p}_se", f"gap{p}"):
            assert col in tab.columns
    for col in ("e_rt", "e_rt_se", "e_linear", "e_linear_se", "lin_minus_rt", "lin_minus_rt_se"):
        assert col in tab.columns
    runs = res.runs
    for d, row in zip((5, 7), tab.itertuples(), strict=True):
        g = runs[runs["out_d"] == d]
        diff = g["icl_herm4"].to_numpy() - g["icl_rt"].to_numpy()
        assert row.delta4 == pytest.approx(diff.mean(), abs=1e-12)
        # paired SE: the SE of the per-run differences, not a combination of the two SEs
        assert row.delta4_se == pytest.approx(diff.std(ddof=1) / math.sqrt(3), rel=1e-9)
        assert row.gap4 == pytest.approx(abs(diff.mean()))
        assert row.e_rt_se == pytest.approx(g["icl_rt"].std(ddof=1) / math.sqrt(3), rel=1e-9)
    assert set(res.verdicts) == set(range(1, 7))
    assert res.p0["p0"] is None or 1 <= res.p0["p0"] <= 6
    json.dumps(res.to_dict(), default=str)


def test_study_resumes_from_store(study):
    store, res = study
    again = run_study("relu", "tanh", ds=(5, 7), runs=3, store=store, backend="serial", **TINY)
    # nothing recomputed: same rows, same start times
    assert list(again.runs["started_utc"]) == list(res.runs["started_utc"])
    np.testing.assert_array_equal(again.runs["icl_herm2"], res.runs["icl_herm2"])
    # more runs: a new store per (d, runs), whose first runs reproduce the old numbers
    # more runs: only the new replicate is computed (a new block), the old ones are read back
    more = run_study("relu", "tanh", ds=(5, 7), runs=4, store=store, backend="serial", **TINY)
    for d in (5, 7):
        old = res.runs[res.runs["out_d"] == d].sort_values("replicate")
        new = more.runs[more.runs["out_d"] == d].sort_values("replicate")
        assert list(new["replicate"]) == [0, 1, 2, 3]
        np.testing.assert_array_equal(new["icl_rt"].to_numpy()[:3], old["icl_rt"].to_numpy())
        assert list(new["started_utc"])[:3] == list(old["started_utc"])
    # fewer runs: read from the existing block, nothing new
    fewer = run_study("relu", "tanh", ds=(5, 7), runs=2, store=store, backend="serial", **TINY)
    assert sorted(fewer.runs["replicate"].unique()) == [0, 1]
    assert set(fewer.runs["started_utc"]) <= set(more.runs["started_utc"])


def test_study_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="ds"):
        run_study(ds=(16,), store=tmp_path)
    with pytest.raises(ValueError, match="runs"):
        run_study(ds=(5, 6), runs=1, store=tmp_path, backend="serial", **TINY)
    with pytest.raises(ValueError, match="unknown path parameter"):
        run_study(ds=(5, 6), store=tmp_path, bogus=1.0)


# ----------------------------------------------------------------------------- criterion

DS = np.array([16, 24, 32, 48, 64])


def test_power_law_gap_is_recovered_and_shrinks():
    se = np.full(5, 1e-4)
    v = shrink_verdict(DS, 0.5 / DS, se)
    assert v["verdict"] == "shrinks"
    assert v["slope"] == pytest.approx(-1.0, abs=1e-9)
    assert v["resolved"] == [True] * 5


def test_constant_and_growing_gaps_do_not_shrink():
    se = np.full(5, 1e-3)
    assert shrink_verdict(DS, np.full(5, 0.02), se)["verdict"] == "does not shrink"
    assert shrink_verdict(DS, 1e-4 * DS, se)["verdict"] == "grows"
    # a decrease that is not significant, with the gap still resolved at the largest d
    noisy = shrink_verdict([16, 64], [0.010, 0.009], [0.004, 0.004])
    assert noisy["verdict"] == "does not shrink" and noisy["slope"] < 0


def test_gap_vanishing_into_noise_and_pure_noise():
    se = np.array([0.002, 0.002, 0.002, 0.002, 0.002])
    v = shrink_verdict(DS, [0.03, 0.015, 0.008, 0.003, 0.001], se)
    assert v["verdict"] == "shrinks" and v["resolved"][0] and not v["resolved"][-1]
    assert shrink_verdict(DS, [0.001, -0.002, 0.003, 0.0, -0.001], se)["verdict"] == "zero"


def test_slope_se_from_monte_carlo_differences():
    """Per-run paired differences with mean 0.4 d^-1 and spread 0.02: the fitted slope lies
    within 3 of its own SEs of -1 for most seeds (it is a statistical statement)."""
    hits = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        means, ses = [], []
        for d in DS:
            x = 0.4 / d + 0.02 * rng.standard_normal(40)
            means.append(x.mean())
            ses.append(x.std(ddof=1) / math.sqrt(x.size))
        _, b, se_b = loglog_fit(DS, np.abs(means), ses)
        hits += abs(b + 1.0) <= 3 * se_b
    assert hits >= 18


def test_few_runs_raise_the_resolution_threshold():
    # |Delta| = 3 SE is resolved with a known SE, but not with an SE from 3 runs (t, 2 dof)
    c = resolve_threshold([3, 4, 1000])
    assert c[0] == pytest.approx(4.5265, abs=1e-3) and c[1] == pytest.approx(3.3068, abs=1e-3)
    assert c[2] == pytest.approx(2.0, abs=0.01)
    ds, se = [16, 64], [0.001, 0.001]
    assert shrink_verdict(ds, [0.003, 0.003], se)["verdict"] == "does not shrink"
    assert shrink_verdict(ds, [0.003, 0.003], se, runs=[3, 3])["verdict"] == "zero"
    with pytest.raises(ValueError, match="runs"):
        resolve_threshold([1, 3])


def test_verdict_input_checks():
    with pytest.raises(ValueError, match="ses"):
        shrink_verdict(DS, np.ones(5), np.zeros(5))
    with pytest.raises(ValueError, match="equal length"):
        shrink_verdict(DS, np.ones(4), np.ones(5))


def test_find_p0():
    v = {1: "does not shrink", 2: "shrinks", 3: "zero", 4: "shrinks", 5: "shrinks", 6: "zero"}
    out = find_p0(v)
    assert out["p0"] == 2 and out["zero_only"] == [3, 6]
    assert find_p0({**v, 6: "grows"})["p0"] is None
    assert find_p0({**v, 4: "does not shrink"})["p0"] == 5
    assert find_p0({1: {"verdict": "shrinks"}, 2: {"verdict": "shrinks"}})["p0"] == 1
    with pytest.raises(ValueError):
        find_p0({})


def test_gap_table_from_synthetic_runs():
    import pandas as pd

    rows = []
    for d in (8, 16):
        for r in range(4):
            base = 0.3 + 0.01 * r
            rows.append({"status": "ok", "d": d, "icl_rt": base, "icl_linear": base - 0.1,
                         "diff_linear": -0.1, "icl_herm1": base + 1.0 / d + 0.001 * r,
                         "diff_herm1": 1.0 / d + 0.001 * r})
    tab = gap_table(pd.DataFrame(rows))
    assert list(tab["d"]) == [8, 16]
    assert tab["delta1"].tolist() == pytest.approx([1 / 8 + 0.0015, 1 / 16 + 0.0015])
    se = np.std([0, 0.001, 0.002, 0.003], ddof=1) / 2
    assert tab["delta1_se"].tolist() == pytest.approx([se, se])


# ----------------------------------------------------------------------------- CLI


def test_cli_json_smoke(tmp_path, capsys):
    from rmt_icl.cli import main

    rc = main(["equivalence", "--d", "5", "6", "--runs", "2", "--n-test", "400",
               "--max-degree", "3", "--store", str(tmp_path / "s"), "--out",
               str(tmp_path / "fig"), "--backend", "serial", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [row["d"] for row in out["table"]] == [5, 6]
    assert set(out["verdicts"]) == {"1", "2", "3"}
    assert "p0" in out["p0"]
    assert out["config"]["ridge"] == 0.2 and out["config"]["activation"] == "relu"
    assert any(f.endswith(".png") for f in out["figure"])
    assert (tmp_path / "fig" / "equivalence_relu_tanh.png").exists()


def test_cli_bad_input(capsys):
    from rmt_icl.cli import main

    assert main(["equivalence", "--d", "5", "--runs", "2", "--backend", "serial"]) == 2
    assert "ds" in capsys.readouterr().err
