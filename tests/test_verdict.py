"""Verdicts (agree / disagree / not covered / no theory) and their finite-size allowances.

The verdict must be able to say "disagree": a theory that is 5 % off fails it, both on
synthetic tables with realistic standard errors and on the committed quick gallery's own
comparison tables; ``rmt-icl reproduce`` exits non-zero on "disagree".
"""

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rmt_icl.cli import main
from rmt_icl.core.stats import mean_se, pooled_relative_se, simultaneous_t_quantile
from rmt_icl.experiments.verdict import (
    Allowance,
    calibrate,
    comparison_table,
    judge,
    near_threshold,
)
from rmt_icl.reporting.gallery import (
    calibrate_figures,
    default_figures_dir,
    discover,
    load_allowances,
    load_script,
    measure_allowance,
    reproduce,
)

FIGURES = Path(__file__).resolve().parents[1] / "figures"


def _table(rng, theory, *, runs=3, cv=0.01, bias=0.0, d=40):
    """Simulated means of ``runs`` runs with relative scatter ``cv`` around theory*(1+bias)."""
    theory = np.asarray(theory, dtype=np.float64)
    draws = theory[:, None] * (1 + bias) * (1 + cv * rng.standard_normal((theory.size, runs)))
    mean, se = mean_se(draws, axis=1)
    return comparison_table([f"p{i}" for i in range(theory.size)], d, runs, mean, se, theory)


# ------------------------------------------------------------------------------ statistics

def test_simultaneous_quantile_matches_the_bonferroni_definition():
    from scipy import stats

    assert simultaneous_t_quantile(10, 1, 0.05) == pytest.approx(stats.t.ppf(0.975, 10))
    assert simultaneous_t_quantile(60, 30, 0.01) == pytest.approx(stats.t.ppf(1 - 0.01 / 60, 60))
    assert simultaneous_t_quantile(math.inf, 1, 0.05) == pytest.approx(1.959964, abs=1e-6)
    for bad in (dict(dof=0, n_tests=3), dict(dof=3, n_tests=0), dict(dof=3, n_tests=2,
                                                                    level=1.5)):
        with pytest.raises(ValueError, match=next(iter(k for k in bad if bad[k] in
                                                       (0, 1.5)))):
            simultaneous_t_quantile(**bad)


def test_pooled_relative_se_pools_the_relative_variance():
    mean = np.array([1.0, 2.0, 4.0])
    runs = np.array([3, 3, 5])
    cv_run = np.array([0.02, 0.04, 0.03])               # per-run relative std
    se = cv_run * mean / np.sqrt(runs)
    pooled, dof = pooled_relative_se(mean, se, runs)
    v = (2 * 0.02**2 + 2 * 0.04**2 + 4 * 0.03**2) / 8
    assert dof == 8
    np.testing.assert_allclose(pooled, np.sqrt(v / runs) * mean, rtol=1e-14)


def test_the_bound_controls_false_disagreement_at_its_level():
    """A correct theory (no bias) is called "disagree" at most at about the family level."""
    rng = np.random.default_rng(0)
    theory = np.linspace(0.5, 2.0, 30)
    trials = 400
    rejected = sum(judge(_table(rng, theory)).status == "disagree" for _ in range(trials))
    # LEVEL = 1 %; the max(own, pooled) SE makes the bound conservative. 3 sigma of a
    # binomial(400, 0.01) is about 6 rejections.
    assert rejected <= 10


# ----------------------------------------------------------------------------- the verdict

def test_a_theory_five_percent_off_disagrees_and_the_right_one_agrees():
    rng = np.random.default_rng(1)
    theory = np.linspace(0.5, 2.0, 24)
    table = _table(rng, theory, cv=0.01)
    assert judge(table).status == "agree"
    perturbed = table.assign(theory=1.05 * table["theory"])
    verdict = judge(perturbed)
    assert verdict.status == "disagree" and not verdict.ok
    assert verdict.worst and verdict.worst[0]["ratio"] > 1
    assert "disagree" in verdict.summary() and "worst" in verdict.summary()
    # the resolution says what the verdict can detect: about q * 1 % / sqrt(3), under 5 %
    assert verdict.resolution < 0.05


def test_the_allowance_is_c_over_d_relative_to_the_theory():
    rng = np.random.default_rng(2)
    theory = np.linspace(0.5, 2.0, 20)
    table = _table(rng, theory, cv=0.002, bias=0.04, d=40)  # a 4 % finite-size bias at d = 40
    assert judge(table).status == "disagree"
    assert judge(table, allowance=Allowance(c=2.0)).status == "agree"    # 2/40 = 5 % > 4 %
    assert judge(table, allowance=Allowance(c=1.0)).status == "disagree"  # 2.5 % < 4 %
    assert judge(table, allowance=Allowance(c=2.0)).resolution > 0.05
    # a curve's own constant replaces the figure's for its points
    two = table.assign(group=["biased"] * 10 + ["exact"] * 10)
    two.loc[10:, "mean"] = two.loc[10:, "theory"]              # the second curve is exact
    per_curve = Allowance(c=2.0, by_group={"biased": 2.0, "exact": 0.0})
    assert judge(two, allowance=per_curve).status == "agree"
    assert judge(two, allowance=per_curve).resolution < judge(two, allowance=Allowance(c=2.0)) \
        .resolution
    shifted = two.copy()
    shifted.loc[10:, "mean"] *= 1.04                             # 4 % off on the exact curve
    assert judge(shifted, allowance=Allowance(c=2.0)).status == "agree"
    assert judge(shifted, allowance=per_curve).status == "disagree"


def test_excluded_and_uncovered_points_are_counted_not_judged():
    rng = np.random.default_rng(3)
    table = _table(rng, np.ones(6))
    table.loc[0, "mean"] = 10.0                       # way off, but excluded by the rule
    table.loc[0, "excluded"] = "near the threshold"
    table.loc[1, "covered"] = False                   # not covered: its theory is NaN
    table.loc[1, "theory"] = np.nan
    v = judge(table)
    assert v.status == "agree" and v.n_judged == 4
    assert v.n_excluded == 1 and v.n_not_covered == 1
    assert v.exclusions == ["1 x near the threshold"]
    assert "1 excluded" in v.summary() and "1 not covered" in v.summary()
    nothing = table.assign(covered=False)
    assert judge(nothing).status == "not covered"
    assert judge(None).status == "no theory" and judge(table.iloc[:0]).status == "no theory"


def test_bad_tables_and_allowances_are_refused():
    with pytest.raises(ValueError, match="missing"):
        judge(pd.DataFrame({"mean": [1.0]}))
    with pytest.raises(ValueError, match="length"):
        comparison_table(["a", "b"], 4, 2, [1.0, 2.0, 3.0], 0.1, 1.0)
    with pytest.raises(ValueError, match="2 runs"):
        judge(comparison_table(["a"], 4, 1, 1.0, np.nan, 1.0))
    with pytest.raises(ValueError, match="c \\(and every by_group value\\) must be"):
        Allowance(c=-1.0)
    with pytest.raises(ValueError, match="'c'"):
        Allowance.from_dict({"rate": 1})


def test_near_threshold_rule():
    x = np.array([0.79, 0.8, 0.85, 1.0, 1.2, 0.2 * 6, 1.21])
    np.testing.assert_array_equal(near_threshold(x, 1.0, 1e-5),
                                  [False, True, True, True, True, True, False])
    assert not near_threshold(1.0, 1.0, 0.1).any()      # a real ridge removes the peak


# ------------------------------------------------------------------------------ calibration

def test_calibration_measures_c_from_two_sizes_with_a_one_over_d_bias():
    rng = np.random.default_rng(4)
    theory = np.linspace(0.5, 2.0, 20)
    c_true = 3.0
    parts = [_table(rng, theory, cv=0.002, bias=c_true / d, d=d, runs=4) for d in (20, 40)]
    cal = calibrate(pd.concat(parts, ignore_index=True))
    assert set(cal["c_by_d"]) == {"20", "40"}
    assert cal["by_group"] == {"": cal["c"]}                     # one curve
    # the largest d * relative gap: the true c plus a little noise, at both sizes
    assert c_true < cal["c"] <= c_true * 1.15
    assert abs(cal["c_by_d"]["20"] - cal["c_by_d"]["40"]) < 0.3 * c_true
    assert cal["median_exponent"] == pytest.approx(1.0, abs=0.15)
    with pytest.raises(ValueError, match="two or more sizes"):
        calibrate(parts[0])


# ----------------------------------------------------------------- gallery and command line

FIG = textwrap.dedent('''
    import numpy as np

    from rmt_icl.core.stats import mean_se
    from rmt_icl.experiments.verdict import comparison_table

    QUICK = dict(d=40)
    FULL = dict(d=80)
    CALIBRATION = {"sizes": [{"d": 20}, {"d": 40}], "seed": 1}
    BIAS = {bias}


    def compute(quick=True, sizes=None, seed=0, results_dir=None):
        d = (sizes or {}).get("d", 40 if quick else 80)
        rng = np.random.default_rng(seed)
        theory = np.linspace(0.5, 2.0, 12)
        draws = theory[:, None] * (1 + 0.5 / d) * (1 + 0.001 * rng.standard_normal((12, 4)))
        mean, se = mean_se(draws, axis=1)
        table = comparison_table([f"p{i}" for i in range(12)], d, 4, mean, se,
                                 theory * (1 + BIAS))
        return {"comparison": "toy", "max_gap_se": 1.0, "sizes": f"d={d}",
                 "comparisons": table}


    def draw(results):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        return fig
''')


def _figures(tmp_path, bias):
    folder = tmp_path / "figs"
    folder.mkdir(parents=True)
    (folder / "fig_toy.py").write_text(FIG.replace("{bias}", repr(bias)))
    return folder


def test_calibrated_gallery_agrees_and_a_perturbed_theory_makes_the_cli_fail(tmp_path, capsys):
    good = _figures(tmp_path / "a", 0.0)
    written = calibrate_figures(figures_dir=good, results_dir=tmp_path / "r", progress=False)
    entry = written["toy"]
    prov = entry["provenance"]
    assert set(prov) >= {"sizes", "seed", "runs", "commit", "command", "date", "c_by_d"}
    assert 0.5 < entry["c"] <= 0.6                    # the toy's 0.5/d bias, plus its noise
    assert load_allowances(good)["toy"].c == entry["c"]
    assert main(["reproduce", "--figures", str(good), "--out", str(tmp_path / "o1"),
                 "--no-progress"]) == 0
    assert "agree" in (tmp_path / "o1" / "REPORT.md").read_text()

    bad = _figures(tmp_path / "b", 0.05)              # the same figure, theory 5 % too high
    (bad / "ALLOWANCES.json").write_text((good / "ALLOWANCES.json").read_text())
    capsys.readouterr()
    assert main(["reproduce", "--figures", str(bad), "--out", str(tmp_path / "o2"),
                 "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "disagree" in captured.out and "toy" in captured.err
    report = (tmp_path / "o2" / "REPORT.md").read_text()
    assert "disagree" in report and "worst" in report


def test_a_corrupt_allowances_file_is_named(tmp_path):
    folder = _figures(tmp_path, 0.0)
    (folder / "ALLOWANCES.json").write_text("{not json")
    with pytest.raises(ValueError, match="ALLOWANCES.json"):
        load_allowances(folder)
    with pytest.raises(ValueError, match="ALLOWANCES.json"):
        reproduce(figures_dir=folder, out=tmp_path / "o", progress=False)


# ----------------------------------------------------- the committed gallery's own tables

def _committed_rows():
    report = FIGURES / "REPORT.json"
    rows = json.loads(report.read_text())["rows"]
    return [r for r in rows if r.get("comparisons")]


def test_committed_allowances_are_valid_and_carry_their_provenance():
    allowances = load_allowances(default_figures_dir())
    assert allowances, "figures/ALLOWANCES.json is missing"
    for name, a in allowances.items():
        prov = a.provenance
        assert len(prov["c_by_d"]) >= 2, name            # measured at two or more d
        assert prov["seed"] != 0, name                   # independent of the figure's runs
        assert prov["commit"] and prov["command"].startswith("rmt-icl reproduce --calibrate")
        worst = prov["worst_point"]                       # the point that sets c
        assert a.c == pytest.approx(abs(worst["c_i"]) + 2 * worst["se"])
        assert a.by_group and max(a.by_group.values()) == pytest.approx(a.c), name


def test_committed_quick_verdicts_are_reproduced_and_fail_a_perturbed_theory():
    """Re-judge every committed comparison table: the recorded verdict comes back, and a theory
    5 % too high is called "disagree" wherever the table resolves 5 %."""
    allowances = load_allowances(default_figures_dir())
    rows = _committed_rows()
    assert rows
    detected = 0
    for r in rows:
        table = pd.DataFrame(r["comparisons"])
        verdict = judge(table, allowance=allowances.get(r["figure"]))
        assert verdict.status == r["verdict"], r["figure"]
        perturbed = judge(table.assign(theory=1.05 * table["theory"]),
                          allowance=allowances.get(r["figure"]))
        if verdict.resolution < 0.05 * 0.5:
            assert perturbed.status == "disagree", r["figure"]
            detected += 1
    assert detected >= 3      # at least three figures resolve a 5 % theory error at quick size


@pytest.mark.slow
def test_committed_allowances_are_recomputed(tmp_path):
    """Re-measure every committed allowance from scratch (fresh stores, the committed sizes and
    seed): the same runs give the same constant (about 6 minutes on 2 cores)."""
    folder = default_figures_dir()
    committed = load_allowances(folder)
    scripts = discover(folder)
    for name, allowance in committed.items():
        module = load_script(scripts[name])
        assert module.CALIBRATION["sizes"] == allowance.provenance["sizes"], name
        assert module.CALIBRATION["seed"] == allowance.provenance["seed"], name
        entry = measure_allowance(module, name, results_dir=tmp_path / name)
        assert entry["c"] == pytest.approx(allowance.c, rel=1e-6, abs=1e-9), name
        for d, c_d in allowance.provenance["c_by_d"].items():
            assert entry["provenance"]["c_by_d"][d] == pytest.approx(c_d, rel=1e-6, abs=1e-9)
        assert entry["by_group"].keys() == allowance.by_group.keys(), name
        for group, c_g in allowance.by_group.items():
            assert entry["by_group"][group] == pytest.approx(c_g, rel=1e-6, abs=1e-9), name


def test_rejudge_applies_new_allowances_without_simulating(tmp_path, capsys):
    good = _figures(tmp_path / "a", 0.05)             # theory 5 % too high: disagrees ...
    out = tmp_path / "o"
    assert main(["reproduce", "--figures", str(good), "--out", str(out), "--no-progress"]) == 1
    seconds = json.loads((out / "REPORT.json").read_text())["rows"][0]["seconds"]
    # ... until an allowance of 10/d (25 % at d = 40) is committed: then it agrees on re-judging
    (good / "ALLOWANCES.json").write_text(json.dumps({"figures": {"toy": {"c": 10.0}}}))
    (good / "fig_toy.py").write_text("raise RuntimeError('must not run')\n")
    assert main(["reproduce", "--rejudge", "--figures", str(good), "--out", str(out)]) == 0
    row = json.loads((out / "REPORT.json").read_text())["rows"][0]
    assert row["verdict"] == "agree" and row["seconds"] == seconds
    assert "agree" in (out / "REPORT.md").read_text()
    capsys.readouterr()
    assert main(["reproduce", "--rejudge", "--figures", str(good), "--out",
                 str(tmp_path / "x")]) == 2
    assert "REPORT.json" in capsys.readouterr().err
