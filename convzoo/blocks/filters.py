"""Filter banks: the convolution layers that sweep learned kernels over the input.

``conv`` is torch's own ``Conv1d``/``Conv2d`` (what the summary and the
benchmarks expect), unless a connection table restricts which input maps each
output map sees (LeNet-5's C3). The other blocks are the same filter bank with
one idea changed, so a swap shows what that idea does: ``true_conv`` runs the
kernel index backwards, ``unfold_conv`` computes the sweep with our own im2col
code, ``tied`` makes layers use one weight, ``hyper`` generates the weight, ``local``
gives every output position a kernel of its own (no sharing at all).
Every block takes the same geometry arguments (``kernel``, ``stride``,
``padding``, ``padding_mode``, ``dilation``, ``groups``, ``bias``), declared once by
``takes_geometry``, and exposes ``kernel_size``, ``stride`` and ``dilation`` for
the receptive field; the kernels of ``conv``, ``true_conv`` and ``unfold_conv``
are named and shaped alike, so their state_dicts load into each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from convzoo.blocks._filterbank import LearnedBank, check_maps
from convzoo.blocks._geometry import Geometry, takes_geometry
from convzoo.blocks._local import LocalBank
from convzoo.blocks._shared_weights import HyperBank, TiedBank
from convzoo.blocks._util import conv_class
from convzoo.registry import register

Connections = str | Sequence[Sequence[int]] | None
_EXAMPLE = {"out": 4, "kernel": 3}


@register(
    "filter",
    "conv",
    description="cross-correlation filter bank (torch's ConvNd): stride, padding, dilation, "
    "groups, optional connection table",
    reference="LeCun et al. 1989, Backpropagation applied to handwritten zip code recognition",
    example=_EXAMPLE,
)
@takes_geometry
def conv(
    in_channels: int, out: int, geometry: Geometry, connections: Connections = None
) -> nn.Module:
    """y[i, j] = sum_kl w[k, l] x[i + k, j + l] + b: ``out`` maps of ``kernel``-sized filters.

    ``connections`` ("lenet5_c3", or one list of input maps per output map) learns
    only the connected kernels; without it the block is a plain ``nn.ConvNd``.
    """
    if connections is not None:
        return LearnedBank(in_channels, out, geometry, connections)
    check_maps(in_channels, out, geometry.groups)
    g = geometry
    cls = conv_class(g.dims)
    return cls(
        in_channels,
        out,
        g.kernel_size,
        g.stride,
        g.padding,
        g.dilation,
        groups=g.groups,
        bias=g.bias,
        padding_mode=g.padding_mode,
    )


@register(
    "filter",
    "true_conv",
    description="true convolution y[i] = sum_j w[j] x[i - j]: the kernel index runs backwards",
    reference="Goodfellow, Bengio & Courville 2016, Deep Learning, section 9.1",
    example=_EXAMPLE,
)
@takes_geometry
def true_conv(
    in_channels: int, out: int, geometry: Geometry, connections: Connections = None
) -> nn.Module:
    """Convolution proper: ``conv`` with every spatial axis of the kernel flipped."""
    return LearnedBank(in_channels, out, geometry, connections, flip=True)


@register(
    "filter",
    "unfold_conv",
    description="cross-correlation as unfold (im2col) + matrix product, no torch convolution",
    reference="Chellapilla, Puri & Simard 2006, High performance convolutional neural networks "
    "for document processing",
    example=_EXAMPLE,
)
@takes_geometry
def unfold_conv(
    in_channels: int, out: int, geometry: Geometry, connections: Connections = None
) -> nn.Module:
    """``conv`` written out: windows cut by ``Tensor.unfold``, then one matrix product."""
    return LearnedBank(in_channels, out, geometry, connections, operator="unfold")


@register(
    "filter",
    "tied",
    description="filter bank whose weight is shared by every tied layer with the same key",
    reference="LeCun 1989, Generalization and network design strategies",
    example={**_EXAMPLE, "padding": 1},
)
@takes_geometry
def tied(
    in_channels: int, shared: nn.ModuleDict, out: int, geometry: Geometry, key: str = "default"
) -> nn.Module:
    """A ``conv`` whose weight is ``shared.tied_<key>.weight``, one tensor for all its uses."""
    return TiedBank(shared, key, in_channels, out, geometry)


@register(
    "filter",
    "hyper",
    description="filter bank whose kernel a shared generator makes from learned embeddings",
    reference="Ha, Dai & Le 2016, HyperNetworks",
    example={**_EXAMPLE, "z_dim": 3, "hidden": 3, "out_block": 2, "in_block": 2},
)
@takes_geometry
def hyper(
    in_channels: int,
    shared: nn.ModuleDict,
    out: int,
    geometry: Geometry,
    key: str = "hyper",
    z_dim: int = 16,
    hidden: int = 16,
    out_block: int = 16,
    in_block: int = 16,
) -> nn.Module:
    """Static hypernetwork: the kernel is tiled from ``out_block x in_block`` blocks, each the
    output of the generator ``shared[key]`` for one learned embedding of size ``z_dim``.

    Ha et al. use 16x16 blocks with z_dim = hidden = 64 over a whole ResNet; the
    smaller defaults make even a single 64->64 layer cheaper than the conv it replaces.
    """
    sizes = (z_dim, hidden, out_block, in_block)
    return HyperBank(shared, key, sizes, in_channels, out, geometry)


@register(
    "filter",
    "local",
    description="locally connected bank: conv's geometry, but every output position learns "
    "its own kernel (no weight sharing)",
    reference="LeCun 1989, Generalization and network design strategies (Net-3 against the "
    "shared Net-4 and Net-5)",
    example=_EXAMPLE,
)
@takes_geometry
def local(in_channels: int, in_shape: tuple[int, ...], out: int, geometry: Geometry) -> nn.Module:
    """``conv`` without weight sharing: ``out x in/groups x kernel`` weights and ``out``
    biases at each of the output positions (which is why it needs the input's size)."""
    return LocalBank(in_channels, in_shape[1:], out, geometry)
