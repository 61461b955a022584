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
