"""What a block's constructor accepts: the spec's arguments, and what the assembler injects.

A spec argument is matched against the constructor's signature; an unknown one is
an error that lists the accepted ones (with "did you mean"), and a spec may never
set what the assembler injects (``INJECTED``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from convzoo.errors import did_you_mean, short_repr
from convzoo.registry import BlockInfo
from convzoo.spec import SpecError

INJECTED = (
    "in_channels",
    "dims",
    "classes",
    "in_shape",
    "input_shape",
    "layers",
    "body_shape",
    "shared",
)


@dataclass(frozen=True)
class Signature:
    """What a block's constructor accepts, split into spec arguments and injected ones."""

    accepted: dict[str, inspect.Parameter]
    injected: tuple[str, ...]
    required: tuple[str, ...]
    var_keyword: bool

    def describe(self) -> str:
        """``out, kernel, stride=1`` -- the arguments a spec may give."""
        parts = []
        for name, p in self.accepted.items():
            parts.append(name if p.default is inspect.Parameter.empty else f"{name}={p.default!r}")
        return ", ".join(parts) or "(none)"


def signature(info: BlockInfo) -> Signature:
    """The constructor signature of a registered block."""
    params = inspect.signature(info.obj).parameters
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = {n: p for n, p in params.items() if p.kind in kinds and n not in INJECTED}
    injected = tuple(n for n in INJECTED if n in params)
    required = tuple(n for n, p in params.items() if p.default is inspect.Parameter.empty)
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return Signature(accepted, injected, required, var_kw)


def check_args(info: BlockInfo, args: Mapping[str, Any], where: str) -> None:
    """Raise a ``SpecError`` for an argument the block does not accept or one it lacks."""
    sig = signature(info)
    for arg in args:
        if arg in INJECTED:
            raise SpecError(
                f"{where} ({info.key}): {short_repr(arg)} is set by the assembler from the "
                "layer's input; remove it from the spec"
            )
        if arg not in sig.accepted and not sig.var_keyword:
            raise SpecError(
                f"{where} ({info.key}): unknown argument {short_repr(arg)}."
                f"{did_you_mean(arg, sig.accepted)} {info.key} accepts: {sig.describe()}"
            )
    missing = [
        n for n, p in sig.accepted.items() if p.default is inspect.Parameter.empty and n not in args
    ]
    if missing:
        raise SpecError(
            f"{where} ({info.key}): missing required argument(s) {', '.join(missing)}. "
            f"{info.key} accepts: {sig.describe()}"
        )
