"""Names a package exports but imports on first use, so that importing the package stays cheap.

``convzoo``, ``convzoo.train`` and ``convzoo.data`` export names whose modules
import torch or Lightning, yet ``import convzoo.cli`` must not pay for them:
``convzoo --help`` needs neither. A package lists its lazy names once, in a table
``name -> module that defines it``, and calls ``lazy_exports`` at its end. The
first use of a name imports its module (after ``before``, where given) and keeps
the value in the package, so the look-up runs once.

Importing a submodule binds it in its parent under its own name, which would
hide an exported name of the same spelling: ``convzoo.summary`` is the function,
not the module ``convzoo/summary.py``. The package's module type therefore
refuses that binding for an exported name that is not declared a submodule.
This module imports nothing of convzoo.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_EXPORTS = "__lazy_exports__"


@dataclass(frozen=True)
class _Exports:
    table: Mapping[str, str]
    submodules: frozenset[str]
    before: Callable[[], object] | None


class _LazyPackage(types.ModuleType):
    """A package whose exported names are imported on first use."""

    def __getattr__(self, name: str) -> Any:
        exports: _Exports = vars(self)[_EXPORTS]
        if name not in exports.table:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        if exports.before is not None:
            exports.before()
        module = importlib.import_module(exports.table[name])
        value = module if name in exports.submodules else getattr(module, name)
        vars(self)[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        exports: _Exports = vars(self)[_EXPORTS]
        shadows = name in exports.table and name not in exports.submodules
        if shadows and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*vars(self), *vars(self)[_EXPORTS].table})


def lazy_exports(
    package: str,
    table: Mapping[str, str],
    *,
    submodules: Iterable[str] = (),
    before: Callable[[], object] | None = None,
) -> None:
    """Make ``package`` import each name of ``table`` from its module on first use.

    ``submodules`` are names that are the package's submodules themselves
    (``table["blocks"] = "convzoo.blocks"``); ``before`` runs before any name is
    imported (``convzoo`` registers its built-in blocks there).
    """
    module = sys.modules[package]
    vars(module)[_EXPORTS] = _Exports(dict(table), frozenset(submodules), before)
    module.__class__ = _LazyPackage
