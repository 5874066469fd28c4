"""Build an ``nn.Module`` from a spec, after checking every shape on the meta device.

``build(spec)`` first assembles the whole network on the ``meta`` device, where
parameters take no memory, and pushes a meta tensor through it layer by layer.
The first layer that fails stops everything with a ``SpecError`` that names its
path, its block, the input shape it got and why, followed by the table of the
layers that did fit. Only a spec that passes is built for real.

The assembler injects what a block cannot know from the spec -- ``in_channels``,
``dims`` (1 or 2), ``classes``, ``in_shape`` (the layer's input), ``input_shape``
(the network's), and for composite blocks the built
body as ``layers`` with its output shape as ``body_shape`` -- into the blocks
whose signature asks for them. ``shared`` is one ``nn.ModuleDict`` per model for
what several layers use together (tied weights, a hypernetwork's generator): it
is registered once, as ``model.shared``, so the state_dict and the parameter
count hold each shared tensor once. Module names follow the spec paths
(``layers.3.layers.1``), so state_dict keys are readable; a repeat's copies are
``layers.N.copies.C.J``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from convzoo.errors import ConvzooError, did_you_mean
from convzoo.registry import REGISTRY, BlockInfo, injectable
from convzoo.spec import Block, Node, Repeat, Spec, SpecError, SpecLike, load_spec

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
Shape = tuple[int, ...]
META_BATCH = 2


@dataclass
class Row:
    """One node of the assembled network: where it is, what it is, what shapes it maps."""

    path: str
    block: str
    in_shape: Shape
    out_shape: Shape | None = None
    depth: int = 0


class ConvNet(nn.Module):
    """An assembled network: ``layers`` in sequence, with the spec it was built from.

    ``spec`` is the (swapped) spec, so ``build(model.spec)`` rebuilds the same
    architecture; ``rows`` is the shape trace the summary reads; ``shared`` holds
    the modules several layers use together.
    """

    def __init__(
        self, spec: Spec, layers: nn.Sequential, rows: list[Row], shared: nn.ModuleDict
    ) -> None:
        super().__init__()
        self.spec = spec
        self.rows = rows
        self.layers = layers
        self.shared = shared

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the layers in order."""
        return self.layers(x)

    def loss(
        self,
        scores: torch.Tensor,
        target: torch.Tensor,
        inputs: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> torch.Tensor:
        """The training loss: the head's own ``loss(scores, target, inputs)`` where it has
        one (capsules: margin and reconstruction), else cross-entropy."""
        head_loss = getattr(self.layers[-1], "loss", None)
        if callable(head_loss):
            return head_loss(scores, target, inputs)
        return F.cross_entropy(scores, target, label_smoothing=label_smoothing)

    def extra_repr(self) -> str:
        return f"spec={self.spec.name!r}, input={list(self.spec.input)}"


class RepeatBlock(nn.Module):
    """The copies of a ``{repeat: N}`` body, applied one after another."""

    def __init__(self, copies: Iterable[nn.Sequential]) -> None:
        super().__init__()
        self.copies = nn.ModuleList(copies)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run every copy in order."""
        for copy in self.copies:
            x = copy(x)
        return x


# -- signatures ------------------------------------------------------------------------


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
                f"{where} ({info.key}): {arg!r} is set by the assembler from the layer's input; "
                "remove it from the spec"
            )
        if arg not in sig.accepted and not sig.var_keyword:
            raise SpecError(
                f"{where} ({info.key}): unknown argument {arg!r}."
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


# -- swaps -----------------------------------------------------------------------------


def _check_swap_keys(swap: Mapping[str, str]) -> None:
    for key, new in swap.items():
        family, _, old = key.partition(".")
        if family not in REGISTRY.families:
            raise SpecError(
                f"swap {key}={new}: {family!r} is not a block family; "
                f"use one of {', '.join(REGISTRY.families)} (or family.name)"
            )
        if old:
            REGISTRY.get(family, old)
        if not isinstance(new, str):
            raise SpecError(f"swap {key}: the replacement must be a block name, got {new!r}")
        REGISTRY.get(family, new)


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
            f"swap {', '.join(unused)} matches no layer of {spec.name!r}; "
            "check the family or block name"
        )
    return replace(spec, layers=layers)


# -- assembly --------------------------------------------------------------------------


def _shape(shape: Iterable[int]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _reason(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__


def fitted_table(rows: list[Row]) -> str:
    """Plain-text table of the rows whose output shape is known."""
    done = [r for r in rows if r.out_shape is not None]
    if not done:
        return "  (no layer fitted)"
    width = max(len(r.path) + 2 * r.depth for r in done)
    bwidth = max(len(r.block) for r in done)
    lines = [f"  {'path':<{width}}  {'block':<{bwidth}}  in -> out"]
    for r in done:
        path = "  " * r.depth + r.path
        lines.append(
            f"  {path:<{width}}  {r.block:<{bwidth}}  {_shape(r.in_shape)} -> {_shape(r.out_shape)}"
        )
    return "\n".join(lines)


class _Assembler:
    """One pass over a spec: on meta it traces shapes, for real it reuses the trace."""

    def __init__(self, spec: Spec, trace: dict[str, Row] | None) -> None:
        self.spec = spec
        self.known = trace
        self.rows: list[Row] = []
        self.shared = nn.ModuleDict()

    def fail(self, path: str, block: str, shape: Shape, reason: str) -> SpecError:
        return SpecError(
            f"{self.spec.name}: layer {path} ({block}) cannot take input {_shape(shape)}: "
            f"{reason}\nLayers that fit:\n{fitted_table(self.rows)}"
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
            return module, self.known[path].out_shape
        return module, self.infer(module, node, path, shape)

    def lookup(self, node: Block, path: str, shape: Shape) -> BlockInfo:
        """The registered block, checked for the spec's rank and the layer's arguments."""
        try:
            info = REGISTRY.get(node.family, node.name)
        except ConvzooError as exc:
            raise SpecError(f"{self.spec.name}: layer {path}: {exc}") from None
        if self.spec.dims not in info.dims:
            rank = "1-D (input [C, L])" if self.spec.dims == 1 else "2-D (input [C, H, W])"
            reason = f"{node.key} supports dims {info.dims} only, and this spec is {rank}"
            raise self.fail(path, node.key, shape, reason)
        check_args(info, node.args, f"{self.spec.name}: layer {path}")
        return info

    def body(
        self, node: Block, info: BlockInfo, path: str, shape: Shape, depth: int
    ) -> tuple[nn.Sequential | None, Shape]:
        """A composite block's nested layers, built, and their output shape."""
        wants = "layers" in signature(info).injected
        if node.layers is None:
            if wants:
                raise SpecError(
                    f"{self.spec.name}: layer {path} ({node.key}) needs a nested 'layers' list"
                )
            return None, shape
        if not wants:
            raise SpecError(f"{self.spec.name}: layer {path} ({node.key}) takes no nested 'layers'")
        return self.stack(node.layers, f"{path}.layers", shape, depth + 1)

    def known_values(
        self,
        node: Block,
        info: BlockInfo,
        path: str,
        shape: Shape,
        body: nn.Module | None,
        body_shape: Shape,
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
        if self.spec.classes is None:
            del values["classes"]
            if "classes" in signature(info).required:
                raise SpecError(
                    f"{self.spec.name}: layer {path} ({node.key}) needs the spec's 'classes'"
                )
        return values

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
        values = self.known_values(node, info, path, shape, body, body_shape)
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

    def run(self) -> tuple[nn.Sequential, Shape]:
        layers, out = self.stack(self.spec.layers, "layers", tuple(self.spec.input), 0)
        classes = self.spec.classes
        if self.known is None and classes is not None and out[0] != classes:
            raise SpecError(
                f"{self.spec.name}: the network outputs {_shape(out)} per sample but the spec "
                f"has classes: {classes}; end with a head that gives {classes} scores"
            )
        return layers, out


def trace(spec: Spec) -> list[Row]:
    """Check every layer of ``spec`` on the meta device and return the shape rows."""
    assembler = _Assembler(spec, None)
    with torch.device("meta"):
        assembler.run()
    return assembler.rows


def build(
    source: SpecLike,
    swap: Mapping[str, str] | None = None,
    device: torch.device | str | None = None,
) -> ConvNet:
    """Build the network of a spec, a YAML file, a registry name or a dict.

    The spec is shape-checked on the meta device before any weight is allocated;
    ``swap`` replaces blocks first (see ``apply_swaps``).
    """
    spec = apply_swaps(load_spec(source), swap)
    rows = trace(spec)
    assembler = _Assembler(spec, {r.path: r for r in rows})
    with torch.device(device) if device is not None else nullcontext():
        layers, _ = assembler.run()
    return ConvNet(spec, layers, rows, assembler.shared)


def build_meta(source: SpecLike, swap: Mapping[str, str] | None = None) -> ConvNet:
    """The network with every parameter on the meta device: shapes and counts, no memory."""
    return build(source, swap, device="meta")


def spec_of(model: nn.Module) -> Spec:
    """The spec a convzoo model was built from."""
    spec = getattr(model, "spec", None)
    if not isinstance(spec, Spec):
        raise ConvzooError(f"{type(model).__name__} was not built by convzoo: it carries no spec")
    return spec
