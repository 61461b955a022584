"""Public API of the Hermite engine: results object, bad input, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import rmt_icl
from rmt_icl.cli import main
from rmt_icl.hermite import (
    MAX_DEGREE,
    activation_names,
    get_activation,
    hermite_coefficients,
    hermite_expansion,
    hermite_residual,
)

REQUIRED = {
    "identity",
    "relu",
    "leaky_relu",
    "abs",
    "sign",
    "erf",
    "tanh",
    "sigmoid",
    "softplus",
    "gelu",
    "silu",
    "elu",
    "quadratic",
    "cubic",
    "sin",
    "cos",
}


def test_registry_and_lazy_exports():
    assert REQUIRED <= set(activation_names())
    for name in (
        "hermite_coefficients",
        "hermite_residual",
        "hermite_expansion",
        "dual_kernel",
        "hermite_polynomials",
        "get_activation",
    ):
        assert callable(getattr(rmt_icl, name))
    for name in activation_names():
        act = get_activation(name)
        y = act(np.linspace(-2, 2, 7))
        assert y.shape == (7,) and y.dtype == np.float64 and np.all(np.isfinite(y))
        assert act.mp_func is not None


def test_relu_worked_example():
    """The docs' worked example: relu at degree 4 (closed forms, ``docs/hermite.md``)."""
    e = hermite_expansion("relu", 4)
    s2pi = math.sqrt(2 * math.pi)
    want = [1 / s2pi, 0.5, 1 / (2 * s2pi), 0.0, -1 / (24 * s2pi)]
    np.testing.assert_allclose(e.coefficients, want, rtol=0, atol=1e-16)
    assert e.method == "closed_form" and e.second_moment == 0.5
    r2 = 0.5 - (1 / (2 * math.pi) + 0.25 + 1 / (4 * math.pi) + 1 / (48 * math.pi))
    assert abs(e.residual - math.sqrt(r2)) < 1e-15
    np.testing.assert_allclose(e.residuals[1] ** 2, 0.25 - 1 / (2 * math.pi), rtol=1e-14)
    assert hermite_residual("relu", 4) == e.residual
    c = hermite_coefficients("relu", 4)
    c[0] = 99.0  # a fresh writable copy, the expansion is unchanged
    assert e.coefficients[0] != 99.0 and not e.coefficients.flags.writeable


def test_callable_and_params():
    c_lam = hermite_coefficients(lambda u: np.tanh(u), 6, variance=2.0)
    c_reg = hermite_coefficients("tanh", 6, variance=2.0)
    np.testing.assert_allclose(c_lam, c_reg, rtol=0, atol=1e-14)
    # a non-vectorised scalar callable is accepted too
    c_scalar = hermite_coefficients(lambda x: math.tanh(x), 6, variance=2.0)
    np.testing.assert_allclose(c_scalar, c_reg, rtol=0, atol=1e-14)
    lr = hermite_coefficients("leaky_relu", 3, params={"slope": 0.3})
    np.testing.assert_allclose(lr, hermite_coefficients(get_activation("leaky_relu", slope=0.3), 3))
    assert lr[1] == pytest.approx(0.3 + 0.7 * 0.5)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: hermite_coefficients(3.0, 4), r"activation must be a callable or one of"),
        (lambda: hermite_coefficients("swish2", 4), r"registered names \[.*'relu'.*\]"),
        (lambda: hermite_coefficients("relu", -1), r"degree must be an integer in \[0, 170\]"),
        (lambda: hermite_coefficients("relu", MAX_DEGREE + 1), r"degree .*\[0, 170\].*overflows"),
        (lambda: hermite_coefficients("relu", 2.5), r"degree must be an integer"),
        (lambda: hermite_coefficients("relu", 4, variance=0.0), r"variance .* \(0, inf\)"),
        (lambda: hermite_coefficients("relu", 4, variance=-1), r"variance .* \(0, inf\)"),
        (lambda: hermite_coefficients("relu", 4, variance=np.nan), r"variance .* \(0, inf\)"),
        (lambda: hermite_coefficients("relu", 4, variance=np.inf), r"variance .* \(0, inf\)"),
        (lambda: hermite_coefficients(lambda u: np.sqrt(u), 4), r"activation .* returned nan"),
        (lambda: hermite_coefficients(lambda u: 1.0 / u, 4), r"activation .* singular"),
        (lambda: hermite_coefficients(lambda u: np.exp(u**2), 4), r"grows too fast"),
        (lambda: hermite_coefficients(lambda u: np.exp(u**2 / 4), 4), r"grows too fast"),
        (lambda: hermite_coefficients("relu", 4, method="simpson"), r"method must be one of"),
        (lambda: hermite_coefficients("tanh", 4, method="closed_form"), r"closed_form.*tanh"),
        (lambda: hermite_coefficients("tanh", 4, method="quadrature", tol=0.1), r"tol must lie"),
        (lambda: hermite_coefficients("tanh", 4, method="mpmath", precision=5), r"precision must"),
        (lambda: hermite_coefficients(lambda u: np.tanh(u), 2, method="mpmath"), r"mp_func"),
        (lambda: get_activation("leaky_relu", slope=np.nan), r"slope must be a finite number"),
        (lambda: get_activation("erf", a=-1.0), r"parameter a must be .*\(0, inf\)"),
        (lambda: get_activation("relu", slope=0.1), r"unknown parameter.*slope.*allowed"),
        (lambda: get_activation("polynomial", coeffs=()), r"coeffs must hold"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_exp_growth_is_fine_when_square_integrable():
    """σ(u) = e^u has E σ² = e^{2v}: accepted, and matches the exact c_k = √v^k e^{v/2}/k!."""
    v = 0.7
    e = hermite_expansion(lambda u: np.exp(u), 8, variance=v)
    k = np.arange(9)
    exact = np.sqrt(v) ** k * np.exp(v / 2) / np.array([math.factorial(i) for i in k])
    np.testing.assert_allclose(e.coefficients, exact, rtol=0, atol=1e-13)
    assert abs(e.second_moment - math.exp(2 * v)) < 1e-12


def test_cli_help_lists_every_activation():
    from rmt_icl.cli.hermite import ACTIVATION_NAMES

    assert list(ACTIVATION_NAMES) == activation_names()


def test_cli_json(capsys):
    assert main(["hermite", "relu", "--degree", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    e = hermite_expansion("relu", 4)
    np.testing.assert_allclose(out["coefficients"], e.coefficients, rtol=0, atol=0)
    assert out["residual"] == e.residual and out["method"] == "closed_form"
    assert len(out["residuals"]) == 5 and out["second_moment"] == 0.5
    assert main(["hermite", "leaky_relu", "-P", "2", "--param", "slope=0.25", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == {"slope": 0.25}


def test_cli_table_and_errors(capsys):
    assert main(["hermite", "tanh", "--degree", "3", "--variance", "2"]) == 0
    text = capsys.readouterr().out
    assert "c*_k" in text and "E sigma^2" in text and "quadrature" in text
    assert main(["hermite", "nosuch", "--degree", "3"]) == 2
    err = capsys.readouterr().err
    assert "registered names" in err and "relu" in err
    assert main(["hermite", "relu", "--degree", "-2"]) == 2
    assert "degree must be an integer in [0, 170]" in capsys.readouterr().err


def test_cli_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "rmt_icl", "hermite", "relu", "--degree", "4", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(proc.stdout)
    assert out["degree"] == 4 and abs(out["coefficients"][4] + 0.016622595016726) < 1e-12
