"""Window mechanics shared by the pooling blocks: checked sizes, windows as a tensor axis.

A pooling that is not a plain max or mean (Lp, softmax, log-sum-exp, stochastic,
LeNet's subsampling) needs each window's values side by side. ``WindowPool``
checks kernel, stride and padding once, exposes them as ``kernel_size``,
``stride`` and ``padding`` (so the summary finds the receptive field, as for
torch's poolings) and unfolds an ``(N, C, *spatial)`` input into
``(N, C, *out, K)``, the K values of every window on the last axis: each block
is then one vectorized reduction over that axis. ``Knob`` is a scalar
hyper-parameter (an exponent p, an inverse temperature beta) that is fixed or
learned; ``lp_norm`` is the overflow-free Lp norm the Lp poolings share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from convzoo.blocks._util import by_dims, sizes
from convzoo.errors import is_number


def check_rank(x: torch.Tensor, dims: int) -> None:
    """Raise a ValueError unless ``x`` is ``(N, C, L)`` (dims 1) or ``(N, C, H, W)`` (dims 2)."""
    if x.dim() != dims + 2:
        layout = "(N, C, L)" if dims == 1 else "(N, C, H, W)"
        raise ValueError(f"expected a {dims}-D input {layout}, got shape {list(x.shape)}")


def check_padding(padding: tuple[int, ...], kernel: tuple[int, ...]) -> None:
    """Raise a ValueError if padding exceeds half the kernel (a window of padding alone)."""
    if any(2 * p > k for p, k in zip(padding, kernel)):
        half = [k // 2 for k in kernel]
        raise ValueError(
            f"padding {list(padding)} is more than half the kernel {list(kernel)}: a window "
            f"would hold only padding; use padding <= {half}"
        )


class WindowPool(nn.Module):
    """Base of the window poolings: sizes checked once, ``windows(x)`` unfolds the input.

    ``stride`` defaults to ``kernel`` (non-overlapping windows). ``padding`` adds
    zeros on both sides of each spatial dimension, at most half the kernel so
    that every window holds at least one input value; ``outside(x)`` tells which
    window entries are padding, for the poolings that must ignore them.
    """

    def __init__(
        self,
        dims: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
    ) -> None:
        super().__init__()
        by_dims(dims, 1, 2)
        self.dims = dims
        self.kernel_size = sizes(kernel, dims, "kernel", 1)
        self.stride = self.kernel_size if stride is None else sizes(stride, dims, "stride", 1)
        self.padding = sizes(padding, dims, "padding", 0)
        check_padding(self.padding, self.kernel_size)

    def windows(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, *spatial)`` -> ``(N, C, *out, K)``: the K values of each window, zero-padded."""
        check_rank(x, self.dims)
        if any(self.padding):
            x = F.pad(x, [p for p in reversed(self.padding) for _ in range(2)])
        for axis, (k, s) in enumerate(zip(self.kernel_size, self.stride)):
            if x.shape[2 + axis] < k:
                raise ValueError(
                    f"the window ({k}) is larger than the padded input ({x.shape[2 + axis]}) "
                    f"along spatial dimension {axis}; use a smaller kernel or pool earlier"
                )
            x = x.unfold(2 + axis, k, s)
        return x.flatten(-self.dims)

    def outside(self, x: torch.Tensor) -> torch.Tensor | None:
        """True where a window entry is padding (shape ``(1, 1, *out, K)``); None without any."""
        if not any(self.padding):
            return None
        return self.windows(x.new_ones((1, 1, *x.shape[2:]))) == 0

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _inverse_softplus(y: float) -> float:
    """The x with softplus(x) == y > 0, without overflow for large y."""
    return y + math.log(-math.expm1(-y))


class Knob(nn.Module):
    """A scalar hyper-parameter of a pooling, fixed or learned; ``knob()`` gives its value.

    With a lower bound ``low``, a learned value is ``low + softplus(raw)``: it never
    falls below ``low`` however the optimizer moves ``raw`` (it can round to ``low``),
    and it must start above ``low``. A fixed value may equal ``low`` when ``inclusive``.
    """

    def __init__(
        self,
        name: str,
        value: float,
        learn: bool,
        low: float | None = None,
        inclusive: bool = False,
    ) -> None:
        super().__init__()
        if not is_number(value) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not isinstance(learn, bool):
            raise ValueError(f"learn_{name} must be true or false, got {learn!r}")
        if low is not None and (value < low or (value == low and (learn or not inclusive))):
            bound = f"at least {low}" if inclusive and not learn else f"above {low}"
            hint = f" (a learned {name} is kept above {low})" if learn else ""
            raise ValueError(f"{name} must be {bound}{hint}, got {value}")
        self.name = name
        self.low = low
        self.fixed = float(value)
        self.raw = None
        if learn:
            start = value if low is None else _inverse_softplus(value - low)
            self.raw = nn.Parameter(torch.tensor(float(start)))

    def forward(self) -> torch.Tensor | float:
        """The current value: a float when fixed, a 0-dim tensor when learned."""
        if self.raw is None:
            return self.fixed
        return self.raw if self.low is None else self.low + F.softplus(self.raw)

    def extra_repr(self) -> str:
        start = f"learned from {self.fixed}" if self.raw is not None else str(self.fixed)
        return f"{self.name}={start}"


def lp_norm(values: torch.Tensor, p: torch.Tensor | float) -> torch.Tensor:
    """``(sum |v|^p)^(1/p)`` over the last axis, for p >= 1, without overflow for large p.

    Computed as ``m * (sum (|v| / m)^p)^(1/p)`` with m the largest |v|: every
    ratio is at most 1, so no power overflows, and the sum is at least 1. m is
    held constant in the backward pass, which leaves the gradient exact because
    the norm is homogeneous (scaling v by m scales the norm by m). An all-zero
    window gives 0.
    """
    a = values.abs()
    m = a.amax(-1, keepdim=True).detach()
    nonzero = m > 0
    scaled = a / torch.where(nonzero, m, torch.ones_like(m))
    total = torch.where(nonzero, scaled.pow(p).sum(-1, keepdim=True), torch.ones_like(m))
    return (m * total.pow(1 / p)).squeeze(-1)
