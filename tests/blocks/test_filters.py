"""The filter family: what every filter bank shares (the geometry it takes, what it tells
the summary), connection tables and true convolution, each checked against the property it
promises. The unfold convolution and the shared-weight banks have files of their own."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import convzoo as cz
from convzoo.blocks._connections import LENET5_C3
from convzoo.blocks._geometry import Geometry, takes_geometry
from convzoo.blocks.filters import conv, true_conv
from convzoo.registry import injectable
from tests.blocks.conftest import n_params, net

FILTERS = ("conv", "true_conv", "unfold_conv", "tied", "hyper")

PAPER_C3 = {
    0: [0, 1, 2],
    1: [1, 2, 3],
    2: [2, 3, 4],
    3: [3, 4, 5],
    4: [4, 5, 0],
    5: [5, 0, 1],
    6: [0, 1, 2, 3],
    7: [1, 2, 3, 4],
    8: [2, 3, 4, 5],
    9: [3, 4, 5, 0],
    10: [4, 5, 0, 1],
    11: [5, 0, 1, 2],
    12: [0, 1, 3, 4],
    13: [1, 2, 4, 5],
    14: [0, 2, 3, 5],
    15: [0, 1, 2, 3, 4, 5],
}


def dense_equivalent(bank: nn.Module, table) -> nn.Conv2d:
    """A full nn.Conv2d holding the bank's connected kernels and zeros everywhere else."""
    full = nn.Conv2d(bank.in_channels, bank.out_channels, bank.kernel_size)
    with torch.no_grad():
        full.weight.zero_()
        used = 0
        for o, row in enumerate(table):
            for i in sorted(row):
                full.weight[o, i] = bank.kernels[used]
                used += 1
        full.bias.copy_(bank.bias)
    return full


# -- conv and connection tables --------------------------------------------------------


@pytest.mark.parametrize(("dims", "cls"), [(1, nn.Conv1d), (2, nn.Conv2d)])
def test_conv_without_connections_is_torchs_conv(dims, cls):
    layer = conv(in_channels=3, dims=dims, out=4, kernel=3, padding="same")
    assert type(layer) is cls


def test_the_lenet5_table_is_the_papers():
    assert [sorted(row) for row in LENET5_C3] == [sorted(PAPER_C3[o]) for o in range(16)]


def test_lenet5_c3_has_exactly_1516_parameters():
    layer = conv(in_channels=6, dims=2, out=16, kernel=5, connections="lenet5_c3")
    assert n_params(layer) == 60 * 25 + 16 == 1516
    spec = net(
        {"filter": "conv", "out": 16, "kernel": 5, "connections": "lenet5_c3"}, input=(6, 14, 14)
    )
    assert cz.summary(spec).params == 1516
    assert layer(torch.randn(2, 6, 14, 14)).shape == (2, 16, 10, 10)


@pytest.mark.parametrize("name", ["conv", "unfold_conv"])
def test_an_output_map_ignores_the_inputs_it_is_not_connected_to(name):
    block = cz.get_block("filter", name).obj
    layer = block(in_channels=6, dims=2, out=16, kernel=5, connections="lenet5_c3")
    x = torch.randn(2, 6, 14, 14)
    for o, row in PAPER_C3.items():
        xg = x.clone().requires_grad_()
        layer(xg)[:, o].sum().backward()
        reach = xg.grad.abs().sum(dim=(0, 2, 3))
        for i in range(6):
            if i in row:
                assert reach[i] > 0, f"map {o} should see input {i}"
            else:
                assert reach[i] == 0, f"map {o} must not see input {i}"


@pytest.mark.parametrize("name", ["conv", "unfold_conv"])
def test_a_connected_bank_is_a_dense_conv_with_zero_kernels(name):
    layer = cz.get_block("filter", name).obj(
        in_channels=6, dims=2, out=16, kernel=5, connections="lenet5_c3"
    )
    x = torch.randn(3, 6, 14, 14)
    expected = dense_equivalent(layer, PAPER_C3.values())(x)
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)


def test_an_explicit_table_in_1d():
    table = [[2], [0, 1], [1, 2], [0, 1, 2]]
    layer = conv(in_channels=3, dims=1, out=4, kernel=3, connections=table)
    assert n_params(layer) == 8 * 3 + 4
    x = torch.randn(2, 3, 9)
    weight = torch.zeros(4, 3, 3)
    used = 0
    for o, row in enumerate(table):
        for i in row:
            weight[o, i] = layer.kernels[used]
            used += 1
    torch.testing.assert_close(layer(x), F.conv1d(x, weight, layer.bias))


@pytest.mark.parametrize(
    ("connections", "extra", "message"),
    [
        ([[0, 1]] * 15, {}, "15 rows .* out is 16"),
        ([[0, 6]] * 16, {}, "names input map 6, but the layer has 6 input maps"),
        ([[0, -1]] * 16, {}, "names input map -1"),
        ([[0]] * 15 + [[]], {}, "row 15 is empty"),
        ([[0, 0]] * 16, {}, "names an input map twice"),
        ([[0.5]] * 16, {}, "names input map 0.5"),
        ([1] * 16, {}, "row 0 must be a list"),
        ("lenet6", {}, "unknown connection table 'lenet6'.*lenet5_c3"),
        (7, {}, "connections must be a table name or a list"),
        ("lenet5_c3", {"groups": 2}, "use groups: 1"),
    ],
)
def test_bad_tables_are_refused(connections, extra, message):
    for name in ("conv", "unfold_conv", "true_conv"):
        with pytest.raises(ValueError, match=message):
            cz.get_block("filter", name).obj(
                in_channels=6, dims=2, out=16, kernel=5, connections=connections, **extra
            )


def test_a_table_for_other_input_maps_fails_with_the_layer_path():
    spec = net({"filter": "conv", "out": 16, "kernel": 5, "connections": "lenet5_c3"})
    with pytest.raises(cz.SpecError, match=r"layers.0 \(filter.conv\).*3 input maps"):
        cz.build(spec)


# -- what every filter bank shares -----------------------------------------------------


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_tells_the_summary_its_window(name):
    layer = {"filter": name, "out": 4, "kernel": 3, "stride": 2, "dilation": 2}
    table = cz.summary(net(layer, input=(3, 16, 16)))
    assert table.layers[0].rf == (5, 5) and table.layers[0].stride == (2, 2)


@pytest.mark.parametrize("name", FILTERS)
def test_metadata(name):
    info = cz.get_block("filter", name)
    assert info.dims == (1, 2) and info.reference and info.description and info.example


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"padding": "same", "stride": 2}, "'same' keeps the size only with stride 1"),
        ({"padding": "full"}, "padding must be an integer, a list, 'same' or 'valid'"),
        ({"stride": 0}, "stride must be at least 1"),
        ({"kernel": [3, 3, 3]}, "kernel must be an integer or a list of 2 integers"),
        ({"groups": 2}, "groups=2 must divide"),
    ],
)
def test_bad_geometry_is_refused(name, args, message):
    spec = net({"filter": name, "out": 4, "kernel": 3, **args})
    with pytest.raises(cz.SpecError, match=message):
        cz.build(spec)


def _banks():
    """Every registered filter block that sweeps a kernel (its factory takes ``kernel``)."""
    found = cz.list_blocks(family="filter")
    return [info for info in found if "kernel" in inspect.signature(info.obj).parameters]


BANKS = _banks()
GEOMETRY = {
    "kernel": inspect.Parameter.empty,
    "stride": 1,
    "padding": 0,
    "dilation": 1,
    "groups": 1,
    "bias": True,
}


def test_every_filter_bank_declares_the_same_geometry():
    assert {info.name for info in BANKS} >= set(FILTERS)
    for info in BANKS:
        params = inspect.signature(info.obj).parameters
        defaults = {name: params[name].default for name in GEOMETRY if name in params}
        assert defaults == GEOMETRY, info.key
        assert {"in_channels", "dims", "out"} <= set(params), info.key


def test_the_geometry_is_one_frozen_value():
    geometry = Geometry.from_spec(dims=1, kernel=3, padding="valid", groups=2)
    assert geometry == Geometry((3,), (1,), (0,), (1,), 2, True, "zeros") and geometry.dims == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        geometry.groups = 1  # type: ignore[misc]
    assert Geometry.from_spec(dims=2, kernel=[3, 2], padding="same").padding == "same"


def test_a_factory_without_a_geometry_parameter_is_refused():
    with pytest.raises(TypeError, match="must take a 'geometry' parameter"):
        takes_geometry(lambda in_channels, out: None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"stride": 0}, r"stride must be at least 1 in every dimension, got 0"),
        ({"padding": "same", "stride": 2}, r"padding 'same' keeps the size only with stride 1, "),
        ({"padding": [1]}, r"padding must be an integer or a list of 2 integers, got \[1\]"),
        ({"dilation": True}, r"dilation must be an integer or a list of 2 integers, got True"),
        ({"groups": 0}, r"groups must be a positive integer, got 0"),
        ({"groups": 2}, r"groups=2 must divide both the input maps \(3\) and out \(4\)"),
    ],
)
def test_a_bad_geometry_gets_one_message_from_every_filter_bank(args, message):
    messages = set()
    for info in BANKS:
        available = {"in_channels": 3, "in_shape": (3, 8, 8), "dims": 2, "shared": nn.ModuleDict()}
        injected = injectable(info.obj, available)
        with pytest.raises(ValueError, match=message) as err:
            info.obj(**injected, **{"out": 4, "kernel": 3, **args})
        messages.add(str(err.value))
    assert len(messages) == 1, messages


# -- true convolution ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dims", "args"),
    [
        (1, {}),
        (1, {"stride": 2, "padding": 2, "dilation": 2}),
        (2, {"kernel": [3, 2]}),
        (2, {"padding": "same", "groups": 2, "out": 4}),
        (2, {"connections": [[0], [1, 2], [0, 2]]}),
    ],
)
def test_true_conv_is_conv_with_the_kernel_flipped(dims, args):
    args = {"out": 3, "kernel": 3, **args}
    channels = 6 if "groups" in args else 3
    flipped = true_conv(in_channels=channels, dims=dims, **args)
    reference = conv(in_channels=channels, dims=dims, **args)
    unflipped = conv(in_channels=channels, dims=dims, **args)
    state = flipped.state_dict()
    unflipped.load_state_dict(state)
    key = "kernels" if "connections" in args else "weight"
    state[key] = state[key].flip(tuple(range(state[key].dim() - dims, state[key].dim())))
    reference.load_state_dict(state)
    x = torch.randn(2, channels, *(9,) * dims)
    torch.testing.assert_close(flipped(x), reference(x))
    assert not torch.allclose(flipped(x), unflipped(x))


def test_true_conv_follows_the_definition_in_1d():
    layer = true_conv(in_channels=1, dims=1, out=1, kernel=4, padding=3, bias=False)
    x = torch.randn(1, 1, 7)
    w = layer.weight[0, 0].detach()
    y = layer(x)[0, 0]
    expected = [
        sum(w[j] * x[0, 0, i - j] for j in range(4) if 0 <= i - j < 7) for i in range(7 + 3)
    ]
    torch.testing.assert_close(y, torch.stack(expected))


def test_a_true_conv_of_an_impulse_is_the_kernel_a_correlation_its_mirror():
    impulse = torch.zeros(1, 1, 5, 5)
    impulse[0, 0, 2, 2] = 1.0
    flipped = true_conv(in_channels=1, dims=2, out=1, kernel=3, padding=1, bias=False)
    kernel = flipped.weight[0, 0].detach()
    torch.testing.assert_close(flipped(impulse)[0, 0, 1:4, 1:4], kernel)
    correlation = F.conv2d(impulse, flipped.weight, padding=1)
    torch.testing.assert_close(correlation[0, 0, 1:4, 1:4], kernel.flip(0, 1))
