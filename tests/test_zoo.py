"""The architecture zoo against its papers: exact parameter counts and defining properties."""

from __future__ import annotations

import pytest
import torch

import convzoo as cz
from convzoo.blocks.blur_pool import Blur
from convzoo.blocks.residual import Bypass


def count(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_lenet5_has_exactly_60000_trainable_parameters():
    model = cz.build("lenet5")
    assert count(model) == 60_000
    rows = {r.path: r for r in cz.summary("lenet5").layers}
    assert rows["layers.4"].params == 1_516  # C3 with the connection table
    assert rows["layers.2"].params == 12 and rows["layers.6"].params == 32  # S2, S4
    assert rows["layers.12"].params == 0  # the RBF output has no trainable parameter


def test_lenet5_c5_is_a_convolution_so_a_wider_input_gives_a_wider_output():
    model = cz.build("lenet5").eval()
    features = model.layers[:10]  # up to C5 and its squashing
    assert features(torch.zeros(1, 1, 32, 32)).shape == (1, 120, 1, 1)
    assert features(torch.zeros(1, 1, 32, 64)).shape == (1, 120, 1, 9)


def test_capsnet_counts_match_the_paper():
    assert count(cz.build("capsnet")) == 8_215_568
    spec = cz.load_spec("capsnet").to_dict()
    spec["layers"][-1]["reconstruction"] = False
    assert count(cz.build(spec)) == 6_804_224


def test_tied_weights_are_counted_once():
    model = cz.build("lenet5_tied")
    tied = [k for k in model.state_dict() if k.startswith("shared.")]
    assert tied == ["shared.tied_c3.weight"]
    assert cz.summary(model).params == count(model)


def test_the_hypernetwork_variant_is_smaller_than_lenet5():
    assert count(cz.build("lenet5_hyper")) < 60_000
    assert any(k.startswith("shared.lenet.") for k in cz.build("lenet5_hyper").state_dict())


def test_resnet_blur_differs_from_resnet_only_in_its_downsampling():
    plain, blur = cz.load_spec("resnet"), cz.load_spec("resnet_blur")
    assert count(cz.build(plain)) == count(cz.build(blur))
    blocks = [b.block for b in cz.summary(blur).layers]
    assert blocks.count("pool.blur") == 2
    assert "pool.global_avg" in [b.block for b in cz.summary(plain).layers]


def test_resnet_blurpool_is_zhangs_published_design():
    """Stride moves into a blur after the ReLU of every subsampling block's first convolution,
    and the projection shortcut blurs before its stride-1 1x1 convolution (Zhang 2019)."""
    model = cz.build("resnet_blurpool")
    assert count(model) == count(cz.build("resnet"))
    for bypass in (m for m in model.modules() if isinstance(m, Bypass) and m.projects):
        body = list(bypass.layers)
        blur = next(i for i, m in enumerate(body) if isinstance(m, Blur))
        assert isinstance(body[blur - 1], torch.nn.ReLU)
        assert all(c.stride == (1, 1) for c in body if isinstance(c, torch.nn.Conv2d))
        first, conv = bypass.shortcut[0], bypass.shortcut[1]
        assert isinstance(first, Blur) and first.stride == (2, 2) and conv.stride == (1, 1)
    variant = [m for m in cz.build("resnet_blur").modules() if isinstance(m, Bypass) and m.projects]
    assert variant and all(m.shortcut[0].stride == (2, 2) for m in variant)  # not Zhang's


def test_lenet5_hyper_conv_is_lenet5_hyper_with_ordinary_convolutions():
    hyper, conv = cz.load_spec("lenet5_hyper"), cz.load_spec("lenet5_hyper_conv")
    for a, b in zip(hyper.layers, conv.layers, strict=True):
        if a.key == "filter.hyper":
            assert b.key == "filter.conv" and a.args["out"] == b.args["out"]
        else:
            assert (a.key, a.args) == (b.key, b.args)
    assert count(cz.build(conv)) == 60_900 and count(cz.build(hyper)) == 16_588


def test_ha_mnist_generates_its_second_layer_with_has_4244_parameters():
    """Ha, Dai & Le 2016, section 5.1: 12,544 weights of a 7x7x16x16 layer from 4,244."""
    hyper, conv = cz.build("ha_mnist"), cz.build("ha_mnist_conv")
    generated = hyper.layers[3]
    made = count(hyper.shared) + generated.embeddings.numel()
    assert made == 4_244 and generated.kernel().numel() == conv.layers[3].weight.numel() == 12_544
    assert count(conv) - count(hyper) == 12_544 - 4_244
    x = torch.zeros(2, 1, 28, 28)
    assert hyper(x).shape == conv(x).shape == (2, 10)


def test_allconv_is_fully_convolutional():
    model = cz.build("allconv").eval()
    blocks = {r.block.split(".")[0] for r in model.rows}
    assert blocks <= {"filter", "act", "head"}
    assert model(torch.zeros(2, 1, 28, 56)).shape == (2, 10)


def test_mnist1d_cnn_is_one_dimensional():
    model = cz.build("mnist1d_cnn")
    assert model.spec.dims == 1 and model(torch.zeros(3, 1, 40)).shape == (3, 10)


@pytest.mark.parametrize("arch", ["lenet5", "lenet5_modern", "jarrett", "resnet", "capsnet"])
def test_zoo_descriptions_name_their_source(arch):
    assert cz.load_spec(arch).description


def test_lenet5_scan_swept_densely_equals_every_window_alone():
    from convzoo.evaluate.scan import scan_model, score_map, windowed_score_map

    torch.manual_seed(0)
    model = cz.build("lenet5_scan").eval()
    strip = torch.randn(2, 1, 28, 100)
    dense = score_map(scan_model(model), strip)
    assert dense.shape == (2, 10, (100 - 28) // 4 + 1)
    assert torch.allclose(dense, windowed_score_map(model, strip), atol=1e-5)


def test_mlp1d_is_mnist1d_mlpbase_with_its_residual_second_layer():
    model = cz.build("mlp1d")
    assert count(model) == 15_210  # 40*100+100 + 100*100+100 + 100*10+10
    x = torch.randn(3, 1, 40)
    first = model.layers[1](model.layers[0](x))
    expected = model.layers[3](first + model.layers[2].layers(first))
    assert torch.allclose(model(x), expected, atol=1e-6)
    shuffled = x[..., torch.randperm(40)]
    assert model.layers[0](shuffled).shape == (3, 100, 1)  # one window: fully connected
