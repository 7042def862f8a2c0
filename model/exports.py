"""Lazy public names of a package: its heavy modules load on first use, not on ``import``.

``import model`` (and every ``from model.x import y``, which imports the package first) must not
load xarray, scipy, pyomo or matplotlib: ``serving-optimize --help`` and a refused value would
wait for them.  A package calls :func:`lazy_exports` with the names it re-exports and the module
each comes from; ``model.evaluate`` then imports :mod:`model.evaluate` when first read.

A re-exported function may share its name with a submodule (``model.evaluate`` the function,
:mod:`model.evaluate` the module; ``optimize.validate`` likewise).  Importing such a submodule
makes Python bind the module to the package's attribute; the package keeps the function instead,
as it did when everything was imported eagerly, also when the function comes from another module
(``model.validate`` is :func:`model.app.validate.validate`, not the core's :mod:`model.validate`).
"""
from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> None:
    """Make ``exports`` (public name -> module that defines it) attributes of ``package``, loaded
    on first access.

    Parameters
    ----------
    package
        The package's ``__name__`` (it must be in ``sys.modules``: call this from its ``__init__``).
    exports
        Public name -> dotted module defining an attribute of that name.
    """
    module = sys.modules[package]
    exports = dict(exports)

    class LazyPackage(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            if name not in exports:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(importlib.import_module(exports[name]), name)
            types.ModuleType.__setattr__(self, name, value)
            return value

        def __setattr__(self, name: str, value: object) -> None:
            if isinstance(value, types.ModuleType) and value.__name__ == f"{package}.{name}":
                current = self.__dict__.get(name)
                if current is not None and not isinstance(current, types.ModuleType):
                    return  # a function of this name, defined or loaded already, stays
                if exports.get(name) == value.__name__:
                    value = getattr(value, name)  # the submodule has just run: take its function
                elif name in exports:
                    return  # the public name comes from another module (``model.validate``, the app
                    # layer's): it loads on first access
            types.ModuleType.__setattr__(self, name, value)

        def __dir__(self) -> list[str]:
            return sorted(set(super().__dir__()) | set(exports))

    module.__class__ = LazyPackage
