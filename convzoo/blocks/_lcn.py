"""Local contrast normalization (Jarrett, Kavukcuoglu, Ranzato & LeCun 2009), the module.

The registered block ``norm.lcn`` (in ``norm.py``) builds it. It sits after the
rectification of a classic filter-bank stage and makes neighbouring features
compete: each position is centred on its neighbourhood's mean and scaled by its
neighbourhood's deviation, so the output depends on local contrast, not on the
brightness or gain of the input.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from convzoo.blocks._util import by_dims
from convzoo.errors import is_int, is_number


class LocalContrastNorm(nn.Module):
    """Subtractive then divisive normalization with a fixed Gaussian window.

    With w_pq a Gaussian window (std ``sigma``, ``kernel`` taps per spatial
    dimension) normalized so that it sums to 1 over space and the C maps:

    - subtractive: v_jik = x_jik - sum_{j', p, q} w_pq x_{j', i+p, k+q}
      (the local mean over the neighbourhood and all maps);
    - divisive: y_jik = v_jik / max(c, s_ik), with the local deviation
      s_ik = sqrt(sum_{j, p, q} w_pq v_{j, i+p, k+q}^2 + eps^2) and c the mean
      of s over the sample's positions.

    Borders: the output keeps the input's size. Near an edge part of the window
    falls outside the input; both sums then run over the inside part only, and are
    divided by that part's weight, so the local mean and deviation stay weighted
    averages (of the pixels that exist) instead of being pulled towards zero.

    ``eps`` makes s at least ``eps``: a flat region (s = 0) gives 0, not NaN, and
    the gradient stays finite. Apart from it the output is invariant to the
    input's scale: y(a x) = y(x) for a > 0. The window is no parameter or
    buffer: it is built on the fly in the input's dtype (computed in float64, then
    rounded once), so a float64 run is exact to float64 and ``.double()`` needs no
    buffer to follow. ``kernel_size`` and ``stride`` expose the local window to the
    summary; ``sees_all`` tells it that the divisive floor c, a mean over the whole
    map, makes every output depend on every input position.
    """

    sees_all = True

    def __init__(
        self, channels: int, dims: int, kernel: int = 9, sigma: float = 2.0, eps: float = 1e-4
    ) -> None:
        super().__init__()
        if not is_int(kernel) or kernel < 1 or kernel % 2 == 0:
            raise ValueError(
                f"kernel must be a positive odd integer (the window is centred), got {kernel!r}"
            )
        if not is_number(sigma) or not sigma > 0:
            raise ValueError(f"sigma must be a positive number (the window's std), got {sigma!r}")
        if not math.isfinite(sigma):
            raise ValueError(f"sigma must be finite, got {sigma!r}")
        self.conv = by_dims(dims, F.conv1d, F.conv2d)
        self.dims = dims
        self.eps = float(eps)
        self.sigma = float(sigma)
        self.padding = kernel // 2
        self.kernel_size = (kernel,) * dims
        self.stride = (1,) * dims
        self.dilation = (1,) * dims
        self.channels = channels

    def window(self, like: torch.Tensor) -> torch.Tensor:
        """The Gaussian window [1, C, *kernel], summing to 1, in ``like``'s dtype and device."""
        kernel = self.kernel_size[0]
        offsets = torch.arange(kernel, dtype=torch.float64) - kernel // 2
        taps = torch.exp(-(offsets**2) / (2 * self.sigma**2))
        spatial = taps if self.dims == 1 else torch.outer(taps, taps)
        window = (spatial / spatial.sum() / self.channels).expand(1, self.channels, *spatial.shape)
        return window.to(dtype=like.dtype, device=like.device)

    def local_mean(self, x: torch.Tensor) -> torch.Tensor:
        """sum_{j, p, q} w_pq x_{j, i+p, k+q} per position, shape (N, 1, ...); at the
        borders divided by the weight of the window's part inside the input."""
        window = self.window(x)
        total = self.conv(x, window, padding=self.padding)
        ones = x.new_ones((1, 1, *x.shape[2:]))
        inside = self.conv(ones, window.sum(dim=1, keepdim=True), padding=self.padding)
        return total / inside

    def subtract(self, x: torch.Tensor) -> torch.Tensor:
        """The subtractive step: v = x - local mean over space and maps.

        It is computed on x less the sample's global mean, which gives the same v
        (the window's weights sum to 1) without the rounding of a large offset:
        a flat image gives exactly 0, not noise that the divisive step would amplify.
        """
        centred = x - x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
        return centred - self.local_mean(centred)

    def divide(self, v: torch.Tensor) -> torch.Tensor:
        """The divisive step: v / max(c, s), s the local deviation, c its mean per sample."""
        deviation = torch.sqrt(self.local_mean(v * v) + self.eps**2)
        floor = deviation.mean(dim=tuple(range(2, 2 + self.dims)), keepdim=True)
        return v / torch.maximum(deviation, floor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Subtractive, then divisive normalization; the output has the input's shape."""
        return self.divide(self.subtract(x))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}, eps={self.eps}"
