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
from collections.abc import Iterable
from typing import Any


class ConvzooError(Exception):
    """An error caused by the user's input; the command line reports it without a traceback
    and exits with ``exit_code`` (2: bad input; subclasses for runs that stopped say otherwise)."""

    exit_code = 2


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The choices most similar to ``word``, best first."""
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" Did you mean 'max'?"`` or an empty string when nothing is close."""
    near = closest(word, choices)
    if not near:
        return ""
    return " Did you mean " + " or ".join(repr(n) for n in near) + "?"


def is_int(value: Any) -> bool:
    """An integer that is not a bool (YAML and JSON give ``true`` where a number was meant)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
