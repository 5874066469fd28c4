"""The activations against their formulas, LeCun's tanh constants, prelu's slopes, bad arguments.

The formula table is checked against the registry: an activation added to
``convzoo.blocks.nonlinear`` without a formula here fails ``test_every_act_has_a_formula``.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import convzoo as cz
from convzoo.blocks.nonlinear import LeCunTanh, create_act


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# name -> (spec arguments, f(x) written out in scalar math)
FORMULAS = {
    "relu": ({}, lambda x: max(0.0, x)),
    "leaky_relu": ({"negative_slope": 0.2}, lambda x: x if x > 0 else 0.2 * x),
    "prelu": ({}, lambda x: x if x > 0 else 0.25 * x),
    "elu": ({"alpha": 1.5}, lambda x: x if x > 0 else 1.5 * (math.exp(x) - 1.0)),
    "gelu": ({}, lambda x: x * 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))),
    "silu": ({}, lambda x: x * _sigmoid(x)),
    "tanh": ({}, lambda x: (math.exp(2 * x) - 1.0) / (math.exp(2 * x) + 1.0)),
    "sigmoid": ({}, _sigmoid),
    "softplus": ({"beta": 2.0}, lambda x: math.log(1.0 + math.exp(2.0 * x)) / 2.0),
    "identity": ({}, lambda x: x),
    "lecun_tanh": ({}, lambda x: 1.7159 * math.tanh(2.0 * x / 3.0)),
    "abs": ({}, abs),
}
EXTRA = [
    (
        "gelu",
        {"approximate": "tanh"},
        lambda x: 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3))),
    ),
    (
        "softplus",
        {"beta": 1.0, "threshold": 3.0},
        lambda x: x if x > 3.0 else math.log1p(math.exp(x)),
    ),
    ("leaky_relu", {}, lambda x: x if x > 0 else 0.01 * x),
]
CASES = [(name, args, f) for name, (args, f) in FORMULAS.items()] + EXTRA
GRID = torch.linspace(-6.0, 6.0, 243, dtype=torch.float64)  # 3 * 81 values, 0 among them


def _net(name: str, args: dict, input_shape: list[int]) -> cz.ConvNet:
    spec = {"name": "probe", "input": input_shape, "layers": [{"act": name, **args}]}
    return cz.build(spec).double()


def test_every_act_has_a_formula():
    mine = {b.name for b in cz.list_blocks(family="act") if b.source == "convzoo.blocks.nonlinear"}
    assert mine == set(FORMULAS)


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize(("name", "args", "formula"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_activation_matches_its_formula(name, args, formula, dims):
    shape = [3, 81] if dims == 1 else [3, 9, 9]
    x = GRID.reshape(1, *shape)
    expected = torch.tensor([formula(v) for v in GRID.tolist()], dtype=torch.float64)
    with torch.no_grad():
        out = _net(name, args, shape)(x)
    torch.testing.assert_close(out.flatten(), expected, rtol=1e-12, atol=1e-12)


def test_metadata_of_each_activation():
    for name in FORMULAS:
        info = cz.get_block("act", name)
        assert info.description.strip() and info.dims == (1, 2) and info.example == {}
    assert "Jarrett" in cz.get_block("act", "abs").reference
    assert "Efficient BackProp" in cz.get_block("act", "lecun_tanh").reference
    assert "Efficient BackProp" in cz.get_block("act", "tanh").reference


def test_lecun_tanh_constants_put_plus_minus_one_on_plus_minus_one():
    assert LeCunTanh.scale == 1.7159
    assert LeCunTanh.slope == 2.0 / 3.0
    f = LeCunTanh()
    out = f(torch.tensor([1.0, -1.0], dtype=torch.float64))
    torch.testing.assert_close(
        out, torch.tensor([1.0, -1.0], dtype=torch.float64), atol=1e-5, rtol=0
    )
    # ... and +-1 is (nearly) where |f''| peaks, the paper's reason for the targets
    x = torch.linspace(0.0, 3.0, 30001, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), x)
    assert abs(x[second.abs().argmax()].item() - 1.0) < 0.02


def test_prelu_learns_one_slope_per_channel():
    for shape in ([5, 8], [5, 4, 4]):
        net = _net("prelu", {}, shape)
        assert sum(p.numel() for p in net.parameters()) == 5
        with torch.no_grad():
            net.layers[0].weight.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5]))
            x = -torch.ones(2, *shape, dtype=torch.float64)
            out = net(x)
        slopes = out.reshape(2, 5, -1)[0, :, 0]
        torch.testing.assert_close(slopes, -torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5]).double())


def test_prelu_after_a_flatten_has_a_slope_per_feature(scratch):
    scratch("filter", "flatten_probe", lambda: nn.Flatten(), description="flatten (test probe)")
    spec = {
        "name": "flat",
        "input": [2, 3, 4],
        "layers": [{"filter": "flatten_probe"}, {"act": "prelu", "init": 0.5}],
    }
    net = cz.build(spec)
    assert sum(p.numel() for p in net.parameters()) == 24
    x = -torch.ones(3, 2, 3, 4)
    torch.testing.assert_close(net(x), torch.full((3, 24), -0.5))


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"act": "gelu", "approximate": "fast"}, "approximate must be 'none'"),
        ({"act": "softplus", "beta": 0}, "beta must be a positive number"),
        ({"act": "leaky_relu", "negative_slope": "big"}, "negative_slope must be a finite number"),
        ({"act": "elu", "alpha": True}, "alpha must be a finite number"),
        ({"act": "prelu", "init": float("nan")}, "init must be a finite number"),
        ({"act": "tanh", "inplace": True}, "unknown argument 'inplace'"),
        ({"act": "lecun_tanh", "scale": 2}, "unknown argument 'scale'"),
    ],
)
def test_bad_arguments_are_refused_with_the_layer_path(layer, message):
    spec = {"name": "bad", "input": [3, 8], "layers": [{"act": "relu"}, layer]}
    with pytest.raises(cz.SpecError, match=message) as info:
        cz.build(spec)
    assert "layers.1" in str(info.value)


def test_factories_check_arguments_when_called_directly():
    factory = cz.get_block("act", "elu").obj
    with pytest.raises(ValueError, match="accepts: alpha"):
        factory(beta=1.0)
    assert factory(alpha=2.0).alpha == 2.0


def test_create_act_takes_a_name_a_class_or_none():
    assert isinstance(create_act("lecun_tanh"), LeCunTanh)
    assert isinstance(create_act(nn.Tanh), nn.Tanh)
    assert isinstance(create_act(None), nn.Identity)
    assert sum(p.numel() for p in create_act("prelu", 7).parameters()) == 7
    head = {"head": "linear", "hidden": [6], "activation": "prelu"}
    net = cz.build({"name": "h", "input": [1, 4], "classes": 2, "layers": [head]})
    assert sum(p.numel() for p in net.parameters()) == (4 * 6 + 6) + 6 + (6 * 2 + 2)
