"""The block registry: families of interchangeable blocks, looked up by name.

Every block convzoo can assemble lives here under a ``(family, name)`` key with
its metadata. A name is only ever a key in this table -- never an import path --
so no spec can make convzoo import or run code it was not given. Lookups of a
name that is not here fail with the family, the closest names and, where a
plugin failed to load, which plugin might have provided it. While a plugin loads
(``plugin_scope``) it cannot displace a name taken before it began: the name keeps
its holder and the plugin loses that name only (``convzoo.plugins`` says so).

This module sits just above ``errors`` at the bottom of convzoo's one-way flow:
it imports nothing else of convzoo. The built-in blocks (``convzoo/__init__.py``)
and plugin discovery (``convzoo.plugins``) plug in through ``add_loader``.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from convzoo.errors import ConvzooError, did_you_mean, short_repr

FAMILIES: tuple[str, ...] = ("filter", "act", "pool", "norm", "residual", "head", "capsule")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LIVE: weakref.WeakSet[Registry] = weakref.WeakSet()  # every registry, for plugin_scope


class RegistryError(ConvzooError, LookupError):
    """Unknown family or name, a name registered twice, or an invalid name."""


@dataclass(frozen=True)
class BlockInfo:
    """One registered block and what convzoo knows about it.

    ``example`` holds arguments that build a small instance; the registry-driven
    conformance tests use them to build, run and gradcheck every block.
    ``deterministic`` is False for blocks that sample while training (stochastic
    pooling, dropout); the conformance kit checks the others give equal outputs
    for equal inputs. ``example_before`` lists spec layers a test puts in front of
    the block, for blocks that only make sense after another (capsule routing
    after primary capsules). ``source`` is the distribution of the plugin that
    registered it, else the module that defines it; ``plugin`` names that plugin
    (None for convzoo's own blocks and the ones your code registers).
    """

    family: str
    name: str
    obj: Callable[..., Any]
    description: str
    dims: tuple[int, ...] = (1, 2)
    reference: str | None = None
    source: str = ""
    example: dict[str, Any] = field(default_factory=dict)
    deterministic: bool = True
    example_before: tuple[dict[str, Any], ...] = ()
    plugin: str | None = None

    @property
    def key(self) -> str:
        """``family.name``, the form swaps and messages use."""
        return f"{self.family}.{self.name}"


def injectable(obj: Callable[..., Any], available: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``available`` that ``obj``'s constructor names as parameters.

    The one rule by which the assembler and blocks that build blocks pass a block
    what it cannot know from the spec (``in_channels``, ``dims``, ...): only what
    its signature asks for.
    """
    params = inspect.signature(obj).parameters
    return {name: value for name, value in available.items() if name in params}


Clash = Callable[[str, BlockInfo], None]
"""Told ``(what, kept)`` when a loading plugin registers a name taken before it began:
``what`` says the name as messages do ("act block 'relu'"), ``kept`` is its holder."""


@dataclass(frozen=True)
class _Scope:
    """One plugin loading: what it registers is attributed to ``source`` and ``plugin``; the
    ``taken`` names (family, name) keep their holders and ``on_clash`` is told."""

    source: str
    plugin: str
    taken: frozenset[tuple[str, str]]
    on_clash: Clash


def natural_key(text: str) -> list[Any]:
    """Sort key that orders ``conv2`` before ``conv10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


class Registry:
    """Blocks by family and name, with decorator-or-call registration.

    Loaders (the built-in blocks, then plugin discovery) run once, before the
    first lookup or listing, so that importing convzoo stays cheap and plugins see
    the built-in blocks. ``noun`` is what messages call an entry: ``{family} block``
    ("unknown act block 'x'"), or ``dataset`` for the registry of datasets.
    """

    def __init__(self, families: Iterable[str] = FAMILIES, noun: str = "{family} block") -> None:
        self._blocks: dict[str, dict[str, BlockInfo]] = {f: {} for f in families}
        self._loaders: list[Callable[[Registry], object]] = []
        self._loaded = False
        self._loading = False
        self._noun = noun
        self._scope: _Scope | None = None
        self._hints: list[str] = []
        _LIVE.add(self)

    # -- families -----------------------------------------------------------------
    @property
    def families(self) -> tuple[str, ...]:
        """The family keys, in their natural order."""
        return tuple(self._blocks)

    def add_family(self, family: str) -> None:
        """Add a new family (e.g. ``data``); adding an existing one is an error."""
        self._check_name(family, "family")
        if family in self._blocks:
            raise RegistryError(f"family {family!r} already exists")
        self._blocks[family] = {}

    def _family(self, family: str) -> dict[str, BlockInfo]:
        if family not in self._blocks:
            raise RegistryError(
                f"unknown block family {short_repr(family)}.{did_you_mean(family, self._blocks)} "
                f"Available families: {', '.join(self._blocks)}."
            )
        return self._blocks[family]

    def what(self, family: str, name: str) -> str:
        """``family.name`` as messages say it: ``act block 'relu'``, ``dataset 'mnist'``."""
        return f"{self._noun.format(family=family)} {short_repr(name)}"

    # -- registration -------------------------------------------------------------
    @staticmethod
    def _check_name(name: object, what: str) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise RegistryError(
                f"invalid {what} {name!r}: use lower-case letters, digits and '_', "
                "starting with a letter (a name is a registry key, never an import path)"
            )

    def register(
        self,
        family: str,
        name: str,
        obj: Callable[..., Any] | None = None,
        *,
        description: str | None = None,
        dims: Iterable[int] = (1, 2),
        reference: str | None = None,
        example: dict[str, Any] | None = None,
        deterministic: bool = True,
        example_before: Iterable[dict[str, Any]] = (),
        override: bool = False,
    ) -> Any:
        """Register ``obj`` (a class or a factory returning an ``nn.Module``).

        Used as ``@register("pool", "median")`` on a class or function, or called
        directly as ``register("pool", "median", MedianPool)``. Registering a name
        twice raises an error naming both definitions unless ``override=True``,
        which first runs the loaders, so that no loader replaces the replacement.
        A plugin that is loading replaces nothing that was there before it, even with
        ``override=True`` (``plugin_scope``).
        """
        if override:
            self._ensure_loaded()
        self._check_name(name, self._noun.format(family=family) + " name")
        table = self._family(family)
        dims = tuple(sorted(set(dims)))
        if not dims or any(d not in (1, 2) for d in dims):
            raise RegistryError(f"{family}.{name}: dims must be a subset of (1, 2), got {dims}")

        def add(target: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(target):
                raise RegistryError(f"{family}.{name}: {target!r} is not a class or function")
            where = f"{target.__module__}.{target.__qualname__}"
            first, scope = table.get(name), self._scope
            if first is not None and scope is not None and (family, name) in scope.taken:
                scope.on_clash(self.what(family, name), first)
                return target
            if first is not None and not override:
                raise RegistryError(
                    f"{self.what(family, name)} is already registered by {first.source} "
                    f"({first.obj.__module__}.{first.obj.__qualname__}); the second definition "
                    f"is {where}. Choose another name, or pass override=True to replace it."
                )
            doc = (target.__doc__ or "").strip().splitlines()
            table[name] = BlockInfo(
                family=family,
                name=name,
                obj=target,
                description=description or (doc[0] if doc else ""),
                dims=dims,
                reference=reference,
                source=target.__module__ if scope is None else scope.source,
                example=dict(example or {}),
                deterministic=deterministic,
                example_before=tuple(example_before),
                plugin=None if scope is None else scope.plugin,
            )
            return target

        return add if obj is None else add(obj)

    @contextmanager
    def _scoped(self, scope: _Scope) -> Iterator[None]:
        previous, self._scope = self._scope, scope
        try:
            yield
        finally:
            self._scope = previous

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: when the block raises, every block and family registered inside it
        is removed again, and a block it replaced (``override=True``) comes back."""
        saved = {family: dict(table) for family, table in self._blocks.items()}
        try:
            yield
        except BaseException:
            for family in [f for f in self._blocks if f not in saved]:
                del self._blocks[family]
            for family, table in saved.items():
                self._blocks[family].clear()
                self._blocks[family].update(table)
            raise

    def unregister(self, family: str, name: str) -> None:
        """Remove a block (tests and interactive sessions use this)."""
        self._family(family).pop(name, None)

    # -- loaders and hints --------------------------------------------------------
    def add_loader(self, loader: Callable[[Registry], object]) -> None:
        """Run ``loader(self)`` once, before the first lookup or listing; its result is unused."""
        self._loaders.append(loader)
        self._loaded = False

    def add_hint(self, hint: str) -> None:
        """A sentence added to every unknown-name error (e.g. a plugin that failed)."""
        self._hints.append(hint)

    def _ensure_loaded(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            for loader in self._loaders:
                loader(self)
        finally:
            self._loading = False
        self._loaded = True

    # -- lookup -------------------------------------------------------------------
    def get(self, family: str, name: str) -> BlockInfo:
        """The block registered as ``family.name``, or an error that says what is close."""
        self._ensure_loaded()
        table = self._family(family)
        if name in table:
            return table[name]
        names = sorted(table, key=natural_key)
        message = f"unknown {self.what(family, name)}.{did_you_mean(str(name), names)}"
        message += f" Available names: {', '.join(names) or '(none)'}."
        for hint in self._hints:
            message += " " + hint
        raise RegistryError(message)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        self._ensure_loaded()
        family, name = key
        return name in self._blocks.get(family, {})

    def list(self, pattern: str | None = None, *, family: str | None = None) -> list[BlockInfo]:
        """Blocks in natural order: ``pattern`` is a glob on names, ``family`` keeps one family."""
        self._ensure_loaded()
        families = [family] if family is not None else list(self._blocks)
        found = []
        for fam in families:
            table = self._family(fam)
            for name in sorted(table, key=natural_key):
                if pattern is None or fnmatch.fnmatchcase(name, pattern):
                    found.append(table[name])
        return found

    def __iter__(self) -> Iterator[BlockInfo]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def __repr__(self) -> str:
        lines = [f"Registry({len(self)} blocks)"]
        for fam in self._blocks:
            names = [b.name for b in self.list(family=fam)]
            lines.append(f"  {fam:<9} {', '.join(names) if names else '-'}")
        return "\n".join(lines)


REGISTRY = Registry()


@contextmanager
def plugin_scope(source: str, plugin: str, on_clash: Clash) -> Iterator[None]:
    """One plugin loading, over every registry that exists (blocks, datasets, a test's own):
    a plugin may register into any of them. What it registers is attributed to ``source``
    (its distribution) and ``plugin``; a failure takes all of it back
    (``Registry.transaction``); a name taken before it began keeps its holder, whatever
    ``override`` says, and ``on_clash(what, kept)`` is told instead of an error."""
    with ExitStack() as stack:
        for each in list(_LIVE):
            taken = frozenset((f, n) for f, table in each._blocks.items() for n in table)
            stack.enter_context(each._scoped(_Scope(source, plugin, taken, on_clash)))
            stack.enter_context(each.transaction())
        yield


def register(family: str, name: str, obj: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """Register a block in the default registry (decorator or call); see ``Registry.register``."""
    return REGISTRY.register(family, name, obj, **kwargs)


def get_block(family: str, name: str) -> BlockInfo:
    """Look up a block in the default registry."""
    return REGISTRY.get(family, name)


def list_blocks(pattern: str | None = None, *, family: str | None = None) -> list[BlockInfo]:
    """Blocks of the default registry; the filters as in ``Registry.list``."""
    return REGISTRY.list(pattern, family=family)
