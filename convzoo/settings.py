"""Settings declared once: one dataclass field each, with its type, default, help and range.

A group of settings -- ``TrainConfig`` (``train/config.py``), ``EvaluateConfig``
(``evaluate/config.py``) -- is a dataclass whose fields are made by ``setting``:
the default, a ``help`` line and, where they apply, ``choices`` (a tuple, or a
function for lists only known at run time), a ``rule`` (a range, as ``Rule``), a
``check`` (a function that says what is wrong with a value, or None), ``shown``
(how help states a default that is computed) and ``flag: False`` (no command-line
flag). Everything else is read from that declaration, for any such dataclass:
a command's flags (``cli/_common.py``), a YAML file's or a suite's values
(``problem``, ``unknown``), and the dataclass's own check of itself (``check``).
Values are plain data, as YAML and JSON give them (``accepts``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from convzoo.errors import ConvzooError, did_you_mean, is_int, is_number, short_repr


@dataclass(frozen=True)
class Rule:
    """A range a setting's value must lie in: ``test(value)``, described as ``text``."""

    text: str
    test: Callable[[Any], bool]


POSITIVE = Rule("a positive number", lambda v: v > 0)
AT_LEAST_ONE = Rule("at least 1", lambda v: v >= 1)
NON_NEGATIVE = Rule("zero or more", lambda v: v >= 0)
FRACTION = Rule("in [0, 1)", lambda v: 0 <= v < 1)
DECAY = Rule("in (0, 1]", lambda v: 0 < v <= 1)
SEED = Rule("in [0, 2**32)", lambda v: 0 <= v < 2**32)
NOT_EMPTY = Rule("a name (not empty)", lambda v: bool(v.strip()))


def setting(default: Any, help: str, **meta: Any) -> Any:
    """One declared setting: its default, its help and optional ``choices``/``rule``/``check``/
    ``shown``/``flag``."""
    metadata = {"help": help, **meta}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def settings(config: type) -> dict[str, Field[Any]]:
    """The settings ``config`` (a dataclass) declares, by name, in declaration order."""
    return {f.name: f for f in fields(config)}


def default(config: type, name: str) -> Any:
    """The default of the setting ``name`` (None for one without a default)."""
    f = settings(config)[name]
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if callable(f.default_factory) else None


def choices(config: type, name: str) -> Sequence[str] | None:
    """The values the setting ``name`` may take, when it has a fixed list."""
    found = settings(config)[name].metadata.get("choices")
    return found() if callable(found) else found


def type_hint(config: type, name: str) -> Any:
    """The setting's type hint, resolved (``int | None``, ``tuple[float, float]``...)."""
    return typing.get_type_hints(config)[name]


def accepts(value: Any, hint: Any) -> bool:
    """Whether plain data ``value`` (as YAML or JSON give it) fits the type hint; a tuple
    may be given as a list, ``tuple[float, ...]`` as one of any length."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(accepts(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return is_int(value)
    if hint is float:
        return is_number(value)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value) if isinstance(value, (list, tuple)) else ()
        return (
            isinstance(value, (list, tuple))
            and len(value) == len(args)
            and all(accepts(v, a) for v, a in zip(value, args))
        )
    if origin is list:
        return isinstance(value, list) and all(accepts(v, typing.get_args(hint)[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            accepts(k, typing.get_args(hint)[0]) and accepts(v, typing.get_args(hint)[1])
            for k, v in value.items()
        )
    return isinstance(value, hint)


def hint_text(hint: Any) -> str:
    """A type hint as a reader writes it: ``int``, ``float | None``, ``list of float``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return f"list of {hint_text(args[0])}"
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def problem(config: type, name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the setting ``name`` of ``config`` (type, choices,
    range, its own check), or None."""
    hint = type_hint(config, name)
    if not accepts(value, hint):
        return f"expected {hint_text(hint)}, got {short_repr(value)}"
    allowed = choices(config, name)
    if allowed is not None and value not in allowed:
        hint = did_you_mean(str(value), allowed)
        return f"{short_repr(value)} is not one of {', '.join(allowed)}.{hint}"
    meta = settings(config)[name].metadata
    rule = meta.get("rule")
    if rule is not None and value is not None and not rule.test(value):
        return f"must be {rule.text}, got {short_repr(value)}"
    own = meta.get("check")
    return own(value) if own is not None else None


def check(values: Any, what: str) -> None:
    """Refuse an instance of a settings dataclass whose values are not all valid, naming the
    first bad one: ``{what} setting NAME: why``."""
    for name in settings(type(values)):
        wrong = problem(type(values), name, getattr(values, name))
        if wrong:
            raise ConvzooError(f"{what} setting {name}: {wrong}")


def unknown(key: str, accepted: Sequence[str]) -> str:
    """The message for a setting that does not exist, with the closest and the accepted ones."""
    hint = did_you_mean(key, accepted)
    return f"unknown setting {short_repr(key)}.{hint} Accepted: {', '.join(accepted)}."


def differing(values: Any) -> dict[str, Any]:
    """The settings of an instance that have a default and a value other than it."""
    return {
        f.name: getattr(values, f.name)
        for f in fields(values)
        if (f.default is not MISSING or f.default_factory is not MISSING)
        and getattr(values, f.name) != default(type(values), f.name)
    }
