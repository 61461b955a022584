"""The API reference (``docs/api``, Sphinx + numpydoc) builds from the docstrings without warnings.

The build runs only where the ``docs`` extra is installed (``pip install -e ".[docs]"``); the
coverage check, that every public module has a page, runs everywhere.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "api"


def public_modules() -> set[str]:
    """Dotted names of rmt_icl's modules and packages without a leading underscore anywhere."""
    names = set()
    for path in (ROOT / "rmt_icl").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] == "__main__" or any(p.startswith("_") for p in parts):
            continue
        names.add(".".join(parts))
    return names


def documented_modules() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.rst"))
    return set(re.findall(r"^\.\. automodule:: (\S+)$", text, flags=re.M))


def test_every_public_module_has_a_page():
    missing = sorted(public_modules() - documented_modules())
    assert not missing, f"add these modules to a page of docs/api: {missing}"
    stale = sorted(documented_modules() - public_modules())
    assert not stale, f"docs/api documents modules that do not exist: {stale}"


def test_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"sphinx-build failed or warned:\n{output}"
    # numpydoc reports an unknown docstring section as a Python UserWarning, which -W misses
    numpydoc_warnings = [line for line in output.splitlines() if "numpydoc" in line]
    assert not numpydoc_warnings, "\n".join(numpydoc_warnings)
    assert (tmp_path / "html" / "index.html").is_file()
