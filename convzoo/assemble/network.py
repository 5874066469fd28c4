"""The assembled network: ``ConvNet`` (layers in sequence, with its spec and shape trace),
a repeat's copies, and ``Row``, one traced node."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from convzoo.spec import Spec

Shape = tuple[int, ...]


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
