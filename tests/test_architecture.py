"""The package's layering, enforced: no import runs upward, and none hides inside a function.

The layers (``docs/architecture.md``), lowest first; a layer may import only the layers listed
for it (and itself):

    core -> hermite -> theory | simulate -> lsa -> experiments -> sweep -> reporting -> cli

``theory`` and ``simulate`` are independent of each other (a formula never runs a simulation,
and a simulation never evaluates a formula: studies put the two side by side). ``lsa`` trains
linear self-attention and certifies it against the theory's optimum, so it may use ``theory``
but not ``simulate``.

Function-level imports are allowed only where :data:`DOCUMENTED_LAZY` says why.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rmt_icl"

#: layer -> the layers it may import (besides itself)
ALLOWED = {
    "core": set(),
    "hermite": {"core"},
    "theory": {"core", "hermite"},
    "simulate": {"core", "hermite"},
    "lsa": {"core", "hermite", "theory"},
    "experiments": {"core", "hermite", "theory", "simulate", "lsa"},
    "sweep": {"core", "hermite", "theory", "simulate", "lsa", "experiments"},
    "reporting": {"core", "hermite", "theory", "simulate", "lsa", "experiments", "sweep"},
    "cli": {"core", "hermite", "theory", "simulate", "lsa", "experiments", "sweep", "reporting"},
    # the package root only wires lazy names and the renamed-module guard
    "<root>": {"core"},
    "__main__": {"cli"},
}

#: (importing module prefix, imported module prefix) -> why it is imported inside a function
DOCUMENTED_LAZY = {
    ("rmt_icl.cli", "rmt_icl."): "each subcommand imports its layer only when run, so "
                                 "`rmt-icl --help` stays fast and a broken optional part "
                                 "does not break the others",
    ("rmt_icl.cli", "matplotlib"): "matplotlib only when a figure is drawn",
    ("rmt_icl.reporting", "matplotlib"): "matplotlib (slow to import) only when drawing",
    ("rmt_icl.reporting", "cycler"): "matplotlib's cycler, with matplotlib",
    ("rmt_icl.sweep.backends", "distributed"): "Dask is an optional extra",
    ("rmt_icl.simulate.device", "cupy"): "CuPy (and cupyx) is an optional extra, imported "
                                         "only when the GPU is asked for",
    ("rmt_icl.sweep.store", "fcntl"): "POSIX-only file locks, imported where they are used",
    ("rmt_icl.sweep.spec", "tomllib"): "tomllib (3.11+) or its backport tomli",
    ("rmt_icl.sweep.spec", "tomli"): "tomllib (3.11+) or its backport tomli",
}


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "<root>"
    return parts[1]


def _imports(tree: ast.AST, module: str, is_package: bool):
    """Yield ``(imported module, line, inside_function)`` for every import in ``tree``."""

    def visit(node, in_func):
        for child in ast.iter_child_nodes(node):
            func = in_func or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                 ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno, in_func
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".")
                    base = base if is_package else base[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target == "rmt_icl":  # `from rmt_icl import x`: x may be a subpackage
                    for alias in child.names:
                        sub = f"rmt_icl.{alias.name}"
                        yield (sub if alias.name != "__version__" else "rmt_icl"), \
                            child.lineno, in_func
                else:
                    yield target, child.lineno, in_func
            yield from visit(child, func)

    yield from visit(tree, False)


def check_layers(root: Path = PACKAGE) -> list[str]:
    """Every layering violation under the package folder ``root``, one line each."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        layer = _layer(module)
        tree = ast.parse(path.read_text(), filename=str(path))
        for target, line, in_func in _imports(tree, module, path.name == "__init__.py"):
            where = f"{path.relative_to(root.parent)}:{line}"
            if in_func and not any(module.startswith(m) and target.startswith(t)
                                   for m, t in DOCUMENTED_LAZY):
                problems.append(f"{where}: import of {target} inside a function "
                                "(not a documented lazy import)")
            if not (target == "rmt_icl" or target.startswith("rmt_icl.")):
                continue
            if target == "rmt_icl":  # the root package: __version__ and lazy names only
                continue
            dep = _layer(target)
            if dep != layer and dep not in ALLOWED.get(layer, set()):
                problems.append(f"{where}: {module} ({layer}) imports {target} ({dep}), "
                                f"which is not below it")
    return problems


def test_every_layer_is_known():
    layers = {_layer(_module_name(p, PACKAGE)) for p in PACKAGE.rglob("*.py")}
    assert layers <= set(ALLOWED), layers - set(ALLOWED)


def test_no_upward_or_hidden_imports():
    assert check_layers() == []


@pytest.mark.parametrize("planted, expected", [
    ("from rmt_icl.sweep import sweep\n", "imports rmt_icl.sweep (sweep), which is not below"),
    ("from rmt_icl.simulate.paths import ScalingPath\n",
     "imports rmt_icl.simulate.paths (simulate), which is not below"),
    ("def f():\n    import numpy\n", "import of numpy inside a function"),
])
def test_check_catches_a_planted_violation(tmp_path, planted, expected):
    copy = tmp_path / "rmt_icl"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    victim = copy / "theory" / "linear_attention.py"
    victim.write_text(victim.read_text() + "\n" + planted)
    problems = check_layers(copy)
    assert len(problems) == 1 and expected in problems[0], problems


def test_relative_imports_are_resolved(tmp_path):
    copy = tmp_path / "rmt_icl"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    victim = copy / "core" / "stats.py"
    victim.write_text(victim.read_text() + "\nfrom ..hermite import MAX_DEGREE\n")
    problems = check_layers(copy)
    assert len(problems) == 1 and "rmt_icl.hermite (hermite)" in problems[0], problems
