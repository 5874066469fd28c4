"""The filter banks that share a kernel between layers: tied weights and hypernetworks,
with the shared tensor held once in the model's ``shared`` dict."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

import convzoo as cz
from convzoo.blocks.filters import hyper, tied
from tests.blocks.conftest import n_params, net

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
    layer = {"out": 5, "kernel": 3, "z_dim": 3, "hidden": 4, "out_block": 2, "in_block": 2}
    spec = net({"filter": "hyper", **layer})
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
