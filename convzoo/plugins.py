"""Third-party blocks through the entry-point group ``convzoo.blocks``.

A plugin package declares, in its ``pyproject.toml``::

    [project.entry-points."convzoo.blocks"]
    my_blocks = "my_package.blocks"          # a module whose import registers blocks
    # or "my_package.blocks:register_all"    # a function called with the registry

Plugins load once, before the registry's first lookup, after convzoo's own blocks
and datasets, in the order of their entry-point names (then distribution names). A
plugin loads as a whole or not at all: one that fails -- ImportError, SyntaxError,
a name it registers twice itself, any exception, even after it registered some
blocks or datasets -- leaves none of them behind (``registry.plugin_scope``). It is
reported once (distribution, entry point, error), kept in ``failures(registry)``
(``convzoo list blocks --json`` shows them as ``plugin_failures``), and everything
else keeps working; a spec that asks for a name the registry lacks is told which
plugins failed. ``KeyboardInterrupt`` and ``SystemExit`` are never swallowed.
``CONVZOO_NO_PLUGINS=1`` switches plugin loading off.

A name a plugin registers that was taken before it loaded keeps its holder, and the
plugin loses that name only, with one warning per clash (``KEPT_BECAUSE``): convzoo's
own blocks always win, then the ones your code registered before the plugins loaded,
then the plugin whose entry-point name sorts first.
"""

from __future__ import annotations

import functools
import os
import types
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from convzoo.errors import ConvzooWarning
from convzoo.registry import REGISTRY, BlockInfo, Registry, plugin_scope

GROUP = "convzoo.blocks"
DISABLE_ENV = "CONVZOO_NO_PLUGINS"


# why the holder of a name keeps it, by who holds it: the rule README's "Plugins" states
KEPT_BECAUSE = {
    "builtin": "a plugin never replaces a block of convzoo's own",
    "yours": "what your code registers before the plugins load wins over a plugin",
    "plugin": "between two plugins, the one whose entry-point name sorts first wins",
}


class PluginWarning(ConvzooWarning):
    """A plugin failed to load, or lost a name to another definition; the rest of convzoo
    keeps working."""


@dataclass(frozen=True)
class Plugin:
    """One entry point of the group: its name, what it points at, its distribution."""

    distribution: str
    entry_point: str
    target: str

    def describe(self) -> str:
        """Which plugin, from which distribution: the words every message about it uses."""
        dist = self.distribution
        return f"plugin {self.entry_point!r} from distribution {dist!r} ({self.target})"


@dataclass(frozen=True)
class PluginFailure(Plugin):
    """One entry point that could not be loaded."""

    error: str

    def describe(self) -> str:
        """One sentence: which plugin, from which distribution, failed how."""
        return f"{super().describe()} failed to load: {self.error}"

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


def clash_message(what: str, kept: BlockInfo, loser: Plugin) -> str:
    """One sentence: the name both define, who keeps it and why, the plugin that loses it."""
    if kept.plugin is not None:
        holder, rule = f"the one of {kept.plugin}", "plugin"
    elif kept.source.partition(".")[0] == "convzoo":
        holder, rule = f"convzoo's own ({kept.source})", "builtin"
    else:
        holder, rule = f"yours (registered by {kept.source})", "yours"
    return (
        f"{what} is defined twice: kept {holder}, not the one of {loser.describe()}, "
        f"which loses only this name ({KEPT_BECAUSE[rule]})"
    )


def _lose(plugin: Plugin, lost: list[str], what: str, kept: BlockInfo) -> None:
    lost.append(clash_message(what, kept, plugin))


def load_plugins(
    registry: Registry = REGISTRY, group: str = GROUP, before: Callable[[], object] | None = None
) -> list[PluginFailure]:
    """Import every entry point of ``group``, each as one transaction of every registry;
    return the failures (also kept for ``failures(registry)``). ``before`` runs first when
    there is a plugin: it registers the built-ins a transaction must keep (the datasets)."""
    if plugins_disabled():
        return []
    found = []
    entry_points = sorted(
        ((ep, _distribution_label(ep)) for ep in metadata.entry_points(group=group)),
        key=lambda pair: (pair[0].name, pair[1]),
    )
    if entry_points and before is not None:
        before()
    for ep, label in entry_points:
        plugin = Plugin(label, ep.name, ep.value)
        lost: list[str] = []
        try:
            with plugin_scope(label, plugin.describe(), functools.partial(_lose, plugin, lost)):
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
            continue
        for message in lost:  # told once the plugin has loaded: a failed one lost everything
            warnings.warn(message, PluginWarning, stacklevel=2)
    _FAILED.setdefault(registry, []).extend(found)
    return found


def failures(registry: Registry = REGISTRY) -> list[PluginFailure]:
    """The plugins that failed to load into ``registry``; plugins load on its first lookup."""
    return list(_FAILED.get(registry, []))


def install(registry: Registry = REGISTRY, before: Callable[[], object] | None = None) -> None:
    """Make ``registry`` load the plugins before its first lookup, after ``before``."""
    registry.add_loader(lambda reg: load_plugins(reg, before=before))
