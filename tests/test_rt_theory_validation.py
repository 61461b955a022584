"""The validation-grid machinery (rmt_icl.experiments.rt_theory) on a tiny grid."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rmt_icl.core.seeding import run_seed
from rmt_icl.experiments.rt_theory import (
    ACCEPTANCE_GRID,
    MODEL,
    allowance,
    grid_spec,
    judge,
    judge_shrink,
    summarise,
    theory_point,
)
from rmt_icl.sweep import sweep
from rmt_icl.theory import random_transformer_icl_error


def test_grid_spec_covers_the_acceptance_grid():
    spec = grid_spec(64, 2)
    assert spec["model"] == MODEL and spec["runs"] == 2
    assert spec["params"]["activations"] == "relu,tanh,erf,identity"
    n_points = math.prod(len(v) for v in spec["grid"].values())
    n_cells = n_points * len(ACCEPTANCE_GRID["activation"])
    assert n_cells == 4 * 2 * 4 * 2 * 2 * 2


def test_theory_point_uses_realised_ratios_and_exact_t():
    p = dict(d=8, alpha=2.0, tau=0.5, width_ratio=2.0, kappa="inf", rho=0.1, ridge=0.1,
             target="relu", n_test=512, test_queries=8, activations="relu,identity")
    row = theory_point(p, run_seed(0, 0, (8,)))
    assert set(row) >= {"icl_relu", "icl_identity", "theory_relu", "theory_identity", "icl"}
    assert row["icl"] == row["icl_relu"]
    th = random_transformer_icl_error("identity", "relu", alpha=row["alpha_realised"],
                                      tau=row["tau_realised"], kappa=np.inf,
                                      width_ratio=row["width_ratio_realised"], rho=0.1,
                                      ridge=0.1, t_over_d=row["t"] / 8)
    assert row["theory_identity"] == pytest.approx(float(th), rel=1e-12)
    with pytest.raises(ValueError, match="activations"):
        theory_point({**p, "activations": ""}, 0)


def test_sweep_summary_and_judge(tmp_path):
    spec = grid_spec(8, 2, grid={"activation": ("tanh",), "target": ("linear",),
                                 "alpha": (2.0,), "tau": (0.5,), "width_ratio": (2.0,),
                                 "ridge": (0.1,)}, n_test=512, test_queries=8)
    df = sweep(spec, store=tmp_path / "s", backend="serial", progress=False)
    s = summarise(df)
    assert len(s) == 1 and s["runs"].iloc[0] == 2
    x = df["icl_tanh"].to_numpy()
    assert s["mc"].iloc[0] == pytest.approx(x.mean())
    assert s["se"].iloc[0] == pytest.approx(x.std(ddof=1) / math.sqrt(2))
    assert s["gap"].iloc[0] == pytest.approx(s["mc"].iloc[0] - s["theory"].iloc[0])


def test_allowance_is_measured_off_sample():
    s = pd.DataFrame({"d": [16, 16, 32, 32], "gap": [0.2, -0.1, 0.05, 0.0],
                      "se": [0.01, 0.01, 0.01, 0.01]})
    # judged at d = 32, c comes from d = 16 only: excess (0.17, 0.07) * 16
    c = allowance(s, exclude_d=32, quantile=1.0)
    assert c == pytest.approx(0.17 * 16)
    table = judge(s, quantile=1.0)
    row32 = table[table["d"] == 32].iloc[0]
    assert row32["allowance_c"] == pytest.approx(0.17 * 16)
    assert row32["pass_fraction"] == 1.0
    with pytest.raises(ValueError, match="exclude_d"):
        allowance(s[s["d"] == 32], exclude_d=32)


def test_pooled_standard_error():
    """Relative run-to-run variance pooled over cells sharing (d, tau, psi, ridge, activation)."""
    rows = []
    for alpha, vals in ((1.0, (1.0, 1.2, 0.8)), (2.0, (2.0, 2.0, 2.0))):
        for r, v in enumerate(vals):
            rows.append({"d": 8, "target": "linear", "alpha": alpha, "tau": 2.0,
                         "width_ratio": 0.5, "ridge": 0.1, "run": r, "icl_tanh": v,
                         "icl_se_test_tanh": 0.01, "theory_tanh": 1.0, "q": 1.1})
    s = summarise(pd.DataFrame(rows)).set_index("alpha")
    cv2 = (np.std([1.0, 1.2, 0.8], ddof=1) / 1.0) ** 2 * 2 / 4  # pooled over 2 + 2 dof
    assert s.loc[1.0, "se"] == pytest.approx(1.0 * math.sqrt(cv2 / 3))
    assert s.loc[2.0, "se"] == pytest.approx(2.0 * math.sqrt(cv2 / 3))
    assert s.loc[2.0, "se_cell"] == 0.0 and (s["dof"] == 4).all()


def test_judge_shrink_requires_one_over_d():
    base = {"target": "linear", "alpha": 2.0, "tau": 2.0, "width_ratio": 0.5, "ridge": 0.1,
            "activation": "relu"}
    s = pd.DataFrame([{**base, "d": 32, "gap": 0.2, "se": 0.01, "theory": 1.0},
                      {**base, "d": 64, "gap": 0.11, "se": 0.01, "theory": 1.0},
                      {**base, "alpha": 4.0, "d": 32, "gap": 0.2, "se": 0.01, "theory": 1.0},
                      {**base, "alpha": 4.0, "d": 64, "gap": 0.2, "se": 0.01, "theory": 1.0}])
    j = judge_shrink(s, 32, 64).set_index("alpha")
    assert j.loc[2.0, "pass"] and not j.loc[4.0, "pass"]  # halved: ok; constant: fails
    assert j.loc[2.0, "c"] == pytest.approx(6.4)
    with pytest.raises(ValueError, match="both"):
        judge_shrink(s, 32, 48)
