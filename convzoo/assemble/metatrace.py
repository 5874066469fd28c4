"""Shape traces on the meta device that stay light: ``MetaTrace``.

Torch runs most meta kernels as Python: element-wise operations, reductions and
normalizations through reference implementations wrapped in ``torch._disable_dynamo``,
whose first call imports ``torch._dynamo`` and sympy (about 0.8 s and 180 MB); the
others, convolutions and matrix products among them, through checks whose first call
imports sympy (0.25 s). Either is more than the rest of ``convzoo show`` together
(``benchmarks/results/startup.md``), and ``FlopCounterMode`` imports both too.
Inside ``MetaTrace`` an operation runs instead on zero-filled CPU tensors with its
inputs' shapes, dtypes and strides, and its results come back as meta tensors of the
results' shapes, dtypes and strides: the kernels are torch's own, so the shapes are
the ones a real device gives, for little work at a trace's batch of two.

Random operations (weight initializations, dropout) draw from a fork of the CPU
generator, which the trace leaves as the meta device would: untouched. Left to the
meta device: views (which must alias their base), operations whose result's shape
depends on values, those that change a tensor's shape in place, tensors of more than
``CPU_LIMIT`` elements, and convolutions and matrix products of more than
``WORK_LIMIT`` multiply-adds. An operation that fails on the CPU runs on the meta
device as it would without the mode, so the mode adds no error of its own.

A ``MetaTrace`` also counts FLOPs by ``torch.utils.flop_counter``'s formulas; under
``counting_flops(model)``, ``flops[path]`` is the total of the module at ``path``
(``""`` is the whole model) and of everything it calls, as ``FlopCounterMode``
counts them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map
from torch.utils.flop_counter import flop_registry

CPU_LIMIT = 1 << 21  # elements per tensor; larger ones stay on the meta device
WORK_LIMIT = 1 << 27  # multiply-adds of one convolution or matrix product on the CPU
_ATEN = torch.ops.aten
_STAY = {torch.Tag.dynamic_output_shape, torch.Tag.data_dependent_output, torch.Tag.inplace_view}
_RESHAPING = {_ATEN.resize_, _ATEN.resize_as_, _ATEN.set_}  # mutate metadata, not data
_routable: dict[Any, bool] = {}
_NOT_RUN = object()


def _routable_op(func: Any) -> bool:
    """Whether ``func`` may run on the CPU in place of the meta device (cached per op)."""
    if func not in _routable:
        _routable[func] = not (
            func.is_view or func._overloadpacket in _RESHAPING or set(func.tags) & _STAY
        )
    return _routable[func]


def _macs(packet: Any, args: tuple) -> int | None:
    """At least the multiply-adds of a convolution or matrix product; None for other ops."""
    if packet in (_ATEN.mm, _ATEN.bmm):
        a, b = args[0], args[1]
    elif packet in (_ATEN.addmm, _ATEN.baddbmm):
        a, b = args[1], args[2]
    elif packet in (_ATEN.convolution, _ATEN._convolution):
        x, w, padding, transposed = args[0], args[1], args[4], args[6]
        if transposed:
            return x.numel() * (w.numel() // w.shape[0])
        padded = math.prod(s + 2 * p for s, p in zip(x.shape[2:], padding))
        return x.shape[0] * padded * w.numel()
    else:
        return None
    return a.numel() * b.shape[-1]


def _is_meta(device: Any) -> bool:
    return isinstance(device, torch.device) and device.type == "meta"


def _factory_numel(func: Any, args: tuple, kwargs: dict) -> int | None:
    """The elements a factory (``torch.empty``, ``zeros``, ``arange``, ...) makes, if known."""
    named = dict(zip((a.name for a in func._schema.arguments), args)) | kwargs
    if "size" in named and isinstance(named["size"], (list, tuple)):
        return math.prod(named["size"])
    if func._overloadpacket is _ATEN.arange and "end" in named:
        start, end, step = named.get("start", 0), named["end"], named.get("step", 1)
        return max(0, math.ceil((end - start) / step)) if step else None
    return None


def _fits_cpu(func: Any, args: tuple, kwargs: dict) -> bool:
    """Meta tensors (and CPU scalars) of at most ``CPU_LIMIT`` elements, or a small factory;
    a convolution or matrix product of at most ``WORK_LIMIT`` multiply-adds."""
    tensors = [x for x in tree_flatten((args, kwargs))[0] if isinstance(x, Tensor)]
    if not tensors:
        numel = _factory_numel(func, args, kwargs) if _is_meta(kwargs.get("device")) else None
        return numel is not None and numel <= CPU_LIMIT
    small = (
        any(t.is_meta for t in tensors)
        and all(t.is_meta or (t.device.type == "cpu" and t.dim() == 0) for t in tensors)
        and all(t.numel() <= CPU_LIMIT for t in tensors)
    )
    if not small or func._overloadpacket not in flop_registry:
        return small
    macs = _macs(func._overloadpacket, args)
    return macs is not None and macs <= WORK_LIMIT


def _run_on_cpu(func: Any, args: tuple, kwargs: dict) -> Any:
    """``func`` on zero-filled CPU copies of its meta tensors; the results back on meta.

    A random operation draws from a fork of the CPU generator, so that a trace leaves
    the generator as the meta device would: untouched.
    """
    originals: dict[int, Tensor] = {}

    def to_cpu(x: Any) -> Any:
        if _is_meta(x):
            return torch.device("cpu")
        if not (isinstance(x, Tensor) and x.is_meta):
            return x
        copy = torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device="cpu").zero_()
        originals[id(copy)] = x
        return copy

    cpu_args, cpu_kwargs = tree_map(to_cpu, args), tree_map(to_cpu, kwargs)
    if torch.Tag.nondeterministic_seeded in func.tags:
        with torch.random.fork_rng(devices=[]):
            out = func(*cpu_args, **cpu_kwargs)
    else:
        out = func(*cpu_args, **cpu_kwargs)

    def to_meta(x: Any) -> Any:
        if not isinstance(x, Tensor):
            return x
        if id(x) in originals:  # an in-place result is its meta input
            return originals[id(x)]
        return torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device="meta")

    return tree_map(to_meta, out)


class MetaTrace(TorchDispatchMode):
    """Run a meta-device trace without torch's Python meta kernels; count its FLOPs."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Torch wraps a mode's dispatch in torch._disable_dynamo unless this says no;
        # a trace is never compiled, and the wrapper's first call imports torch._dynamo.
        return False

    def __init__(self) -> None:
        super().__init__()
        self.flops: Counter[str] = Counter()
        self.scopes: list[str] = [""]

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        packet = func._overloadpacket
        if packet not in flop_registry:
            with self:
                decomposed = func.decompose(*args, **kwargs)
            if decomposed is not NotImplemented:
                return decomposed
        out = _NOT_RUN
        if _routable_op(func):
            try:
                if _fits_cpu(func, args, kwargs):
                    out = _run_on_cpu(func, args, kwargs)
            except Exception:  # the meta device's own kernel gives the answer, or the error
                out = _NOT_RUN
        if out is _NOT_RUN:
            out = func(*args, **kwargs)
        if packet in flop_registry:
            count = flop_registry[packet](*args, **kwargs, out_val=out)
            for scope in set(self.scopes):
                self.flops[scope] += count
        return out


@contextmanager
def counting_flops(model: nn.Module) -> Iterator[MetaTrace]:
    """A ``MetaTrace`` whose ``flops`` are kept per module path of ``model``.

    Hooks put each module's path on the trace's scopes while the module runs (the
    mode itself cannot hold them: torch leaves and re-enters a mode around every
    operation it decomposes).
    """
    trace = MetaTrace()
    hooks = []
    for name, module in model.named_modules():
        hooks.append(module.register_forward_pre_hook(partial(_enter, trace.scopes, name)))
        hooks.append(module.register_forward_hook(partial(_leave, trace.scopes), always_call=True))
    try:
        with trace:
            yield trace
    finally:
        for hook in hooks:
            hook.remove()


def _enter(scopes: list[str], name: str, _module: nn.Module, _inputs: Any) -> None:
    scopes.append(name)


def _leave(scopes: list[str], _module: nn.Module, _inputs: Any, _output: Any) -> None:
    scopes.pop()
