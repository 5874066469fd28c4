"""Dense scanning: read a strip of several digits with one pass of a fully convolutional net.

LeCun et al. (1998, Sec. VII, space displacement neural networks): a classifier
whose fully connected layers are convolutions (the ``conv1x1`` head) can be run
once over an input wider than it was trained on. It then gives one score vector
per window position -- at the net's output stride -- and the overlapping windows
share all their convolutions instead of each being computed again.

- ``scan_model`` turns a trained net into its scanner (the same weights, the head
  keeping its score map); ``score_map`` is the dense pass and
  ``windowed_score_map`` the reference that crops every window and classifies it
  alone. The two agree exactly for nets without spatial padding. With padding
  (``allconv`` pads every convolution) they differ near each window's border: a
  window run alone sees zeros there, the dense pass sees the neighbouring pixels.
- ``make_strips`` lays test images side by side with random gaps (it lives in
  ``convzoo.data.strips``, where the window datasets cut their samples from strips
  drawn the same way); ``decode`` turns a score map into a sequence of classes,
  with non-maximum suppression, and drops the positions whose best class is the
  background (``mnist_windows``'s class 10: a net trained on windows between
  digits says there that no digit is centred); ``read`` and ``sequence_accuracy``
  do both for a model; ``plot_scan`` draws one strip.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from convzoo.assemble import ConvNet, build, build_meta
from convzoo.blocks.heads import ConvHead
from convzoo.data.strips import make_strips as make_strips
from convzoo.data.strips import strip_layout as strip_layout
from convzoo.errors import ConvzooError, is_int
from convzoo.evaluate._figures import save_png
from convzoo.spec import Spec
from convzoo.summary import summary

HEAD = "head.conv1x1"


# -- the scanner -----------------------------------------------------------------------


def _head_key(spec: Spec) -> str:
    last = spec.layers[-1]
    return getattr(last, "key", "a repeat block")


def scan_spec(spec: Spec) -> dict[str, Any]:
    """``spec`` as a dict whose ``conv1x1`` head keeps its score map (``reduce: none``)."""
    if _head_key(spec) != HEAD:
        raise ConvzooError(
            f"{spec.name}: dense scanning needs a network whose last layer is {HEAD} "
            f"(fully connected layers as convolutions); this one ends with {_head_key(spec)}. "
            "Use an architecture with a conv1x1 head (e.g. allconv), or train one with "
            "--swap head.linear=conv1x1"
        )
    data = spec.to_dict()
    data["layers"][-1] = {**data["layers"][-1], "reduce": "none"}
    return data


def scan_model(model: ConvNet) -> ConvNet:
    """The same network and weights, its ``conv1x1`` head giving ``[classes, *positions]``."""
    first = next(model.parameters())
    scanner = build(scan_spec(model.spec), device=first.device).to(first.dtype)
    scanner.load_state_dict(model.state_dict())
    return scanner.eval()


def _scanner(model: ConvNet) -> ConvNet:
    head = model.layers[-1]
    if isinstance(head, ConvHead) and head.reduce == "none":
        return model
    return scan_model(model)


@dataclass(frozen=True)
class ScanGeometry:
    """Where a scanner looks: ``window`` input columns per position, ``stride`` between them."""

    window: int
    stride: int

    def positions(self, width: int) -> int:
        """The number of whole windows in an input ``width`` columns wide."""
        if width < self.window:
            raise ConvzooError(
                f"a strip {width} columns wide is narrower than the net's window ({self.window})"
            )
        return (width - self.window) // self.stride + 1

    def centres(self, count: int) -> torch.Tensor:
        """The input column at the centre of each of ``count`` positions."""
        return torch.arange(count) * self.stride + (self.window - 1) / 2


@functools.lru_cache(maxsize=32)
def _geometry(spec_json: str) -> ScanGeometry:
    data = json.loads(spec_json)
    head = f"layers.{len(data['layers']) - 1}"
    stride = next(row.stride for row in summary(build_meta(data)).layers if row.path == head)
    if stride is None:
        raise ConvzooError(f"{data['name']}: the output stride of its layers is unknown")
    return ScanGeometry(window=int(data["input"][-1]), stride=int(stride[-1]))


def geometry(model: ConvNet) -> ScanGeometry:
    """The scan geometry of a ``conv1x1`` net: its input width and its output stride."""
    return _geometry(json.dumps(scan_spec(model.spec), sort_keys=True))


# -- score maps ----------------------------------------------------------------------------


def _check_strips(spec: Spec, strips: torch.Tensor) -> None:
    fixed = tuple(spec.input[:-1])
    if strips.dim() != len(spec.input) + 1 or tuple(strips.shape[1:-1]) != fixed:
        raise ConvzooError(
            f"strips of shape {list(strips.shape)} do not fit {spec.name}: it needs "
            f"[N, {', '.join(map(str, fixed))}, W] with W >= {spec.input[-1]}"
        )


def score_map(model: ConvNet, strips: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Class scores ``[N, classes, positions]`` from one dense pass over each strip.

    Position k is the window starting at column ``k * stride``; only whole windows
    are kept (a padded net may give one more, overhanging the strip's end).
    """
    scanner = _scanner(model)
    _check_strips(scanner.spec, strips)
    count = geometry(scanner).positions(strips.shape[-1])
    device = next(scanner.parameters()).device
    maps = []
    with torch.inference_mode():
        for batch in strips.split(batch_size):
            scores = scanner(batch.to(device))
            if scores.dim() == 4:
                scores = scores.squeeze(2)
            maps.append(scores[..., :count].cpu())
    return torch.cat(maps)


def windowed_score_map(model: ConvNet, strips: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The reference for ``score_map``: every window cropped and classified on its own.

    The window is the net's input width and moves by its output stride; crops are
    batched, ``batch_size`` at a time (1: one crop per call), each an independent sample.
    """
    _check_strips(model.spec, strips)
    grid = geometry(model)
    count = grid.positions(strips.shape[-1])
    device = next(model.parameters()).device
    maps = []
    with torch.inference_mode():
        for group in strips.split(max(1, batch_size // count)):
            crops = group.unfold(-1, grid.window, grid.stride)[..., :count, :]
            crops = crops.movedim(-2, 1).reshape(-1, *model.spec.input)
            scores = [model(batch.to(device)).flatten(1).cpu() for batch in crops.split(batch_size)]
            maps.append(torch.cat(scores).reshape(len(group), count, -1).transpose(1, 2))
    return torch.cat(maps)


# -- decoding ------------------------------------------------------------------------------


def default_spacing(grid: ScanGeometry, background: bool = False) -> int:
    """NMS distance in positions: 0.8 of a window, half a window for a net with a
    background class. Images side by side are a window apart; a window straddling two
    of them is half a window off each. A net without a background class names a digit
    there as well, which NMS must suppress; one with a background class says "none"
    there, so NMS only merges a digit read twice, and the shorter distance keeps two
    neighbours whose peaks sit closer than a window (chosen on strips of MNIST's
    training images, where 0.8 of a window lost a digit in 6% of the strips)."""
    share = 0.5 if background else 0.8
    return max(1, round(share * grid.window / grid.stride))


def _decode_one(
    conf: torch.Tensor, cls: torch.Tensor, spacing: int, threshold: float, background: int | None
) -> list[int]:
    segments = []  # (strength, peak position, class)
    start = 0
    for k in range(1, len(cls) + 1):
        if k < len(cls) and cls[k] == cls[start]:
            continue
        run = conf[start:k]
        if int(cls[start]) != background and run.max() >= threshold:
            keep = run >= threshold
            peak = start + int(run.argmax())
            segments.append((float(run[keep].sum()), peak, int(cls[start])))
        start = k
    kept: list[tuple[float, int, int]] = []
    for segment in sorted(segments, reverse=True):
        if all(abs(segment[1] - other[1]) >= spacing for other in kept):
            kept.append(segment)
    return [c for _, _, c in sorted(kept, key=lambda s: s[1])]


def _check_decoding(classes: int, spacing: int, threshold: float, background: int | None) -> None:
    if not is_int(spacing) or spacing < 1:
        raise ConvzooError(
            f"decode: spacing {spacing!r} must be a whole number of positions, at least 1 "
            "(default_spacing(geometry(model)) gives the usual one)"
        )
    if not 0.0 < threshold <= 1.0:
        raise ConvzooError(
            f"decode: threshold {threshold!r} must be a probability in (0, 1] "
            "(the confidence a run must reach somewhere to count)"
        )
    if background is not None and (not is_int(background) or not 0 <= background < classes):
        raise ConvzooError(
            f"decode: background class {background!r} is not one of the score map's {classes} "
            f"classes (0..{classes - 1}); pass the index of the class that means 'no digit "
            "here' (the dataset's background, 10 for mnist_windows), or None if it has none"
        )


def decode(
    scores: torch.Tensor, spacing: int, threshold: float = 0.7, background: int | None = None
) -> list[list[int]]:
    """Sequences of classes from score maps ``[N, classes, positions]`` (logits).

    The rule, per strip: take the softmax over classes at every position, and its
    top class and probability. Cut the positions into runs of the same top class;
    a run of the ``background`` class (a net trained with one: "no digit centred
    here") is no digit, and any other run counts if some position in it reaches
    ``threshold``, with strength the summed probability of its positions that do
    (a long stable run beats a lone spike) and location its most confident
    position. Non-maximum suppression: from the strongest run down, keep a run
    whose location is at least ``spacing`` positions from every run kept so far.
    The kept classes, left to right, are the sequence.
    """
    if scores.dim() != 3:
        raise ValueError(f"scores must be [N, classes, positions], got {list(scores.shape)}")
    _check_decoding(scores.shape[1], spacing, threshold, background)
    conf, cls = scores.float().softmax(1).max(1)
    return [_decode_one(c, k, spacing, threshold, background) for c, k in zip(conf, cls)]


def read(
    model: ConvNet, strips: torch.Tensor, batch_size: int = 64, background: int | None = None
) -> list[list[int]]:
    """The sequence of classes the model reads in each strip (``score_map`` then ``decode``,
    with ``background`` the class the model was trained to give where no digit is centred)."""
    scores = score_map(model, strips, batch_size)
    spacing = default_spacing(geometry(model), background is not None)
    return decode(scores, spacing, background=background)


def _edits(a: Sequence[int], b: Sequence[int]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (x != y))
    return row[-1]


def digit_accuracy(decoded: Sequence[Sequence[int]], sequences: torch.Tensor) -> float:
    """One minus the edit distance (insertions, deletions, substitutions) per true digit."""
    truth = sequences.tolist()
    errors = sum(_edits(d, t) for d, t in zip(decoded, truth))
    return max(0.0, 1.0 - errors / max(1, sum(len(t) for t in truth)))


def exact_share(decoded: Sequence[Sequence[int]], sequences: torch.Tensor) -> float:
    """The share of strips whose decoded sequence equals the truth exactly."""
    truth = sequences.tolist()
    return sum(list(d) == t for d, t in zip(decoded, truth)) / max(1, len(truth))


def sequence_accuracy(
    model: ConvNet,
    strips: torch.Tensor,
    sequences: torch.Tensor,
    batch_size: int = 64,
    background: int | None = None,
) -> float:
    """The share of strips the model reads exactly right (``read`` with ``background``)."""
    return exact_share(read(model, strips, batch_size, background), sequences)


# -- plot ------------------------------------------------------------------------------------


def plot_scan(
    path: str | Path,
    strip: torch.Tensor,
    scores: torch.Tensor,
    decoded: Sequence[int],
    truth: Sequence[int] | torch.Tensor | None = None,
    grid: ScanGeometry | None = None,
    background: int | None = None,
) -> Path:
    """A PNG: the strip on top, its class probabilities per position (classes x positions)
    below, the decoded sequence (and the truth) in the title. With ``grid`` the positions
    sit under the centres of their windows; the ``background`` class's row is labelled bg."""
    image = strip.detach().cpu().float()
    image = image.mean(0) if image.dim() == 3 else image.mean(0, keepdim=True)
    probs = scores.detach().cpu().float().softmax(0)
    figure = Figure(figsize=(max(6.0, image.shape[-1] / 28), 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=grid is not None)
    top.imshow(image.numpy(), cmap="gray", aspect="auto", interpolation="nearest")
    top.set_yticks([])
    extent = None
    if grid is not None:
        centres = grid.centres(probs.shape[1])
        half = grid.stride / 2
        extent = (float(centres[0]) - half, float(centres[-1]) + half, probs.shape[0] - 0.5, -0.5)
    shown = bottom.imshow(
        probs.numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1, extent=extent
    )
    if grid is not None:
        bottom.set_xlim(-0.5, image.shape[-1] - 0.5)
    classes = probs.shape[0]
    if classes <= 20:
        names = ["bg" if c == background else str(c) for c in range(classes)]
        bottom.set_yticks(range(classes), names)
    bottom.set_ylabel("class")
    bottom.set_xlabel("input column" if grid is not None else "position")
    figure.colorbar(shown, ax=bottom, label="probability")
    sep = "" if classes - (background is not None) <= 10 else " "
    title = "read: " + (sep.join(map(str, decoded)) or "(nothing)")
    if truth is not None:
        title += "   truth: " + sep.join(str(int(t)) for t in truth)
    top.set_title(title)
    return save_png(figure, path, dpi=100)
