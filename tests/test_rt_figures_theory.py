"""The random-transformer figures' theory: the paired figures compare the simulated RT with its
deterministic equivalent at the realised ratios (:class:`rmt_icl.reporting.figure.PairedFigure`),
``fig_rt_theory`` builds its comparison table, and both feed the verdict."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from rmt_icl.core.errors import StoreError
from rmt_icl.experiments import rt_theory
from rmt_icl.experiments.equivalence import max_paired_gap_se
from rmt_icl.experiments.verdict import STATUSES, judge
from rmt_icl.reporting import figure, studies
from rmt_icl.reporting.gallery import default_figures_dir, load_script
from rmt_icl.simulate import t_analytic
from rmt_icl.simulate.random_transformer import simulate_models
from rmt_icl.sweep import Store
from rmt_icl.theory import random_transformer_icl_error

PATH = {"tau": 2.0, "kappa": math.inf, "rho": 1e-4, "y2_scale": 1.0}  # as the RT figures
POINTS = [
    {"alpha": 2.0, "width_ratio": 0.5, "ridge": 0.2, "activation": "relu", "target": "tanh"},
    {"alpha": 1.5, "width_ratio": 0.7, "ridge": 0.1, "activation": "tanh", "target": "linear"},
    {"alpha": 2.0, "width_ratio": 0.5, "ridge": 0.2, "activation": "relu", "target": "he2"},
    {"alpha": 2.0, "width_ratio": 1.0, "ridge": 1e-4, "activation": "relu", "target": "tanh"},
    {"alpha": 0.75, "width_ratio": 2.0, "ridge": 0.2, "activation": "identity",
     "target": "tanh"},
]
POINTS = [{**p, **PATH} for p in POINTS]
D, RUNS = 8, 2


def _round(x):
    return int(math.floor(x + 0.5))


def _realised_theory(point, d):
    """The equivalent at the realised ratios, from the documented rounding and t_analytic."""
    ell = max(1, _round(point["alpha"] * d))
    n = max(1, _round(point["tau"] * d * d))
    k = max(1, _round(point["width_ratio"] * n))
    t = t_analytic(d, ell, point["target"], point["rho"])
    return float(random_transformer_icl_error(
        point["activation"], point["target"], alpha=ell / d, tau=n / d**2,
        kappa=point["kappa"], width_ratio=k / n, rho=point["rho"], ridge=point["ridge"],
        t_over_d=t / d)), n, k


def _fake_table(points, d, *, scale=1.05, k_shift=0):
    """A paired summary: means near the realised theory, sizes from the rounding rule."""
    rows = []
    for i, p in enumerate(points):
        th, n, k = (_realised_theory(p, d) if p["target"] != "he2"
                    else (2.0, *_realised_theory({**p, "target": "tanh"}, d)[1:]))
        mean = scale * th
        rows.append({**p, "d": d, "runs": RUNS, "icl_rt_mean": mean,
                     "icl_rt_se": 0.01 * mean * (1 + i % 2), "icl_herm_mean": mean * 1.01,
                     "icl_herm_se": 0.01, "icl_linear_mean": 0.5, "icl_linear_se": 0.01,
                     "diff_herm_mean": 0.002 * (i + 1), "diff_herm_se": 0.001,
                     "diff_linear_mean": 0.1, "diff_linear_se": 0.01, "q": 1.0,
                     "n": n, "k": k + k_shift})
    return pd.DataFrame(rows)


def _paired(monkeypatch, table):
    seen = {}

    def fake_paired_summary(name, points, **kwargs):
        seen.update(points=points, **kwargs)
        return table

    monkeypatch.setattr(figure, "paired_summary", fake_paired_summary)
    namespace = {"__file__": "fig_rt_toy.py", "QUICK": dict(d=D, runs=RUNS, n_test=100),
                 "FULL": dict(d=16, runs=3, n_test=None), "STORE": "rt_toy",
                 "POINTS": POINTS, "SHARE_SEEDS_ACROSS": ("model",), "COMPARISON": "toy",
                 "draw": None}
    return figure.PairedFigure(namespace, full_help="d=16"), seen


def test_paired_figure_compares_the_rt_with_its_theory_at_the_realised_ratios(monkeypatch):
    table = _fake_table(POINTS, D)
    paired, seen = _paired(monkeypatch, table)
    res = paired.compute(seed=3)
    assert seen["seed"] == 3
    cmp = res["comparisons"]
    assert list(cmp["d"]) == [D] * len(POINTS) and list(cmp["runs"]) == [RUNS] * len(POINTS)
    np.testing.assert_array_equal(cmp["mean"], table["icl_rt_mean"])
    np.testing.assert_array_equal(cmp["se"], table["icl_rt_se"])
    for i, p in enumerate(POINTS):
        if p["target"] == "he2":
            continue
        # the realised ratios differ from the nominal ones at d = 8 (ell, k rounded) ...
        expected = _realised_theory(p, D)[0]
        assert cmp["theory"][i] == pytest.approx(expected, rel=1e-12)
        assert res["table"]["theory_icl"][i] == cmp["theory"][i]
        assert bool(cmp["covered"][i]) and res["table"]["theory_note"][i] == ""
    # ... which the nominal-ratio theory misses (so the test tells the two apart)
    p = POINTS[1]
    nominal = float(random_transformer_icl_error(
        p["activation"], p["target"], alpha=p["alpha"], tau=p["tau"], kappa=p["kappa"],
        width_ratio=p["width_ratio"], rho=p["rho"], ridge=p["ridge"], y2_scale="la"))
    assert abs(cmp["theory"][1] - nominal) > 1e-6
    # he2 has no linear component: not covered, with the theory's reason
    he2 = [i for i, p in enumerate(POINTS) if p["target"] == "he2"][0]
    assert not cmp["covered"][he2] and np.isnan(cmp["theory"][he2])
    assert "a_1" in res["table"]["theory_note"][he2]
    # psi = 1 at ridge 1e-4: excluded; the identity at psi tau = 4 > 1 is not near min(k,D)=n
    assert cmp["excluded"][3] == rt_theory.THRESHOLD_REASON
    assert [e for i, e in enumerate(cmp["excluded"]) if i != 3] == [""] * (len(POINTS) - 1)
    verdict = judge(cmp)
    assert verdict.status in STATUSES
    assert (verdict.n_judged, verdict.n_excluded, verdict.n_not_covered) == (3, 1, 1)
    # the Hermite gap is kept under its own key and in the comparison text
    assert res["max_herm_gap_se"] == pytest.approx(max_paired_gap_se(table))
    assert "Hermite" in res["comparison"] and res["comparison"].startswith("toy")
    assert res["max_rel_gap"] == pytest.approx(0.05)
    assert len(set(cmp["quantity"])) == len(POINTS)


def test_paired_figure_gaps_judge_only_covered_included_points(monkeypatch):
    table = _fake_table(POINTS, D)
    base = _paired(monkeypatch, table)[0].compute()
    worse = table.copy()
    worse.loc[3, "icl_rt_mean"] *= 10.0           # the excluded point near psi = 1
    worse.loc[2, "icl_rt_mean"] *= 10.0           # the he2 point, not covered
    res = _paired(monkeypatch, worse)[0].compute()
    assert res["max_gap_se"] == pytest.approx(base["max_gap_se"])
    assert res["max_rel_gap"] == pytest.approx(base["max_rel_gap"])
    worse.loc[0, "icl_rt_mean"] *= 10.0           # a judged point
    res = _paired(monkeypatch, worse)[0].compute()
    assert res["max_rel_gap"] > 5 and res["max_gap_se"] > base["max_gap_se"]


def test_paired_figure_refuses_sizes_other_than_the_simulated_ones(monkeypatch):
    paired, _ = _paired(monkeypatch, _fake_table(POINTS, D, k_shift=1))
    with pytest.raises(RuntimeError, match="sizes k differ"):
        paired.compute()


def test_point_record_has_a_runs_sizes_and_exact_t():
    point = {"d": 6, "n_test": 64, "alpha": 1.5, "width_ratio": 0.9, "ridge": 0.3,
             "activation": "tanh", "target": "relu", **PATH}
    run = simulate_models(point, 0, ["rt"]).flat("rt")
    rec = rt_theory.point_record(point)
    for key in ("ell", "n", "k", "alpha_realised", "tau_realised", "width_ratio_realised",
                "t", "ridge_la", "ridge_bar"):
        assert rec[key] == run[key], key
    assert rt_theory.point_theory(point)[0] == pytest.approx(
        float(random_transformer_icl_error(
            "tanh", "relu", alpha=run["alpha_realised"], tau=run["tau_realised"],
            kappa=math.inf, width_ratio=run["width_ratio_realised"], rho=PATH["rho"],
            ridge=0.3, t_over_d=run["t"] / 6)), rel=1e-12)


def test_threshold_ratio_and_exclusions():
    # nonlinear: psi; identity: min(psi tau, 1)/tau (rank min(k, D) against n)
    np.testing.assert_allclose(rt_theory.threshold_ratio("relu", [0.5, 1.1], 2.0), [0.5, 1.1])
    np.testing.assert_allclose(rt_theory.threshold_ratio("identity", [0.25, 2.0, 2.0],
                                                         [2.0, 2.0, 0.9]),
                               [0.25, 0.5, 1 / 0.9])
    ex = rt_theory.exclusions("relu", [0.79, 0.8, 1.2, 1.21, 1.0], 2.0,
                              [1e-4, 1e-4, 1e-3, 1e-4, 1e-2])
    assert list(ex == rt_theory.THRESHOLD_REASON) == [False, True, True, False, False]
    assert rt_theory.exclusions("linear", 2.0, 0.9, 0.0) == rt_theory.IDENTITY_THRESHOLD_REASON
    with pytest.raises(ValueError, match="width_ratio"):
        rt_theory.threshold_ratio("relu", 0.0, 1.0)


PAIRED_SCRIPTS = ("rt_context_length", "rt_width", "rt_ridge", "rt_mlp_vs_linear")


@pytest.mark.parametrize("name", PAIRED_SCRIPTS)
def test_paired_scripts_sizes_and_theory_coverage(name):
    module = load_script(default_figures_dir() / f"fig_{name}.py")
    assert module.FULL == dict(d=24, runs=4, n_test=None)
    assert module.PAPER == dict(d=64, runs=5, n_test=None)
    assert module.CALIBRATION == {"sizes": [{"d": 12}, {"d": 16}], "seed": 1}
    points = [figure.figure_point(module.QUICK, p) for p in module.POINTS]
    theory = rt_theory.points_theory(points)
    he2 = np.array([p.get("target") == "he2" for p in points])
    assert theory["theory_covered"].to_numpy(bool).tolist() == (~he2).tolist()


def test_fig_rt_theory_comparisons(monkeypatch):
    module = load_script(default_figures_dir() / "fig_rt_theory.py")
    assert module.CALIBRATION == {"sizes": [{"d": 16}, {"d": 24}], "seed": 1}
    assert module.FULL == dict(d=32, runs=4, n_test=16384)
    assert module.PAPER == dict(d=96, runs=4, n_test=16384)
    assert {0.9, 1.0, 1.1} <= set(module.PSIS)
    seen = {}

    def fake_summary(name, d, runs, grid, **kwargs):
        seen.update(kwargs)
        rows = [{"d": d, "target": "linear", "alpha": 2.0, "tau": 2.0, "width_ratio": psi,
                 "ridge": lam, "activation": "relu", "runs": runs, "mc": 1.0 + 0.01 * i,
                 "se_cell": 0.02, "se": 0.02, "theory": th, "gap": 0.01 * i, "q": 1.0}
                for i, (psi, lam, th) in enumerate([(1.0, 1e-4, 0.5), (1.0, 1e-2, 1.0),
                                                    (2.0, 1e-4, np.nan), (0.5, 1e-4, 1.0)])]
        return pd.DataFrame(rows)

    monkeypatch.setattr(module, "rt_theory_summary", fake_summary)
    res = module.run(dict(d=8, runs=2, n_test=64), quick=True, seed=5)
    assert seen["seed"] == 5
    cmp = res["comparisons"]
    assert list(cmp["excluded"] != "") == [True, False, False, False]
    assert list(cmp["covered"]) == [True, True, False, True]
    np.testing.assert_array_equal(cmp["se"], 0.02)
    assert judge(cmp).n_judged == 2
    # the excluded row (gap 100 %) and the uncovered one do not enter the gaps
    assert res["max_rel_gap"] == pytest.approx(0.03)


def test_rt_theory_summary_passes_its_seed_and_resumes_the_same_spec(tmp_path, monkeypatch):
    grid = {"activation": ("relu",), "target": ("linear",), "tau": (2.0,),
            "width_ratio": (0.5,), "alpha": (2.0,), "ridge": (1e-2,)}
    kwargs = dict(quick=True, results_dir=tmp_path, n_test=64)
    first = studies.rt_theory_summary("toy", 6, 2, grid, seed=4, **kwargs)
    store = tmp_path / "toy" / "quick"

    def stored_seed():
        st = Store(store)
        try:
            return json.loads(st.meta()["spec"])["seed"]
        finally:
            st.close()

    assert stored_seed() == 4

    def no_compute(*args, **kw):
        raise AssertionError("a finished store of the same spec was recomputed")

    import rmt_icl.sweep.run as run_module

    with monkeypatch.context() as m:                                # same spec: resumed
        m.setattr(run_module, "_compute", no_compute)
        again = studies.rt_theory_summary("toy", 6, 2, grid, seed=4, **kwargs)
    pd.testing.assert_frame_equal(again, first)
    assert not (store / "superseded").exists()
    with pytest.raises(StoreError, match="seed"):                   # another spec, refused
        studies.rt_theory_summary("toy", 6, 2, grid, seed=5, force_new=False, **kwargs)
    studies.rt_theory_summary("toy", 6, 2, grid, seed=5, **kwargs)  # ... or replaced
    assert stored_seed() == 5
    assert len(list((store / "superseded").iterdir())) == 1
