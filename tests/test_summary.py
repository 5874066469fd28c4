"""The per-layer table: parameter totals, FLOPs, receptive field and stride, JSON form."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import convzoo as cz


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


def test_receptive_field_and_stride_by_hand():
    table = cz.summary("lenet5_modern")
    assert [layer.rf for layer in table.layers] == [
        (5, 5),
        (5, 5),
        (6, 6),
        (14, 14),
        (14, 14),
        (16, 16),
        (32, 32),
        (32, 32),
        (28, 28),
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
    assert set(data) == {"name", "input", "output", "params", "flops", "layers"}
    assert set(data["layers"][0]) == {
        "path",
        "block",
        "in",
        "out",
        "params",
        "flops",
        "rf",
        "stride",
    }


def test_text_table_has_totals():
    text = str(cz.summary("lenet5_modern"))
    assert text.splitlines()[-1].startswith("total")
    assert f"{cz.summary('lenet5_modern').params:,}" in text.splitlines()[-1]
