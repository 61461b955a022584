"""Lazy public names for packages: ``import rmt_icl`` stays fast and triggers no numba JIT.

A package lists its public names in a dict ``name -> defining module`` and calls
:func:`lazy_exports` to get the module-level ``__getattr__`` and ``__dir__`` (PEP 562).
"""

from __future__ import annotations

import importlib
import sys


def lazy_exports(package: str, exports: dict[str, str], submodules=()):
    """Module ``__getattr__`` and ``__dir__`` importing ``exports`` on first access.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        Public name -> module that defines it.
    submodules : iterable of str
        Submodule names that ``package.<name>`` may import on first access.
    """
    submodules = tuple(submodules)

    def __getattr__(name: str):
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            setattr(sys.modules[package], name, value)
            return value
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(exports) | set(submodules))

    return __getattr__, __dir__


class _RenamedModuleFinder:
    """Meta-path finder that turns an import of a moved module into an error naming its new home.

    Installed by :func:`forbid_renamed`; it answers only for the exact old names it was given, so
    it costs nothing for any other import.
    """

    def __init__(self, renamed: dict[str, str]):
        self.renamed = dict(renamed)

    def find_spec(self, fullname, path=None, target=None):
        new = self.renamed.get(fullname)
        if new is None:
            return None
        raise ModuleNotFoundError(
            f"{fullname} was renamed: use {new} (see CHANGELOG.md)", name=fullname
        )


def forbid_renamed(renamed: dict[str, str]) -> None:
    """Make ``import OLD`` raise ``ModuleNotFoundError`` naming ``NEW`` for each ``OLD -> NEW``."""
    if not any(isinstance(f, _RenamedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _RenamedModuleFinder(renamed))
