"""The assembled network: module names and rows that follow spec paths, its spec, deep repeats."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import convzoo as cz
from convzoo.spec import parse
from tests.assemble.conftest import net


def test_module_names_follow_spec_paths():
    model = cz.build(
        net(
            {"filter": "conv", "out": 4, "kernel": 3, "padding": 1},
            {
                "residual": "identity",
                "layers": [
                    {"filter": "conv", "out": 4, "kernel": 3, "padding": 1},
                    {"norm": "batch"},
                ],
            },
            {"repeat": 2, "layers": [{"filter": "conv", "out": 4, "kernel": 3, "padding": 1}]},
            {"head": "linear"},
            classes=3,
        )
    )
    keys = set(model.state_dict())
    assert {
        "layers.0.weight",
        "layers.1.layers.0.weight",
        "layers.1.layers.1.running_mean",
        "layers.2.copies.0.0.weight",
        "layers.2.copies.1.0.weight",
    } <= keys
    assert [r.path for r in model.rows] == [
        "layers.0",
        "layers.1",
        "layers.1.layers.0",
        "layers.1.layers.1",
        "layers.2",
        "layers.2.copies.0.0",
        "layers.2.copies.1.0",
        "layers.3",
    ]
    assert model(torch.randn(2, 1, 12, 12)).shape == (2, 3)


def test_the_spec_is_recoverable_from_the_model():
    model = cz.build("lenet5_modern", swap={"pool": "avg"})
    assert cz.spec_of(model) == model.spec
    assert model.spec.layers[2].name == "avg"
    again = cz.build(parse(model.spec.to_dict()))
    assert {k: v.shape for k, v in again.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }
    with pytest.raises(cz.ConvzooError, match="not built by convzoo"):
        cz.spec_of(nn.Linear(2, 2))


def test_the_deepest_nesting_the_limits_allow_builds_and_runs():
    layer = {"filter": "conv", "out": 2, "kernel": 1}
    for _ in range(30):
        layer = {"repeat": 1, "layers": [layer]}
    model = cz.build(net(layer, {"head": "linear"}, classes=3))
    x = torch.randn(2, 1, 12, 12, requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None
