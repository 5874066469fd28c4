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

A spec is bounded before anything reads it: ``files.check_size`` (at most
``files.MAX_NODES`` values nested at most ``files.MAX_DEPTH`` levels, so a YAML alias
bomb is refused without being expanded; a file is read only when it is a regular
file of at most ``files.MAX_BYTES``), ``repeat`` at most ``MAX_REPEAT``, at most
``MAX_LAYERS`` layers once every repeat is expanded, and at most ``MAX_CLASSES``
classes (a head's size grows with them: an ``rbf`` head of a million classes takes
minutes and gigabytes to build). Messages show user
values only through ``short_repr``, never in full.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from convzoo.archs import arch_path
from convzoo.errors import ConvzooError, did_you_mean, is_int, short_repr
from convzoo.files import check_size, path_step, read_yaml
from convzoo.registry import REGISTRY

TOP_KEYS = ("name", "description", "input", "classes", "layers", "train")
REPEAT = "repeat"
BODY = "layers"
SpecLike = Union["Spec", Mapping[str, Any], str, os.PathLike]

MAX_LAYERS = 10_000  # layers once every repeat is expanded
MAX_REPEAT = 10_000  # the count of one repeat
MAX_CLASSES = 10_000  # classes of a spec: far more than any dataset convzoo reads has


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
    """A whole architecture: its input shape, class count and layers.

    ``recipe`` is the spec's ``train:`` section as plain data: the training
    settings it was made for and their ``source``; ``convzoo.train.config`` checks
    its keys and values against the settings ``convzoo train`` knows.
    """

    name: str
    input: tuple[int, ...]
    layers: tuple[Node, ...]
    classes: int | None = None
    description: str = ""
    recipe: dict[str, Any] | None = None

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
        if self.recipe is not None:
            out["train"] = dict(self.recipe)
        return out

    def to_yaml(self) -> str:
        """YAML text that parses back to an equal spec."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)


# -- bounds -----------------------------------------------------------------------


def _count_layers(nodes: tuple[Node, ...], path: str, origin: str) -> int:
    """How many layers ``nodes`` expand to, a repeat's body once per copy; past
    ``MAX_LAYERS`` it raises, naming the node where the count passed the limit."""
    total = 0
    for i, node in enumerate(nodes):
        where = f"{path}.{i}"
        inner = _count_layers(node.layers, f"{where}.{BODY}", origin) if node.layers else 0
        total += node.times * inner if isinstance(node, Repeat) else 1 + inner
        if total > MAX_LAYERS:
            raise SpecError(
                f"{origin}: {where}: the spec expands to more than {MAX_LAYERS} layers by here "
                "(a repeat counts its body once per copy), more than a spec may build"
            )
    return total


# -- parsing ----------------------------------------------------------------------


def _plain(value: Any, where: str) -> Any:
    """Check that an argument value is plain data and return it normalized (tuples -> lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str):
                raise SpecError(f"{where}: mapping keys must be strings, got {short_repr(k)}")
        return {k: _plain(v, where) for k, v in value.items()}
    raise SpecError(
        f"{where}: value {short_repr(value)} of type {type(value).__name__} is not plain data "
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
        raise SpecError(
            f"{origin}: {path} must be a mapping like {{act: relu}}, got {short_repr(raw)}"
        )
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
            f"or {REPEAT}); found {found} in {short_repr(raw)}.{hint} Put each block in a layer of "
            "its own; block arguments are never named after a family."
        )
    key = keys[0]
    rest = {k: v for k, v in raw.items() if k != key}
    body = None
    if BODY in rest:
        body = _parse_layers(rest.pop(BODY), f"{path}.{BODY}", origin)
    if key == REPEAT:
        times = raw[key]
        if not is_int(times) or not 1 <= times <= MAX_REPEAT:
            raise SpecError(
                f"{origin}: {path}: repeat must be a positive integer of at most {MAX_REPEAT}, "
                f"got {short_repr(times)}"
            )
        if body is None:
            raise SpecError(f"{origin}: {path}: repeat needs a 'layers' list to repeat")
        if rest:
            raise SpecError(
                f"{origin}: {path}: repeat takes only 'repeat' and 'layers', "
                f"not {short_repr(list(rest))}"
            )
        return Repeat(times, body)
    name = raw[key]
    if not isinstance(name, str) or not name:
        raise SpecError(f"{origin}: {path}: {key} must name a block, got {short_repr(name)}")
    for arg in rest:
        if not isinstance(arg, str):
            raise SpecError(
                f"{origin}: {path}: argument names must be strings, got {short_repr(arg)}"
            )
    args = {k: _plain(v, f"{origin}: {path_step(path, k)}") for k, v in rest.items()}
    return Block(key, name, args, body)


def parse(data: Mapping[str, Any], origin: str = "spec") -> Spec:
    """Validate the form of a spec mapping and return a ``Spec``."""
    if isinstance(data, Spec):
        return data
    if not isinstance(data, Mapping):
        raise SpecError(f"{origin}: a spec must be a mapping with keys {', '.join(TOP_KEYS)}")
    check_size(data, origin, SpecError)
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        hint = did_you_mean(str(unknown[0]), TOP_KEYS)
        raise SpecError(
            f"{origin}: unknown key {short_repr(unknown[0])}.{hint} A spec has the keys "
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
            f"with positive integers; got {short_repr(shape)}"
        )
    classes = data.get("classes")
    if classes is not None and (not is_int(classes) or not 1 <= classes <= MAX_CLASSES):
        raise SpecError(
            f"{origin}: classes must be a positive integer of at most {MAX_CLASSES:,}, got "
            f"{short_repr(classes)}"
        )
    name = data.get("name", Path(origin).stem if origin != "spec" else "unnamed")
    description = data.get("description") or ""
    if not isinstance(name, str) or not isinstance(description, str):
        raise SpecError(f"{origin}: name and description must be strings")
    layers = _parse_layers(data["layers"], "layers", origin)
    _count_layers(layers, "layers", origin)
    recipe = data.get("train")
    if recipe is not None and not isinstance(recipe, Mapping):
        raise SpecError(f"{origin}: train must be a mapping of settings, got {short_repr(recipe)}")
    recipe = None if recipe is None else _plain(recipe, f"{origin}: train")
    return Spec(name, tuple(shape), layers, classes, description, recipe)


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
    if path is not None:
        return load_file(path)
    name = os.fspath(source)
    spec = load_file(arch_path(name))
    if spec.name != name:
        raise ConvzooError(
            f"{arch_path(name)} is found as the architecture {name!r} but its spec is named "
            f"{spec.name!r}: an architecture has one name, its file's. Rename the file to "
            f"{spec.name}.yaml or set 'name: {name}' in it"
        )
    return spec


def spec_file(text: str, folder: str | os.PathLike | None = None) -> Path | None:
    """The spec file ``text`` names (relative to ``folder``), or None for a registry name.

    The one rule for "a file or a name": a ``.yaml``/``.yml`` ending, a path
    separator, or an existing file makes it a file; anything else is looked up
    among the named architectures (and a name is never a path).
    """
    path = Path(folder or ".") / text
    if text.endswith((".yaml", ".yml")) or "/" in text or os.sep in text:
        return path
    try:
        return path if path.is_file() else None
    except OSError:  # a name longer than the file system allows is no file
        return None
