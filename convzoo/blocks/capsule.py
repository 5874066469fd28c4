"""Capsule layers: groups of neurons whose vector length is a probability.

A capsule is a vector: its direction codes the pose of an entity, its length
(squashed into [0, 1)) the probability that the entity is there. ``primary``
turns a feature map into capsules with one convolution; ``routing`` computes
class capsules by dynamic routing by agreement, where each lower capsule sends
its prediction mostly to the upper capsules that agree with it. Together with
``head.capsule`` (``capsule_head.py``) they make CapsNet (Sabour, Frosst & Hinton
2017, "Dynamic routing between capsules").

Capsule tensors are ``[batch, capsules, dim]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from convzoo.blocks._util import as_size, conv_class, positive_int
from convzoo.registry import register

REFERENCE = "Sabour, Frosst & Hinton 2017, Dynamic routing between capsules"


def squash(s: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``v = |s|^2 / (1 + |s|^2) * s / |s|``, written as ``s * |s| / (1 + |s|^2)``.

    The second form never divides by ``|s|``, so it is finite at ``s = 0`` in the
    forward pass and (torch's norm has gradient 0 at 0) in the backward pass.
    """
    norm = torch.linalg.vector_norm(s, dim=dim, keepdim=True)
    return s * (norm / (1 + norm.square()))


def _capsules_in(in_shape: tuple[int, ...], block: str) -> tuple[int, int]:
    if len(in_shape) != 2:
        raise ValueError(
            f"{block} needs capsules [capsules, dim], got {list(in_shape)}; "
            "put a capsule.primary layer before it"
        )
    return in_shape[0], in_shape[1]


@register(
    "capsule",
    "primary",
    description="convolution whose output channels are grouped into squashed capsules",
    reference=REFERENCE,
    dims=(1, 2),
    example={"capsules": 2, "dim": 4, "kernel": 3, "stride": 2},
)
class PrimaryCapsules(nn.Module):
    """A convolution with ``capsules * dim`` maps, read as ``capsules`` types of ``dim``-D capsules.

    Channels ``[t * dim, (t + 1) * dim)`` form capsule type t; there is one capsule
    of each type at every output position. The output is ``[capsules * positions,
    dim]`` (type-major, positions in row-major order), each capsule squashed.
    CapsNet's PrimaryCaps: 32 types of 8-D capsules from a 9x9 stride-2
    convolution, 32 x 6 x 6 = 1152 capsules on 28x28 MNIST.
    """

    def __init__(
        self,
        in_channels: int,
        dims: int,
        capsules: int,
        dim: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
    ) -> None:
        super().__init__()
        positive_int(capsules, "capsules")
        positive_int(dim, "dim")
        conv = conv_class(dims)
        self.conv = conv(
            in_channels,
            capsules * dim,
            as_size(kernel, dims, "kernel"),
            stride=as_size(stride, dims, "stride"),
            padding=as_size(padding, dims, "padding"),
        )
        self.capsules, self.dim = capsules, dim
        self.kernel_size = self.conv.kernel_size
        self.stride = self.conv.stride
        self.padding = self.conv.padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, *spatial]`` -> ``[N, capsules * positions, dim]``, squashed."""
        maps = self.conv(x).flatten(2)
        n, _, positions = maps.shape
        poses = maps.view(n, self.capsules, self.dim, positions).transpose(2, 3)
        return squash(poses.reshape(n, self.capsules * positions, self.dim))

    def extra_repr(self) -> str:
        return f"capsules={self.capsules}, dim={self.dim}"


@register(
    "capsule",
    "routing",
    description="capsules from the capsules below by dynamic routing by agreement",
    reference=REFERENCE,
    dims=(1, 2),
    example={"capsules": 3, "dim": 4},
    example_before=[{"capsule": "primary", "capsules": 2, "dim": 4, "kernel": 3, "stride": 2}],
)
class DynamicRouting(nn.Module):
    """``capsules`` capsules of ``dim`` D from ``[in_caps, in_dim]`` capsules, routed by agreement.

    Each input capsule i predicts each output capsule j as ``u_hat = W[i, j] @ u_i``
    (``W`` is ``[in_caps, capsules, dim, in_dim]``, no biases). Routing logits b
    start at 0 for every sample; each of the ``iterations`` rounds takes coupling
    coefficients ``c = softmax_j(b)``, ``s_j = sum_i c_ij u_hat_j|i``, ``v_j =
    squash(s_j)``, and (except after the last) adds the agreement ``u_hat . v`` to
    b. Gradients flow through every round. ``capsules`` defaults to the spec's
    ``classes``. W is drawn from N(0, sigma^2) with ``sigma = capsules /
    sqrt(in_caps * dim)``, so that with uniform coupling and unit-length inputs
    ``E|s|^2 = 1`` (the paper does not state its initialization).
    """

    sees_all = True  # every output capsule is routed from every input capsule

    def __init__(
        self,
        in_shape: tuple[int, ...],
        classes: int | None = None,
        capsules: int | None = None,
        dim: int = 16,
        iterations: int = 3,
    ) -> None:
        super().__init__()
        in_caps, in_dim = _capsules_in(in_shape, "capsule.routing")
        out_caps = capsules if capsules is not None else classes
        if out_caps is None:
            raise ValueError(
                "routing needs the number of output capsules: give 'capsules: N' "
                "or set the spec's 'classes'"
            )
        positive_int(out_caps, "capsules")
        positive_int(dim, "dim")
        positive_int(iterations, "iterations")
        self.iterations = iterations
        self.weight = nn.Parameter(torch.empty(in_caps, out_caps, dim, in_dim))
        nn.init.normal_(self.weight, std=out_caps / math.sqrt(in_caps * dim))

    def route(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The output capsules ``[N, capsules, dim]`` and the final coupling coefficients
        ``[N, in_caps, capsules]`` (they sum to 1 over the output capsules).

        The predictions are laid out as one contiguous ``[in_caps, dim]`` matrix per
        (sample, output capsule), so that both sums of a round -- ``s_j`` over the input
        capsules and the agreement over ``dim`` -- are batched matrix products over
        contiguous memory, and the routing logits stay contiguous for the softmax. On a CPU
        this routing, forward and backward, takes 15-30% less time than einsum over
        ``[N, in, out, dim]``, whose products and softmax work on strided copies
        (``benchmarks/capsnet_step.py``)."""
        n = u.shape[0]
        in_caps, out_caps, dim, in_dim = self.weight.shape
        weight = self.weight.reshape(in_caps, out_caps * dim, in_dim).transpose(1, 2)
        u_hat = torch.bmm(u.transpose(0, 1), weight)  # [in_caps, N, capsules * dim]
        u_hat = u_hat.view(in_caps, n * out_caps, dim).transpose(0, 1).contiguous()
        logits = u.new_zeros(n, out_caps, in_caps)
        for step in range(self.iterations):
            coupling = logits.softmax(dim=1)
            v = squash(torch.bmm(coupling.view(n * out_caps, 1, in_caps), u_hat))
            if step + 1 < self.iterations:
                agreement = torch.bmm(u_hat, v.transpose(1, 2))  # [N * capsules, in_caps, 1]
                logits = logits + agreement.view(n, out_caps, in_caps)
        return v.view(n, out_caps, dim), coupling.transpose(1, 2)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``[N, in_caps, in_dim]`` -> ``[N, capsules, dim]``."""
        return self.route(u)[0]

    def extra_repr(self) -> str:
        in_caps, out_caps, dim, in_dim = self.weight.shape
        return f"in=[{in_caps}, {in_dim}], out=[{out_caps}, {dim}], iterations={self.iterations}"
