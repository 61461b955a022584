"""Convex-relaxation certificate: no one-layer LSA beats one GD step with Gamma* (reference §8).

Least squares over all (d+1)(d+2)/2 * d LSA features contains every LSA output. Out of sample it
must not beat Gamma* (paired difference > -4 SE) and, if Gamma* is the global LSA optimum, gains
nothing beyond estimation error (difference below 0.1 % of the loss at 2e5 training prompts). A
wrong step (the linear formula on a ReLU target) is beaten by a resolved margin, so the check
has power.
"""

import numpy as np
import pytest

from rmt_icl.lsa.certificate import relaxation_certificate, relaxation_features
from rmt_icl.lsa.data import PromptDistribution
from rmt_icl.lsa.model import MergedLSA
from rmt_icl.theory import one_step_gd_optimum

TOL = 4.0


def test_features_span_every_lsa_output():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 6, 3))
    y = rng.standard_normal((200, 6))
    xq = rng.standard_normal((200, 3))
    F = relaxation_features(X, y, xq)
    assert F.shape == (200, 30)
    m = MergedLSA.init(rng, 3, scale=1.0)
    yhat = m.predict(X, y, xq)
    coef, *_ = np.linalg.lstsq(F, yhat, rcond=None)
    np.testing.assert_allclose(F @ coef, yhat, atol=1e-10)


@pytest.mark.parametrize("kw", [dict(d=3, n=10, noise_var=0.25),
                                dict(d=3, n=10, noise_var=0.09, target="signed:relu"),
                                dict(d=3, n=8, noise_var=0.25, cov_x=np.diag([4.0, 1.0, 0.25]))])
def test_relaxation_does_not_beat_gamma_star(kw):
    dist = PromptDistribution(**kw)
    c = relaxation_certificate(dist, n_train=200_000, n_test=200_000, seed=1)
    assert c.n_features == 30
    assert c.diff > -TOL * c.diff_se, c
    assert c.diff < 1e-3 * c.gd_loss, c


def test_relaxation_beats_a_wrong_step():
    dist = PromptDistribution(3, 10, 0.09, target="signed:relu")
    c_lin = float(one_step_gd_optimum(n=10, d=3, noise_var=0.09).step)
    c = relaxation_certificate(dist, n_train=200_000, n_test=100_000, seed=2,
                               gamma_ref=c_lin * np.eye(3))
    assert c.diff < -10 * c.diff_se, c
