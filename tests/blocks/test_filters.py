"""The filter family: connection tables, true convolution, the unfold convolution, tied weights
and hypernetworks, each checked against the property it promises."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

import convzoo as cz
from convzoo.blocks._connections import LENET5_C3
from convzoo.blocks.filters import conv, hyper, tied, true_conv, unfold_conv

FILTERS = ("conv", "true_conv", "unfold_conv", "tied", "hyper")

PAPER_C3 = {
    0: [0, 1, 2], 1: [1, 2, 3], 2: [2, 3, 4], 3: [3, 4, 5], 4: [4, 5, 0], 5: [5, 0, 1],
    6: [0, 1, 2, 3], 7: [1, 2, 3, 4], 8: [2, 3, 4, 5], 9: [3, 4, 5, 0], 10: [4, 5, 0, 1],
    11: [5, 0, 1, 2], 12: [0, 1, 3, 4], 13: [1, 2, 4, 5], 14: [0, 2, 3, 5],
    15: [0, 1, 2, 3, 4, 5],
}  # fmt: skip

LENET5 = {
    "name": "lenet5_test",
    "input": [1, 32, 32],
    "classes": 10,
    "layers": [
        {"filter": "conv", "out": 6, "kernel": 5},
        {"act": "tanh"},
        {"pool": "avg", "kernel": 2},
        {"filter": "conv", "out": 16, "kernel": 5, "connections": "lenet5_c3"},
        {"act": "tanh"},
        {"pool": "avg", "kernel": 2},
        {"filter": "conv", "out": 120, "kernel": 5},
        {"act": "tanh"},
        {"head": "linear", "hidden": [84]},
    ],
}


def net(*layers, input=(3, 8, 8)):
    return {"name": "t", "input": list(input), "layers": list(layers)}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


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


# -- the unfold convolution ------------------------------------------------------------


@st.composite
def conv_cases(draw):
    dims = draw(st.sampled_from([1, 2]))
    groups = draw(st.integers(1, 3))
    per_dim = st.lists(st.integers(1, 3), min_size=dims, max_size=dims)
    kernel, stride = draw(per_dim), draw(per_dim)
    dilation = draw(st.lists(st.integers(1, 2), min_size=dims, max_size=dims))
    if all(s == 1 for s in stride) and draw(st.booleans()):
        padding = "same"
        size = [draw(st.integers(1, 6)) for _ in range(dims)]
    else:
        padding = draw(st.lists(st.integers(0, 2), min_size=dims, max_size=dims))
        size = [
            max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4))
            for k, d, p in zip(kernel, dilation, padding)
        ]
    args = {
        "out": groups * draw(st.integers(1, 2)),
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
        "bias": draw(st.booleans()),
    }
    return dims, groups * draw(st.integers(1, 2)), size, args


def _run(layer, x, upstream):
    x = x.clone().requires_grad_()
    y = layer(x)
    (y * upstream).sum().backward()
    grads = {name: p.grad for name, p in layer.named_parameters()}
    return y, x.grad, grads


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@settings(max_examples=60, deadline=None)
@given(case=conv_cases(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_unfold_conv_matches_conv(case, dtype):
    dims, channels, size, args = case
    reference = conv(in_channels=channels, dims=dims, **args).to(dtype)
    mine = unfold_conv(in_channels=channels, dims=dims, **args).to(dtype)
    mine.load_state_dict(reference.state_dict())
    x = torch.randn(2, channels, *size, dtype=dtype)
    y_ref = reference(x)
    upstream = torch.randn_like(y_ref)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    expected, got = _run(reference, x, upstream), _run(mine, x, upstream)
    torch.testing.assert_close(got[0], expected[0], atol=tol, rtol=tol)
    torch.testing.assert_close(got[1], expected[1], atol=tol, rtol=tol)
    assert got[2].keys() == expected[2].keys()
    for name in expected[2]:
        torch.testing.assert_close(got[2][name], expected[2][name], atol=tol, rtol=tol)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize(
    ("dims", "kernel", "dilation"), [(1, 2, 1), (1, 4, 3), (2, [2, 3], 1), (2, [4, 2], [1, 2])]
)
def test_same_padding_puts_the_odd_pixel_where_torch_does(dims, kernel, dilation):
    args = {"in_channels": 2, "dims": dims, "out": 3, "kernel": kernel, "dilation": dilation}
    reference = conv(**args, padding="same")
    mine = unfold_conv(**args, padding="same")
    mine.load_state_dict(reference.state_dict())
    x = torch.randn(2, 2, *(7,) * dims)
    assert mine(x).shape == (2, 3, *(7,) * dims)
    torch.testing.assert_close(mine(x), reference(x), atol=1e-5, rtol=1e-5)


def test_unfold_conv_calls_no_torch_convolution(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a torch convolution was called")

    for module, names in (
        (F, ("conv1d", "conv2d", "conv3d")),
        (torch, ("conv1d", "conv2d", "conv3d", "convolution", "_convolution")),
    ):
        for name in names:
            monkeypatch.setattr(module, name, forbidden)
    for dims in (1, 2):
        for connections in (None, [[0, 1], [2]]):
            layer = unfold_conv(in_channels=3, dims=dims, out=2, kernel=3, connections=connections)
            layer(torch.randn(2, 3, *(6,) * dims)).sum().backward()
        with pytest.raises(AssertionError, match="a torch convolution was called"):
            conv(in_channels=3, dims=dims, out=2, kernel=3, connections=[[0], [1]])(
                torch.randn(1, 3, *(6,) * dims)
            )


def _aten_ops(layer, x):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        layer(x).sum().backward()
    return {event.name for event in prof.events()}


def test_no_convolution_kernel_runs_under_the_profiler():
    x = torch.randn(2, 4, 7, 7, requires_grad=True)
    args = {"in_channels": 4, "dims": 2, "out": 4, "kernel": 3, "stride": 2, "groups": 2}
    assert any("convolution" in op for op in _aten_ops(conv(**args), x))
    assert not any("conv" in op for op in _aten_ops(unfold_conv(**args), x))


@pytest.mark.parametrize("name", ["true_conv", "unfold_conv"])
def test_state_dicts_interchange_with_conv(name):
    args = {"in_channels": 4, "dims": 2, "out": 6, "kernel": [3, 2], "groups": 2}
    reference = conv(**args)
    other = cz.get_block("filter", name).obj(**args)
    assert {k: v.shape for k, v in other.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }
    other.load_state_dict(reference.state_dict())
    reference.load_state_dict(other.state_dict())


def test_lenet5_swaps_to_unfold_conv_with_its_connections():
    model = cz.build(LENET5)
    swapped = cz.build(LENET5, swap={"filter.conv": "unfold_conv"})
    assert n_params(model) == n_params(swapped)
    swapped.load_state_dict(model.state_dict())
    x = torch.randn(3, 1, 32, 32)
    torch.testing.assert_close(swapped(x), model(x), atol=1e-5, rtol=1e-5)
    table, swapped_table = cz.summary(LENET5), cz.summary(LENET5, {"filter.conv": "unfold_conv"})
    assert [r.rf for r in table.layers] == [r.rf for r in swapped_table.layers]
    assert table.layers[3].params == swapped_table.layers[3].params == 1516


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_tells_the_summary_its_window(name):
    layer = {"filter": name, "out": 4, "kernel": 3, "stride": 2, "dilation": 2}
    table = cz.summary(net(layer, input=(3, 16, 16)))
    assert table.layers[0].rf == (5, 5) and table.layers[0].stride == (2, 2)


@pytest.mark.parametrize("name", FILTERS)
def test_metadata(name):
    info = cz.get_block("filter", name)
    assert info.dims == (1, 2) and info.reference and info.description and info.example


# -- tied weights ----------------------------------------------------------------------

TIED = net(
    {"filter": "tied", "out": 3, "kernel": 3, "padding": 1, "key": "y"},
    {"act": "tanh"},
    {"filter": "tied", "out": 3, "kernel": 3, "padding": 1, "key": "y"},
    {"act": "tanh"},
    {"filter": "tied", "out": 3, "kernel": 3, "padding": 1, "key": "y", "bias": False},
)


def _tied_layers(model):
    return [model.layers[i] for i in (0, 2, 4)]


def test_tied_layers_hold_one_weight():
    model = cz.build(TIED)
    shared = model.shared["tied_y"].weight
    assert all(layer.kernel() is shared for layer in _tied_layers(model))
    weights = [k for k in model.state_dict() if k.endswith("weight")]
    assert weights == ["shared.tied_y.weight"]
    assert n_params(model) == 3 * 3 * 9 + 3 + 3 == cz.summary(TIED).params
    assert cz.summary(TIED).layers[-1].path == "shared"


def test_different_keys_are_not_tied():
    spec = net(
        {"filter": "tied", "out": 3, "kernel": 3, "key": "a"},
        {"filter": "tied", "out": 3, "kernel": 3, "key": "b"},
    )
    model = cz.build(spec)
    assert set(model.shared) == {"tied_a", "tied_b"}
    assert model.layers[0].kernel() is not model.layers[1].kernel()


def test_the_tied_gradient_is_the_sum_over_its_uses():
    model = cz.build(TIED).double()
    copies = []
    for layer in _tied_layers(model):
        separate = nn.Conv2d(3, 3, 3, padding=1, bias=layer.bias is not None).double()
        with torch.no_grad():
            separate.weight.copy_(layer.kernel())
            if layer.bias is not None:
                separate.bias.copy_(layer.bias)
        copies.append(separate)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    model(x).square().sum().backward()
    copies[2](torch.tanh(copies[1](torch.tanh(copies[0](x))))).square().sum().backward()
    total = sum(c.weight.grad for c in copies)
    torch.testing.assert_close(model.shared["tied_y"].weight.grad, total, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(model.layers[2].bias.grad, copies[1].bias.grad)
    assert not torch.allclose(copies[0].weight.grad, total)


def test_deepcopy_keeps_the_tie():
    model = cz.build(TIED)
    clone = copy.deepcopy(model)
    weight = clone.shared["tied_y"].weight
    assert weight is not model.shared["tied_y"].weight
    assert all(layer.kernel() is weight for layer in _tied_layers(clone))
    x = torch.randn(1, 3, 8, 8)
    before = model(x)
    with torch.no_grad():
        weight.mul_(2)
    torch.testing.assert_close(model(x), before)
    assert not torch.allclose(clone(x), before)


@pytest.mark.parametrize(
    "convert",
    [lambda m: m.double(), lambda m: m.to(torch.float64), lambda m: m.to("meta")],
    ids=["double", "to_dtype", "to_device"],
)
def test_conversions_keep_the_tie(convert):
    model = convert(cz.build(TIED))
    weight = model.shared["tied_y"].weight
    assert all(layer.kernel() is weight for layer in _tied_layers(model))
    assert [k for k in model.state_dict() if k.endswith("weight")] == ["shared.tied_y.weight"]
    x = torch.randn(1, 3, 8, 8, dtype=weight.dtype, device=weight.device)
    assert model(x).dtype == weight.dtype


def test_a_tied_key_with_another_shape_is_refused():
    spec = net(
        {"filter": "tied", "out": 3, "kernel": 3, "key": "y"},
        {"filter": "tied", "out": 4, "kernel": 3, "key": "y"},
    )
    with pytest.raises(ValueError, match=r"layers.1.*'y'.*\[4, 3, 3, 3\].*\[3, 3, 3, 3\]"):
        cz.build(spec)


def test_a_bad_key_is_refused():
    with pytest.raises(cz.SpecError, match="key must be letters, digits and '_'"):
        cz.build(net({"filter": "tied", "out": 3, "kernel": 3, "key": "a.b"}))
    with pytest.raises(cz.SpecError, match="reserved"):
        cz.build(net({"filter": "hyper", "out": 3, "kernel": 3, "key": "keys"}))


def test_tied_and_hyper_keys_do_not_mix():
    spec = net(
        {"filter": "tied", "out": 3, "kernel": 3, "padding": 1, "key": "g"},
        {"filter": "hyper", "out": 3, "kernel": 3, "key": "tied_g"},
    )
    with pytest.raises(cz.SpecError, match="'tied_g' already holds a TiedWeight"):
        cz.build(spec)


# -- hypernetworks ---------------------------------------------------------------------


def _stack(name, layers, **args):
    layer = {"filter": name, "out": 64, "kernel": 3, "padding": 1, **args}
    return net(*[layer] * layers, input=(64, 8, 8))


@pytest.mark.parametrize("layers", [1, 4])
def test_a_hypernetwork_has_fewer_parameters_than_the_convs_it_replaces(layers):
    convs = cz.summary(_stack("conv", layers)).params
    generated = cz.summary(_stack("hyper", layers)).params
    assert convs == layers * (64 * 64 * 9 + 64)
    assert generated < convs
    assert generated == n_params(cz.build(_stack("hyper", layers)))


def test_gradients_reach_the_generator_and_the_embeddings():
    model = cz.build(_stack("hyper", 2, z_dim=4, hidden=5, out_block=8, in_block=8))
    model(torch.randn(2, 64, 8, 8)).square().sum().backward()
    named = dict(model.named_parameters())
    for name in (
        "shared.hyper.project.weight",
        "shared.hyper.expand.weight",
        "layers.0.embeddings",
        "layers.1.embeddings",
    ):
        assert named[name].grad is not None and named[name].grad.abs().sum() > 0, name


def test_hyper_layers_with_one_key_share_one_generator():
    spec = net(
        {"filter": "hyper", "out": 5, "kernel": 3, "padding": 1, "out_block": 2, "in_block": 2},
        {"filter": "hyper", "out": 4, "kernel": 3, "out_block": 2, "in_block": 2},
        {"filter": "hyper", "out": 4, "kernel": 3, "out_block": 2, "in_block": 2, "key": "other"},
    )
    model = cz.build(spec)
    assert model.layers[0].generator is model.layers[1].generator is model.shared["hyper"]
    assert model.layers[2].generator is model.shared["other"]
    state = list(model.state_dict())
    assert state.count("shared.hyper.project.weight") == 1
    assert sum("project.weight" in k for k in state) == 2
    clone = copy.deepcopy(model)
    assert clone.layers[0].generator is clone.layers[1].generator is clone.shared["hyper"]


def test_the_kernel_is_tiled_from_generated_blocks():
    spec = net(
        {"filter": "hyper", "out": 5, "kernel": 3, "z_dim": 3, "hidden": 4, "out_block": 2,
         "in_block": 2},
    )  # fmt: skip
    model = cz.build(spec)
    layer, generator = model.layers[0], model.shared["hyper"]
    kernel = layer.kernel()
    assert kernel.shape == (5, 3, 3, 3) and layer.grid == (3, 2)
    for r in range(3):
        for c in range(2):
            z = layer.embeddings[r * 2 + c]
            a = generator.project.weight @ z + generator.project.bias  # one a_i per input map
            for i in range(2):
                block = generator.expand(a.view(2, 4)[i]).view(2, 3, 3)
                rows, col = slice(2 * r, min(2 * r + 2, 5)), 2 * c + i
                if col < 3:
                    torch.testing.assert_close(kernel[rows, col], block[: rows.stop - rows.start])


def test_layers_sharing_a_generator_must_agree():
    spec = net(
        {"filter": "hyper", "out": 4, "kernel": 3, "padding": 1},
        {"filter": "hyper", "out": 4, "kernel": 5},
    )
    with pytest.raises(cz.SpecError, match=r"layers.1.*'hyper'.*\(5, 5\).*\(3, 3\)"):
        cz.build(spec)
    spec["layers"][1] = {"filter": "hyper", "out": 4, "kernel": 3, "out_block": 8}
    with pytest.raises(cz.SpecError, match="must agree"):
        cz.build(spec)


@pytest.mark.parametrize("arg", ["z_dim", "hidden", "out_block", "in_block"])
def test_hyper_sizes_must_be_positive(arg):
    with pytest.raises(cz.SpecError, match=f"{arg} must be a positive integer"):
        cz.build(net({"filter": "hyper", "out": 4, "kernel": 3, arg: 0}))


def test_direct_construction_of_the_shared_blocks():
    shared = nn.ModuleDict()
    first = tied(in_channels=2, dims=1, shared=shared, out=2, kernel=3)
    second = tied(in_channels=2, dims=1, shared=shared, out=2, kernel=3)
    assert first.kernel() is second.kernel() and list(shared) == ["tied_default"]
    layer = hyper(in_channels=2, dims=1, shared=shared, out=3, kernel=3, in_block=1)
    assert layer(torch.randn(1, 2, 7)).shape == (1, 3, 5)
    assert math.prod(layer.grid) == layer.embeddings.shape[0] == 2
