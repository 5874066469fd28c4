"""The assembler: one pass over a spec that builds its modules and traces their shapes.

On the meta device it pushes a batch of meta tensors through each block to find
its output shape; built for real, it reuses that trace. A layer that fails
stops the pass with a ``SpecError`` naming its path, block and input shape, with
the table of the layers that did fit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from convzoo.assemble.network import RepeatBlock, Row, Shape
from convzoo.assemble.signature import check_args, signature
from convzoo.errors import REASON_LIMIT, ConvzooError, short_repr, shorten
from convzoo.registry import REGISTRY, BlockInfo, injectable
from convzoo.spec import Block, Node, Repeat, Spec, SpecError

META_BATCH = 2


def _shape(shape: Iterable[int]) -> str:
    return "[" + ", ".join(short_repr(s) for s in shape) + "]"


def _reason(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__


def fitted_table(rows: list[Row]) -> str:
    """Plain-text table of the rows whose output shape is known."""
    done = [(r, r.out_shape) for r in rows if r.out_shape is not None]
    if not done:
        return "  (no layer fitted)"
    width = max(len(r.path) + 2 * r.depth for r, _ in done)
    bwidth = max(len(r.block) for r, _ in done)
    lines = [f"  {'path':<{width}}  {'block':<{bwidth}}  in -> out"]
    for r, out in done:
        path = "  " * r.depth + r.path
        lines.append(
            f"  {path:<{width}}  {r.block:<{bwidth}}  {_shape(r.in_shape)} -> {_shape(out)}"
        )
    return "\n".join(lines)


class Assembler:
    """One pass over a spec: on meta it traces shapes, for real it reuses the trace."""

    def __init__(self, spec: Spec, trace: dict[str, Row] | None) -> None:
        self.spec = spec
        self.known = trace
        self.rows: list[Row] = []
        self.shared = nn.ModuleDict()
        self.name = shorten(spec.name)

    def fail(self, path: str, block: str, shape: Shape, reason: str) -> SpecError:
        return SpecError(
            f"{self.name}: layer {path} ({block}) cannot take input {_shape(shape)}: "
            f"{shorten(reason, REASON_LIMIT)}\nLayers that fit:\n{fitted_table(self.rows)}"
        )

    def stack(
        self, nodes: tuple[Node, ...], prefix: str, shape: Shape, depth: int
    ) -> tuple[nn.Sequential, Shape]:
        modules: list[nn.Module] = []
        for i, node in enumerate(nodes):
            module, shape = self.node(node, f"{prefix}.{i}", shape, depth)
            modules.append(module)
        return nn.Sequential(*modules), shape

    def node(self, node: Node, path: str, shape: Shape, depth: int) -> tuple[nn.Module, Shape]:
        label = f"repeat x{node.times}" if isinstance(node, Repeat) else node.key
        row = Row(path, label, shape, depth=depth)
        self.rows.append(row)
        if isinstance(node, Repeat):
            copies = []
            for c in range(node.times):
                copy, shape = self.stack(node.layers, f"{path}.copies.{c}", shape, depth + 1)
                copies.append(copy)
            module: nn.Module = RepeatBlock(copies)
        else:
            module, shape = self.block(node, path, shape, depth)
        row.out_shape = shape
        return module, shape

    def block(self, node: Block, path: str, shape: Shape, depth: int) -> tuple[nn.Module, Shape]:
        """Look the block up, check it fits the spec, build it, and find its output shape."""
        info = self.lookup(node, path, shape)
        body, body_shape = self.body(node, info, path, shape, depth)
        module = self.construct(node, info, path, shape, body, body_shape)
        if self.known is not None:
            out = self.known[path].out_shape
            assert out is not None, f"{path}: the trace fitted every layer, so it has its output"
            return module, out
        return module, self.infer(module, node, path, shape)

    def lookup(self, node: Block, path: str, shape: Shape) -> BlockInfo:
        """The registered block, checked for the spec's rank and the layer's arguments."""
        try:
            info = REGISTRY.get(node.family, node.name)
        except ConvzooError as exc:
            reason = shorten(str(exc), REASON_LIMIT)
            raise SpecError(f"{self.name}: layer {path}: {reason}") from None
        if self.spec.dims not in info.dims:
            rank = "1-D (input [C, L])" if self.spec.dims == 1 else "2-D (input [C, H, W])"
            reason = f"{node.key} supports dims {info.dims} only, and this spec is {rank}"
            raise self.fail(path, node.key, shape, reason)
        check_args(info, node.args, f"{self.name}: layer {path}")
        if self.spec.classes is None and "classes" in signature(info).required:
            raise SpecError(f"{self.name}: layer {path} ({node.key}) needs the spec's 'classes'")
        return info

    def body(
        self, node: Block, info: BlockInfo, path: str, shape: Shape, depth: int
    ) -> tuple[nn.Sequential | None, Shape]:
        """A composite block's nested layers, built, and their output shape."""
        wants = "layers" in signature(info).injected
        if node.layers is None:
            if wants:
                raise SpecError(
                    f"{self.name}: layer {path} ({node.key}) needs a nested 'layers' list"
                )
            return None, shape
        if not wants:
            raise SpecError(f"{self.name}: layer {path} ({node.key}) takes no nested 'layers'")
        return self.stack(node.layers, f"{path}.layers", shape, depth + 1)

    def known_values(
        self, shape: Shape, body: nn.Module | None, body_shape: Shape
    ) -> dict[str, Any]:
        """What the assembler injects (``INJECTED``); ``classes`` only when the spec has it."""
        values = {
            "in_channels": shape[0],
            "dims": self.spec.dims,
            "classes": self.spec.classes,
            "in_shape": shape,
            "input_shape": tuple(self.spec.input),
            "layers": body,
            "body_shape": body_shape,
            "shared": self.shared,
        }
        return {k: v for k, v in values.items() if k != "classes" or v is not None}

    def construct(
        self,
        node: Block,
        info: BlockInfo,
        path: str,
        shape: Shape,
        body: nn.Module | None,
        body_shape: Shape,
    ) -> nn.Module:
        """Call the block's constructor with the spec's arguments and what it asks to be given."""
        values = self.known_values(shape, body, body_shape)
        try:
            module = info.obj(**node.args, **injectable(info.obj, values))
        except ConvzooError as exc:
            raise self.fail(path, node.key, shape, str(exc)) from exc
        except Exception as exc:
            raise self.fail(path, node.key, shape, _reason(exc)) from exc
        if not isinstance(module, nn.Module):
            raise self.fail(path, node.key, shape, f"{node.key} did not return an nn.Module")
        if body is not None and getattr(module, "layers", None) is not body:
            reason = f"{node.key} must keep its body as self.layers (so paths read {path}.layers.N)"
            raise self.fail(path, node.key, shape, reason)
        return module

    def infer(self, module: nn.Module, node: Block, path: str, shape: Shape) -> Shape:
        """The block's output shape, from a batch of meta tensors."""
        try:
            with torch.no_grad():
                out = module(torch.empty((META_BATCH, *shape), device="meta"))
        except Exception as exc:
            raise self.fail(path, node.key, shape, _reason(exc)) from exc
        if not isinstance(out, torch.Tensor) or out.dim() < 2 or out.shape[0] != META_BATCH:
            raise self.fail(path, node.key, shape, "the block must return one batched tensor")
        return tuple(out.shape[1:])

    def check_output(self, out: Shape) -> None:
        """A spec with ``classes`` outputs ``[classes]``, what training takes; only a head
        may keep a score map ``[classes, *positions]`` (``conv1x1`` with ``reduce: none``,
        for dense scans)."""
        classes = self.spec.classes
        if classes is None or out == (classes,):
            return
        if out[0] == classes and getattr(self.spec.layers[-1], "family", None) == "head":
            return
        n = short_repr(classes)
        raise SpecError(
            f"{self.name}: the network outputs {_shape(out)} per sample but the spec has "
            f"classes: {n}, so it must output [{n}]; end with a head that gives {n} scores "
            "(e.g. {head: linear})"
        )

    def run(self) -> tuple[nn.Sequential, Shape]:
        layers, out = self.stack(self.spec.layers, "layers", tuple(self.spec.input), 0)
        if self.known is None:
            self.check_output(out)
        return layers, out
