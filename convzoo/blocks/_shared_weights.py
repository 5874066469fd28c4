"""Kernels that several layers use together: tied weights and a hypernetwork's generator.

What is shared lives once in the model's ``shared`` ``nn.ModuleDict`` (injected
by the assembler), so the state_dict, ``parameters()`` and the summary hold it
once. A layer keeps a plain reference to its entry, set with
``object.__setattr__`` so that it is not registered a second time as a
submodule; ``copy.deepcopy`` keeps the tie (one memo for the whole model) and
``.to()``/``.double()`` convert the entry in place through ``model.shared``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from convzoo.blocks._filterbank import FilterBank
from convzoo.blocks._geometry import Geometry, Size
from convzoo.blocks._util import positive_int

M = TypeVar("M", bound=nn.Module)
_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def shared_entry(shared: nn.ModuleDict, name: str, kind: type[M], make: Callable[[], M]) -> M:
    """The entry ``shared[name]``, made on first use; it must be a ``kind``."""
    if not isinstance(name, str) or not _KEY.match(name):
        raise ValueError(f"key must be letters, digits and '_', got {name!r}")
    if name in shared:
        entry = shared[name]
        if not isinstance(entry, kind):
            raise ValueError(
                f"shared entry {name!r} already holds a {type(entry).__name__}, not a "
                f"{kind.__name__}; choose another key"
            )
        return entry
    if hasattr(shared, name):
        raise ValueError(f"key {name!r} is reserved by nn.ModuleDict; choose another key")
    entry = make()
    shared[name] = entry
    return entry


class TiedWeight(nn.Module):
    """One kernel ``weight`` that every ``tied`` layer with the same key applies."""

    def __init__(self, shape: Size) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(shape))
        bound = 1 / math.sqrt(math.prod(shape[1:]))
        nn.init.uniform_(self.weight, -bound, bound)


class TiedBank(FilterBank):
    """A filter bank whose kernel is ``shared["tied_<key>"].weight``; the bias is its own."""

    store: TiedWeight  # not a submodule: shared holds it

    def __init__(
        self, shared: nn.ModuleDict, key: str, in_channels: int, out: int, geometry: Geometry
    ) -> None:
        super().__init__(in_channels, out, geometry)
        shape = self.kernel_shape
        store = shared_entry(shared, f"tied_{key}", TiedWeight, lambda: TiedWeight(shape))
        if tuple(store.weight.shape) != shape:
            raise ValueError(
                f"tied key {key!r}: this layer needs a weight of shape {list(shape)} "
                f"(out, in/groups, *kernel) but the layers already tied under {key!r} use "
                f"{list(store.weight.shape)}; give it the same out/kernel/groups and input "
                "maps, or another key"
            )
        object.__setattr__(self, "store", store)
        self.key = key
        self.reset_bias(math.prod(shape[1:]))

    def kernel(self) -> torch.Tensor:
        """The shared weight itself (not a copy)."""
        return self.store.weight

    def extra_repr(self) -> str:
        return super().extra_repr() + f", key={self.key!r}"


class HyperGenerator(nn.Module):
    """Ha et al.'s static hypernetwork: an embedding z becomes one kernel block.

    ``a_i = W_i z + B_i`` for each of the ``in_block`` input maps of the block
    (``project``, dim ``hidden``), then ``K_i = W_out a_i + B_out`` (``expand``) gives
    that input map's ``out_block`` kernels. Initialized so a generated block has the
    variance of a kernel initialized for the block's own fan-in (z ~ N(0, 1)).
    """

    def __init__(
        self, z_dim: int, hidden: int, out_block: int, in_block: int, kernel_size: Size
    ) -> None:
        super().__init__()
        self.z_dim, self.hidden = z_dim, hidden
        self.out_block, self.in_block, self.kernel_size = out_block, in_block, kernel_size
        taps = math.prod(kernel_size)
        self.project = nn.Linear(z_dim, in_block * hidden)
        self.expand = nn.Linear(hidden, out_block * taps)
        nn.init.normal_(self.project.weight, std=1 / math.sqrt(z_dim))
        nn.init.normal_(self.expand.weight, std=1 / math.sqrt(hidden * in_block * taps))
        nn.init.zeros_(self.project.bias)
        nn.init.zeros_(self.expand.bias)

    @property
    def layout(self) -> tuple[int, int, int, int, Size]:
        """What layers sharing this generator must agree on."""
        return self.z_dim, self.hidden, self.out_block, self.in_block, self.kernel_size

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Embeddings ``[B, z_dim]`` -> kernel blocks ``[B, out_block, in_block, *kernel]``."""
        a = self.project(z).view(-1, self.in_block, self.hidden)
        blocks = self.expand(a).view(-1, self.in_block, self.out_block, *self.kernel_size)
        return blocks.transpose(1, 2)


def _generator(
    shared: nn.ModuleDict, key: str, layout: tuple[int, int, int, int, Size]
) -> HyperGenerator:
    """The generator ``shared[key]`` for ``layout`` (z_dim, hidden, out_block, in_block,
    kernel_size), made on first use; layers sharing it must ask for the same layout."""
    for what, value in zip(("z_dim", "hidden", "out_block", "in_block"), layout):
        positive_int(value, what)
    generator = shared_entry(shared, key, HyperGenerator, lambda: HyperGenerator(*layout))
    if generator.layout != layout:
        names = "z_dim, hidden, out_block, in_block, kernel"
        raise ValueError(
            f"hyper key {key!r}: this layer asks for a generator with ({names}) = "
            f"{layout} but the layers already sharing {key!r} use {generator.layout}; "
            "layers sharing a generator must agree on these, or use another key"
        )
    return generator


class HyperBank(FilterBank):
    """A filter bank whose kernel is generated block by block from learned embeddings.

    The kernel ``[out, in/groups, *k]`` is tiled from ``ceil(out/out_block) x
    ceil(in/groups/in_block)`` blocks, one embedding each, and cropped to size;
    ``sizes`` is the generator's ``(z_dim, hidden, out_block, in_block)``.
    """

    generator: HyperGenerator  # not a submodule: shared holds it

    def __init__(
        self,
        shared: nn.ModuleDict,
        key: str,
        sizes: tuple[int, int, int, int],
        in_channels: int,
        out: int,
        geometry: Geometry,
    ) -> None:
        super().__init__(in_channels, out, geometry)
        generator = _generator(shared, key, (*sizes, self.kernel_size))
        object.__setattr__(self, "generator", generator)
        self.key = key
        out, per_group = self.kernel_shape[:2]
        self.grid = (
            math.ceil(out / generator.out_block),
            math.ceil(per_group / generator.in_block),
        )
        self.embeddings = nn.Parameter(torch.randn(math.prod(self.grid), generator.z_dim))
        self.reset_bias(self.in_channels // self.groups * math.prod(self.kernel_size))

    def kernel(self) -> torch.Tensor:
        """The generated blocks, tiled into a kernel and cropped to ``kernel_shape``."""
        rows, cols = self.grid
        g = self.generator
        blocks = g(self.embeddings).view(rows, cols, g.out_block, g.in_block, *g.kernel_size)
        tiled = blocks.transpose(1, 2).reshape(
            rows * g.out_block, cols * g.in_block, *g.kernel_size
        )
        out, per_group = self.kernel_shape[:2]
        return tiled[:out, :per_group]

    def extra_repr(self) -> str:
        return super().extra_repr() + f", key={self.key!r}, blocks={self.grid}"
