"""The assembler: the meta-device shape check, dims, outputs, bodies, and predicted shapes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import convzoo as cz
from convzoo.spec import SpecError, parse
from tests.assemble.conftest import net


def test_kernel_larger_than_its_input_names_layer_block_shape_and_fitted_table():
    spec = net(
        {"filter": "conv", "out": 4, "kernel": 5},
        {"pool": "max", "kernel": 2},
        {"filter": "conv", "out": 8, "kernel": 5},
        {"head": "linear"},
        input=(1, 12, 12),
        classes=3,
    )
    with pytest.raises(SpecError) as err:
        cz.build(spec)
    message = str(err.value)
    assert "layer layers.2 (filter.conv) cannot take input [4, 4, 4]" in message
    assert "Kernel size can't be greater than actual input size" in message
    table = message.split("Layers that fit:")[1]
    assert "layers.0" in table and "[1, 12, 12] -> [4, 8, 8]" in table
    assert "layers.1" in table and "[4, 8, 8] -> [4, 4, 4]" in table
    assert "layers.2" not in table


def test_no_weight_is_allocated_before_the_whole_spec_fits(scratch):
    devices = []

    def recorder(in_channels):
        layer = nn.Conv2d(in_channels, in_channels, 1)
        devices.append(layer.weight.device.type)
        return layer

    scratch("filter", "recorder", recorder)
    bad = net({"filter": "recorder"}, {"filter": "conv", "out": 2, "kernel": 50})
    with pytest.raises(SpecError):
        cz.build(bad)
    assert devices == ["meta"]
    cz.build(net({"filter": "recorder"}, {"filter": "conv", "out": 2, "kernel": 3}))
    assert devices == ["meta", "meta", "cpu"]


def test_the_meta_pass_leaves_the_random_stream_alone():
    torch.manual_seed(0)
    model = cz.build("lenet5_modern")
    torch.manual_seed(0)
    first = nn.Conv2d(1, 6, 5, padding=2)
    assert torch.equal(model.layers[0].weight, first.weight)


def test_one_dimensional_specs_get_1d_blocks():
    model = cz.build(
        net(
            {"filter": "conv", "out": 4, "kernel": 5},
            {"pool": "max", "kernel": 2},
            {"norm": "batch"},
            {"head": "linear"},
            input=(1, 40),
            classes=10,
        )
    )
    assert isinstance(model.layers[0], nn.Conv1d) and isinstance(model.layers[1], nn.MaxPool1d)
    assert model(torch.randn(3, 1, 40)).shape == (3, 10)


def test_blocks_declare_the_dims_they_support(scratch):
    scratch("pool", "flat_only", lambda: nn.Identity(), dims=[2])
    with pytest.raises(SpecError, match=r"supports dims \(2,\) only.*1-D"):
        cz.build(net({"pool": "flat_only"}, input=(1, 16)))


def test_the_output_must_match_classes():
    with pytest.raises(SpecError, match=r"outputs \[4, 10, 10\].*classes: 7"):
        cz.build(net({"filter": "conv", "out": 4, "kernel": 3}, classes=7))


@pytest.mark.parametrize(
    ("layers", "shape", "out"),
    [
        ([{"filter": "conv", "out": 7, "kernel": 3}], (1, 12, 12), r"\[7, 10, 10\]"),
        ([{"filter": "conv", "out": 7, "kernel": 3}], (1, 12), r"\[7, 10\]"),
        ([{"act": "relu"}], (7, 1, 1), r"\[7, 1, 1\]"),
    ],
)
def test_the_output_must_be_exactly_the_class_scores(layers, shape, out):
    with pytest.raises(SpecError, match=rf"outputs {out}.*classes: 7.*end with a head"):
        cz.build(net(*layers, input=shape, classes=7))


def test_a_head_may_keep_its_score_map():
    model = cz.build(
        net(
            {"filter": "conv", "out": 2, "kernel": 3},
            {"head": "conv1x1", "reduce": "none"},
            classes=7,
        )
    )
    assert model.rows[-1].out_shape == (7, 1, 1)
    with pytest.raises(SpecError, match=r"outputs \[7, 1, 1\].*end with a head"):
        cz.build(net({"head": "conv1x1", "reduce": "none"}, {"act": "relu"}, classes=7))


@pytest.mark.parametrize(
    "layer",
    [
        {"act": "x" * 10**5},
        {"filter": "conv", "out": 4, "kernel": 3, "k" * 10**5: 1},
        {"filter": "conv", "out": 4, "kernel": [3] * 20_000},
        {"filter": "conv", "out": 4, "kernel": 3, "padding": "x" * 10**5},
        {"head": "linear", "hidden": ["x" * 10**5]},
    ],
)
def test_build_messages_never_embed_unbounded_user_data(layer):
    with pytest.raises(SpecError) as err:
        cz.build(net(layer, classes=3))
    assert len(str(err.value)) < 2000, str(err.value)[:3000]


@pytest.mark.parametrize(
    ("layers", "shape", "classes"),
    [
        ([{"act": "relu"}], (1, 10**5000, 8), None),
        ([{"act": "relu"}], (1, 8, 8), 10**5000),
    ],
    ids=["input", "classes"],
)
def test_huge_sizes_are_refused_with_a_bounded_message(layers, shape, classes):
    with pytest.raises(SpecError, match="digits") as err:
        cz.build(net(*layers, input=shape, classes=classes), device="meta")
    assert len(str(err.value)) < 2000, str(err.value)[:3000]


def test_a_head_needs_classes():
    with pytest.raises(SpecError, match="needs the spec's 'classes'"):
        cz.build(net({"head": "linear"}))


def test_a_body_only_where_the_block_takes_one():
    with pytest.raises(SpecError, match="takes no nested 'layers'"):
        cz.build(net({"act": "relu", "layers": [{"act": "relu"}]}))
    with pytest.raises(SpecError, match="needs a nested 'layers'"):
        cz.build(net({"residual": "identity"}))


def test_composite_blocks_must_keep_their_body_as_layers(scratch):
    scratch("residual", "forgetful", lambda layers: nn.Identity())
    with pytest.raises(SpecError, match="must keep its body as self.layers"):
        cz.build(net({"residual": "forgetful", "layers": [{"act": "relu"}]}))


def test_a_block_that_raises_becomes_a_spec_error_naming_it(scratch):
    def fussy(in_channels):
        raise ValueError("needs an even channel count")

    scratch("norm", "fussy", fussy)
    with pytest.raises(SpecError, match=r"layers.0 \(norm.fussy\).*needs an even channel count"):
        cz.build(net({"norm": "fussy"}))


def test_residual_shortcuts():
    same = cz.build(
        net(
            {
                "residual": "identity",
                "layers": [{"filter": "conv", "out": 1, "kernel": 3, "padding": 1}],
            }
        )
    )
    assert isinstance(same.layers[0].shortcut, nn.Identity)
    x = torch.randn(2, 1, 12, 12)
    assert torch.allclose(same(x), same.layers[0].layers(x) + x)
    down = cz.build(
        net(
            {
                "residual": "identity",
                "layers": [{"filter": "conv", "out": 4, "kernel": 3, "padding": 1, "stride": 2}],
            }
        )
    )
    projection = down.layers[0].shortcut[0]
    assert projection.stride == (2, 2) and projection.out_channels == 4
    assert down(x).shape == (2, 4, 6, 6)


# -- predicted shapes equal real shapes -------------------------------------------------

conv_layer = st.fixed_dictionaries(
    {"filter": st.just("conv"), "out": st.integers(1, 4), "kernel": st.integers(1, 5)},
    optional={
        "stride": st.integers(1, 3),
        "padding": st.integers(0, 2),
        "dilation": st.integers(1, 2),
    },
)
pool_layer = st.fixed_dictionaries(
    {"pool": st.sampled_from(["max", "avg"]), "kernel": st.integers(1, 3)},
    optional={"stride": st.integers(1, 3), "padding": st.just(0)},
)


@settings(max_examples=40, deadline=None)
@given(
    layers=st.lists(st.one_of(conv_layer, pool_layer), min_size=1, max_size=5),
    size=st.integers(4, 20),
    dims=st.sampled_from([1, 2]),
)
def test_meta_shapes_equal_real_shapes(layers, size, dims):
    shape = (2, *([size] * dims))
    spec = net(*layers, input=shape)
    try:
        rows = cz.trace(parse(spec))
    except SpecError:
        # the meta check refused: the real network must fail too
        real = nn.Sequential()
        channels = 2
        with pytest.raises(RuntimeError):
            for layer in layers:
                real.append(_torch_layer(layer, channels, dims))
                channels = layer.get("out", channels)
            real(torch.randn(1, *shape))
        return
    model = cz.build(spec)
    out = model(torch.randn(1, *shape))
    assert tuple(out.shape[1:]) == rows[-1].out_shape


def _torch_layer(layer, channels, dims):
    if "filter" in layer:
        cls = nn.Conv1d if dims == 1 else nn.Conv2d
        return cls(
            channels,
            layer["out"],
            layer["kernel"],
            stride=layer.get("stride", 1),
            padding=layer.get("padding", 0),
            dilation=layer.get("dilation", 1),
        )
    pools = {"max": (nn.MaxPool1d, nn.MaxPool2d), "avg": (nn.AvgPool1d, nn.AvgPool2d)}
    cls = pools[layer["pool"]][dims - 1]
    return cls(layer["kernel"], stride=layer.get("stride"), padding=layer.get("padding", 0))
