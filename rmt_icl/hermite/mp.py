"""Arbitrary-precision reference path (mpmath) for Hermite coefficients.

``mp_hermite(activation, degree, variance=1, precision=30)`` computes, with ``precision`` decimal
digits (the work precision carries 15 guard digits),

    c_k = ∫ σ(√v z) He_k(z) φ(z) dz / k!,   E σ² = ∫ σ(√v z)² φ(z) dz,   c*_P² = E σ² - Σ k! c_k²,

by mpmath's tanh-sinh quadrature on ``[-Z, Z]`` split at 0 and at the kinks ``u_i/√v`` (where
tanh-sinh converges exponentially even with a kink or jump at an endpoint); Z is where the
Gaussian weight falls below ``10^-(precision+35)``, and σ's envelope there is checked.
The values of σ and ``He_0..He_P`` are memoised per node, so the P + 2 integrals cost about one.
The subtraction for ``c*_P²`` is harmless at this precision. It needs an mpmath implementation of
σ (``Activation.mp_func``); every registered activation has one.

This path is slow (≈ 0.05-0.5 s per coefficient set) and meant for tests and for users who need a
reference value; the float64 engine is checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath

from rmt_icl.hermite.activations import Activation


@dataclass(frozen=True)
class MpResult:
    """Coefficients as mpmath numbers (at the requested precision) and error estimates."""

    coefficients: tuple  # c_0..c_P (mpf)
    second_moment: object  # mpf
    residual: object  # mpf, c*_P
    error: object  # mpf, largest quadrature error estimate over all integrals
    precision: int


def mp_hermite(
    act: Activation, degree: int, variance=1.0, precision: int = 30, kinks=()
) -> MpResult:
    """Hermite coefficients of ``σ(√v z)`` at ``precision`` decimal digits (see module docstring).

    Parameters
    ----------
    act : Activation
        Must carry ``mp_func`` (mpf -> mpf).
    degree : int
        Highest degree P.
    variance : float or str or mpf
        v > 0 (a string such as ``"0.1"`` is read exactly at the working precision).
    precision : int
        Decimal digits, 10 to 1000.
    kinks : iterable of float
        Extra breakpoints in pre-activation units.
    """
    if act.mp_func is None:
        raise ValueError(
            f"activation {act.name!r} has no mpmath implementation; pass mp_func= (an mpf -> mpf "
            "function) to get_activation for the mpmath path"
        )
    if not isinstance(precision, int) or isinstance(precision, bool) or not 10 <= precision <= 1000:
        raise ValueError(
            f"precision must be an integer number of digits in [10, 1000], got {precision!r}"
        )
    with mpmath.workdps(precision + 15):
        v = mpmath.mpf(variance)
        sv = mpmath.sqrt(v)
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)
        fmp = act.mp_func
        memo: dict = {}

        def values(z):
            hit = memo.get(z)
            if hit is None:
                sig = mpmath.mpf(fmp(sv * z))
                he = [mpmath.mpf(1), z]
                for k in range(1, degree):
                    he.append(z * he[k] - k * he[k - 1])
                hit = (sig * mpmath.exp(-z * z / 2) * norm, he, sig)
                memo[z] = hit
            return hit

        # truncate at ±Z where the Gaussian weight is below 10^-(digits+20); the neglected tail
        # is checked through the envelope |σ(√v Z)| (1 + Z^P) e^{-Z²/2}
        zc = mpmath.sqrt(2 * (precision + 35) * mpmath.log(10)) + 2
        for zz in (zc, -zc):
            sig_z = abs(mpmath.mpf(fmp(sv * zz))) * (1 + abs(zz) ** (degree + 1))
            if sig_z * mpmath.exp(-zz * zz / 2) > mpmath.mpf(10) ** (-(precision + 20)):
                raise ValueError(
                    f"activation {act.name!r} grows too fast for the mpmath path at variance "
                    f"{variance}: |σ(√v z)| e^(-z²/2) is not below 1e-{precision + 20} at "
                    f"|z| = {float(zc):.1f} (allowed: polynomially bounded σ)"
                )
        pts = {mpmath.mpf(0)}
        for k in tuple(act.kinks) + tuple(kinks):
            zk = mpmath.mpf(k) / sv
            if -zc < zk < zc:
                pts.add(zk)
        points = [-zc] + sorted(pts) + [zc]
        errs = []
        cs = []
        fact = mpmath.mpf(1)
        for k in range(degree + 1):
            if k > 0:
                fact *= k
            val, err = mpmath.quad(
                lambda z, k=k: values(z)[0] * values(z)[1][k], points, error=True
            )
            cs.append(val / fact)
            errs.append(err / fact)
        m2, err2 = mpmath.quad(lambda z: values(z)[0] * values(z)[2], points, error=True)
        errs.append(err2)
        fact = mpmath.mpf(1)
        acc = mpmath.mpf(0)
        for k, c in enumerate(cs):
            if k > 0:
                fact *= k
            acc += fact * c * c
        r2 = m2 - acc
        res = mpmath.sqrt(r2) if r2 > 0 else mpmath.mpf(0)
        err = max(errs)
    with mpmath.workdps(precision):
        return MpResult(tuple(+c for c in cs), +m2, +res, +err, precision)
