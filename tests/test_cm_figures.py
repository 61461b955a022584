"""The companion model's figure scripts (``figures/fig_cm_*.py``): tiny runs through their
stores, the claim checks built from the numbers, and readable drawings.

The scripts follow Demir & Dogan (NeurIPS 2025, arXiv:2510.25753), Figs. 1, 2 and 3(a, b), for
the model of ``docs/companion_model.md``. There is no deterministic equivalent for it, so each
figure reports the paper's claims it supports or contradicts, checked on paired differences,
and the gallery's verdict is "no theory".
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rmt_icl.core.stats import mean_se, student_t_threshold  # noqa: E402
from rmt_icl.experiments.equivalence import max_paired_gap_se  # noqa: E402
from rmt_icl.reporting.gallery import (  # noqa: E402
    caption,
    default_figures_dir,
    figure_verdict,
    load_script,
)
from rmt_icl.reporting.style import apply_style  # noqa: E402
from rmt_icl.sweep import load  # noqa: E402
from tests.test_figures_readable import check_readable  # noqa: E402

FIGURES = default_figures_dir()
TINY = dict(d=8, runs=2, n_test=256)
SIZES = {
    "cm_sizes": dict(TINY, taus=(0.25, 0.5, 1.0, 2.0), alphas=(0.5, 1.0, 2.0),
                     widths=(0.5, 2.0, 4.0), activations=("relu",)),
    "cm_mixture": dict(TINY, mixtures=(0.1, 0.9), input_spikes=(1.0, 4.0),
                       task_spikes=(1.0, 4.0), noises=(0.01, 0.5)),
    "cm_step": dict(TINY, steps=(1.0, 4.0), mixtures=(0.5,)),
}
VERDICTS = ("supports", "contradicts", "inconclusive", "partly supports")


def _module(name):
    return load_script(FIGURES / f"fig_{name}.py")


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """Each script computed once at tiny sizes, stores in a temporary folder."""
    out = {}
    for name, sizes in SIZES.items():
        root = tmp_path_factory.mktemp(name)
        module = _module(name)
        out[name] = (module, module.compute(sizes=sizes, results_dir=root, backend="serial"),
                     root)
    return out


def _runs(root, name):
    df = load(root / name / "quick")
    return df[df["status"] == "ok"]


@pytest.mark.parametrize("name", sorted(SIZES))
def test_results_have_the_gallery_keys_and_no_theory(computed, name):
    module, res, root = computed[name]
    assert {"comparison", "max_gap_se", "sizes", "table", "claims", "seconds"} <= set(res)
    assert "comparisons" not in res                    # no deterministic equivalent yet
    assert figure_verdict(res).status == "no theory"
    # max_gap_se is the paired Hermite gap, never None (None would mean "theory only")
    assert res["max_gap_se"] == pytest.approx(max_paired_gap_se(res["table"]))
    assert np.isfinite(res["max_gap_se"]) and res["max_gap_se"] >= 0
    assert res["comparison"].startswith(module.claim_text(res["claims"]))
    assert "Hermite model" in res["comparison"] and f"{res['max_gap_se']:.1f} SE" in \
        res["comparison"]
    # the equivalence claim comes from the store's per-run errors of the two models
    runs = {col: module.per_run(root, True, res["table"], col) for col in ("icl_rt", "icl_herm")}
    assert runs["icl_rt"].shape == (2, len(res["table"]))
    assert res["claim_lines"][-1] == module.hermite_claim(
        res["table"], runs["icl_rt"], runs["icl_herm"], 2, module.DEGREE)
    assert res["comparison"] == "; ".join(res["claim_lines"])
    assert "d=8, runs=2" in res["sizes"]
    assert all(res["table"]["runs"] == 2)
    assert caption(vars(module))
    assert module.STORE == name


def test_step_claims_are_the_paired_differences_of_the_runs(computed):
    module, res, root = computed["cm_step"]
    runs = _runs(root, "cm_step")
    text = res["comparison"]
    assert set(res["claims"]) == {("inputs", 0.5), ("tasks", 0.5)}
    for (panel, mix), r in res["claims"].items():
        key = module.PANELS[panel][0]
        mine = runs[(runs[key] > 0) & (runs["mixture"] == mix)]
        e = {eta: g.sort_values("run")["icl_rt"].to_numpy() for eta, g in
             mine.groupby("step_size")}
        best = min((eta for eta in e if eta > 0), key=lambda eta: e[eta].mean())
        diff, se = mean_se(e[best] - e[0.0])
        assert r["eta"] == best
        assert r["e0"] == pytest.approx(e[0.0].mean(), rel=1e-12)
        assert (r["diff"], r["se"]) == pytest.approx((diff, se), rel=1e-12)
        c = student_t_threshold(2, module.Z)
        assert r["helps"] == (diff < -c * se) and r["hurts"] == (diff > c * se)
        assert f"e {r['e0']:.3f} -> {r['e']:.3f} at step {best:g}" in text
        assert f"{r['diff']:+.3f} +- {r['se']:.3f}" in text
        assert module.claim_verdict(r, panel == "tasks") in text


def test_mixture_claims_are_the_paired_differences_of_the_runs(computed):
    module, res, root = computed["cm_mixture"]
    runs = _runs(root, "cm_mixture")
    d = SIZES["cm_mixture"]["d"]

    def errors(**where):
        sel = np.ones(len(runs), bool)
        for key, value in where.items():
            sel &= np.isclose(runs[key].to_numpy(np.float64), value)
        return runs[sel].sort_values("run")["icl_rt"].to_numpy()

    claims, text = res["claims"], res["comparison"]
    top = 4.0 * d
    for panel, key in (("inputs", "input_spike"), ("tasks", "task_spike")):
        hi, lo = errors(**{key: top, "mixture": 0.9}), errors(**{key: top, "mixture": 0.1})
        assert (claims[panel]["diff"], claims[panel]["se"]) == pytest.approx(
            mean_se(hi - lo), rel=1e-12)
        assert claims[panel]["mixtures"] == (0.1, 0.9) and claims[panel]["x"] == 4.0
    clean = errors(noise1=0.01, mixture=0.9, noise0=0.2)
    noisy = errors(noise1=0.5, mixture=0.9, noise0=0.2)
    assert (claims["noise"]["diff"], claims["noise"]["se"]) == pytest.approx(
        mean_se(clean - noisy), rel=1e-12)
    for r in claims.values():
        assert f"e {r['from']:.3f} -> {r['to']:.3f}" in text
        assert f"{r['diff']:+.3f} +- {r['se']:.3f}) -- {module._word(r)}" in text
    assert module.claim_text(claims).count(" -- ") == 4


def test_size_claims_are_built_from_the_table(computed):
    module, res, root = computed["cm_sizes"]
    tab, claims = res["table"], res["claims"]
    assert list(claims) == ["relu"]
    r = claims["relu"]
    c = student_t_threshold(2, module.Z)
    wins = int(np.sum(tab["diff_linear_mean"] > c * tab["diff_linear_se"]))
    losses = int(np.sum(tab["diff_linear_mean"] < -c * tab["diff_linear_se"]))
    assert r["beats_linear"] == (wins, losses, len(tab))
    # the base point (n = 2 d^2, ell = d, k = d^2/2) is shared by the three panels
    assert len(tab) == 4 + 3 + 3 - 2
    for panel, key, grid in (("n", "tau", "taus"), ("ell", "alpha", "alphas"),
                             ("k", "width_d2", "widths")):
        rows = module.panel_rows(tab, panel, "relu")
        assert list(tab[key].iloc[rows]) == sorted(SIZES["cm_sizes"][grid])
    dd = r["n"]
    n_rows = module.panel_rows(tab, "n", "relu")
    means = tab["icl_rt_mean"].to_numpy()[n_rows]
    assert dd["e_peak"] == pytest.approx(means[1:-1].max())
    text = res["comparison"]
    assert f"at {r['beats_linear'][0]}/{len(tab)} points" in text
    assert f"paired rise {dd['rise']:+.3f} +- {dd['rise_se']:.3f}" in text
    assert f"e {r['ell']['e'][0]:.3f} -> {r['ell']['e'][1]:.3f}" in text


# ------------------------------------------------------------- claim logic on known numbers

def _curve(means, noise=0.01, runs=4, seed=0):
    """Per-run values (runs x points) around the given true means."""
    rng = np.random.default_rng(seed)
    values = np.asarray(means)[None, :] + noise * rng.standard_normal((runs, len(means)))
    return values


def test_double_descent_and_monotone_fall_verdicts():
    module = _module("cm_sizes")
    c = float(student_t_threshold(4, module.Z))
    x = np.array([0.1, 0.3, 0.5, 1.0, 2.0])
    cases = {"peak": [1.0, 2.0, 5.0, 1.5, 0.8], "falling": [5.0, 3.0, 2.0, 1.5, 1.0],
             "rising": [1.0, 1.5, 2.0, 3.0, 5.0], "bump": [3.0, 2.0, 2.5, 1.5, 1.0]}
    verdicts = {}
    for name, means in cases.items():
        values = _curve(means)
        table = pd.DataFrame({"tau": x, "icl_rt_mean": values.mean(axis=0)})
        rows = np.arange(len(x))
        verdicts[name] = (module.double_descent(table, values, rows, "tau", c)["verdict"],
                          module.monotone_fall(table, values, rows, "tau", c)["verdict"])
    assert verdicts["peak"] == ("supports", "contradicts")
    assert verdicts["falling"] == ("contradicts", "supports")
    assert verdicts["rising"] == ("contradicts", "contradicts")
    assert verdicts["bump"] == ("supports", "contradicts")     # a resolved rise 2.0 -> 2.5
    flat = _curve([1.0, 1.0, 1.0, 1.0, 1.0], noise=0.05)
    table = pd.DataFrame({"tau": x, "icl_rt_mean": flat.mean(axis=0)})
    assert module.monotone_fall(table, flat, np.arange(5), "tau", c)["verdict"] == \
        "inconclusive"


def test_step_claim_verdicts():
    module = _module("cm_step")
    rows = []
    truth = {("inputs", 0.0): 0.30, ("inputs", 1.0): 0.30, ("inputs", 4.0): 0.31,
             ("tasks", 0.0): 0.50, ("tasks", 1.0): 0.40, ("tasks", 4.0): 0.45}
    for (panel, eta), e in truth.items():
        rows.append({"input_spike": 8.0 * (panel == "inputs"),
                     "task_spike": 64.0 * (panel == "tasks"), "mixture": 0.5,
                     "step_size": eta, "true": e})
    table = pd.DataFrame(rows)
    values = _curve(table["true"], noise=0.002)
    table["icl_rt_mean"], table["icl_rt_se"] = mean_se(values, axis=0)
    claims = module.step_claims(table, values, 4)
    tasks, inputs = claims[("tasks", 0.5)], claims[("inputs", 0.5)]
    assert tasks["eta"] == 1.0 and tasks["helps"] and tasks["rel"] == pytest.approx(-0.2,
                                                                                    abs=0.02)
    assert not inputs["helps"]
    text = module.claim_text(claims)
    assert "the step helps a lot for structured tasks: P(s=1)=0.5" in text
    assert text.count("-- supports") == 2 and "contradicts" not in text
    # a step that helps with structured inputs contradicts the paper's claim (a)
    values[:, 1] -= 0.05
    table["icl_rt_mean"] = values.mean(axis=0)
    inputs = module.step_claims(table, values, 4)[("inputs", 0.5)]
    assert inputs["helps"] and module.claim_verdict(inputs, wanted=False) == "contradicts"
    assert module.claim_verdict(tasks, wanted=True) == "supports"
    # a resolved gain below MATERIAL only partly supports "helps a lot", and does not
    # contradict "does not help"
    slight = {**tasks, "helps": False, "resolved_gain": True, "hurts": False}
    assert module.claim_verdict(slight, True) == "partly supports"
    assert module.claim_verdict(slight, False) == "supports"
    assert module.claim_verdict({**slight, "resolved_gain": False}, True) == "inconclusive"
    assert module.claim_verdict({**slight, "resolved_gain": False, "hurts": True}, True) == \
        "contradicts"


@pytest.mark.parametrize("name", sorted(SIZES))
def test_hermite_claim(name):
    """The equivalence claim on per-run ratios e_Herm / e_RT (log scale): a resolved ratio
    within HERMITE_MATERIAL of 1 supports it; one beyond contradicts it, also when the Hermite
    error blows up so that its linear SE is huge; an unresolved ratio never counts."""
    module = _module(name)
    rng = np.random.default_rng(1)
    rt = 0.5 + 0.01 * rng.standard_normal((4, 3))
    herm = rt * np.array([1.01, 1.0, 1.0])[None, :] * np.exp(
        np.array([1e-4, 0.3, 0.0])[None, :] * rng.standard_normal((4, 3)))
    table = pd.DataFrame({"icl_rt_mean": rt.mean(axis=0),
                          "diff_herm_mean": (herm - rt).mean(axis=0),
                          "diff_herm_se": mean_se(herm - rt, axis=0)[1]})
    text = module.hermite_claim(table, rt, herm, 4, 5)
    assert "resolved away from 1 at 1/3 points (paired, log scale), by more than 5 % at 0" in \
        text and text.endswith("-- supports")
    # a blow-up in every run: the linear gap is unresolved, the log ratio is resolved
    herm[:, 2] = rt[:, 2] * np.array([1e2, 1e4, 3e3, 5e5])
    table["diff_herm_mean"], table["diff_herm_se"] = mean_se(herm - rt, axis=0)
    assert abs(table["diff_herm_mean"].iloc[2]) < 4 * table["diff_herm_se"].iloc[2]
    text = module.hermite_claim(table, rt, herm, 4, 5)
    assert "at 2/3 points (paired, log scale), by more than 5 % at 1" in text
    ratio = np.exp(np.mean(np.log(herm[:, 2] / rt[:, 2])))
    assert text.endswith("-- contradicts") and f"largest mean ratio {ratio:.3g};" in text


# ------------------------------------------------------------------------------ drawings

@pytest.mark.parametrize("name", sorted(SIZES))
def test_drawing_is_readable(computed, name):
    module, res, _ = computed[name]
    apply_style()
    fig = module.draw(res)
    try:
        check_readable(fig)
        panels = [ax for ax in fig.axes if ax.get_title()]
        assert len(panels) == {"cm_sizes": 3, "cm_mixture": 3, "cm_step": 2}[name]
        for ax in panels:
            assert ax.get_xscale() == "log" and ax.get_yscale() == "log", ax.get_title()
            assert ax.get_xlabel() and (ax.get_ylabel() or ax is not panels[0])
        assert panels[0].get_ylabel()
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + fig.legends
        texts = {t.get_text() for leg in legends for t in leg.get_texts()}
        assert any(t.startswith("RT") for t in texts), texts
        assert any("Hermite" in t for t in texts), texts
        assert any("linear transformer" in t for t in texts), texts
    finally:
        plt.close(fig)
