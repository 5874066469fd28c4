"""``ConvzooError`` and the helpers every error message and input check is built from.

A ``ConvzooError`` is an error the user caused and can fix: the command line
prints its message alone, with exit status 2, never a traceback. The helpers
here are the single home of the checks that messages rest on -- "did you mean",
"an integer that is not a bool" -- so that every part of convzoo words and
decides them the same way. This module is the bottom of convzoo's flow: it
imports nothing of convzoo.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeGuard

REPR_LIMIT = 200  # characters of a user value a message shows
REASON_LIMIT = 800  # characters of an inner error (a block's, the registry's) a message shows


class ConvzooError(Exception):
    """An error caused by the user's input; the command line reports it without a traceback
    and exits with ``exit_code`` (2: bad input; subclasses for runs that stopped say otherwise)."""

    exit_code = 2


class ConvzooWarning(UserWarning):
    """Something the user should know, that does not stop the command (``convzoo: warning:``)."""


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The choices most similar to ``word``, best first: those it abbreviates, shortest
    first, then the closest spellings."""
    pool = list(choices)
    started = sorted((c for c in pool if c.startswith(word) and c != word), key=len)
    similar = difflib.get_close_matches(word, pool, n=n, cutoff=0.5)
    return list(dict.fromkeys([*started, *similar]))[:n]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" Did you mean 'max'?"`` or an empty string when nothing is close."""
    near = closest(word, choices)
    if not near:
        return ""
    return " Did you mean " + " or ".join(repr(n) for n in near) + "?"


def install_hint(extra: str) -> str:
    """How to install an optional extra of convzoo's, in the one form every message uses."""
    return f"pip install 'convzoo[{extra}]'"


def is_int(value: Any) -> TypeGuard[int]:
    """An integer that is not a bool (YAML and JSON give ``true`` where a number was meant)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    """An int or a float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def shorten(text: str, limit: int = REPR_LIMIT) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``...`` where it was cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_repr(value: Any, limit: int = REPR_LIMIT) -> str:
    """``repr(value)`` in at most ``limit`` characters: how a message shows a user's value.

    It is built piece by piece and stops at the limit, so a huge, cyclic or
    alias-shared value costs ``limit`` characters, never its full expansion.
    """
    text = ""
    for piece in _repr_pieces(value, limit):
        text += piece
        if len(text) > limit:
            break
    return shorten(text, limit)


def _repr_pieces(value: Any, limit: int) -> Iterator[str]:
    if isinstance(value, Mapping):
        yield "{"
        for i, (k, v) in enumerate(value.items()):
            if i:
                yield ", "
            yield from _repr_pieces(k, limit)
            yield ": "
            yield from _repr_pieces(v, limit)
        yield "}"
    elif isinstance(value, (list, tuple)):
        yield "[" if isinstance(value, list) else "("
        for i, v in enumerate(value):
            if i:
                yield ", "
            yield from _repr_pieces(v, limit)
        yield "]" if isinstance(value, list) else ",)" if len(value) == 1 else ")"
    elif isinstance(value, str):
        yield repr(value[: limit + 1])
    elif is_int(value) and value.bit_length() > 4 * limit:
        yield f"<an integer of about {value.bit_length() * 3 // 10} digits>"
    else:
        yield repr(value)
