"""The spec format: parse, validate, normalize, and round-trip through YAML.

A spec names an architecture's blocks::

    name: tiny
    input: [1, 28, 28]        # [C, H, W] -> 2-D blocks; [C, L] -> 1-D blocks
    classes: 10
    layers:
      - {filter: conv, out: 8, kernel: 3}
      - {act: relu}
      - {residual: identity, layers: [{filter: conv, out: 8, kernel: 3, padding: same}]}
      - {repeat: 2, layers: [{filter: conv, out: 8, kernel: 3}]}
      - {head: linear}

Each layer is a mapping with exactly one family key whose value is the block
name, plus that block's arguments; ``layers`` nests a body (residual blocks)
and ``repeat`` repeats one. Parsing checks the form only; whether the blocks
exist and the shapes fit is the assembler's job. YAML is read with the safe
loader only: a ``!!python/...`` tag is an error, never code that runs.
``Spec.from_dict(spec.to_dict()) == spec`` and the same through YAML.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from convzoo.archs import arch_path
from convzoo.errors import ConvzooError, did_you_mean, is_int
from convzoo.io import read_yaml
from convzoo.registry import REGISTRY

TOP_KEYS = ("name", "description", "input", "classes", "layers")
REPEAT = "repeat"
BODY = "layers"
SpecLike = Union["Spec", Mapping[str, Any], str, os.PathLike]


class SpecError(ConvzooError, ValueError):
    """A spec that cannot be parsed or built; the message says where and why."""


@dataclass(frozen=True)
class Block:
    """One block: ``family`` and ``name`` look it up; ``args`` go to its constructor.

    ``layers`` is the nested body for composite families (residual), else None.
    """

    family: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    layers: tuple[Node, ...] | None = None

    @property
    def key(self) -> str:
        """``family.name``."""
        return f"{self.family}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """The mapping this block was written as."""
        out: dict[str, Any] = {self.family: self.name, **self.args}
        if self.layers is not None:
            out[BODY] = [layer.to_dict() for layer in self.layers]
        return out


@dataclass(frozen=True)
class Repeat:
    """``{repeat: N, layers: [...]}``: the body, ``times`` times in sequence."""

    times: int
    layers: tuple[Node, ...]

    def to_dict(self) -> dict[str, Any]:
        """The mapping this repeat was written as."""
        return {REPEAT: self.times, BODY: [layer.to_dict() for layer in self.layers]}


Node = Block | Repeat


@dataclass(frozen=True)
class Spec:
    """A whole architecture: its input shape, class count and layers."""

    name: str
    input: tuple[int, ...]
    layers: tuple[Node, ...]
    classes: int | None = None
    description: str = ""

    @property
    def dims(self) -> int:
        """The spatial rank: 1 for ``[C, L]`` input, 2 for ``[C, H, W]``."""
        return len(self.input) - 1

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "spec") -> Spec:
        """Parse and validate a mapping; errors name ``origin`` and the layer path."""
        return parse(data, origin)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, dicts, scalars) in the documented key order."""
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["input"] = list(self.input)
        if self.classes is not None:
            out["classes"] = self.classes
        out["layers"] = [layer.to_dict() for layer in self.layers]
        return out

    def to_yaml(self) -> str:
        """YAML text that parses back to an equal spec."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)


# -- parsing ----------------------------------------------------------------------


def _plain(value: Any, where: str) -> Any:
    """Check that an argument value is plain data and return it normalized (tuples -> lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise SpecError(f"{where}: mapping keys must be strings, got {list(value)}")
        return {k: _plain(v, where) for k, v in value.items()}
    raise SpecError(
        f"{where}: value {value!r} of type {type(value).__name__} is not plain data "
        "(use numbers, strings, booleans, lists and mappings)"
    )


def _parse_layers(raw: Any, path: str, origin: str) -> tuple[Node, ...]:
    if not isinstance(raw, (list, tuple)):
        raise SpecError(f"{origin}: {path} must be a list of layers, got {type(raw).__name__}")
    if not raw:
        raise SpecError(f"{origin}: {path} is empty: a network needs at least one layer")
    return tuple(_parse_layer(item, f"{path}.{i}", origin) for i, item in enumerate(raw))


def _parse_layer(raw: Any, path: str, origin: str) -> Node:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{origin}: {path} must be a mapping like {{act: relu}}, got {raw!r}")
    families = list(REGISTRY.families)
    keys = [k for k in raw if k in families or k == REPEAT]
    if len(keys) != 1:
        found = ", ".join(repr(k) for k in keys) if keys else "none"
        hint = ""
        if not keys:
            for k in raw:
                hint = did_you_mean(str(k), [*families, REPEAT]) or hint
        raise SpecError(
            f"{origin}: {path} must have exactly one family key (one of {', '.join(families)}, "
            f"or {REPEAT}); found {found} in {dict(raw)!r}.{hint} Put each block in a layer of "
            "its own; block arguments are never named after a family."
        )
    key = keys[0]
    rest = {k: v for k, v in raw.items() if k != key}
    body = None
    if BODY in rest:
        body = _parse_layers(rest.pop(BODY), f"{path}.{BODY}", origin)
    if key == REPEAT:
        times = raw[key]
        if not is_int(times) or times < 1:
            raise SpecError(f"{origin}: {path}: repeat must be a positive integer, got {times!r}")
        if body is None:
            raise SpecError(f"{origin}: {path}: repeat needs a 'layers' list to repeat")
        if rest:
            raise SpecError(
                f"{origin}: {path}: repeat takes only 'repeat' and 'layers', "
                f"not {', '.join(map(repr, rest))}"
            )
        return Repeat(times, body)
    name = raw[key]
    if not isinstance(name, str) or not name:
        raise SpecError(f"{origin}: {path}: {key} must name a block, got {name!r}")
    for arg in rest:
        if not isinstance(arg, str):
            raise SpecError(f"{origin}: {path}: argument names must be strings, got {arg!r}")
    args = {k: _plain(v, f"{origin}: {path}.{k}") for k, v in rest.items()}
    return Block(key, name, args, body)


def parse(data: Mapping[str, Any], origin: str = "spec") -> Spec:
    """Validate the form of a spec mapping and return a ``Spec``."""
    if isinstance(data, Spec):
        return data
    if not isinstance(data, Mapping):
        raise SpecError(f"{origin}: a spec must be a mapping with keys {', '.join(TOP_KEYS)}")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        hint = did_you_mean(str(unknown[0]), TOP_KEYS)
        raise SpecError(
            f"{origin}: unknown key {unknown[0]!r}.{hint} A spec has the keys "
            f"{', '.join(TOP_KEYS)}."
        )
    for required in ("input", "layers"):
        if required not in data:
            raise SpecError(f"{origin}: the spec has no {required!r}")
    shape = data["input"]
    if (
        not isinstance(shape, (list, tuple))
        or len(shape) not in (2, 3)
        or not all(is_int(s) and s > 0 for s in shape)
    ):
        raise SpecError(
            f"{origin}: input must be [C, L] for 1-D signals or [C, H, W] for images, "
            f"with positive integers; got {shape!r}"
        )
    classes = data.get("classes")
    if classes is not None and (not is_int(classes) or classes < 1):
        raise SpecError(f"{origin}: classes must be a positive integer, got {classes!r}")
    name = data.get("name", Path(origin).stem if origin != "spec" else "unnamed")
    description = data.get("description") or ""
    if not isinstance(name, str) or not isinstance(description, str):
        raise SpecError(f"{origin}: name and description must be strings")
    layers = _parse_layers(data["layers"], "layers", origin)
    return Spec(name, tuple(shape), layers, classes, description)


# -- loading ----------------------------------------------------------------------


def load_file(path: str | os.PathLike) -> Spec:
    """Read and parse one YAML spec file."""
    path = Path(path)
    data = read_yaml(path, "the spec file", SpecError)
    if data is None:
        raise SpecError(f"{path}: the file is empty")
    return parse(data, str(path))


def load_spec(source: SpecLike) -> Spec:
    """A ``Spec`` from a Spec, a mapping, a YAML file path, or a registry architecture name."""
    if isinstance(source, Spec):
        return source
    if isinstance(source, Mapping):
        return parse(source)
    path = spec_file(os.fspath(source))
    return load_file(path if path is not None else arch_path(os.fspath(source)))


def spec_file(text: str, folder: str | os.PathLike | None = None) -> Path | None:
    """The spec file ``text`` names (relative to ``folder``), or None for a registry name.

    The one rule for "a file or a name": a ``.yaml``/``.yml`` ending, a path
    separator, or an existing file makes it a file; anything else is looked up
    among the named architectures (and a name is never a path).
    """
    path = Path(folder or ".") / text
    if text.endswith((".yaml", ".yml")) or "/" in text or os.sep in text or path.is_file():
        return path
    return None
