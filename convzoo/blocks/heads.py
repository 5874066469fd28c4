"""Classifiers: turn the last feature maps into one score per class.

``linear`` is the plain fully connected classifier. ``conv1x1`` is the same
classifier written as convolutions, so a trained network becomes fully
convolutional and can be swept densely over an input wider than it was built
for (multiple-character recognition). ``rbf`` is LeNet-5's output layer: a
distance to one fixed code per class (the paper's digit bitmaps), trained with
the paper's loss. The capsule head lives in ``capsule_head.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from convzoo.blocks._lenet_bitmaps import DIGITS, HEIGHT, WIDTH, bitmap_codes
from convzoo.blocks._util import conv_class
from convzoo.blocks.nonlinear import create_act
from convzoo.registry import register

REDUCTIONS = ("avg", "max", "none")


def _check_dropout(dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


@register(
    "head",
    "linear",
    description="flatten, optional hidden fully connected layers, then logits",
    reference="Rosenblatt 1958, The perceptron: a probabilistic model for information storage "
    "and organization in the brain",
    example={"hidden": [5]},
)
def linear(
    in_shape: tuple[int, ...],
    classes: int,
    hidden: Sequence[int] = (),
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Module:
    """Flatten -> [Linear -> activation -> Dropout] per hidden width -> Linear(classes)."""
    _check_dropout(dropout)
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(in_shape)
    for units in hidden:
        layers += [nn.Linear(width, units), create_act(activation, units)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = units
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


@register(
    "head",
    "conv1x1",
    description="fully connected layers as convolutions (fully convolutional), then pooling",
    reference="LeCun et al. 1998, Gradient-based learning applied to document recognition "
    "(space displacement neural networks, Sec. VII)",
    example={"hidden": [5]},
)
class ConvHead(nn.Module):
    """The ``linear`` head as convolutions: it slides over inputs wider than the built size.

    The first layer is a convolution whose kernel spans the whole feature map the
    head was built for (a fully connected layer over that window); every later
    layer, up to the last one to ``classes``, is a 1x1 convolution. On the built
    size this equals ``linear`` with the same weights (reshaped). On a wider input
    it gives one score vector per window position -- what running the net on that
    window alone gives, exactly so when no layer before it pads (a padded layer
    sees zeros at a lone window's border but neighbours in the wide input).
    ``reduce`` then pools them: ``avg`` or ``max`` give ``[classes]``, ``none``
    keeps the score map ``[classes, *positions]`` (for dense scans; train with
    avg or max).
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        dims: int,
        classes: int,
        hidden: Sequence[int] = (),
        activation: str = "relu",
        dropout: float = 0.0,
        reduce: str = "avg",
    ) -> None:
        super().__init__()
        if len(in_shape) != dims + 1:
            raise ValueError(
                f"conv1x1 needs a feature map [C, *spatial] with {dims} spatial dimension(s), "
                f"got {list(in_shape)}; put it straight after the last convolution or pooling"
            )
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
        _check_dropout(dropout)
        conv = conv_class(dims)
        window = tuple(in_shape[1:])
        layers: list[nn.Module] = []
        width, kernel = in_shape[0], window
        for units in hidden:
            layers += [conv(width, units, kernel), create_act(activation, units)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width, kernel = units, (1,) * dims
        layers.append(conv(width, classes, kernel))
        self.classifier = nn.Sequential(*layers)
        self.reduce = reduce
        self.kernel_size = window
        self.stride = (1,) * dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores per window position, pooled over positions unless ``reduce`` is none."""
        scores = self.classifier(x)
        positions = tuple(range(2, scores.dim()))
        if self.reduce == "avg":
            return scores.mean(positions)
        if self.reduce == "max":
            return scores.amax(positions)
        return scores

    def extra_repr(self) -> str:
        return f"window={list(self.kernel_size)}, reduce={self.reduce!r}"


def rbf_codes(classes: int, units: int, seed: int = 0) -> torch.Tensor:
    """``classes`` distinct +-1 codes of length ``units``, the same for the same arguments.

    Code c is the c-th distinct row of fair coin flips drawn from a CPU
    ``torch.Generator`` seeded with ``seed`` (a row equal to an earlier code is
    drawn again), so a model rebuilt from its spec gets the same codes.
    """
    if 2**units < classes:
        raise ValueError(
            f"rbf cannot give {classes} classes distinct +-1 codes of {units} unit(s); "
            f"it needs at least {math.ceil(math.log2(classes))} input units"
        )
    generator = torch.Generator(device="cpu").manual_seed(seed)
    rows: list[torch.Tensor] = []
    seen: set[bytes] = set()
    while len(rows) < classes:
        row = torch.randint(0, 2, (units,), generator=generator, device="cpu")
        key = row.numpy().tobytes()
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return torch.stack(rows).float() * 2 - 1


CODES = ("auto", "bitmap", "random")
LOSSES = ("paper", "cross_entropy")


def rbf_loss(scores: torch.Tensor, target: torch.Tensor, j: float) -> torch.Tensor:
    """LeCun et al. 1998, eq. 9, on RBF scores ``-y`` (``y`` the squared distances):
    ``mean_p [ y_target + log(exp(-j) + sum_i exp(-y_i)) ]``.

    The first term pulls the output onto the right code; the second pushes the
    other codes away, but only while their distance is below about ``j``: the
    constant ``exp(-j)`` is a rubbish class that keeps already distant codes from
    being pushed further (the paper calls j "a positive constant" and gives no value).
    """
    rubbish = scores.new_full((scores.shape[0], 1), -j)
    spread = torch.logsumexp(torch.cat([scores, rubbish], dim=1), dim=1)
    return (spread - scores.gather(1, target.unsqueeze(1)).squeeze(1)).mean()


@register(
    "head",
    "rbf",
    description="Euclidean RBF units: minus the squared distance to one fixed +-1 code per class",
    reference="LeCun et al. 1998, Gradient-based learning applied to document recognition",
    example={},
)
class RBF(nn.Module):
    """LeNet-5's output layer: ``score_c = -||x - code_c||^2`` for the flattened input x.

    ``codes``: ``bitmap`` takes the paper's stylized 7x12 bitmaps of the digits
    (``_lenet_bitmaps.py``; 84 input units, at most 10 classes), ``random`` the
    +-1 vectors of ``rbf_codes(classes, units, seed)``, ``auto`` the bitmaps
    where they fit and random codes elsewhere. The codes are fixed (the
    ``codes`` buffer): the layer has no parameters, the layers before it learn to
    put each class near its code. ``loss``: ``paper`` trains with eq. 9
    (``rbf_loss`` with constant ``j``), ``cross_entropy`` with the softmax of
    the scores.
    """

    codes: torch.Tensor  # a buffer

    def __init__(
        self,
        in_shape: tuple[int, ...],
        classes: int,
        codes: str = "auto",
        seed: int = 0,
        loss: str = "paper",
        j: float = 1.0,
    ) -> None:
        super().__init__()
        if codes not in CODES:
            raise ValueError(f"codes must be one of {', '.join(CODES)}, got {codes!r}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if not j > 0:
            raise ValueError(f"j must be a positive number, got {j}")
        units = math.prod(in_shape)
        fits = units == WIDTH * HEIGHT and classes <= len(DIGITS)
        if codes == "bitmap" and not fits:
            raise ValueError(
                f"the bitmap codes are {WIDTH}x{HEIGHT} = {WIDTH * HEIGHT} units for at most "
                f"{len(DIGITS)} classes; this head gets {units} units for {classes} classes: "
                "use codes: random"
            )
        use_bitmaps = codes == "bitmap" or (codes == "auto" and fits)
        table = bitmap_codes(classes) if use_bitmaps else rbf_codes(classes, units, seed)
        self.register_buffer("codes", table.to(torch.get_default_device()))
        self.kind = "bitmap" if use_bitmaps else "random"
        self.loss_name, self.j = loss, j

    def multiply_adds(self, out_shape: tuple[int, ...]) -> int:
        """Per sample, for the summary: one squared difference per class and input unit."""
        return self.codes.numel()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Minus the squared Euclidean distance of each sample to each class code."""
        diff = x.flatten(1).unsqueeze(1) - self.codes
        return -diff.square().sum(-1)

    def loss(
        self, scores: torch.Tensor, target: torch.Tensor, inputs: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The training loss of ``scores``: eq. 9, or cross-entropy (``inputs`` unused)."""
        if self.loss_name == "cross_entropy":
            return F.cross_entropy(scores, target)
        return rbf_loss(scores, target, self.j)

    def extra_repr(self) -> str:
        classes, units = self.codes.shape
        return f"classes={classes}, units={units}, codes={self.kind!r}, loss={self.loss_name!r}"
