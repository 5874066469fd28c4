"""The capsule classifier: class scores are capsule lengths, trained by the margin loss.

CapsNet (Sabour, Frosst & Hinton 2017) scores class k by the length of its class
capsule and trains with a margin loss per class, plus a small reconstruction
loss: a decoder redraws the input image from the class capsules with all but one
masked out, which pushes the capsules to keep the pose of what they detect.
The head supplies that loss through ``loss(scores, target, inputs)``, which
``ConvNet.loss`` calls.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from convzoo.registry import register

M_PLUS = 0.9
M_MINUS = 0.1
DOWN_WEIGHT = 0.5


def margin_loss(
    lengths: torch.Tensor,
    target: torch.Tensor,
    m_plus: float = M_PLUS,
    m_minus: float = M_MINUS,
    down_weight: float = DOWN_WEIGHT,
) -> torch.Tensor:
    """``sum_k T_k max(0, m+ - |v_k|)^2 + lambda (1 - T_k) max(0, |v_k| - m-)^2``, mean over batch.

    ``lengths`` is ``[N, classes]``, ``target`` the class indices ``[N]``.
    """
    present = F.one_hot(target, lengths.shape[1]).to(lengths.dtype)
    hit = (m_plus - lengths).clamp(min=0).square()
    miss = (lengths - m_minus).clamp(min=0).square()
    per_class = present * hit + down_weight * (1 - present) * miss
    return per_class.sum(1).mean()


@register(
    "head",
    "capsule",
    description="class scores are class-capsule lengths; margin loss plus masked reconstruction",
    reference="Sabour, Frosst & Hinton 2017, Dynamic routing between capsules",
    example={"reconstruction": False},
    example_before=[
        {"capsule": "primary", "capsules": 2, "dim": 4, "kernel": 3, "stride": 2},
        {"capsule": "routing", "dim": 4},
    ],
)
class CapsuleHead(nn.Module):
    """Scores ``|v_k|`` from class capsules ``[classes, dim]``, with CapsNet's loss.

    ``loss`` is the margin loss (m+ 0.9, m- 0.1, lambda 0.5) plus, with
    ``reconstruction`` (default), ``reconstruction_weight`` (0.0005) times the
    sum of squared errors between the decoder's image and the input (flattened;
    images in [0, 1], as the decoder ends in a sigmoid), averaged over the batch.
    The decoder reads the class capsules with every capsule zeroed but the true
    class's in training mode and the longest one otherwise:
    ``classes * dim -> 512 -> ReLU -> 1024 -> ReLU -> prod(input shape) -> sigmoid``.

    The loss only receives the scores, so the head keeps the class capsules of its
    last forward pass in ``self.poses`` (with their autograd graph, so the
    reconstruction loss trains the layers below) until the next forward;
    ``loss`` and ``reconstruct`` read them there. Copies and pickles of the
    module leave them out.
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        classes: int,
        input_shape: tuple[int, ...],
        reconstruction: bool = True,
        reconstruction_weight: float = 0.0005,
    ) -> None:
        super().__init__()
        if len(in_shape) != 2 or in_shape[0] != classes:
            raise ValueError(
                f"the capsule head needs {classes} class capsules [classes, dim], got "
                f"{list(in_shape)}; put a capsule.routing layer to {classes} capsules before it"
            )
        if reconstruction_weight < 0:
            raise ValueError(f"reconstruction_weight must be >= 0, got {reconstruction_weight}")
        self.classes = classes
        self.input_shape = tuple(input_shape)
        self.reconstruction_weight = reconstruction_weight
        self.decoder = (
            nn.Sequential(
                nn.Linear(classes * in_shape[1], 512),
                nn.ReLU(),
                nn.Linear(512, 1024),
                nn.ReLU(),
                nn.Linear(1024, math.prod(self.input_shape)),
                nn.Sigmoid(),
            )
            if reconstruction
            else None
        )
        self.poses: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class capsules ``[N, classes, dim]`` -> their lengths ``[N, classes]``."""
        self.poses = x
        return torch.linalg.vector_norm(x, dim=-1)

    def _last_poses(self, what: str) -> torch.Tensor:
        if self.poses is None:
            raise ValueError(f"{what} needs the class capsules of a forward pass: run the model")
        return self.poses

    def reconstruct(self, target: torch.Tensor | None = None) -> torch.Tensor:
        """Images ``[N, *input shape]`` decoded from the last forward's class capsules,
        masked by ``target`` (class indices) or, without it, by the longest capsule."""
        if self.decoder is None:
            raise ValueError("this capsule head has no decoder; build it with reconstruction: true")
        poses = self._last_poses("reconstruct")
        keep = torch.linalg.vector_norm(poses, dim=-1).argmax(1) if target is None else target
        mask = F.one_hot(keep, self.classes).to(poses.dtype).unsqueeze(-1)
        images = self.decoder((poses * mask).flatten(1))
        return images.view(-1, *self.input_shape)

    def loss(
        self, scores: torch.Tensor, target: torch.Tensor, inputs: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Margin loss on ``scores``, plus the weighted reconstruction error of ``inputs``."""
        margin = margin_loss(scores, target)
        if self.decoder is None:
            return margin
        if inputs is None:
            raise ValueError(
                "the capsule head's reconstruction loss needs the input images: pass inputs, "
                "or build the head with reconstruction: false"
            )
        if self._last_poses("loss").shape[0] != scores.shape[0]:
            raise ValueError("loss got scores of another batch than the last forward pass")
        images = self.reconstruct(target if self.training else None)
        error = (images.flatten(1) - inputs.flatten(1)).square().sum(1).mean()
        return margin + self.reconstruction_weight * error

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        return {**state, "poses": None}
