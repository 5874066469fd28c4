"""Swaps: replace blocks by family (``{"act": "relu"}``) or by name (``{"filter.conv": ...}``)
across a whole spec, so that an ablation is one line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from convzoo.assemble.signature import check_args
from convzoo.errors import REASON_LIMIT, ConvzooError, short_repr, shorten
from convzoo.registry import REGISTRY
from convzoo.spec import Node, Repeat, Spec, SpecError


def _check_swap_keys(swap: Mapping[str, str]) -> None:
    for key, new in swap.items():
        if not isinstance(key, str) or not isinstance(new, str):
            raise SpecError(
                f"swap {short_repr(key)}: {short_repr(new)}: a swap maps a family or "
                "family.name to a block name, both strings"
            )
        label = shorten(f"{key}={new}")
        family, _, old = key.partition(".")
        if family not in REGISTRY.families:
            raise SpecError(
                f"swap {label}: {short_repr(family)} is not a block family; "
                f"use one of {', '.join(REGISTRY.families)} (or family.name)"
            )
        try:
            if old:
                REGISTRY.get(family, old)
            REGISTRY.get(family, new)
        except ConvzooError as exc:
            raise SpecError(f"swap {label}: {shorten(str(exc), REASON_LIMIT)}") from None


def _swap_nodes(
    nodes: tuple[Node, ...], swap: Mapping[str, str], prefix: str, used: set[str]
) -> tuple[Node, ...]:
    out: list[Node] = []
    for i, node in enumerate(nodes):
        path = f"{prefix}.{i}"
        if isinstance(node, Repeat):
            out.append(Repeat(node.times, _swap_nodes(node.layers, swap, f"{path}.layers", used)))
            continue
        body = node.layers and _swap_nodes(node.layers, swap, f"{path}.layers", used)
        key = node.key if node.key in swap else node.family if node.family in swap else None
        name = node.name
        if key is not None:
            used.add(key)
            name = swap[key]
            info = REGISTRY.get(node.family, name)
            try:
                check_args(info, node.args, path)
            except SpecError as exc:
                raise SpecError(
                    f"swap {key}={name} cannot replace {node.key}: {exc} "
                    "Give the swapped layers arguments both blocks accept, or swap by name."
                ) from None
        out.append(replace(node, name=name, layers=body))
    return tuple(out)


def apply_swaps(spec: Spec, swap: Mapping[str, str] | None) -> Spec:
    """Replace blocks by family (``{"act": "relu"}``) or by name (``{"filter.conv": ...}``).

    A name key wins over a family key for the same block. Arguments are kept; a
    swap whose new block does not accept them, or that matches no layer, fails.
    """
    if not swap:
        return spec
    _check_swap_keys(swap)
    used: set[str] = set()
    layers = _swap_nodes(spec.layers, swap, "layers", used)
    unused = [k for k in swap if k not in used]
    if unused:
        raise SpecError(
            f"swap {', '.join(unused)} matches no layer of {short_repr(spec.name)}; "
            "check the family or block name"
        )
    return replace(spec, layers=layers)
