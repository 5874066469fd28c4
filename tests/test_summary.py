"""The per-layer table: parameter totals, FLOPs, receptive field and stride, JSON form."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import convzoo as cz
from convzoo.assemble import ConvNet, Row


@pytest.mark.parametrize("arch", cz.arch_names())
def test_param_total_equals_the_built_model_for_every_architecture(arch):
    model = cz.build(arch)
    table = cz.summary(arch)
    assert table.params == sum(p.numel() for p in model.parameters())
    assert sum(layer.params for layer in table.layers) == table.params
    assert table.output == tuple(model(torch.zeros(2, *model.spec.input)).shape[1:])


def test_flops_are_counted_by_hand():
    spec = {
        "name": "f",
        "input": [3, 10, 10],
        "classes": 5,
        "layers": [
            {"filter": "conv", "out": 4, "kernel": 3},
            {"act": "relu"},
            {"head": "linear", "hidden": [7]},
        ],
    }
    table = cz.summary(spec)
    conv, act, head = table.layers
    assert conv.flops == 2 * (3 * 3 * 3) * 4 * 8 * 8
    assert act.flops == 0
    assert head.flops == 2 * (4 * 8 * 8) * 7 + 2 * 7 * 5
    assert table.flops == conv.flops + head.flops


def test_a_fixed_convolution_counts_and_a_pooling_operator_does_not():
    spec = {
        "input": [2, 8, 8],
        "layers": [{"pool": "blur", "pre": "max", "kernel": 2}, {"pool": "avg", "kernel": 2}],
    }
    blur, avg = cz.summary(spec).layers
    assert blur.flops == 2 * 3 * 3 * 2 * 4 * 4  # the 3x3 binomial filter of each map; max: 0
    assert blur.connections == blur.flops // 2  # links of a fixed weight, no bias
    assert avg.flops == avg.connections == 0


def test_receptive_field_and_stride_by_hand():
    table = cz.summary("lenet5_modern")
    assert [layer.rf for layer in table.layers] == [
        (5, 5),
        (5, 5),
        (6, 6),
        (14, 14),
        (14, 14),
        (16, 16),
        "all",  # a 32-pixel window on the 28-pixel input
        "all",
        "all",
    ]
    assert [layer.stride for layer in table.layers] == [
        (1, 1),
        (1, 1),
        (2, 2),
        (2, 2),
        (2, 2),
        (4, 4),
        (4, 4),
        (4, 4),
        None,
    ]


def test_dilation_and_1d():
    table = cz.summary(
        {
            "input": [1, 50],
            "layers": [
                {"filter": "conv", "out": 2, "kernel": 3, "dilation": 2},
                {"pool": "max", "kernel": 3, "stride": 2},
                {"filter": "conv", "out": 2, "kernel": 3},
            ],
        }
    )
    assert [layer.rf for layer in table.layers] == [(5,), (7,), (11,)]
    assert [layer.stride for layer in table.layers] == [(1,), (2,), (2,)]


def test_composites_own_their_shortcut_and_end_at_their_last_layer():
    spec = {
        "input": [2, 8, 8],
        "layers": [
            {
                "residual": "identity",
                "layers": [
                    {"filter": "conv", "out": 4, "kernel": 3, "padding": 1, "stride": 2},
                    {"filter": "conv", "out": 4, "kernel": 3, "padding": 1},
                ],
            },
        ],
    }
    table = cz.summary(spec)
    outer, first, second = table.layers
    assert outer.params == 2 * 4 + 4 + 4  # 1x1 projection conv, batch norm weight and bias
    assert first.params == 2 * 4 * 9 + 4 and second.params == 4 * 4 * 9 + 4
    assert outer.flops == 2 * 2 * 4 * 4 * 4  # the projection's multiply-adds
    assert outer.rf == second.rf == (7, 7) and outer.stride == (2, 2)


def test_unknown_windows_are_unknown(scratch):
    class Shrink(nn.Module):
        def forward(self, x):
            return x[..., ::2, ::2]

    scratch("pool", "shrink", lambda: Shrink())
    table = cz.summary(
        {
            "input": [1, 8, 8],
            "layers": [{"pool": "shrink"}, {"filter": "conv", "out": 1, "kernel": 3}],
        }
    )
    assert [layer.rf for layer in table.layers] == [None, None]
    assert "?" in str(table)


def test_summary_of_a_built_model_equals_that_of_its_spec():
    model = cz.build("lenet5_modern")
    assert cz.summary(model) == cz.summary("lenet5_modern")


def test_json_form_has_the_documented_keys():
    data = cz.summary("lenet5_modern").to_dict()
    assert set(data) == {
        "name",
        "input",
        "output",
        "params",
        "flops",
        "flops_per_batch",
        "connections",
        "layers",
    }
    assert set(data["layers"][0]) == {
        "path",
        "block",
        "in",
        "out",
        "params",
        "flops",
        "flops_per_batch",
        "connections",
        "rf",
        "stride",
    }
    assert json.loads(json.dumps(data))["layers"][-1]["rf"] == "all"
    assert data["layers"][0]["rf"] == [5, 5]


def test_text_table_has_totals():
    text = str(cz.summary("lenet5_modern"))
    assert text.splitlines()[-1].startswith("total")
    assert f"{cz.summary('lenet5_modern').params:,}" in text.splitlines()[-1]


# LeCun et al. 1998, Sec. II-B: the connections of each layer of LeNet-5, and the RBF
# output layer's 10 x 84, which make up the paper's total of 340,908.
LENET5_CONNECTIONS = [122_304, 5_880, 151_600, 2_000, 48_120, 10_164, 840]


def test_lenet5_counts_the_papers_connections():
    table = cz.summary("lenet5")
    weighted = [layer for layer in table.layers if not layer.block.startswith("act.")]
    assert [layer.connections for layer in weighted] == LENET5_CONNECTIONS
    assert table.connections == 340_908
    c3 = table.layers[4]
    assert c3.flops == 2 * 60 * 25 * 10 * 10  # 60 connected 5x5 kernels at 10x10 positions
    assert "connections" in str(table).splitlines()[1]


def test_a_connection_table_counts_the_same_as_the_dense_conv_it_restricts():
    def c3(connections):
        layer = {"filter": "conv", "out": 3, "kernel": 3, "connections": connections}
        return cz.summary({"input": [3, 6, 6], "layers": [layer]}).layers[0]

    full, sparse = c3([[0, 1, 2]] * 3), c3([[0], [1, 2], [0, 1, 2]])
    assert full.flops == 2 * 9 * 3 * 3 * 16 and full.connections == 9 * 9 * 16 + 3 * 16
    assert sparse.flops == 2 * 6 * 9 * 16 and sparse.connections == 6 * 9 * 16 + 3 * 16


def test_receptive_field_is_clipped_to_the_input_per_dimension():
    layer = {"filter": "conv", "out": 1, "kernel": 9, "padding": 4}
    (row,) = cz.summary({"input": [1, 6, 20], "layers": [layer]}).layers
    assert row.rf == (6, 9)


@pytest.mark.parametrize(
    ("arch", "path"),
    [("lenet5_tied", "layers.10"), ("resnet", "layers.9"), ("jarrett", "layers.2")],
)
def test_layers_that_see_the_whole_input_say_all(arch, path):
    (row,) = [layer for layer in cz.summary(arch).layers if layer.path == path]
    assert row.rf == "all", row


def test_a_layer_that_sees_its_whole_map_reaches_what_the_maps_units_reach():
    # CapsNet's stride-2 primary convolution puts its last window on rows 10-18 of conv1's
    # 20: input row and column 27 reach no capsule, nor the routing and the head after it.
    routing, head = cz.summary("capsnet").layers[3:]
    assert routing.rf == head.rf == (27, 27)


# -- every architecture against tools convzoo did not write ----------------------------

ARCHS = cz.arch_names()
BATCHES = (3, 8)  # two batch sizes, neither one the summary traces at

# README, "What each column counts": the counts that follow LeNet-5's conventions rather
# than torch's counter. A block declares such a count with ``multiply_adds``; each block
# that does is listed here, with why, so that no other block can drift from the counter.
DECLARED = {
    "filter.conv": "a connection table (LeNet-5's C3) counts only its connected kernels, "
    "not the zeros of the dense kernel it runs",
    "pool.subsample": "LeNet-5's trainable subsampling counts its window sums",
    "head.rbf": "the RBF head counts its distances",
}


@dataclass(frozen=True)
class Counted:
    """FlopCounterMode's FLOPs of one forward pass at ``batch``, per module path (each
    module with everything it calls), and the output units (per sample) of every module
    that adds a learned bias."""

    batch: int
    flops: Counter[str]
    biased: dict[str, int]


def count(model: ConvNet, batch: int) -> Counted:
    """FlopCounterMode's counts of ``model`` (on the meta device) at ``batch``."""
    root = type(model).__name__
    biased: dict[str, int] = {}
    hooks = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: biased.__setitem__(name, out[0].numel())
        )
        for name, module in model.named_modules()
        if isinstance(getattr(module, "bias", None), nn.Parameter)
    ]
    x = torch.empty((batch, *model.spec.input), device="meta")
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    flops = Counter(
        {
            key.removeprefix(root).removeprefix("."): sum(counts.values())
            for key, counts in counter.get_flop_counts().items()
            if key != "Global"
        }
    )
    return Counted(batch, flops, biased)


def split(name: str, one: Counted, two: Counted) -> tuple[int, int]:
    """(per sample, per batch): the FLOPs of ``name`` at B are B * per sample + per batch."""
    grown = two.flops[name] - one.flops[name]
    assert grown % (two.batch - one.batch) == 0, f"{name}: FLOPs not affine in the batch size"
    per_sample = grown // (two.batch - one.batch)
    return per_sample, one.flops[name] - one.batch * per_sample


def own(rows: Sequence[Row], values: Mapping[str, int]) -> dict[str, int]:
    """Each row's own share of per-module ``values``: its module's less its child rows'."""
    return {
        row.path: values[row.path]
        - sum(values[o.path] for o in rows if o.depth == row.depth + 1 and holds(row, o.path))
        for row in rows
    }


def holds(row: Row, name: str) -> bool:
    """Whether the module ``name`` is the row's or one inside it."""
    return name == row.path or name.startswith(row.path + ".")


@pytest.fixture(scope="module", params=ARCHS)
def counted(request):
    """An architecture on the meta device in evaluation mode, its table, and FlopCounterMode's
    counts at both batch sizes."""
    model = cz.build(request.param, device="meta").eval()
    return model, cz.summary(model), *(count(model, b) for b in BATCHES)


def test_flops_per_sample_and_per_batch_are_flop_counter_modes(counted):
    model, table, one, two = counted
    names = set(one.flops) | set(two.flops)
    per_sample = Counter({n: split(n, one, two)[0] for n in names})
    per_batch = Counter({n: split(n, one, two)[1] for n in names})
    rows = {layer.path: layer for layer in table.layers}
    expected_batch = own(model.rows, per_batch)
    for path, flops in own(model.rows, per_sample).items():
        row = rows[path]
        assert row.flops_per_batch == expected_batch[path], row
        if hasattr(model.get_submodule(path), "multiply_adds"):
            assert row.block in DECLARED, f"{row.block} declares its count; say why in DECLARED"
        else:
            assert row.flops == flops, row
    assert table.flops_per_batch == per_batch[""]


def test_connections_are_the_links_of_each_layer(counted):
    """Per sample: a row's multiply-adds (FlopCounterMode's; LeNet-5's declared count where
    DECLARED says so), never work that runs once per batch, plus one per output unit of a
    weighted sum in it that adds a learned bias."""
    model, table, one, two = counted
    rows = {layer.path: layer for layer in table.layers}
    multiply_adds = own(model.rows, Counter({n: split(n, one, two)[0] // 2 for n in one.flops}))
    biases = Counter()
    for name, units in one.biased.items():
        if split(name, one, two)[0] or hasattr(model.get_submodule(name), "multiply_adds"):
            holders = [r.path for r in model.rows if holds(r, name)]
            if holders:
                biases[max(holders, key=len)] += units
    for path, links in multiply_adds.items():
        row = rows[path]
        if hasattr(model.get_submodule(path), "multiply_adds"):
            links = row.flops // 2
        assert row.connections == links + biases[path], row


def averaging_max_pools(model: nn.Module) -> nn.Module:
    """``model`` with each max pooling replaced by average pooling over the same windows:
    the same receptive fields, and a gradient that reaches every pixel of a window (max
    pooling's reaches one pixel of each)."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, (nn.MaxPool1d, nn.MaxPool2d)):
                assert child.dilation in (1, (1,), (1, 1)), f"{name}: a dilated max pooling"
                avg = nn.AvgPool1d if isinstance(child, nn.MaxPool1d) else nn.AvgPool2d
                setattr(parent, name, avg(child.kernel_size, child.stride, child.padding))
    return model


@pytest.mark.parametrize("arch", ARCHS)
def test_receptive_fields_are_what_input_gradients_reach(arch):
    """Each row's field against the input pixels that get a nonzero gradient, over a few
    random samples, from the row's central unit -- from all its units where it has no
    grid (no stride) -- as a span per dimension; "all" is the whole input. A row whose
    grid is read another way (capsules) has no central unit to take and is left out."""
    torch.manual_seed(0)
    model = averaging_max_pools(cz.build(arch)).eval().requires_grad_(False)
    table = cz.summary(arch)
    outputs: dict[str, torch.Tensor] = {}
    for layer in table.layers[: len(model.rows)]:
        model.get_submodule(layer.path).register_forward_hook(
            lambda _m, _i, out, path=layer.path: outputs.__setitem__(path, out)
        )
    x = torch.randn(4, *model.spec.input, requires_grad=True)
    model(x)
    width = tuple(model.spec.input[1:])
    for layer in table.layers[: len(model.rows)]:
        out = outputs[layer.path]
        if layer.rf is None:  # unknown: nothing to check
            continue
        if out.dim() == 2 + len(width):
            out = out[(slice(None), slice(None), *((n - 1) // 2 for n in out.shape[2:]))]
        elif layer.stride is not None:
            continue
        spans = reached(out.sum(), x)
        assert spans == (width if layer.rf == "all" else layer.rf), (layer, spans)


def reached(unit: torch.Tensor, x: torch.Tensor) -> tuple[int, ...]:
    """Per spatial dimension, the span of the input pixels (first to last) that get a
    nonzero gradient from ``unit`` in any sample of ``x``."""
    mass = torch.autograd.grad(unit, x, retain_graph=True)[0].abs().sum(dim=(0, 1))
    spans = []
    for axis in range(mass.dim()):
        others = tuple(a for a in range(mass.dim()) if a != axis)
        where = (mass.sum(dim=others) if others else mass).nonzero()
        spans.append(int(where.max() - where.min() + 1))
    return tuple(spans)


@pytest.mark.parametrize(
    ("shape", "layers"),
    [
        # a 1x1 stride-2 window on the padding first: pixel 0 reaches no unit
        ([1, 40], [{"filter": "conv", "out": 2, "kernel": 1, "stride": 2, "padding": 1}]),
        (
            [1, 24],
            [
                {"filter": "conv", "out": 2, "kernel": 1, "stride": 2, "padding": 1},
                {"norm": "lcn", "kernel": 3},
                {"filter": "conv", "out": 2, "kernel": 3, "stride": 2, "padding": 1},
            ],
        ),
        (  # blur pooling pads before its first position; the last stride skips rows
            [1, 31, 29],
            [
                {"filter": "conv", "out": 2, "kernel": 3, "stride": 2},
                {"pool": "blur", "pre": "avg", "kernel": 2},
                {"filter": "conv", "out": 2, "kernel": 2, "stride": 3},
                {"pool": "global_avg"},
            ],
        ),
    ],
)
def test_what_a_whole_map_reaches_leaves_out_padding_and_skipped_pixels(shape, layers):
    spec = {"input": shape, "classes": 2, "layers": [*layers, {"head": "linear"}]}
    torch.manual_seed(0)
    x = torch.randn(4, *shape, requires_grad=True)
    spans = reached(cz.build(spec).eval().requires_grad_(False)(x).sum(), x)
    assert cz.summary(spec).layers[-1].rf == spans != tuple(shape[1:])
