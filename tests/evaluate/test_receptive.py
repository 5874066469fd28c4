"""The effective receptive field, against stacks of averaging convolutions worked out by hand.

A k x k convolution with uniform weights 1/k^2 and no bias passes a gradient of 1
at one output back as 1/k^2 to each pixel of its window; a stack of L of them, with
no nonlinearity, spreads it as the L-fold convolution of the box [1, ..., 1] / k
with itself along each axis, the same for every input image:

- 3x3, three times: (1 + x + x^2)^3 = 1, 3, 6, 7, 6, 3, 1 (over 27), so the map is
  the outer product of that row with itself over 729, on a 7x7 field. Dropping the
  smallest pixels while 95% of the mass (692.55 of 729) remains drops the 4 corners
  (1 each), the 8 pixels 1 x 3 and one of 1 x 6: 13 pixels, 34; 36 of 49 stay.
- 2x2, four times: the binomial row 1, 4, 6, 4, 1 (over 16), on a 5x5 field; 95% of
  256 is 243.2: the pixels 36, 4 x 24, 4 x 16 and 4 x 6 hold 220, six of the 4s bring
  it to 244: 19 of 25.
"""

from __future__ import annotations

import json

import pytest
import torch

import convzoo as cz
from convzoo.evaluate.receptive import (
    figure_of,
    gradient_maps,
    markdown,
    measure,
    measured_layers,
)

TRINOMIAL = torch.tensor([1.0, 3, 6, 7, 6, 3, 1], dtype=torch.float64) / 27
BINOMIAL = torch.tensor([1.0, 4, 6, 4, 1], dtype=torch.float64) / 16


def averaging(kernel: int, times: int, size: int, head: bool = False) -> torch.nn.Module:
    layers = [{"filter": "conv", "out": 1, "kernel": kernel}] * times
    spec = {"name": "avg", "input": [1, size, size], "layers": layers}
    if head:
        spec = {**spec, "classes": 2, "layers": [*layers, {"head": "linear"}]}
    model = cz.build(spec).double()
    with torch.no_grad():
        for layer in model.layers[:times]:
            layer.weight.fill_(1 / kernel**2)
            layer.bias.zero_()
    return model


def placed(row: torch.Tensor, first: int, size: int) -> torch.Tensor:
    """The outer product of ``row`` with itself, at [first, first + len) on a size x size map."""
    expected = torch.zeros(size, size, dtype=torch.float64)
    last = first + len(row)
    expected[first:last, first:last] = torch.outer(row, row)
    return expected


def test_a_stack_of_3x3_averages_spreads_the_gradient_as_the_trinomial():
    model = averaging(3, 3, 13)
    x = torch.randn(6, 1, 13, 13, dtype=torch.float64)
    found = measure(model, x, samples=5, batch_size=2)
    first, second, third = found["layers"]
    assert (first["field"], first["pixels"], first["share"]) == ([3, 3], 9, 1.0)
    assert (third["field"], third["pixels"]) == ([7, 7], 36)
    assert third["share"] == pytest.approx(36 / 49) and found["share"] == third["share"]
    assert (found["path"], found["field"], found["samples"]) == ("layers.2", [[3, 9], [3, 9]], 5)
    expected = placed(TRINOMIAL, 3, 13)
    assert torch.tensor(found["gradient"]) == pytest.approx(expected / expected.max(), abs=5e-4)
    assert second["field"] == [5, 5] and not found["left_out"]


def test_the_gradient_map_is_the_hand_computed_one():
    model = averaging(3, 3, 13)
    x = torch.rand(4, 1, 13, 13, dtype=torch.float64)
    layers, _ = measured_layers(model)
    *_, last = gradient_maps(model, x, layers, batch_size=3)
    assert last == pytest.approx(placed(TRINOMIAL, 3, 13), abs=1e-12)


def test_a_stack_of_2x2_averages_spreads_it_as_the_binomial():
    found = measure(averaging(2, 4, 9), torch.randn(3, 1, 9, 9, dtype=torch.float64))
    last = found["layers"][-1]
    assert (last["field"], last["pixels"], last["share"]) == ([5, 5], 19, pytest.approx(19 / 25))
    expected = placed(BINOMIAL, 2, 9)
    assert torch.tensor(found["gradient"]) == pytest.approx(expected / expected.max(), abs=5e-4)


def test_layers_without_a_spatial_map_are_left_out_and_the_result_is_plain_json():
    model = averaging(3, 2, 9, head=True)
    found = measure(model, torch.randn(4, 1, 9, 9, dtype=torch.float64))
    assert [e["path"] for e in found["left_out"]] == ["layers.2"]
    assert found["left_out"][0]["reason"] == "its output has no spatial axis"
    assert json.loads(json.dumps(found, allow_nan=False)) == found
    result = {"arch": "avg", "effective_rf": found}
    text = "\n".join(markdown(result))
    assert "| layers.1 | filter.conv | 5x5 |" in text and "layers.2 head.linear" in text
    assert figure_of(result).axes[0].patches  # the theoretical field, outlined


def test_one_dimensional_signals_get_a_profile():
    layers = [{"filter": "conv", "out": 2, "kernel": 5}, {"act": "relu"}, {"head": "linear"}]
    torch.manual_seed(0)
    model = cz.build({"name": "s", "input": [1, 32], "classes": 3, "layers": layers})
    found = measure(model, torch.randn(8, 1, 32))
    assert found["field"] == [[13, 17]] and len(found["gradient"]) == 32  # 28 positions
    assert not any(v for i, v in enumerate(found["gradient"]) if not 13 <= i <= 17)
    assert figure_of({"arch": "s", "effective_rf": found}).axes[0].lines
