"""Third-party blocks through the entry-point group ``convzoo.blocks``.

A plugin package declares, in its ``pyproject.toml``::

    [project.entry-points."convzoo.blocks"]
    my_blocks = "my_package.blocks"          # a module whose import registers blocks
    # or "my_package.blocks:register_all"    # a function called with the registry

Plugins load once, before the registry's first lookup. A plugin loads as a
whole or not at all: one that fails -- ImportError, SyntaxError, a duplicate
name, any exception, even after it registered some blocks or datasets -- leaves
none of them behind (``registry.every_transaction``). It is reported once (distribution,
entry point, error), kept in ``failures(registry)`` (``convzoo list blocks
--json`` shows them as ``plugin_failures``), and everything else keeps working;
a spec that asks for a name the registry lacks is told which plugins failed.
``KeyboardInterrupt`` and ``SystemExit`` are never swallowed.
``CONVZOO_NO_PLUGINS=1`` switches plugin loading off.
"""

from __future__ import annotations

import os
import types
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from convzoo.errors import ConvzooWarning
from convzoo.registry import REGISTRY, Registry, every_transaction

GROUP = "convzoo.blocks"
DISABLE_ENV = "CONVZOO_NO_PLUGINS"


class PluginWarning(ConvzooWarning):
    """A plugin failed to load; the rest of convzoo keeps working."""


@dataclass(frozen=True)
class PluginFailure:
    """One entry point that could not be loaded."""

    distribution: str
    entry_point: str
    target: str
    error: str

    def describe(self) -> str:
        """One sentence: which plugin, from which distribution, failed how."""
        return (
            f"plugin {self.entry_point!r} from distribution {self.distribution!r} "
            f"({self.target}) failed to load: {self.error}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The failure for programs: ``name`` and ``entry_point`` as the plugin declares them."""
        return {
            "name": self.entry_point,
            "entry_point": self.target,
            "distribution": self.distribution,
            "error": self.error,
        }


_FAILED: weakref.WeakKeyDictionary[Registry, list[PluginFailure]] = weakref.WeakKeyDictionary()


def plugins_disabled() -> bool:
    """True when ``CONVZOO_NO_PLUGINS`` is set to a true value."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _distribution_label(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown distribution"
    return f"{dist.metadata['Name']} {dist.version}"


def load_plugins(
    registry: Registry = REGISTRY, group: str = GROUP, before: Callable[[], object] | None = None
) -> list[PluginFailure]:
    """Import every entry point of ``group``, each as one transaction of every registry;
    return the failures (also kept for ``failures(registry)``). ``before`` runs first when
    there is a plugin: it registers the built-ins a transaction must keep (the datasets)."""
    if plugins_disabled():
        return []
    found = []
    entry_points = sorted(metadata.entry_points(group=group), key=lambda e: e.name)
    if entry_points and before is not None:
        before()
    for ep in entry_points:
        label = _distribution_label(ep)
        try:
            with registry.source_scope(label), every_transaction():
                loaded = ep.load()
                if callable(loaded) and not isinstance(loaded, types.ModuleType):
                    loaded(registry)
        except Exception as exc:  # a plugin's bug must not take convzoo down
            failure = PluginFailure(label, ep.name, ep.value, f"{type(exc).__name__}: {exc}")
            found.append(failure)
            registry.add_hint(
                "It may come from a plugin that failed to load: " + failure.describe() + "."
            )
            warnings.warn(failure.describe(), PluginWarning, stacklevel=2)
    _FAILED.setdefault(registry, []).extend(found)
    return found


def failures(registry: Registry = REGISTRY) -> list[PluginFailure]:
    """The plugins that failed to load into ``registry``; plugins load on its first lookup."""
    return list(_FAILED.get(registry, []))


def install(registry: Registry = REGISTRY, before: Callable[[], object] | None = None) -> None:
    """Make ``registry`` load the plugins before its first lookup, after ``before``."""
    registry.add_loader(lambda reg: load_plugins(reg, before=before))
