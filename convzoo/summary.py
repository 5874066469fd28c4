"""The per-layer table of an assembled network: shapes, parameters, FLOPs, receptive field.

Everything is computed on the meta device, so summarizing a large network costs
no memory. Definitions, so numbers are comparable:

- ``params``: trainable and frozen parameters a layer owns (not its nested
  layers'); what several layers share (``model.shared``: tied weights, a
  hypernetwork's generator) is one row of its own, ``shared``, so the rows add
  up to ``sum(p.numel() for p in model.parameters())``.
- ``flops``: per sample, as ``torch.utils.flop_counter`` counts them -- two per
  multiply-add of convolutions and matrix products; element-wise operations,
  poolings and activations count zero.
- ``rf``: the receptive field after the layer, in input pixels per spatial
  dimension; ``stride``: the cumulative stride (distance in input pixels between
  neighbouring outputs). A layer whose output has no spatial dimension (a
  flatten) sees the whole input. A block that changes the grid tells its window
  through ``kernel_size``/``stride``/``dilation`` attributes, as torch's
  convolutions and poolings do; where none can be found the value is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from convzoo.assemble import ConvNet, Row, build
from convzoo.spec import SpecLike

Window = tuple[tuple[int, int, int], ...]  # (kernel, stride, dilation) per spatial dim


@dataclass(frozen=True)
class LayerSummary:
    """One row of the table."""

    path: str
    block: str
    depth: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    flops: int
    rf: tuple[int, ...] | None
    stride: tuple[int, ...] | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``path, block, in, out, params, flops, rf, stride``."""
        return {
            "path": self.path,
            "block": self.block,
            "in": list(self.in_shape),
            "out": list(self.out_shape),
            "params": self.params,
            "flops": self.flops,
            "rf": None if self.rf is None else list(self.rf),
            "stride": None if self.stride is None else list(self.stride),
        }


@dataclass(frozen=True)
class Summary:
    """The table for a whole network, with totals."""

    name: str
    input: tuple[int, ...]
    output: tuple[int, ...]
    params: int
    flops: int
    layers: tuple[LayerSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``convzoo show --json``."""
        return {
            "name": self.name,
            "input": list(self.input),
            "output": list(self.output),
            "params": self.params,
            "flops": self.flops,
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def rows(self) -> list[list[str]]:
        """The table's cells as text, header first, totals last."""
        head = ["path", "block", "in", "out", "params", "FLOPs", "rf", "stride"]
        body = [
            [
                "  " * r.depth + r.path,
                r.block,
                _dims(r.in_shape) if r.in_shape else "",
                _dims(r.out_shape) if r.out_shape else "",
                f"{r.params:,}",
                human(r.flops),
                _dims(r.rf, "x") if r.rf is not None else "?" if r.in_shape else "",
                _dims(r.stride, "x") if r.stride is not None else "-" if r.in_shape else "",
            ]
            for r in self.layers
        ]
        total = [
            "total",
            "",
            _dims(self.input),
            _dims(self.output),
            f"{self.params:,}",
            human(self.flops),
            "",
            "",
        ]
        return [head, *body, total]

    def __str__(self) -> str:
        table = self.rows()
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
        lines.insert(1, "-" * len(lines[0]))
        lines.insert(len(lines) - 1, "-" * len(lines[0]))
        return f"{self.name}\n" + "\n".join(lines)


def human(n: int) -> str:
    """1234567 -> '1.23M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _dims(shape: Sequence[int], sep: str = ", ") -> str:
    if sep == "x":
        return str(shape[0]) if len(set(shape)) == 1 else "x".join(map(str, shape))
    return "[" + sep.join(map(str, shape)) + "]"


# -- receptive field -------------------------------------------------------------------


def _per_dim(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, Sequence):
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _window(module: nn.Module, n: int) -> Window | None:
    kernel = getattr(module, "kernel_size", None)
    if kernel is not None:
        k = _per_dim(kernel, n)
        stride = getattr(module, "stride", None)
        s = k if stride is None or stride == () else _per_dim(stride, n)
        d = _per_dim(getattr(module, "dilation", 1), n)
        return tuple(zip(k, s, d))
    if isinstance(module, nn.Sequential):
        total: Window = ((1, 1, 1),) * n
        for child in module:
            w = _window(child, n)
            if w is None:
                return None
            total = tuple(
                (k1 + d2 * (k2 - 1) * s1, s1 * s2, 1) for (k1, s1, _), (k2, s2, d2) in zip(total, w)
            )
        return total
    return None


def _geometry(model: ConvNet, rows: list[Row]) -> dict[str, tuple[Any, Any]]:
    n = model.spec.dims
    rf, jump = (1,) * n, (1,) * n
    whole = tuple(model.spec.input[1:])
    out: dict[str, tuple[Any, Any]] = {}
    for i, row in enumerate(rows):
        has_children = i + 1 < len(rows) and rows[i + 1].path.startswith(row.path + ".")
        if has_children:
            continue
        if rf is not None and len(row.out_shape) == 1:
            rf, jump = whole, None
        elif rf is not None and jump is not None:
            if row.out_shape[1:] == row.in_shape[1:] and not hasattr(
                model.get_submodule(row.path), "kernel_size"
            ):
                window: Window | None = ((1, 1, 1),) * n
            else:
                window = _window(model.get_submodule(row.path), n)
            if window is None:
                rf, jump = None, None
            else:
                rf = tuple(r + d * (k - 1) * j for r, j, (k, _, d) in zip(rf, jump, window))
                jump = tuple(j * s for j, (_, s, _) in zip(jump, window))
        out[row.path] = (rf, jump)
    for row in reversed(rows):  # a composite takes the geometry after its last descendant
        if row.path not in out:
            last = [r.path for r in rows if r.path.startswith(row.path + ".")][-1]
            out[row.path] = out[last]
    return out


# -- parameters and FLOPs --------------------------------------------------------------


def _own_params(model: ConvNet, rows: list[Row]) -> dict[str, int]:
    seen: set[int] = set()
    counts: dict[str, int] = {}
    for i, row in enumerate(rows):
        module = model.get_submodule(row.path)
        nested = {
            id(p)
            for other in rows[i + 1 :]
            if other.path.startswith(row.path + ".")
            for p in model.get_submodule(other.path).parameters()
        }
        own = [p for p in module.parameters() if id(p) not in nested and id(p) not in seen]
        seen.update(id(p) for p in own)
        counts[row.path] = sum(p.numel() for p in own)
    return counts


def _flops(model: ConvNet, rows: list[Row]) -> dict[str, int]:
    x = torch.empty((1, *model.spec.input), device="meta")
    meta = model if _on_meta(model) else build(model.spec, device="meta")
    was_training = meta.training
    meta.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta(x)
    meta.train(was_training)
    totals = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    root = type(meta).__name__
    inclusive = {r.path: int(totals.get(f"{root}.{r.path}", 0)) for r in rows}
    own = {}
    for i, row in enumerate(rows):
        children = [
            o.path
            for o in rows[i + 1 :]
            if o.path.startswith(row.path + ".") and o.depth == row.depth + 1
        ]
        own[row.path] = inclusive[row.path] - sum(inclusive[c] for c in children)
    return own


def _on_meta(model: nn.Module) -> bool:
    return all(t.is_meta for t in [*model.parameters(), *model.buffers()])


def summary(source: SpecLike | ConvNet, swap: Mapping[str, str] | None = None) -> Summary:
    """The per-layer table of a spec, a registry name, a YAML file or a built model."""
    if isinstance(source, ConvNet):
        if swap:
            raise ValueError("swap applies to specs; build the swapped model first")
        model = source
    else:
        model = build(source, swap, device="meta")
    rows = model.rows
    params = _own_params(model, rows)
    flops = _flops(model, rows)
    geometry = _geometry(model, rows)
    layers = tuple(
        LayerSummary(
            path=r.path,
            block=r.block,
            depth=r.depth,
            in_shape=r.in_shape,
            out_shape=r.out_shape or (),
            params=params[r.path],
            flops=flops[r.path],
            rf=geometry[r.path][0],
            stride=geometry[r.path][1],
        )
        for r in rows
    )
    shared = sum(p.numel() for p in model.shared.parameters())
    if shared:
        layers += (LayerSummary("shared", "shared", 0, (), (), shared, 0, None, None),)
    top = [r for r in rows if r.depth == 0]
    return Summary(
        name=model.spec.name,
        input=tuple(model.spec.input),
        output=top[-1].out_shape or (),
        params=sum(p.numel() for p in model.parameters()),
        flops=sum(layer.flops for layer in layers),
        layers=layers,
    )
