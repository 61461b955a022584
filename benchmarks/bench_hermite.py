"""Benchmark of the Hermite engine against a straightforward scipy.integrate.quad loop.

One run prints, all measured in this process:

1. the median time of ``hermite_coefficients`` at degree 10 for tanh (adaptive quadrature), relu
   forced through the quadrature (``method="quadrature"``) and relu by its closed form, after JIT
   warm-up;
2. the same coefficients by a straightforward loop of ``scipy.integrate.quad`` over (-inf, inf),
   one integral per coefficient, at the default tolerances and at ``epsabs = epsrel = 1e-13``;
   the speed-up ratios;
3. the accuracy of every method against the mpmath path at 30 digits (max_k |c_k - c_k^mp|).

Plus, for the Hermite-equivalent model: ``hermite_series`` on an n x k matrix against
``numpy.polynomial.hermite_e.hermeval``.

Usage: ``python benchmarks/bench_hermite.py [--repeats N]``. Target: >= 100x faster than the quad
loop at equal or better accuracy.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
import warnings

import numpy as np
from numpy.polynomial import hermite_e
from scipy import integrate, special

from rmt_icl.hermite import hermite_coefficients, hermite_expansion, hermite_series

DEGREE = 10


def median_time(fn, repeats: int, inner: int = 1) -> float:
    fn()  # warm-up (JIT, caches)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        ts.append((time.perf_counter() - t0) / inner)
    return statistics.median(ts)


def quad_loop(f, degree: int, tight: bool) -> np.ndarray:
    """One scipy.integrate.quad per coefficient: c_k = ∫ f(z) He_k(z) φ(z) dz / k!."""
    kw = {"epsabs": 1e-13, "epsrel": 1e-13, "limit": 200} if tight else {}
    out = np.empty(degree + 1)
    for k in range(degree + 1):
        def g(z, k=k):
            return f(z) * special.eval_hermitenorm(k, z) * math.exp(-0.5 * z * z)

        val = integrate.quad(g, -np.inf, np.inf, **kw)[0]
        out[k] = val / math.sqrt(2 * math.pi) / math.factorial(k)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200, help="timed repeats of the engine")
    ap.add_argument("--quad-repeats", type=int, default=7, help="timed repeats of the quad loop")
    args = ap.parse_args()

    print(f"Hermite engine benchmark, degree P = {DEGREE}, variance 1 (cpu count {os.cpu_count()})")
    cases = {
        "tanh": (math.tanh, dict(method="auto")),
        "relu": (lambda z: z if z > 0 else 0.0, dict(method="quadrature")),
    }
    rows = []
    ulps = {}
    for name, (fscalar, kw) in cases.items():
        ref = hermite_expansion(name, DEGREE, method="mpmath", precision=30).coefficients
        ulps[name] = float(np.spacing(np.max(np.abs(ref))))
        eng = hermite_expansion(name, DEGREE, **kw)
        t_eng = median_time(lambda name=name, kw=kw: hermite_coefficients(name, DEGREE, **kw),
                            args.repeats)
        acc_eng = float(np.max(np.abs(eng.coefficients - ref)))
        rows.append((name, f"engine ({eng.method})", t_eng, acc_eng, eng.error))
        if name == "relu":
            cf = hermite_coefficients("relu", DEGREE)
            t_cf = median_time(lambda: hermite_coefficients("relu", DEGREE), args.repeats)
            rows.append((name, "engine (closed_form)", t_cf, float(np.max(np.abs(cf - ref))),
                         float("nan")))
        for tight in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", integrate.IntegrationWarning)
                cq = quad_loop(fscalar, DEGREE, tight)
                t_q = median_time(lambda f=fscalar, t=tight: quad_loop(f, DEGREE, t),
                                  args.quad_repeats)
            label = "quad loop (tol 1e-13)" if tight else "quad loop (defaults)"
            rows.append((name, label, t_q, float(np.max(np.abs(cq - ref))), float("nan")))

    print(f"\n{'activation':<10} {'method':<24} {'median time':>12} {'max|c-c_mp|':>12} "
          f"{'est. error':>11}")
    for name, label, t, acc, est in rows:
        est_s = f"{est:11.1e}" if math.isfinite(est) else f"{'':>11}"
        print(f"{name:<10} {label:<24} {t * 1e6:9.1f} us {acc:12.1e} {est_s}")

    print("\nspeed-up of the engine's numerical path over the quad loops (same process):")
    for name in cases:
        eng = next(r for r in rows if r[0] == name and r[1].startswith("engine (quadrature"))
        for r in rows:
            if r[0] == name and r[1].startswith("quad loop"):
                if eng[3] <= r[3]:
                    better = "better or equal"
                elif max(eng[3], r[3]) <= ulps[name]:
                    better = f"equal: both below 1 ulp of max|c_k| = {ulps[name]:.1e}"
                else:
                    better = "WORSE"
                print(f"  {name:<5} vs {r[1]:<22}: {r[2] / eng[2]:8.0f}x  (engine accuracy "
                      f"{eng[3]:.1e} vs {r[3]:.1e}: {better})")

    # Hermite-equivalent model kernel: Σ c_j He_j(u) on an n x k matrix
    rng = np.random.default_rng(np.random.SeedSequence(1))
    u = rng.standard_normal((4000, 1000))
    c = hermite_coefficients("tanh", 5)
    out = np.empty_like(u)
    t_hs = median_time(lambda: hermite_series(u, c, out=out), 9)
    t_np = median_time(lambda: hermite_e.hermeval(u, c), 5)
    err = float(np.max(np.abs(out - hermite_e.hermeval(u, c))))
    print(f"\nhermite_series on a {u.shape[0]}x{u.shape[1]} matrix, P = 5: {t_hs * 1e3:.1f} ms "
          f"vs numpy hermeval {t_np * 1e3:.1f} ms ({t_np / t_hs:.1f}x, max diff {err:.1e})")


if __name__ == "__main__":
    main()
