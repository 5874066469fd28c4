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

The parts: ``signature`` (what a constructor accepts, what is injected),
``swaps`` (ablations as spec-to-spec rewrites), ``assembler`` (the pass that
builds and traces) and ``network`` (``ConvNet`` and the trace rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext

import torch
from torch import nn

from convzoo.assemble.assembler import META_BATCH, Assembler, fitted_table
from convzoo.assemble.metatrace import MetaTrace
from convzoo.assemble.network import ConvNet, RepeatBlock, Row, Shape
from convzoo.assemble.signature import INJECTED, Signature, check_args, signature
from convzoo.assemble.swaps import apply_swaps
from convzoo.errors import ConvzooError
from convzoo.spec import Spec, SpecLike, load_spec

__all__ = [
    "INJECTED",
    "META_BATCH",
    "ConvNet",
    "RepeatBlock",
    "Row",
    "Shape",
    "Signature",
    "apply_swaps",
    "build",
    "build_meta",
    "check_args",
    "fitted_table",
    "signature",
    "spec_of",
    "trace",
]


def trace(spec: Spec) -> list[Row]:
    """Check every layer of ``spec`` on the meta device and return the shape rows."""
    assembler = Assembler(spec, None)
    with torch.device("meta"), MetaTrace():
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
    assembler = Assembler(spec, {r.path: r for r in rows})
    on_meta = device is not None and torch.device(device).type == "meta"
    place = torch.device(device) if device is not None else nullcontext()
    with place, MetaTrace() if on_meta else nullcontext():
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
