"""The acceptance-grid machinery of issue 6 (rmt_icl.rt_theory_validation) on a tiny grid."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rmt_icl.rt_theory_validation import (
    ACCEPTANCE_GRID,
    MODEL,
    allowance,
    grid_spec,
    judge,
    summarise,
    theory_point,
)
from rmt_icl.simulate.seeding import run_seed
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
    th = random_transformer_icl_error("identity", "relu", row["alpha_realised"],
                                      row["tau_realised"], np.inf, row["width_ratio_realised"],
                                      0.1, 0.1, t_over_d=row["t"] / 8)
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
