"""Residual bypasses: identity and projection shortcuts, and the pre-activation order."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import convzoo as cz
from convzoo.blocks.blur_pool import Blur


def bypass(body, block="identity", size=8, channels=4, **args):
    return cz.build(
        {"input": [channels, size, size], "layers": [{"residual": block, "layers": body, **args}]}
    ).eval()


SAME = [{"filter": "conv", "out": 4, "kernel": 3, "padding": 1}]
DOWN = [{"filter": "conv", "out": 6, "kernel": 3, "padding": 1, "stride": 2}]


def test_identity_shortcut_adds_the_input():
    model = bypass(SAME)
    block = model.layers[0]
    x = torch.randn(2, 4, 8, 8)
    assert isinstance(block.shortcut, nn.Identity)
    assert torch.allclose(model(x), block.layers(x) + x)
    assert cz.summary(model).layers[0].params == 0


def test_projection_when_channels_and_stride_change():
    model = bypass(DOWN)
    conv, norm = model.layers[0].shortcut
    assert conv.kernel_size == (1, 1) and conv.stride == (2, 2) and conv.out_channels == 6
    assert isinstance(norm, nn.BatchNorm2d)
    x = torch.randn(2, 4, 8, 8)
    assert torch.allclose(model(x), model.layers[0].layers(x) + norm(conv(x)))
    assert cz.summary(model).layers[0].params == 4 * 6 + 2 * 6


def test_projection_can_be_forced_and_its_norm_dropped():
    model = bypass(SAME, block="projection", projection_norm=None)
    (conv,) = model.layers[0].shortcut
    assert conv.in_channels == conv.out_channels == 4


def test_odd_sizes_project_with_ceil_stride():
    model = bypass(DOWN, size=7)
    assert model(torch.randn(1, 4, 7, 7)).shape == (1, 6, 4, 4)


def test_a_body_that_shrinks_without_a_stride_cannot_be_bypassed():
    with pytest.raises(cz.SpecError, match="no 1x1 projection maps size 8 to size 6"):
        bypass([{"filter": "conv", "out": 4, "kernel": 3}])


def test_preactivation_order():
    model = bypass(SAME, preact=True)
    block = model.layers[0]
    x = torch.randn(2, 4, 8, 8)
    bn, act = block.pre
    assert isinstance(bn, nn.BatchNorm2d) and isinstance(act, nn.ReLU)
    assert torch.allclose(model(x), block.layers(act(bn(x))) + x)


def test_preactivation_with_projection_feeds_the_activated_input_to_the_shortcut():
    model = bypass(DOWN, preact=True, pre_activation="relu")
    block = model.layers[0]
    x = torch.randn(2, 4, 8, 8)
    pre = block.pre(x)
    assert torch.allclose(model(x), block.layers(pre) + block.shortcut(pre))


def test_one_dimensional_bypass():
    model = cz.build(
        {
            "input": [4, 16],
            "layers": [
                {
                    "residual": "identity",
                    "layers": [
                        {"filter": "conv", "out": 8, "kernel": 3, "padding": 1, "stride": 2}
                    ],
                }
            ],
        }
    )
    assert model(torch.randn(2, 4, 16)).shape == (2, 8, 8)
    assert isinstance(model.layers[0].shortcut[0], nn.Conv1d)


def test_antialias_blurs_a_subsampling_shortcut_before_its_stride_one_projection():
    body = [{"filter": "conv", "out": 6, "kernel": 3, "padding": 1}, {"pool": "max", "kernel": 2}]
    spec = {"name": "aa", "input": [4, 8, 8], "layers": [{"residual": "identity", "layers": body}]}
    plain = cz.build(spec).layers[0].shortcut
    spec["layers"][0]["antialias"] = 3
    blurred = cz.build(spec).layers[0].shortcut
    assert plain[0].stride == (2, 2) and not isinstance(plain[0], Blur)
    assert isinstance(blurred[0], Blur) and blurred[0].stride == (2, 2)
    assert blurred[1].stride == (1, 1)
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(blurred.eval()(x), blurred[2].eval()(blurred[1](blurred[0](x))))


def test_antialias_leaves_a_shortcut_that_keeps_the_grid_alone():
    body = [{"filter": "conv", "out": 6, "kernel": 3, "padding": 1}]
    spec = {
        "name": "aa",
        "input": [4, 8, 8],
        "layers": [{"residual": "identity", "antialias": 3, "layers": body}],
    }
    shortcut = cz.build(spec).layers[0].shortcut
    assert not any(isinstance(m, Blur) for m in shortcut.modules())
