"""Global poolings: one value per channel, whatever the size and position of the input.

A filter swept over the whole input detects its motif wherever it occurs; a global
pooling then keeps one number per map (the max, the mean or the Lp norm over all
positions), so the result no longer depends on where the motif was. The output
keeps its spatial dimensions as size 1 (``[C, 1]`` or ``[C, 1, 1]``) so any head
can follow, and the reduction runs over whatever size arrives: a fully
convolutional net built for one size runs on wider inputs. For the summary,
``kernel_size`` and ``stride`` are the spatial size the block was built for, and
``sees_all`` says that each output depends on the whole input.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

import torch
from torch import nn

from convzoo.blocks._windows import Knob, check_rank, lp_norm
from convzoo.registry import register


class GlobalPool(nn.Module, metaclass=ABCMeta):
    """Base: flattens the positions of each map, reduces them with ``reduce``, keeps size-1 dims."""

    sees_all = True  # every output depends on every position (for the summary's rf)

    def __init__(self, in_shape: tuple[int, ...]) -> None:
        super().__init__()
        if len(in_shape) not in (2, 3):
            raise ValueError(
                f"global pooling needs maps [C, L] or [C, H, W], got {list(in_shape)}; "
                "place it before the flatten or the head"
            )
        self.dims = len(in_shape) - 1
        self.kernel_size = tuple(in_shape[1:])
        self.stride = self.kernel_size

    @abstractmethod
    def reduce(self, positions: torch.Tensor) -> torch.Tensor:
        """``(N, C, P)`` -> ``(N, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One value per map, shaped ``(N, C, 1)`` or ``(N, C, 1, 1)``."""
        check_rank(x, self.dims)
        return self.reduce(x.flatten(2)).reshape(*x.shape[:2], *(1,) * self.dims)

    def extra_repr(self) -> str:
        return f"built_for={list(self.kernel_size)}"


@register(
    "pool",
    "global_max",
    description="max over all positions of each map: did the motif occur anywhere",
    reference="Collobert et al. 2011, Natural language processing (almost) from scratch "
    "(max over time)",
    example={},
)
class GlobalMaxPool(GlobalPool):
    """The largest value of each map, over every position."""

    def reduce(self, positions: torch.Tensor) -> torch.Tensor:
        """Max over positions."""
        return positions.amax(-1)


@register(
    "pool",
    "global_avg",
    description="mean over all positions of each map",
    reference="Lin, Chen & Yan 2014, Network in network",
    example={},
)
class GlobalAvgPool(GlobalPool):
    """The mean of each map, over every position."""

    def reduce(self, positions: torch.Tensor) -> torch.Tensor:
        """Mean over positions."""
        return positions.mean(-1)


@register(
    "pool",
    "global_lp",
    description="Lp norm over all positions of each map, p fixed or learned",
    reference="Gulcehre et al. 2014, Learned-norm pooling for deep feedforward and recurrent "
    "neural networks",
    example={"learn_p": True},
)
class GlobalLpPool(GlobalPool):
    """(sum over every position of |x|^p)^(1/p); ``p`` as in ``pool: lp``."""

    def __init__(self, in_shape: tuple[int, ...], p: float = 2.0, learn_p: bool = False) -> None:
        super().__init__(in_shape)
        self.p = Knob("p", p, learn_p, low=1.0, inclusive=True)

    def reduce(self, positions: torch.Tensor) -> torch.Tensor:
        """The Lp norm over positions."""
        return lp_norm(positions, self.p())
