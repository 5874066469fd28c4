"""Feature pooling: summarize each window of a map, usually with a stride.

Besides max and average, the classic alternatives: Lp pooling (between average
and max as p grows), softmax ("probability") and log-sum-exp pooling (the same
with a temperature), stochastic pooling (a regularizer that samples), and
LeNet-5's trainable subsampling. Anti-aliased pooling is in ``blur_pool.py``,
global poolings in ``global_pooling.py``; the shared window mechanics in
``_windows.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from convzoo.blocks._util import as_size, by_dims
from convzoo.blocks._windows import Knob, WindowPool, lp_norm
from convzoo.registry import register


@register(
    "pool",
    "max",
    description="maximum over each window",
    reference="Riesenhuber & Poggio 1999, Hierarchical models of object recognition in cortex",
    example={"kernel": 2},
)
def max_pool(
    dims: int,
    kernel: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
) -> nn.Module:
    """Max pooling; ``stride`` defaults to ``kernel`` (non-overlapping windows)."""
    cls = by_dims(dims, nn.MaxPool1d, nn.MaxPool2d)
    return cls(
        as_size(kernel, dims, "kernel"),
        stride=None if stride is None else as_size(stride, dims, "stride"),
        padding=as_size(padding, dims, "padding"),
        dilation=as_size(dilation, dims, "dilation"),
        ceil_mode=ceil_mode,
    )


@register(
    "pool",
    "avg",
    description="mean over each window",
    reference="LeCun et al. 1989, Backpropagation applied to handwritten zip code recognition",
    example={"kernel": 2},
)
def avg_pool(
    dims: int,
    kernel: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> nn.Module:
    """Average pooling; ``stride`` defaults to ``kernel``."""
    cls = by_dims(dims, nn.AvgPool1d, nn.AvgPool2d)
    return cls(
        as_size(kernel, dims, "kernel"),
        stride=None if stride is None else as_size(stride, dims, "stride"),
        padding=as_size(padding, dims, "padding"),
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
    )


@register(
    "pool",
    "lp",
    description="Lp norm of each window, (sum |x|^p)^(1/p): p=1 sums magnitudes, p->inf is max",
    reference="Sermanet, Chintala & LeCun 2012, Convolutional neural networks applied to house "
    "numbers digit classification; learned p: Gulcehre et al. 2014, Learned-norm pooling",
    example={"kernel": 2, "learn_p": True},
)
class LpPool(WindowPool):
    """(sum over the window of |x|^p)^(1/p), computed without overflow for large p.

    ``p`` >= 1 is fixed, or learned with ``learn_p`` (then kept above 1, so it
    must start above 1). Zero padding adds nothing to the sum.
    """

    def __init__(
        self,
        dims: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        p: float = 2.0,
        learn_p: bool = False,
    ) -> None:
        super().__init__(dims, kernel, stride, padding)
        self.p = Knob("p", p, learn_p, low=1.0, inclusive=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The Lp norm of every window."""
        return lp_norm(self.windows(x), self.p())


@register(
    "pool",
    "softmax",
    description="probability pooling: sum over the window of softmax(beta x) * x, "
    "between average (beta=0) and max (beta->inf)",
    reference="Stergiou, Poppe & Kalliatakis 2021, Refining activation downsampling with "
    "SoftPool (beta=1)",
    example={"kernel": 2, "learn_beta": True},
)
class SoftmaxPool(WindowPool):
    """Each window's values averaged with weights softmax(beta * x) over the window.

    beta = 0 is average pooling, beta -> inf max pooling, beta < 0 leans to the
    minimum; ``learn_beta`` makes it a parameter. Padding is left out of the window.
    """

    def __init__(
        self,
        dims: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        beta: float = 1.0,
        learn_beta: bool = False,
    ) -> None:
        super().__init__(dims, kernel, stride, padding)
        self.beta = Knob("beta", beta, learn_beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """sum_i softmax(beta x)_i x_i per window."""
        values = self.windows(x)
        logits = values * self.beta()
        outside = self.outside(x)
        if outside is not None:
            logits = logits.masked_fill(outside, float("-inf"))
        return (logits.softmax(-1) * values).sum(-1)


@register(
    "pool",
    "logsumexp",
    description="(1/beta) log sum exp(beta x) over each window, a smooth maximum",
    reference="Pinheiro & Collobert 2015, From image-level to pixel-level labeling with "
    "convolutional networks",
    example={"kernel": 2, "learn_beta": True},
)
class LogSumExpPool(WindowPool):
    """A smooth maximum: (1/beta) log sum_i exp(beta x_i) per window, never below the max.

    beta > 0 is fixed, or learned with ``learn_beta`` (kept above 0); as beta
    grows the result approaches the window's max. Padding is left out of the window.
    """

    def __init__(
        self,
        dims: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        beta: float = 1.0,
        learn_beta: bool = False,
    ) -> None:
        super().__init__(dims, kernel, stride, padding)
        self.beta = Knob("beta", beta, learn_beta, low=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(1/beta) logsumexp(beta x) per window."""
        beta = self.beta()
        logits = self.windows(x) * beta
        outside = self.outside(x)
        if outside is not None:
            logits = logits.masked_fill(outside, float("-inf"))
        return torch.logsumexp(logits, -1) / beta


@register(
    "pool",
    "stochastic",
    description="stochastic pooling: in training one activation per window sampled with "
    "probability proportional to it; in eval their probability-weighted average",
    reference="Zeiler & Fergus 2013, Stochastic pooling for regularization of deep "
    "convolutional neural networks",
    example={"kernel": 2},
    deterministic=False,
)
class StochasticPool(WindowPool):
    """Sample a_i with probability p_i = a_i / sum_j a_j in training; sum_i p_i a_i in eval.

    The activations a = max(x, 0) are expected non-negative (after a ReLU);
    negatives count as 0, and a window of zeros gives 0. Zero padding is never
    sampled.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A sampled activation per window (training) or the weighted average (eval)."""
        a = self.windows(x).clamp_min(0)
        if self.training:
            # Independent exponential clocks with rates a_i: the first to ring is i with
            # probability a_i / sum_j a_j, and a zero rate never rings first.
            clocks = -torch.rand_like(a).clamp_min(torch.finfo(a.dtype).tiny).log()
            index = (a / clocks).argmax(-1, keepdim=True)
            return a.gather(-1, index).squeeze(-1)
        total = a.sum(-1)
        return a.square().sum(-1) / torch.where(total > 0, total, torch.ones_like(total))


@register(
    "pool",
    "subsample",
    description="LeNet-5's subsampling: window sum times a trainable coefficient plus a "
    "trainable bias, per map",
    reference="LeCun et al. 1998, Gradient-based learning applied to document recognition",
    example={"kernel": 2},
)
class Subsample(WindowPool):
    """y_c = w_c * (sum of the window of map c) + b_c: two parameters per map.

    ``kernel`` defaults to 2 (the paper's 2x2); ``w`` starts at 1/window size, so
    the layer starts as average pooling, and ``b`` at 0. Padding adds zeros.
    """

    def __init__(
        self,
        in_channels: int,
        dims: int,
        kernel: int | Sequence[int] = 2,
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
    ) -> None:
        super().__init__(dims, kernel, stride, padding)
        self.weight = nn.Parameter(torch.full((in_channels,), 1.0 / math.prod(self.kernel_size)))
        self.bias = nn.Parameter(torch.zeros(in_channels))

    def multiply_adds(self, out_shape: tuple[int, ...]) -> int:
        """Per sample, for the summary: each output weighs its window's inputs (by one shared
        coefficient), as LeCun et al. 1998 count S2's connections."""
        return math.prod(out_shape) * math.prod(self.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Coefficient times window sum plus bias, per map."""
        per_map = (-1,) + (1,) * self.dims
        return self.windows(x).sum(-1) * self.weight.view(per_map) + self.bias.view(per_map)
