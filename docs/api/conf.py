"""Sphinx configuration of the rmt_icl API reference (built from the docstrings).

Build it with ``pip install -e ".[docs]"`` and
``sphinx-build -W -b html docs/api docs/api/_build``; ``tests/test_api_docs.py`` runs the same
build and fails on any warning. No extension here needs the network.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

import rmt_icl

project = "rmt_icl"
author = "rmt_icl authors"
release = rmt_icl.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
nitpicky = False
smartquotes = False  # keep the ASCII formulas of the docstrings (primes, "...") as written

autosummary_generate = False  # the pages are written by hand; nothing is generated into docs/
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's "Parameters" sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False


def _is_private(modname: str) -> bool:
    return any(part.startswith("_") for part in modname.split("."))


def _data_comment(package, name: str) -> str:
    """The ``#:`` comment of ``name`` in ``package`` or one of its (private) submodules."""
    modules = [package.__name__] + [
        info.name for info in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
    ]
    for modname in modules:
        docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        if ("", name) in docs:
            return " ".join(line.strip() for line in docs[("", name)] if line.strip())
    return ""


class ExportsDirective(SphinxDirective):
    """``.. rmt-exports:: package``: a table of the package's ``__all__``.

    Each row links to the object where it is documented: in its defining module when that
    module is public (documented by ``automodule`` on the same page), else the object is
    documented here, under the package's name, since private modules are not documented.
    The table follows ``__all__``, so it never drifts from the package's exports.
    """

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        pkgname = self.arguments[0]
        package = importlib.import_module(pkgname)
        rows, here = [], []
        for name in package.__all__:
            if name.startswith("__"):
                continue
            obj = getattr(package, name)
            home = getattr(obj, "__module__", None) if callable(obj) else None
            if home and not _is_private(home) \
                    and getattr(importlib.import_module(home), name, None) is obj:
                rows.append(f"~{home.removeprefix(pkgname + '.')}.{name}")
            elif callable(obj):
                rows.append(f"~{name}")
                here.append((name, obj))
            else:  # a constant: no row (autosummary would show its type's docstring)
                here.append((name, obj))
        lines = [".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {row}" for row in rows]
        lines.append("")
        for name, obj in here:
            if inspect.isclass(obj):
                lines += [f".. autoclass:: {pkgname}.{name}", "   :members:", ""]
            elif callable(obj):
                lines += [f".. autofunction:: {pkgname}.{name}", ""]
            else:
                lines += [f".. py:data:: {name}", f"   :module: {pkgname}", f"   :value: {obj!r}",
                          "", f"   {_data_comment(package, name)}", ""]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=f"<rmt-exports {pkgname}>"),
                                self.content_offset, container)
        return container.children


def _resolve_export(app, env, node, contnode):
    """Resolve ``pkg.name`` (a lazy re-export) to ``home.name``, where the object is documented.

    Docstrings cite public names as users import them (``rmt_icl.sweep.sweep``); the reference
    documents each object once, in its defining module.
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("rmt_icl."):
        return None
    pkgname, _, name = target.rpartition(".")
    try:
        package = importlib.import_module(pkgname)
    except ImportError:
        return None
    if name not in getattr(package, "__all__", ()):
        return None
    home = getattr(getattr(package, name), "__module__", None)
    if not home or home == pkgname or _is_private(home):
        return None
    return env.get_domain("py").resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                             f"{home}.{name}", node, contnode)


def setup(app):
    app.add_directive("rmt-exports", ExportsDirective)
    app.connect("missing-reference", _resolve_export)
    return {"parallel_read_safe": True}
