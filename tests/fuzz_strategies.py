"""Random specs, valid and invalid, and the one promise every spec must keep.

``specs()`` draws whole spec mappings: layers drawn from the registry, with
arguments taken from each block's ``example`` and perturbed (nearby numbers,
flipped booleans, other block names, dropped, extra and unknown arguments,
values of the wrong type), random 1-D and 2-D inputs, nested ``repeat`` and
composite bodies, and now and then garbage where a key's value belongs.
``outcome(spec)`` either builds the spec and runs a forward and backward pass
on a tiny batch, or names the ``ConvzooError`` that refused it; anything else it
raises is a bug. ``tests/test_fuzz.py`` runs a few in every test run,
``benchmarks/fuzz_specs.py`` thousands.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from hypothesis import strategies as st

import convzoo as cz
from convzoo.assemble import signature

BLOCKS = tuple(cz.list_blocks())
HEADS = tuple(info for info in BLOCKS if info.family == "head")
BATCH = 3
WORDS = sorted(
    {info.name for info in BLOCKS}
    | {"same", "valid", "none", "avg", "max", "tanh", "lenet5_c3", "default", "hyper"}
)

garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([10**30, 10**5000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.lists(st.integers(-1, 5), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
)


def rarely(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (``st.integers`` would favour its bounds)."""
    return st.sampled_from([False] * (n - 1) + [True])


def near(value: Any) -> st.SearchStrategy[Any]:
    """Values like ``value``: the same, nearby, or the edge cases of its type."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.sampled_from(sorted({value, value - 1, value + 1, 2 * value, 0, 1, -1}))
    if isinstance(value, float):
        return st.sampled_from([value, 0.0, -value, 10 * value, 0.5, 1.0])
    if isinstance(value, str):
        return st.sampled_from([value, *WORDS, ""])
    if isinstance(value, (list, tuple)):
        return st.one_of(st.just(list(value)), st.lists(st.integers(0, 6), max_size=3))
    return st.one_of(st.none(), st.integers(1, 4), st.sampled_from(WORDS))


def sensible(value: Any) -> st.SearchStrategy[Any]:
    """Values a careful author might give where ``value`` is the default."""
    if isinstance(value, bool):
        return st.booleans()
    if value is None or isinstance(value, int):
        return st.one_of(st.just(value), st.integers(1, 3))
    if isinstance(value, float):
        return st.sampled_from([value, 0.5, 2.0])
    return st.just(value)


def plausible(value: Any) -> st.SearchStrategy[Any]:
    """Mostly ``near(value)``, sometimes garbage."""
    return st.one_of(near(value), near(value), near(value), garbage)


@st.composite
def arguments(draw: st.DrawFn, info: cz.BlockInfo) -> dict[Any, Any]:
    """The block's example arguments, and others it accepts; one layer in five mutated:
    arguments perturbed or dropped, wrong types, unknown or reserved names."""
    sig = signature(info)
    defaults = {
        name: None if p.default is inspect.Parameter.empty else p.default
        for name, p in sig.accepted.items()
    }
    args = {k: v for k, v in info.example.items() if k != "layers"}
    mutate = draw(rarely(5))
    for name in draw(st.lists(st.sampled_from(sorted(defaults)), max_size=2)) if defaults else []:
        args[name] = draw((plausible if mutate else sensible)(defaults[name]))
    if not mutate:
        return args
    for name in sorted(args):
        action = draw(st.sampled_from(["keep", "perturb", "perturb", "drop"]))
        if action == "perturb":
            args[name] = draw(plausible(args[name]))
        elif action == "drop":
            del args[name]
    if draw(rarely(3)):
        name = draw(st.sampled_from(["bogus", "act", "repeat", "in_channels", "classes", 3]))
        args[name] = draw(garbage)
    return args


@st.composite
def block_layers(
    draw: st.DrawFn, depth: int, blocks: tuple[cz.BlockInfo, ...] = BLOCKS
) -> list[dict[str, Any]]:
    """One of ``blocks`` with its ``arguments`` (and a body where it takes one),
    sometimes after the layers its example puts in front of it."""
    info = draw(st.sampled_from(blocks))
    sig = signature(info)
    layer = {info.family: info.name, **draw(arguments(info))}
    takes_body = "layers" in sig.injected
    if depth and (takes_body or draw(rarely(16))):
        layer["layers"] = draw(layer_lists(depth - 1))
    before = list(info.example_before) if draw(st.booleans()) else []
    return [*before, layer]


@st.composite
def repeats(draw: st.DrawFn, depth: int) -> list[dict[str, Any]]:
    """``{repeat: N, layers: [...]}``, N now and then out of range or not a number."""
    wrong = st.sampled_from([0, -1, 10**8, 10**5000, "2", 2.0, True])
    times = draw(wrong if draw(rarely(8)) else st.integers(1, 3))
    return [{"repeat": times, "layers": draw(layer_lists(depth - 1))}]


def layer_lists(depth: int) -> st.SearchStrategy[list[Any]]:
    """1-4 nodes nested at most ``depth`` levels deeper, now and then a garbage layer."""
    kinds = [block_layers(depth)] * 24 + [repeats(depth)] * 5 * bool(depth)
    nodes = st.sampled_from([*kinds, st.lists(garbage, min_size=1, max_size=1)]).flatmap(
        lambda kind: kind
    )
    return st.lists(nodes, min_size=1, max_size=4).map(
        lambda parts: [layer for part in parts for layer in part]
    )


@st.composite
def specs(draw: st.DrawFn) -> dict[Any, Any]:
    """A spec mapping: a 1-D or 2-D input, random layers, usually a head when it has classes."""
    dims = draw(st.sampled_from([1, 2]))
    sizes = draw(st.lists(st.integers(1, 12), min_size=dims, max_size=dims))
    shape = [draw(st.integers(1, 4)), *sizes]
    classes = draw(st.one_of(st.none(), st.integers(1, 5)))
    if draw(rarely(20)):
        classes = 10**5000
    layers = draw(layer_lists(2))
    if classes is not None and not draw(rarely(4)):
        layers += draw(block_layers(0, HEADS))
    data: dict[Any, Any] = {"name": "fuzz", "input": shape, "layers": layers}
    if classes is not None:
        data["classes"] = classes
    if draw(rarely(12)):
        data[draw(st.sampled_from(["name", "input", "classes", "layers", "description", "x"]))] = (
            draw(garbage)
        )
    return data


def outcome(data: Any) -> str:
    """``"built"`` when ``data`` builds and a forward and backward pass on a batch of
    ``BATCH`` work (with the training loss when it outputs class scores), else the name
    of the ``ConvzooError`` that refused it. Any other exception is a bug and propagates."""
    try:
        model = cz.build(data)
    except cz.ConvzooError as exc:
        return type(exc).__name__
    torch.manual_seed(0)
    spec = model.spec
    x = torch.randn(BATCH, *spec.input, requires_grad=True)
    out = model(x)
    expected = (BATCH, *model.rows[-1].out_shape)
    assert tuple(out.shape) == expected, f"output {list(out.shape)}, meta inference {expected}"
    if spec.classes is not None and tuple(out.shape[1:]) == (spec.classes,):
        loss = model.loss(out, torch.randint(spec.classes, (BATCH,)), x)
    else:
        loss = out.square().mean()
    loss.backward()
    return "built"
