"""Short repeats that a duplicate finder cannot see: each has one definition in the package.

* the standard error ``std(x, ddof=1) / sqrt(R)`` lives in :mod:`rmt_icl.core.stats` only;
* the largest Hermite degree (170: ``171!`` overflows float64) is
  :data:`rmt_icl.hermite.MAX_DEGREE`, written as a number in one place only.

Docstrings and comments may quote them; code may not (the check walks the syntax tree).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rmt_icl"


def _offences(predicate, allowed: str) -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if predicate(node):
                found.append(f"rmt_icl/{rel}:{node.lineno}")
    return found


def _is_ddof_one(node) -> bool:
    return isinstance(node, ast.Call) and any(
        kw.arg == "ddof" and isinstance(kw.value, ast.Constant) and kw.value.value == 1
        for kw in node.keywords)


def _is_170(node) -> bool:
    return (isinstance(node, ast.Constant) and type(node.value) is int
            and node.value == 170)


@pytest.mark.parametrize("predicate, allowed, what", [
    (_is_ddof_one, "core/stats.py", "std(..., ddof=1): use rmt_icl.core.stats.mean_se"),
    (_is_170, "hermite/_validate.py", "the literal 170: use rmt_icl.hermite.MAX_DEGREE"),
])
def test_one_definition(predicate, allowed, what):
    assert _offences(predicate, allowed) == [], what


def test_the_definitions_exist():
    from rmt_icl.core import stats
    from rmt_icl.hermite import MAX_DEGREE

    assert MAX_DEGREE == 170
    mean, se = stats.mean_se([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3) and se == pytest.approx((7 / 3) ** 0.5 / 3 ** 0.5)


def test_the_check_catches_a_repeat(tmp_path, monkeypatch):
    fake = tmp_path / "rmt_icl"
    (fake / "core").mkdir(parents=True)
    (fake / "x.py").write_text("import numpy as np\nse = np.std([1, 2], ddof=1)\nP = 170\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert _offences(_is_ddof_one, "core/stats.py") == ["rmt_icl/x.py:2"]
    assert _offences(_is_170, "hermite/_validate.py") == ["rmt_icl/x.py:3"]
