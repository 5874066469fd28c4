"""The per-layer table of an assembled network: shapes, parameters, FLOPs, receptive field.

Everything is computed on the meta device, so summarizing a large network costs
no memory. Definitions, so numbers are comparable:

- ``params``: trainable and frozen parameters a layer owns (not its nested
  layers'); what several layers share (``model.shared``: tied weights, a
  hypernetwork's generator) is one row of its own, ``shared``, so the rows add
  up to ``sum(p.numel() for p in model.parameters())``.
- ``flops``: per sample, two per multiply-add of the layer's weighted sums, as
  ``torch.utils.flop_counter``'s formulas count those of convolutions and matrix
  products (``assemble/metatrace.py`` applies them);
  a block whose arithmetic the counter cannot see right says it with a
  ``multiply_adds(out_shape) -> int`` method (per sample): a connection table
  counts only its connected kernels, not the zeros of the dense kernel it runs;
  LeNet-5's trainable subsampling counts its window sums, the RBF head its
  distances. A convolution counts whether its weights are learned or fixed (LCN's
  Gaussian window, blur pooling's binomial filter). Bias additions, element-wise
  operations, activations and the pooling operators (max, average, Lp, ...), which
  the counter does not count, count zero.
- ``flops_per_batch``: the FLOPs, counted alike, of work that runs once per
  forward pass whatever the batch size (a hypernetwork's generator, LCN's border
  weights); ``flops`` leaves it out, so a pass over B samples costs
  ``B * flops + flops_per_batch``.
- ``connections``: per sample, the multiply-adds of ``flops`` plus one per output
  unit of a layer that adds a learned bias to a weighted sum: every link from an
  input to an output unit that carries a weight or a bias, as LeCun et al. (1998)
  count LeNet-5's 340,908 connections.
- ``rf``: the receptive field after the layer, in input pixels per spatial
  dimension, clipped to the input's size; "all" where it spans the whole input
  in every dimension. From the first layer that depends on its whole input map
  on -- a flat output (after a flatten), or a block that says so with a
  ``sees_all = True`` attribute (global pooling's statistics, LCN's divisive
  floor, capsule routing) -- it is the span of input pixels that map's units
  reach together ("all" unless they leave some out: a stride that skips the last
  rows). ``stride``: the cumulative stride (distance in input pixels between
  neighbouring outputs). A block that changes the grid tells its window through
  ``kernel_size``/``stride``/``dilation`` attributes and its padding through
  ``padding``, as torch's convolutions and poolings do (without ``padding``, the
  padding its sizes imply, split evenly); where no window can be found the value
  is unknown ("?", ``null`` in JSON).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from convzoo.assemble import ConvNet, Row, build
from convzoo.assemble.metatrace import counting_flops
from convzoo.spec import SpecLike

Window = tuple[tuple[int, int, int], ...]  # (kernel, stride, dilation) per spatial dim
ALL = "all"  # the receptive field of a layer that sees the whole input
Field = tuple[int, ...] | str | None


@dataclass(frozen=True)
class LayerSummary:
    """One row of the table; ``window`` is the receptive field before clipping (the span of
    input pixels, padding included, that one output's window covers), for code that needs
    the geometry (positions away from the borders); None where unknown or flat."""

    path: str
    block: str
    depth: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    flops: int
    flops_per_batch: int
    connections: int
    rf: Field
    stride: tuple[int, ...] | None
    window: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``path, block, in, out, params, flops, flops_per_batch, connections,
        rf, stride``."""
        return {
            "path": self.path,
            "block": self.block,
            "in": list(self.in_shape),
            "out": list(self.out_shape),
            "params": self.params,
            "flops": self.flops,
            "flops_per_batch": self.flops_per_batch,
            "connections": self.connections,
            "rf": self.rf if self.rf is None or self.rf == ALL else list(self.rf),
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
    flops_per_batch: int
    connections: int
    layers: tuple[LayerSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``convzoo show --json``."""
        return {
            "name": self.name,
            "input": list(self.input),
            "output": list(self.output),
            "params": self.params,
            "flops": self.flops,
            "flops_per_batch": self.flops_per_batch,
            "connections": self.connections,
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def rows(self) -> list[list[str]]:
        """The table's cells as text, header first, totals last."""
        head = [
            "path",
            "block",
            "in",
            "out",
            "params",
            "FLOPs/sample",
            "FLOPs/batch",
            "connections",
            "rf",
            "stride",
        ]
        body = [
            [
                "  " * r.depth + r.path,
                r.block,
                _dims(r.in_shape) if r.in_shape else "",
                _dims(r.out_shape) if r.out_shape else "",
                f"{r.params:,}",
                human(r.flops),
                human(r.flops_per_batch),
                f"{r.connections:,}",
                _field(r.rf) if r.in_shape else "",
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
            human(self.flops_per_batch),
            f"{self.connections:,}",
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


def _field(rf: Field) -> str:
    if rf is None:
        return "?"
    return rf if isinstance(rf, str) else _dims(rf, "x")


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


def _clipped(rf: tuple[int, ...], whole: tuple[int, ...]) -> Field:
    """One unit's receptive field as reported: clipped to the input, "all" where it spans it."""
    if all(r >= w for r, w in zip(rf, whole)):
        return ALL
    return tuple(min(r, w) for r, w in zip(rf, whole))


Span = tuple[int, int] | None  # the first and last input pixel a unit reaches; None: none


@dataclass(frozen=True)
class _Grid:
    """Where the units of a map sit on the input, per spatial dimension: each unit's window
    spans ``rf`` pixels (unclipped) and neighbours are ``jump`` pixels apart; ``reached``
    holds, per dimension, each unit's span of the input pixels it reaches (padding and the
    gaps of strides and dilations left out), None where unknown."""

    rf: tuple[int, ...]
    jump: tuple[int, ...]
    reached: tuple[tuple[Span, ...], ...] | None

    def after(self, module: nn.Module, window: Window, out: tuple[int, ...] | None) -> _Grid:
        """The grid of ``module``'s output (``out``: its positions, if it is a spatial map)."""
        rf = tuple(r + d * (k - 1) * j for r, j, (k, _, d) in zip(self.rf, self.jump, window))
        jump = tuple(j * s for j, (_, s, _) in zip(self.jump, window))
        if self.reached is None:
            return _Grid(rf, jump, None)
        positions = tuple(len(units) for units in self.reached)
        pad = _left_padding(module, window, positions, out)
        if pad is None:
            return _Grid(rf, jump, None)
        if out is None:  # a map read another way (capsules): torch's size rule
            out = tuple(
                (m + 2 * p - d * (k - 1) - 1) // s + 1
                for m, p, (k, s, d) in zip(positions, pad, window)
            )
        reached = tuple(
            tuple(
                _union(
                    units[t]
                    for t in range(i * s - p, i * s - p + d * (k - 1) + 1, d)
                    if 0 <= t < len(units)  # not in the padding
                )
                for i in range(o)
            )
            for units, o, p, (k, s, d) in zip(self.reached, out, pad, window)
        )
        return _Grid(rf, jump, reached)

    def reach(self, whole: tuple[int, ...]) -> Field:
        """The span of input pixels the map's units reach together, per dimension: "all"
        where it is the whole input, None where unknown."""
        if self.reached is None:
            return None
        spans = tuple(0 if s is None else s[1] - s[0] + 1 for s in map(_union, self.reached))
        return ALL if spans == whole else spans


def _union(spans: Iterable[Span]) -> Span:
    """The span that holds all of ``spans``."""
    known = [s for s in spans if s is not None]
    return (min(s[0] for s in known), max(s[1] for s in known)) if known else None


def _left_padding(
    module: nn.Module, window: Window, positions: tuple[int, ...], out: tuple[int, ...] | None
) -> tuple[int, ...] | None:
    """Per dimension, the padding before the first position of ``module``'s input: its
    ``padding`` attribute (a size, "same" or "valid", as torch's convolutions and poolings
    have it), a sequence's from its parts', or else what the sizes imply, split evenly;
    None where none of these is known."""
    declared = _declared_padding(module, len(window))
    if declared is not None or out is None:
        return declared
    return tuple(
        max(0, (o - 1) * s + d * (k - 1) + 1 - m) // 2
        for m, o, (k, s, d) in zip(positions, out, window)
    )


def _declared_padding(module: nn.Module, n: int) -> tuple[int, ...] | None:
    """The padding before the first position that ``module`` or, in a sequence, each of its
    parts declares (each part's in units of the sequence's input); None if one does not."""
    if isinstance(module, nn.Sequential):
        total, jump = (0,) * n, (1,) * n
        for child in module:
            padding, window = _declared_padding(child, n), _window(child, n)
            if padding is None or window is None:
                return None
            total = tuple(t + p * j for t, p, j in zip(total, padding, jump))
            jump = tuple(j * s for j, (_, s, _) in zip(jump, window))
        return total
    padding, window = getattr(module, "padding", None), _window(module, n)
    if padding is None or window is None:
        return None
    if padding == "valid":
        return (0,) * n
    if padding == "same":
        return tuple(d * (k - 1) // 2 for k, _, d in window)
    return _per_dim(padding, n)


def _geometry(model: ConvNet, rows: list[Row]) -> dict[str, tuple[Any, Any, Any]]:
    """Per row: the receptive field as reported, the cumulative stride and the unclipped
    window. From the first layer that depends on its whole input map on (a flat output, or
    ``sees_all``), every layer reaches what that map's units reach together."""
    n = model.spec.dims
    whole = tuple(model.spec.input[1:])
    pixels = tuple(tuple((i, i) for i in range(w)) for w in whole)  # each reaches itself
    grid: _Grid | None = _Grid((1,) * n, (1,) * n, pixels)
    reach: Field = None
    whole_map = False  # whether a layer so far depended on its whole input map
    out: dict[str, tuple[Any, Any, Any]] = {}
    for i, row in enumerate(rows):
        has_children = i + 1 < len(rows) and rows[i + 1].path.startswith(row.path + ".")
        if has_children:
            continue
        module = model.get_submodule(row.path)
        shape = row.out_shape
        assert shape is not None, f"{row.path}: every row of a built network has its output"
        if not whole_map and (getattr(module, "sees_all", False) or len(shape) == 1):
            whole_map, reach = True, None if grid is None else grid.reach(whole)
        if len(shape) == 1:
            grid = None
        elif grid is not None and (shape[1:] != row.in_shape[1:] or hasattr(module, "kernel_size")):
            window = _window(module, n)  # (a layer that keeps the grid, windowless, keeps it)
            spatial = shape[1:] if len(shape) == n + 1 else None
            grid = None if window is None else grid.after(module, window, spatial)
        field = reach if whole_map else None if grid is None else _clipped(grid.rf, whole)
        out[row.path] = (field, *((None, None) if grid is None else (grid.jump, grid.rf)))
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


def _owner(name: str, paths: list[str]) -> str | None:
    """The deepest row path that is ``name`` or holds it."""
    holders = [p for p in paths if name == p or name.startswith(p + ".")]
    return max(holders, key=len) if holders else None


def _traced(
    meta: ConvNet, batch: int, named: Mapping[str, nn.Module]
) -> tuple[Counter[str], dict[str, tuple[int, ...]]]:
    """FLOPs of one forward pass at ``batch`` per module path (each module with everything it
    calls), and the output shape (per sample) of each module in ``named``."""
    outputs: dict[str, tuple[int, ...]] = {}
    hooks = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: outputs.__setitem__(name, tuple(out.shape[1:]))
        )
        for name, module in named.items()
    ]
    x = torch.empty((batch, *meta.spec.input), device="meta")
    was_training = meta.training
    meta.eval()
    try:
        with counting_flops(meta) as trace, torch.no_grad():
            meta(x)
    finally:
        meta.train(was_training)
        for hook in hooks:
            hook.remove()
    return Counter({name: int(count) for name, count in trace.flops.items()}), outputs


def _arithmetic(
    model: ConvNet, rows: list[Row]
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Each row's own FLOPs per sample, FLOPs per batch and connections (the module
    docstring defines them).

    The network is traced at batch sizes 1 and 2: what the second costs more is the work
    per sample, the rest of the first the work that runs once per batch.
    """
    meta = model if _on_meta(model) else build(model.spec, device="meta")
    named = {
        name: module
        for name, module in meta.named_modules()
        if hasattr(module, "multiply_adds") or isinstance(getattr(module, "bias", None), Tensor)
    }
    one, outputs = _traced(meta, 1, named)
    two, _ = _traced(meta, 2, named)
    per_sample = Counter({n: two[n] - one[n] for n in one | two})
    per_batch = Counter({n: one[n] - per_sample[n] for n in one | two})
    flops, batch = _own(rows, per_sample), _own(rows, per_batch)
    biases = dict.fromkeys(flops, 0)
    paths = [r.path for r in rows]
    for name, shape in outputs.items():
        owner = _owner(name, paths)
        if owner is None:
            continue
        module = meta.get_submodule(name)
        multiply_adds = getattr(module, "multiply_adds", None)  # a block's own count, if any
        if multiply_adds is not None:
            declared = 2 * int(multiply_adds(shape))
            flops[owner] += declared - per_sample[name]
            per_sample[name] = declared
        if per_sample[name] and isinstance(getattr(module, "bias", None), Tensor):
            biases[owner] += math.prod(shape)
    connections = {path: flops[path] // 2 + biases[path] for path in flops}
    return flops, batch, connections


def _own(rows: list[Row], inclusive: Counter[str]) -> dict[str, int]:
    """Each row's own share of a count per module path: its module's less its child rows'."""
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
    flops, per_batch, connections = _arithmetic(model, rows)
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
            flops_per_batch=per_batch[r.path],
            connections=connections[r.path],
            rf=geometry[r.path][0],
            stride=geometry[r.path][1],
            window=geometry[r.path][2],
        )
        for r in rows
    )
    shared = sum(p.numel() for p in model.shared.parameters())
    if shared:
        layers += (LayerSummary("shared", "shared", 0, (), (), shared, 0, 0, 0, None, None),)
    top = [r for r in rows if r.depth == 0]
    return Summary(
        name=model.spec.name,
        input=tuple(model.spec.input),
        output=top[-1].out_shape or (),
        params=sum(p.numel() for p in model.parameters()),
        flops=sum(layer.flops for layer in layers),
        flops_per_batch=sum(layer.flops_per_batch for layer in layers),
        connections=sum(layer.connections for layer in layers),
        layers=layers,
    )
