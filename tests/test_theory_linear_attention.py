"""Tests of the linear-attention deterministic-equivalent theory (rmt_icl.theory.linear_attention).

Independent checks: regression values printed by Lu et al.'s public code (arXiv:2405.11751), the
closed-form eps* vs the vectorised root finder vs scipy brentq vs the quartic, an mpmath
evaluation at 40 digits written from the paper's formulas (no stable rewrites), asymptotic
limits, and direct Monte Carlo of the exact test error of a given Gamma (tolerances from the
measured standard error). Details: ``docs/theory/linear_attention.md``.
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
from scipy.optimize import brentq

from rmt_icl import theory
from rmt_icl.core.errors import ConvergenceError
from rmt_icl.simulate.test_error import linear_attention_test_error
from rmt_icl.theory import linear_attention as la
from rmt_icl.theory._marchenko_pastur import mp_all, mp_resolvent, mp_resolvent_derivative

icl = la.linear_attention_icl_error
idg = la.linear_attention_idg_error


def _ratios(args):
    """Keyword arguments from a table row ``(tau, alpha, kappa, rho[, ridge])``."""
    names = ("tau", "alpha", "kappa", "rho", "ridge")[: len(args)]
    return dict(zip(names, args, strict=True))


# ----------------------------------------------------------------------------------------------
# regression values (Lu et al.'s code, printed to 7 decimals), absolute tolerance 1e-6
# ----------------------------------------------------------------------------------------------
RIDGELESS = [
    # (tau, alpha, kappa, rho), e_ICL, e_IDG
    ((0.5, 1, 0.5, 0.01), 1.2610769, 0.8018492),
    ((2, 10, 0.5, 0.01), 0.8911639, 0.1123999),
    ((5, 3, 2, 0.3), 0.8419713, 0.7081712),
    ((0.3, 5, 3, 0.2), 1.1368664, 1.0738733),
]
RIDGE = [
    # (tau, alpha, kappa, rho, lambda), e_ICL, e_IDG (= tau c)
    ((0.5, 1, 0.5, 0.01, 1e-5), 1.2610665, 0.8018412),
    ((2, 1, 0.5, 0.01, 1e-5), 1.2339654, 0.6095443),
    ((2, 10, 0.5, 0.01, 1e-5), 0.8909704, 0.1123758),
    ((3, 2, 2.0, 0.1, 0.1), 0.7174457, 0.5688844),
    ((2, 10, np.inf, 0.01, 0.1), 0.1893532, 0.1893532),
    ((4, 5, 0.8, 0.25, 1.0), 0.8617863, 0.5247281),
    ((0.5, 2, 1.0, 0.1, 1.0), 0.9790006, 0.7622222),
]


@pytest.mark.parametrize("args, e_icl, e_idg", RIDGELESS)
def test_ridgeless_regression(args, e_icl, e_idg):
    assert abs(icl(**_ratios(args)) - e_icl) < 1e-6
    assert abs(idg(**_ratios(args)) - e_idg) < 1e-6


@pytest.mark.parametrize("args, e_icl, e_idg", RIDGE)
def test_ridge_regression(args, e_icl, e_idg):
    assert abs(icl(**_ratios(args)) - e_icl) < 1e-6
    assert abs(idg(**_ratios(args)) - e_idg) < 1e-6


def test_regression_vectorised_matches_scalar():
    args = np.array([a for a, _, _ in RIDGE], dtype=float).T
    e = icl(**_ratios(args))
    np.testing.assert_allclose(e, [v for _, v, _ in RIDGE], atol=1e-6, rtol=0)
    np.testing.assert_allclose(idg(**_ratios(args)), [v for _, _, v in RIDGE], atol=1e-6, rtol=0)


def test_public_exports():
    for name in (
        "linear_attention_icl_error",
        "linear_attention_idg_error",
        "linear_attention_fixed_point",
        "linear_attention_auxiliaries",
    ):
        assert getattr(theory, name) is getattr(la, name)


# ----------------------------------------------------------------------------------------------
# Marchenko--Pastur resolvent
# ----------------------------------------------------------------------------------------------
KAPPAS = [0.05, 0.3, 0.999, 1.0, 1.7, 40.0, np.inf]
XS = np.array([1e-9, 1e-5, 1e-2, 0.3, 1.0, 7.0, 1e3])


@pytest.mark.parametrize("kappa", KAPPAS)
def test_mp_solves_quadratic(kappa):
    """The float64 M solves (x/kappa) M^2 + a M - 1 = 0 to round-off (residual in mpmath)."""
    mp.mp.dps = 40
    m = mp_resolvent(XS, kappa)
    assert np.all(m > 0)
    k = mp.inf if np.isinf(kappa) else mp.mpf(kappa)
    for x, mm in zip(XS, m, strict=True):
        x, M = mp.mpf(x), mp.mpf(mm)
        a = x + 1 - 1 / k
        terms = abs(x / k * M * M) + abs(a * M) + 1
        assert abs(x / k * M * M + a * M - 1) / terms < 4e-16


@pytest.mark.parametrize("kappa", KAPPAS)
def test_mp_derivative_central_difference(kappa):
    x = XS[XS >= 1e-2]  # smaller x is covered by the mpmath test (round-off ~ 1e-16/h)
    h = 1e-5 * x
    fd = (mp_resolvent(x + h, kappa) - mp_resolvent(x - h, kappa)) / (2 * h)
    np.testing.assert_allclose(mp_resolvent_derivative(x, kappa), fd, rtol=1e-7)


@pytest.mark.parametrize("kappa", KAPPAS)
def test_mp_against_mpmath_and_reference_derivative(kappa):
    """40-digit evaluation of the plain (unrationalised) Marchenko--Pastur formulas."""
    mp.mp.dps = 40
    m, dm, comp = mp_all(XS, kappa)
    for i, x in enumerate(XS):
        xm = mp.mpf(x)
        if np.isinf(kappa):
            M, dM = 1 / (1 + xm), -1 / (1 + xm) ** 2
        else:
            k = mp.mpf(kappa)
            a = xm + 1 - 1 / k
            r = mp.sqrt(a * a + 4 * xm / k)
            M = 2 / (a + r)
            dM = -M * M / 2 * (1 + (xm + 1 + 1 / k) / r)
        assert abs(m[i] - M) <= 1e-14 * abs(M)
        assert abs(dm[i] - dM) <= 1e-14 * abs(dM)
        assert abs(comp[i] - (1 - xm * M)) <= 1e-14 * abs(1 - xm * M) + 1e-300


def test_mp_kappa_inf_exact_and_small_x_asymptote():
    x = np.array([1e-3, 0.5, 3.0])
    assert np.array_equal(mp_resolvent(x, np.inf), 1.0 / (1.0 + x))
    assert np.array_equal(mp_resolvent_derivative(x, np.inf), -1.0 / (1.0 + x) ** 2)
    # kappa < 1: M ~ (1 - kappa)/x as x -> 0 (d - k zero eigenvalues)
    kappa = 0.4
    np.testing.assert_allclose(mp_resolvent(1e-12, kappa) * 1e-12, 1 - kappa, rtol=1e-9)


# ----------------------------------------------------------------------------------------------
# fixed point: closed form, root finder, brentq, quartic
# ----------------------------------------------------------------------------------------------
def _brentq_eps(tau, alpha, kappa, rho, lam):
    q = (1 + rho) / alpha

    def f(e):
        return e * mp_resolvent(e + q, kappa) - (1 - tau) - tau * lam / e

    hi = 1.0
    while f(hi) < 0:
        hi *= 2
    return brentq(f, lam, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)


def _quartic_positive_roots(tau, alpha, kappa, rho, lam):
    """Positive real roots of the authors' quartic in eps, by mpmath at 50 digits."""
    mp.mp.dps = 50
    k, t, l_, r, a = (mp.mpf(v) for v in (kappa, tau, lam, rho, alpha))
    q = (1 + r) / a
    p0 = -(l_**2) * t**2 * q
    p1 = -(l_**2) * t**2 + 2 * l_ * t**2 * q - 2 * l_ * t * q
    p2 = -k * l_ * t * q - k * l_ * t + 2 * l_ * t**2 - t**2 * q + 2 * t * q - q - l_ * t
    p3 = -k * l_ * t + k * t * q + k * t - k * q - t**2 - k + t
    p4 = k * t
    coeffs = [p0, p1, p2, p3, p4]  # lowest degree first, with asc=True
    while coeffs[0] == 0:  # lambda = 0: eps = 0 is a double root; drop it
        coeffs.pop(0)
    try:
        roots = mp.polyroots(coeffs, maxsteps=200, extraprec=200, asc=True)
    except TypeError:  # mpmath < 1.4 has no `asc` and wants the highest degree first
        roots = mp.polyroots(coeffs[::-1], maxsteps=200, extraprec=200)
    pos = [float(mp.re(z)) for z in roots if abs(mp.im(z)) <= 1e-30 * abs(z) and mp.re(z) > 0]
    return np.sort(np.array(pos))


def _scaled_residual(eps, tau, alpha, kappa, rho, lam):
    q = (1 + rho) / alpha
    lhs, rhs = 1 - tau + tau * lam / eps, eps * mp_resolvent(eps + q, kappa)
    return abs(lhs - rhs) / (abs(lhs) + abs(rhs))


def test_eps_star_reference_value():
    assert abs(la.linear_attention_fixed_point(alpha=1, tau=0.5, kappa=0.5,
                                               rho=0.01) - 1.6297333) < 1e-7


@pytest.mark.parametrize(
    "tau, alpha, kappa, rho",
    [(0.5, 1, 0.5, 0.01), (0.2, 10, 0.3, 0.5), (0.9, 0.5, 2.0, 0.0), (0.7, 3, np.inf, 0.1)],
)
def test_eps_star_closed_form_vs_brentq_vs_quartic(tau, alpha, kappa, rho):
    closed = la.linear_attention_fixed_point(alpha=alpha, tau=tau, kappa=kappa, rho=rho)
    q = (1 + rho) / alpha
    root = brentq(
        lambda e: e * mp_resolvent(e + q, kappa) - (1 - tau),
        1e-12,
        1e6,
        rtol=4 * np.finfo(float).eps,
    )
    assert abs(closed - root) < 1e-12 * root
    # tiny ridge: vectorised solver converges to eps*
    assert abs(la.linear_attention_fixed_point(alpha=alpha, tau=tau, kappa=kappa, rho=rho,
                                               ridge=1e-13) - closed) < 1e-9
    if np.isfinite(kappa):
        # lambda = 0 quartic: eps^2 (p2 + p3 eps + p4 eps^2); its positive root is eps*
        roots = _quartic_positive_roots(tau, alpha, kappa, rho, 0.0)
        assert roots.size == 1 and abs(roots[0] - closed) < 1e-9 * closed


QUARTIC_POINTS = [
    (0.5, 1, 0.5, 0.01, 1e-5),
    (2, 1, 0.5, 0.01, 1e-5),
    (3, 2, 2.0, 0.1, 0.1),
    (4, 5, 0.8, 0.25, 1.0),
    (0.5, 2, 1.0, 0.1, 1.0),
    (1.0, 4, 0.3, 0.2, 1e-3),
    (10, 0.1, 5.0, 1.0, 30.0),
]


@pytest.mark.parametrize("args", QUARTIC_POINTS)
def test_root_finder_vs_brentq_and_quartic(args):
    eps = la.linear_attention_fixed_point(**_ratios(args))
    ref = _brentq_eps(*args)
    assert abs(eps - ref) <= 1e-12 * ref
    # The quartic of the authors' code is only a necessary condition: it can have several
    # positive roots (e.g. three at args1; docs, "Decisions and findings"). Exactly one
    # of them solves the fixed-point equation, and it is ours.
    roots = _quartic_positive_roots(*args)
    solves = np.array([_scaled_residual(r, *args) < 1e-9 for r in roots])
    assert solves.sum() == 1
    assert abs(roots[solves][0] - eps) <= 1e-7 * eps


def test_quartic_has_spurious_positive_roots():
    """(2, 1, 0.5, 0.01, 1e-5) has 3 positive quartic roots (docs, "Decisions and findings")."""
    roots = _quartic_positive_roots(2, 1, 0.5, 0.01, 1e-5)
    assert roots.size == 3
    assert sum(_scaled_residual(r, 2, 1, 0.5, 0.01, 1e-5) < 1e-9 for r in roots) == 1


def test_root_finder_random_points_vs_brentq():
    rng = np.random.default_rng(np.random.SeedSequence(20241))
    n = 60
    tau = 10 ** rng.uniform(-2, 2, n)
    alpha = 10 ** rng.uniform(-2, 3, n)
    kappa = np.where(rng.random(n) < 0.2, np.inf, 10 ** rng.uniform(-2, 2, n))
    rho = rng.uniform(0, 2, n)
    lam = 10 ** rng.uniform(-10, 4, n)
    eps = la.linear_attention_fixed_point(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=lam)
    ref = np.array([_brentq_eps(*p) for p in zip(tau, alpha, kappa, rho, lam, strict=True)])
    np.testing.assert_allclose(eps, ref, rtol=1e-11)
    assert np.all(eps > lam)  # the root lies above lambda


def test_fixed_point_small_ridge_asymptotics():
    # tau > 1: eps ~ tau lam/(tau - 1); tau = 1: eps ~ sqrt(lam/M(q*))
    lam = 1e-10
    e = la.linear_attention_fixed_point(alpha=2.0, tau=3.0, kappa=0.7, rho=0.1, ridge=lam)
    assert abs(e / (3 * lam / 2) - 1) < 1e-6
    e1 = la.linear_attention_fixed_point(alpha=2.0, tau=1.0, kappa=0.7, rho=0.1, ridge=lam)
    m = mp_resolvent(1.1 / 2.0, 0.7)
    assert abs(e1 / np.sqrt(lam / m) - 1) < 1e-4


def test_convergence_error_carries_residual(monkeypatch):
    monkeypatch.setattr(la, "_MAXITER", 1)
    with pytest.raises(ConvergenceError) as info:
        la.linear_attention_fixed_point(alpha=1.0, tau=2.0, kappa=0.5, rho=0.1, ridge=[0.0, 1e-3,
                                                                                       0.2, 5.0])
    assert info.value.residual is not None and info.value.residual > 0
    # indices refer to the caller's (flattened) input; the ridgeless point never fails
    assert set(np.atleast_1d(info.value.where)) <= {1, 2, 3} and len(info.value.where) > 0


# ----------------------------------------------------------------------------------------------
# mpmath at 40 digits, written from the paper's formulas (fixed point, ICL and IDG errors)
# ----------------------------------------------------------------------------------------------
def _mp_M(x, kappa):
    if kappa == mp.inf:
        return 1 / (1 + x), -1 / (1 + x) ** 2
    a = x + 1 - 1 / kappa
    r = mp.sqrt(a * a + 4 * x / kappa)
    M = 2 / (a + r)
    return M, -M * M / 2 * (1 + (x + 1 + 1 / kappa) / r)


def _mp_errors(tau, alpha, kappa, rho, lam):
    tau, alpha, rho, lam = (mp.mpf(v) for v in (tau, alpha, rho, lam))
    kappa = mp.inf if np.isinf(kappa) else mp.mpf(kappa)
    q = (1 + rho) / alpha
    if lam == 0:
        eps = (1 - tau) / (tau * _mp_M(q, kappa / tau)[0]) if tau < 1 else mp.mpf(0)
    else:

        def f(e):
            return e * _mp_M(e + q, kappa)[0] - (1 - tau) - tau * lam / e

        eps = mp.findroot(f, (lam, 2 * (1 + q) / tau + 2 * lam), solver="anderson")
    nu = q + eps
    m, dm = _mp_M(nu, kappa)
    c = (rho + nu - nu**2 * m - eps * (1 - 2 * nu * m - nu**2 * dm)) / (
        tau - 1 + 2 * eps * m + eps**2 * dm
    )
    e_icl = (
        (1 + q) * (1 - 2 * nu * m - nu**2 * dm + c * (m + eps * dm)) - 2 * (1 - nu * m) + 1 + rho
    )
    return e_icl, tau * c


@pytest.mark.parametrize(
    "args",
    [
        (0.5, 1, 0.5, 0.01, 0.0),
        (2, 10, 0.5, 0.01, 0.0),
        (0.3, 50, 0.1, 0.2, 0.0),  # kappa < 1, small q*: rationalised branch
        (3, 2, 2.0, 0.1, 0.1),
        (0.8, 0.05, 0.2, 1.0, 1e-4),
    ],
)
def test_against_mpmath(args):
    mp.mp.dps = 40
    ref_icl, ref_idg = _mp_errors(*args)
    assert abs(icl(**_ratios(args)) - ref_icl) <= 1e-12 * abs(ref_icl)
    assert abs(idg(**_ratios(args)) - ref_idg) <= 1e-12 * abs(ref_idg)


# ----------------------------------------------------------------------------------------------
# consistency: closed forms vs general formula, ridge -> 0+, limits
# ----------------------------------------------------------------------------------------------
def _grid(n=200, seed=7):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    tau = 10 ** rng.uniform(-1.5, 1.5, n)
    tau = tau[np.abs(tau - 1) > 0.05]
    m = tau.size
    alpha = 10 ** rng.uniform(-1.5, 2.5, m)
    kappa = np.where(rng.random(m) < 0.2, np.inf, 10 ** rng.uniform(-1.5, 1.5, m))
    rho = rng.uniform(0, 1.5, m)
    return tau, alpha, kappa, rho


def test_ridgeless_closed_forms_equal_general_formula_at_zero_ridge():
    tau, alpha, kappa, rho = _grid()
    aux, comp = la._aux_flat(tau, alpha, kappa, rho, np.zeros_like(tau))
    general = la._icl_general_flat(aux, comp, rho)
    np.testing.assert_allclose(icl(alpha=alpha, tau=tau, kappa=kappa, rho=rho), general, rtol=1e-10)
    # e_IDG = tau c at lambda = 0 (both closed-form branches)
    np.testing.assert_allclose(idg(alpha=alpha, tau=tau, kappa=kappa, rho=rho), tau * aux.c,
                               rtol=1e-9)


def test_expanded_form_of_icl_error():
    """e_ICL = rho + c m + (c eps - nu^2) m' + q*[1 + (c - 2 nu) m + (c eps - nu^2) m']."""
    tau, alpha, kappa, rho = _grid(seed=8)
    lam = np.geomspace(1e-6, 10, tau.size)
    a = la.linear_attention_auxiliaries(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=lam)
    b = a.c * a.epsilon - a.nu**2
    expanded = (
        rho + a.c * a.m + b * a.m_prime + a.q_star * (1 + (a.c - 2 * a.nu) * a.m + b * a.m_prime)
    )
    np.testing.assert_allclose(icl(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=lam), expanded,
                               rtol=1e-9)


def test_small_ridge_recovers_ridgeless_on_both_sides():
    tau, alpha, kappa, rho = _grid(seed=9)
    np.testing.assert_allclose(
        icl(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=1e-9),
        icl(alpha=alpha, tau=tau, kappa=kappa, rho=rho), atol=1e-5, rtol=1e-5
    )
    np.testing.assert_allclose(
        idg(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=1e-9),
        idg(alpha=alpha, tau=tau, kappa=kappa, rho=rho), atol=1e-5, rtol=1e-5
    )
    assert np.any(tau < 1) and np.any(tau > 1)


@pytest.mark.parametrize(
    "kappa, expected", [(0.2, 0.81), (0.5, 0.51), (0.9, 0.11), (1.1, 0.01), (2.0, 0.01)]
)
def test_limit_tau_alpha_to_infinity(kappa, expected):
    rho = 0.01
    assert abs(expected - (rho + max(1 - kappa, 0))) < 1e-12
    assert abs(icl(alpha=1e5, tau=1e8, kappa=kappa, rho=rho) - expected) < 1e-3
    assert abs(idg(alpha=1e5, tau=1e8, kappa=kappa, rho=rho) - rho) < 1e-3


@pytest.mark.parametrize("alpha, rho", [(0.5, 0.0), (2.0, 0.3), (20.0, 1.0)])
def test_limit_kappa_tau_to_infinity(alpha, rho):
    q = (1 + rho) / alpha
    assert abs(icl(alpha=alpha, tau=1e10, kappa=np.inf, rho=rho) - (rho + q / (1 + q))) < 1e-8
    assert abs(icl(alpha=alpha, tau=1e10, kappa=1e12, rho=rho,
                   ridge=1e-12) - (rho + q / (1 + q))) < 1e-7


def test_large_ridge_gives_zero_predictor_error():
    lams = np.array([1e2, 1e4, 1e6, 1e8])
    for args in [(2, 10, 0.5, 0.01), (0.5, 1, 3.0, 0.4), (1.0, 2, np.inf, 0.0)]:
        gap = np.abs(icl(**_ratios(args), ridge=lams) - (1 + args[3]))
        assert gap[-1] < 1e-6
        assert np.all(np.diff(gap) < 0)  # approaches monotonically, ~1/lambda


def test_idg_equals_icl_for_infinite_pool():
    tau, alpha, _, rho = _grid(seed=10)
    for lam in (0.0, 1e-3, 0.1, 1.0, 30.0):
        np.testing.assert_allclose(
            idg(alpha=alpha, tau=tau, kappa=np.inf, rho=rho, ridge=lam),
            icl(alpha=alpha, tau=tau, kappa=np.inf, rho=rho, ridge=lam), rtol=1e-10
        )


def test_errors_at_least_noise():
    tau, alpha, kappa, rho = _grid(seed=11)
    lam = np.geomspace(1e-7, 1e2, tau.size)
    ratios = dict(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=lam)
    e_icl, e_idg = icl(**ratios), idg(**ratios)
    assert np.all(e_icl >= rho) and np.all(e_idg >= rho)
    # Note: e_ICL >= e_IDG is NOT asserted: the theory (also the exact ridgeless closed forms,
    # confirmed with mpmath) gives e_IDG > e_ICL at e.g. (0.082, 88.8, 0.119, 0.672, 0).


def test_interpolation_peak_is_inf_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert icl(alpha=2.0, tau=1.0, kappa=0.5, rho=0.1) == np.inf
        assert idg(alpha=2.0, tau=1.0, kappa=0.5, rho=0.1) == np.inf
        assert la.linear_attention_auxiliaries(alpha=2.0, tau=1.0, kappa=0.5, rho=0.1).c == np.inf
        out = icl(alpha=2.0, tau=np.array([0.5, 1.0, 2.0]), kappa=np.inf, rho=0.1)
        assert np.isinf(out[1]) and np.all(np.isfinite(out[[0, 2]]))
        # any ridge removes the divergence
        assert np.isfinite(icl(alpha=2.0, tau=1.0, kappa=0.5, rho=0.1, ridge=1e-8))


def test_broadcasting_shapes_and_scalars():
    tau = np.array([[0.5], [2.0], [1.0]])
    alpha = np.array([1.0, 3.0, 10.0, 30.0])
    ridge = np.array([0.0, 1e-3, 0.0, 1.0])
    out = icl(alpha=alpha, tau=tau, kappa=np.inf, rho=0.1, ridge=ridge)
    assert out.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert out[i, j] == icl(alpha=alpha[j], tau=tau[i, 0], kappa=np.inf, rho=0.1,
                                    ridge=ridge[j])
    assert np.ndim(icl(alpha=1, tau=0.5, kappa=0.5, rho=0.01)) == 0
    assert isinstance(icl(alpha=1, tau=0.5, kappa=0.5, rho=0.01), float)
    assert idg(alpha=[1, 2], tau=0.5, kappa=[[0.5], [np.inf]], rho=0.01, ridge=0.1).shape == (2, 2)
    assert la.linear_attention_fixed_point(alpha=1, tau=np.ones((2, 3)) * 2, kappa=1, rho=0,
                                           ridge=0.1).shape == (2, 3)
    aux = la.linear_attention_auxiliaries(alpha=1.0, tau=[0.5, 2.0], kappa=0.5, rho=0.01,
                                          ridge=1e-3)
    assert all(np.shape(v) == (2,) for v in aux)


@pytest.mark.parametrize("fn", [icl, idg, la.linear_attention_fixed_point])
@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(tau=0.0), "tau"),
        (dict(tau=-1.0), "tau"),
        (dict(tau=np.nan), "tau"),
        (dict(alpha=0.0), "alpha"),
        (dict(alpha=[1.0, np.nan]), "alpha"),
        (dict(kappa=0.0), "kappa"),
        (dict(kappa=-1.0), "kappa"),  # the authors' kappa <= 0 sentinel is rejected
        (dict(kappa=np.nan), "kappa"),
        (dict(rho=-0.1), "rho"),
        (dict(rho=np.nan), "rho"),
        (dict(ridge=-1e-3), "ridge"),
        (dict(ridge=np.nan), "ridge"),
    ],
)
def test_bad_input(fn, kwargs, name):
    args = dict(alpha=1.0, tau=2.0, kappa=0.5, rho=0.1, ridge=0.1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        fn(**args)


# ----------------------------------------------------------------------------------------------
# nonlinear targets: the reduction a_1^2 e(alpha, tau, kappa, rho', ridge/a_1^2), no intercept
# ----------------------------------------------------------------------------------------------
def _reduced_by_hand(fn, target, alpha, tau, kappa, rho, ridge):
    """Linear attention with target g, written out from the reduction: the predictor is linear
    in the query, so E g and the rest of g act as noise (rho' = E y^2/a_1^2 - 1, alpha' = alpha),
    and the objective is a_1^2 times the effective one at ridge/a_1^2."""
    from rmt_icl.core.targets import get_target

    t = get_target(target)
    a1sq, q = t.a1**2, t.second + rho
    return a1sq * fn(alpha=alpha, tau=tau, kappa=kappa, rho=q / a1sq - 1.0, ridge=ridge / a1sq)


@pytest.mark.parametrize("fn", [icl, idg])
@pytest.mark.parametrize("target", ["relu", "tanh", "tanh:2", "he3:0.3"])
def test_nonlinear_target_is_the_reduced_linear_problem(fn, target):
    tau, alpha, kappa, rho = _grid(40, seed=12)
    for lam in (0.0, 1e-3, 0.5):
        np.testing.assert_allclose(
            fn(target, alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=lam),
            _reduced_by_hand(fn, target, alpha, tau, kappa, rho, lam), rtol=1e-12)


def test_linear_target_is_the_plain_formula_bit_for_bit():
    from rmt_icl.core.targets import get_target

    tau, alpha, kappa, rho = _grid(50, seed=13)
    for fn in (icl, idg):
        for lam in (0.0, 0.1):
            plain = fn(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=lam)
            for target in ("linear", "identity", get_target("linear")):
                assert np.array_equal(fn(target, alpha=alpha, tau=tau, kappa=kappa, rho=rho,
                                         ridge=lam), plain)
            # a callable linear target goes through the Hermite engine: equal to rounding
            np.testing.assert_allclose(fn(lambda s: s, alpha=alpha, tau=tau, kappa=kappa, rho=rho,
                                          ridge=lam), plain, rtol=1e-12)


def test_nonlinear_target_has_no_intercept():
    """Without an intercept the mean of g is noise: ridge -> inf gives the zero predictor's
    E y^2 (not Var y), and a constant shift c of g costs exactly the extra E y^2 it adds."""
    from rmt_icl.core.targets import get_target

    relu = get_target("relu")
    big = icl("relu", alpha=2.0, tau=[0.5, 2.0], kappa=np.inf, rho=0.1, ridge=1e9)
    np.testing.assert_allclose(big, relu.second + 0.1, rtol=1e-6)
    assert abs(big[0] - (relu.second + 0.1 - relu.mean**2)) > 0.1

    def shifted(s):
        return np.tanh(s) + 0.5

    tanh = get_target("tanh")
    a1sq = tanh.a1**2
    for lam in (0.0, 0.1):
        got = icl(shifted, alpha=2.0, tau=0.7, kappa=1.5, rho=0.1, ridge=lam)
        want = a1sq * icl(alpha=2.0, tau=0.7, kappa=1.5, rho=(tanh.second + 0.25 + 0.1) / a1sq - 1,
                          ridge=lam / a1sq)
        assert got == pytest.approx(want, rel=1e-10)


def test_nonlinear_target_thresholds_shapes_and_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = icl("relu", alpha=[1.0, 2.0], tau=[[0.5], [1.0]], kappa=np.inf, rho=0.1)
        assert out.shape == (2, 2) and np.all(np.isinf(out[1])) and np.all(np.isfinite(out[0]))
    assert isinstance(idg("tanh", alpha=2.0, tau=2.0, kappa=1.5, rho=0.1, ridge=0.1), float)
    kw = dict(alpha=2.0, tau=2.0, kappa=1.5, rho=0.1, ridge=0.1)
    for fn in (icl, idg):
        with pytest.raises(NotImplementedError, match="no linear component"):
            fn("he2", **kw)
        for bad in (3.0, "no-such-target", "signed:relu", lambda s: np.full_like(s, np.nan)):
            with pytest.raises(ValueError, match="target") as info:
                fn(bad, **kw)
            assert not str(info.value).startswith("activation")
        with pytest.raises(ValueError, match="alpha"):
            fn("relu", **dict(kw, alpha=-1.0))
        with pytest.raises(TypeError):
            fn("relu", 2.0, 2.0, 1.5, 0.1)  # the ratios stay keyword-only


# ----------------------------------------------------------------------------------------------
# exact test error of a given Gamma vs direct Monte Carlo
# ----------------------------------------------------------------------------------------------
def _mc_test_error(Gamma, ell, rho, sample_task, n, rng, chunk=50_000):
    """Direct sampling: contexts, query and noise drawn explicitly; returns (mean, s.e.)."""
    d = Gamma.shape[0]
    total, total_sq, count = 0.0, 0.0, 0
    while count < n:
        m = min(chunk, n - count)
        w = sample_task(m, rng)
        X = rng.standard_normal((m, ell, d)) / np.sqrt(d)
        y = np.einsum("nld,nd->nl", X, w) + np.sqrt(rho) * rng.standard_normal((m, ell))
        h = np.concatenate(
            [(d / ell) * np.einsum("nl,nld->nd", y, X), np.mean(y * y, axis=1, keepdims=True)],
            axis=1,
        )
        xq = rng.standard_normal((m, d)) / np.sqrt(d)
        yq = np.sum(xq * w, axis=1) + np.sqrt(rho) * rng.standard_normal(m)
        err = (yq - np.sum(xq * (h @ Gamma.T), axis=1)) ** 2
        total += err.sum()
        total_sq += (err * err).sum()
        count += m
    mean = total / n
    se = np.sqrt((total_sq / n - mean**2) / (n - 1))
    return mean, se


def _normalised(w):
    return w * np.sqrt(w.shape[-1]) / np.linalg.norm(w, axis=-1, keepdims=True)


def _random_gamma(d, rng):
    G = 0.6 * np.eye(d) + 0.3 * rng.standard_normal((d, d)) / np.sqrt(d)
    g = 0.4 * rng.standard_normal(d) / np.sqrt(d)
    return np.concatenate([G, g[:, None]], axis=1)


def test_test_error_simple_cases():
    d, alpha, rho = 7, 2.0, 0.3
    assert linear_attention_test_error(np.zeros((d, d + 1)), alpha, rho) == pytest.approx(1.3)
    # Gamma = [c I | 0]: e = 1 + rho - 2c + c^2 [(1+rho) d/ell + 1 + 1/ell]
    ell = alpha * d
    for c in (0.2, 0.7):
        Gam = np.concatenate([c * np.eye(d), np.zeros((d, 1))], axis=1)
        expected = 1 + rho - 2 * c + c**2 * ((1 + rho) * d / ell + 1 + 1 / ell)
        assert linear_attention_test_error(Gam, alpha, rho) == pytest.approx(expected, 1e-14)
    # the optimal such c tends to the one-step optimum rho + q*/(1+q*) as d -> infinity
    d = 4000
    q = (1 + rho) / alpha
    c = 1 / ((1 + rho) / alpha + 1 + 1 / (alpha * d))
    e = 1 + rho - 2 * c + c**2 * ((1 + rho) / alpha + 1 + 1 / (alpha * d))
    assert abs(e - (rho + q / (1 + q))) < 1e-3


def test_test_error_stack_and_ell_argument():
    rng = np.random.default_rng(np.random.SeedSequence(3))
    d = 6
    stack = np.stack([_random_gamma(d, rng) for _ in range(4)])
    W = _normalised(rng.standard_normal((3, d)))
    mu, R = W.mean(0), W.T @ W / 3
    batch = linear_attention_test_error(stack, 1.5, 0.2, mu, R)
    single = [linear_attention_test_error(G, 1.5, 0.2, mu, R) for G in stack]
    np.testing.assert_allclose(batch, single, rtol=1e-14)
    # ell alone equals alpha = ell/d; inconsistent alpha and ell is rejected
    assert linear_attention_test_error(stack[0], None, 0.2, ell=9) == pytest.approx(
        linear_attention_test_error(stack[0], 1.5, 0.2), rel=1e-14
    )
    with pytest.raises(ValueError, match="ell"):
        linear_attention_test_error(stack[0], 1.0, 0.2, ell=9)
    with pytest.raises(ValueError, match="Gamma"):
        linear_attention_test_error(np.zeros((3, 3)), 1.0, 0.2)
    with pytest.raises(ValueError, match="rho"):
        linear_attention_test_error(stack[0], 1.0, -0.2)


@pytest.mark.parametrize(
    "d, ell, rho, mode",
    [(5, 3, 0.3, "icl"), (5, 4, 0.1, "idg"), (12, 12, 0.1, "icl"), (12, 12, 0.1, "idg")],
)
def test_test_error_vs_direct_monte_carlo(d, ell, rho, mode):
    """Formula vs direct sampling; 4 s.e. tolerance, at d = 12."""
    ss = np.random.SeedSequence([2024, d, ell, mode == "idg"])
    rng_g, rng_mc = (np.random.default_rng(s) for s in ss.spawn(2))
    Gamma = _random_gamma(d, rng_g)
    if mode == "icl":
        mu = R = None

        def sample_task(m, rng):
            return _normalised(rng.standard_normal((m, d)))
    else:
        pool = _normalised(rng_g.standard_normal((3, d)))
        mu, R = pool.mean(0), pool.T @ pool / 3

        def sample_task(m, rng):
            return pool[rng.integers(0, 3, m)]

    exact = linear_attention_test_error(Gamma, None, rho, mu, R, ell=ell)
    mc, se = _mc_test_error(Gamma, ell, rho, sample_task, 400_000, rng_mc)
    assert abs(mc - exact) < 4 * se, (mc, exact, se)
    if d == 5:
        # power: dropping the finite-ell corrections 1/ell, 2/ell is detected
        G = Gamma[:, :d]
        inf_ell = linear_attention_test_error(Gamma, None, rho, mu, R, ell=1e12)
        inf_ell += (1 + rho) / ell * np.sum(G * G)  # restore the (d/ell)||G||^2 term
        assert abs(mc - inf_ell) > 8 * se, (mc, inf_ell, se)


def test_gaussian_task_correction_vs_monte_carlo():
    d, ell, rho = 4, 3, 0.2
    ss = np.random.SeedSequence(77)
    rng_g, rng_mc = (np.random.default_rng(s) for s in ss.spawn(2))
    Gamma = _random_gamma(d, rng_g)
    Gamma[:, d] = 0.8  # a large label column makes the 2/d correction visible
    mc, se = _mc_test_error(
        Gamma, ell, rho, lambda m, r: r.standard_normal((m, d)), 400_000, rng_mc
    )
    corrected = linear_attention_test_error(
        Gamma, None, rho, ell=ell, gaussian_task_correction=True
    )
    plain = linear_attention_test_error(Gamma, None, rho, ell=ell)
    assert abs(mc - corrected) < 4 * se, (mc, corrected, se)
    assert abs(mc - plain) > 8 * se, (mc, plain, se)


def test_newton_converges_quickly_on_random_points(monkeypatch):
    """Quadratic convergence: 20 iterations suffice on 1e4 random points (a stalled Newton
    that falls back to bisection needs ~50, which the ConvergenceError would reveal)."""
    monkeypatch.setattr(la, "_MAXITER", 20)
    rng = np.random.default_rng(np.random.SeedSequence(99))
    n = 10_000
    tau = 10 ** rng.uniform(-2, 2, n)
    alpha = 10 ** rng.uniform(-1, 3, n)
    kappa = np.where(rng.random(n) < 0.1, np.inf, 10 ** rng.uniform(-2, 2, n))
    rho = rng.uniform(0, 2, n)
    lam = 10 ** rng.uniform(-8, 2, n)
    eps = la.linear_attention_fixed_point(alpha=alpha, tau=tau, kappa=kappa, rho=rho, ridge=lam)
    assert np.all(np.isfinite(eps)) and np.all(eps > lam)


# ----------------------------------------------------------------------------------------------
# non-monotonicity in alpha (Lu et al., Fig. 3) and the Fig. 3 minimum detector
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, alphas, quoted",
    [
        ((20, 0.5, 0.5, 0.0), [1, 10, 1e2, 1e3, 1e4], "1.415 1.198 1.924 9.812 88.76"),
        ((0.5, 0.3, 0.1, 0.0), [1e4], "364.7"),
        ((0.5, 0.6, 0.1, 0.0), [10, 1e2, 1e4], "1.094 1.115 1.198"),
        ((20, 0.5, 0.5, 0.1), [1, 10, 1e2, 1e3, 1e4], "1.40 1.13 1.04 1.02 1.02"),
    ],
)
def test_quoted_ridgeless_alpha_curves(args, alphas, quoted):
    tau, kappa, rho, lam = args
    e = icl(alpha=np.array(alphas), tau=tau, kappa=kappa, rho=rho, ridge=lam)
    # quoted to the shown number of decimals: half a unit in the last place
    values = np.array([float(q) for q in quoted.split()])
    half_ulp = np.array([0.5 * 10.0 ** -len(q.split(".")[1]) for q in quoted.split()])
    assert np.all(np.abs(e - values) <= half_ulp + 1e-12), e


def test_linear_growth_in_alpha_below_min_tau_1():
    """Ridgeless e_ICL ~ slope * alpha for kappa < min(tau, 1), with the closed-form slope."""
    a = np.array([1e7, 1e8])
    for tau, kappa, rho in [(20, 0.5, 0.5), (3, 0.9, 0.1)]:
        e = icl(alpha=a, tau=tau, kappa=kappa, rho=rho)
        slope = (1 - kappa) * rho / ((1 + rho) * (tau - 1))
        assert abs((e[1] - e[0]) / (a[1] - a[0]) / slope - 1) < 1e-3
    tau, kappa, rho = 0.5, 0.3, 0.1
    e = icl(alpha=a, tau=tau, kappa=kappa, rho=rho)
    slope = (tau - kappa) * rho / ((1 - tau) * (1 + rho))
    assert abs((e[1] - e[0]) / (a[1] - a[0]) / slope - 1) < 1e-3
    # kappa > min(tau, 1): bounded
    assert icl(alpha=1e8, tau=0.5, kappa=0.6, rho=0.1) < 2 and icl(alpha=1e8, tau=20, kappa=1.1,
                                                                   rho=0.5) < 2


def _load_fig3():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "figures" / "fig_la_nonmonotonicity.py"
    spec = importlib.util.spec_from_file_location("fig_la_nonmonotonicity", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fig3_minimum_detector():
    fig3 = _load_fig3()
    x = np.linspace(0, 1, 50)
    curves = np.stack(
        [
            1 - x,  # monotone decreasing
            (x - 0.3) ** 2,  # V: minimum at 0.3
            1 - x + 1e-7 * np.sin(40 * x),  # wiggles below tol: monotone
            np.minimum((x - 0.5) ** 2, 0.1) + 0.0 * x,  # plateau, then min at 0.5
        ]
    )
    idx = fig3.first_interior_minimum(curves, tol=1e-5)
    assert idx[0] == -1 and idx[2] == -1
    assert abs(x[idx[1]] - 0.3) < 0.02 and abs(x[idx[3]] - 0.5) < 0.02


def test_fig3_compute_small_grid(monkeypatch):
    fig3 = _load_fig3()
    monkeypatch.setattr(fig3, "QUICK", dict(n_kappa=9, n_rho=5, n_alpha=60))
    res = fig3.compute(quick=True)
    for key, *_ in fig3.PANELS:
        assert res["maps"][key].shape == (5, 9)
    s = res["summary"]
    # e_ICL grows linearly in alpha exactly left of kappa = min(tau, 1) (docs, "Decisions")
    for key in ("icl_tau0.5", "icl_tau20"):
        assert s[key]["linear_growth_fraction_left_of_line"] == 1.0
        assert s[key]["linear_growth_fraction_right_of_line"] == 0.0
        assert s[key]["nonmonotone_fraction_left_of_line"] == 1.0
