"""Robustness measures: exact transforms, curve arithmetic, shift consistency, equivariance."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import convzoo as cz
from convzoo.data.transforms import rescale, shift
from convzoo.evaluate.equivariance import equivariance, measure
from convzoo.evaluate.measures import evaluate_all
from convzoo.evaluate.robustness import (
    accuracy,
    predict,
    scale_curve,
    shift_consistency,
    shift_curve,
)


def net(layers: list, input_shape: tuple[int, ...] = (1, 16, 32), seed: int = 0, classes=3):
    torch.manual_seed(seed)
    spec = {"name": "t", "input": list(input_shape), "layers": layers}
    if classes is not None:
        spec["classes"] = classes
    return cz.build(spec)


CONVS = [
    {"filter": "conv", "out": 4, "kernel": 3, "padding": "same"},
    {"act": "relu"},
    {"filter": "conv", "out": 4, "kernel": 3, "padding": "same"},
    {"act": "relu"},
]


class CornerStub(nn.Module):
    """Class 0 while the first pixel (top-left) still holds content (1), else class 1."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((self.training, torch.is_grad_enabled()))
        first = x.flatten(1)[:, 0]
        return torch.stack([(first == 1).float(), (first != 1).float()], 1)


class FullStub(nn.Module):
    """Class 0 while the whole canvas holds content (mean 1), else class 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        full = x.flatten(1).mean(1) > 0.999
        return torch.stack([full.float(), (~full).float()], 1)


# -- transforms ------------------------------------------------------------------------


def test_shift_moves_a_dot_exactly_and_fills_the_rest():
    x = torch.zeros(1, 1, 7, 7)
    x[0, 0, 3, 3] = 1.0
    out = shift(x, (2, -1), fill=-0.5)
    assert (out == 1).nonzero()[:, 2:].tolist() == [[2, 5]]
    assert (out == -0.5).sum() == 2 * 7 + 1 * 7 - 2  # two columns and one row uncovered
    assert torch.all(shift(x, (7, 0), fill=3.0) == 3.0)
    per_sample = shift(x.repeat(2, 1, 1, 1), torch.tensor([[1, 0], [0, 2]]))
    assert (per_sample == 1).nonzero().tolist() == [[0, 0, 3, 4], [1, 0, 5, 3]]


def test_shift_one_dimensional():
    x = torch.arange(1.0, 7.0).view(1, 1, 6)
    assert shift(x, 2, fill=-1)[0, 0].tolist() == [-1, -1, 1, 2, 3, 4]
    assert shift(x, -2, fill=-1)[0, 0].tolist() == [3, 4, 5, 6, -1, -1]
    with pytest.raises(cz.ConvzooError, match="must be an int"):
        shift(x, (1, 1))
    with pytest.raises(cz.ConvzooError, match=r"pair of ints \(dx, dy\)"):
        shift(torch.zeros(1, 1, 4, 4), 1)


def test_rescale_by_two_doubles_a_centred_square():
    x = torch.zeros(1, 1, 16, 16)
    x[..., 6:10, 6:10] = 1.0
    out = rescale(x, 2.0)
    assert out.shape == x.shape
    inside = (out > 0.5).nonzero()[:, 2:]
    assert inside.min(0).values.tolist() == [4, 4] and inside.max(0).values.tolist() == [11, 11]
    assert out.sum().item() == pytest.approx(4 * 16)
    assert rescale(x, 1.0) is x


def test_rescale_by_half_fills_with_the_background():
    x = torch.ones(1, 1, 16, 16)
    out = rescale(x, 0.5, fill=-2.0)
    assert torch.allclose(out[..., 4:12, 4:12], torch.ones(8, 8))
    assert (out == -2.0).sum() == 256 - 64
    signal = torch.ones(1, 2, 16)
    out1d = rescale(signal, 0.5, fill=-2.0)
    assert out1d[0, 0].tolist() == [-2.0] * 4 + [1.0] * 8 + [-2.0] * 4


def test_rescale_one_dimensional_doubles_a_centred_segment():
    x = torch.zeros(1, 1, 20)
    x[..., 8:12] = 1.0
    out = rescale(x, 2.0)
    assert (out[0, 0] > 0.5).nonzero().flatten().tolist() == list(range(6, 14))


# -- accuracy curves -------------------------------------------------------------------


def test_scale_curve_summary_arithmetic_and_eval_mode():
    x, y = torch.ones(4, 1, 16, 16), torch.tensor([0, 0, 0, 1])
    stub = FullStub()
    curve = scale_curve(stub, x, y, scales=(0.5, 2.0))
    assert curve["scales"] == [0.5, 2.0]
    assert curve["accuracy"] == [0.25, 0.75]
    assert curve["clean"] == 0.75  # measured although 1 is not among the scales
    assert curve["summary"] == pytest.approx(0.5 / 0.75)
    with_one = scale_curve(stub, x, y, scales=(0.5, 1.0, 2.0), batch_size=3)
    assert with_one["summary"] == pytest.approx((1.75 / 3) / 0.75)
    assert scale_curve(stub, torch.ones(4, 1, 16), y, scales=(0.5,))["accuracy"] == [0.25]


def test_shift_curve_averages_over_directions():
    stub = CornerStub()
    stub.train()
    x, y = torch.ones(5, 1, 9, 9), torch.zeros(5, dtype=torch.long)
    curve = shift_curve(stub, x, y, max_shift=2)
    # the top-left pixel stays covered for (-d, 0), (0, -d), (-d, -d): 3 of 8 directions
    assert curve == {"shifts": [0, 1, 2], "accuracy": [1.0, 0.375, 0.375]}
    assert stub.training and set(stub.calls) == {(False, False)}
    one_d = shift_curve(stub, torch.ones(5, 1, 9), y, max_shift=3)
    assert one_d["accuracy"] == [1.0, 0.5, 0.5, 0.5]


def test_shift_curve_at_zero_is_plain_accuracy():
    model = net([*CONVS, {"head": "linear"}])
    x, y = torch.randn(50, 1, 16, 32), torch.randint(0, 3, (50,))
    curve = shift_curve(model, x, y, max_shift=1, batch_size=16)
    assert curve["accuracy"][0] == accuracy(model, x, y)
    assert predict(model, x).shape == (50,)


# -- shift consistency -----------------------------------------------------------------


def test_shift_consistency_of_an_invariant_and_a_position_sensitive_model():
    x = torch.zeros(200, 1, 16, 16)
    x[:, :, 5:11, 5:11] = torch.rand(200, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    pooled = net(
        [CONVS[0], {"act": "relu"}, {"pool": "global_max"}, {"head": "linear"}],
        (1, 16, 16),
        classes=5,
    )
    assert shift_consistency(pooled, x, max_shift=4) == 1.0
    dense = net([{"head": "linear"}], (1, 16, 16), classes=5)
    score = shift_consistency(dense, x, max_shift=4)
    assert score < 0.9
    assert shift_consistency(dense, x, max_shift=4, batch_size=7) == score
    assert shift_consistency(dense, x, max_shift=4, seed=1) != score
    assert shift_consistency(dense, x, max_shift=0) == 1.0


def test_content_touching_the_border_is_lost_under_shifts_and_the_measures_show_it():
    """conv + global max is shift invariant only while the content stays on the canvas: a
    shift drops what crosses the border and fills in background."""
    x = torch.rand(200, 1, 16, 16, generator=torch.Generator().manual_seed(0))  # every pixel
    pooled = net(
        [CONVS[0], {"act": "relu"}, {"pool": "global_max"}, {"head": "linear"}],
        (1, 16, 16),
        classes=5,
    )
    interior = torch.zeros_like(x)
    interior[..., 5:11, 5:11] = x[..., 5:11, 5:11]
    assert shift_consistency(pooled, interior, max_shift=4) == 1.0
    assert shift_consistency(pooled, x, max_shift=4) < 1.0
    y = predict(pooled, x)
    curve = shift_curve(pooled, x, y, max_shift=4)
    assert curve["accuracy"][0] == 1.0 and curve["accuracy"][-1] < 1.0
    inside = shift_curve(pooled, interior, predict(pooled, interior), max_shift=4)
    assert inside["accuracy"] == [1.0] * 5


# -- equivariance ----------------------------------------------------------------------


def test_stride_one_convolutions_are_equivariant_on_the_interior():
    model = net([*CONVS, {"head": "linear"}])
    rows = equivariance(model, torch.randn(70, 1, 16, 32), batch_size=50)
    assert [(r["path"], r["shift"]) for r in rows] == [
        (f"layers.{i}", s) for i in range(4) for s in (1, 2, 3, 4)
    ]
    assert rows[0] == {
        "path": "layers.0",
        "block": "filter.conv",
        "stride": 1,
        "shift": 1,
        "multiple": True,
        "error": rows[0]["error"],
    }
    assert max(r["error"] for r in rows) < 1e-6


def odd_and_even(pool: dict, x: torch.Tensor) -> tuple[float, float]:
    rows = equivariance(net([*CONVS, pool, {"head": "linear"}]), x)
    pooled = [r for r in rows if r["path"] == "layers.4"]
    assert [r["stride"] for r in pooled] == [2, 2, 2, 2]
    assert [r["multiple"] for r in pooled] == [False, True, False, True]
    odd = min(r["error"] for r in pooled if not r["multiple"])
    even = max(r["error"] for r in pooled if r["multiple"])
    return odd, even


def test_pooling_with_stride_two_is_equivariant_to_even_shifts_only():
    x = torch.randn(64, 1, 16, 32, generator=torch.Generator().manual_seed(1))
    max_odd, max_even = odd_and_even({"pool": "max", "kernel": 2}, x)
    assert max_even < 1e-6 and max_odd > 0.1
    blur_odd, blur_even = odd_and_even({"pool": "blur"}, x)
    assert blur_even < 1e-6 and blur_odd < 0.6 * max_odd


def test_fractional_shift_interpolates_the_feature_map():
    ramp = torch.arange(32.0).expand(2, 1, 16, 32)
    rows = equivariance(net([{"pool": "avg", "kernel": 2}], classes=None), ramp)
    assert [r["shift"] for r in rows] == [1, 2, 3, 4]
    assert max(r["error"] for r in rows) < 1e-6  # a ramp moved by half a position is exact


def test_one_dimensional_equivariance():
    layers = [
        {"filter": "conv", "out": 3, "kernel": 5, "padding": "same"},
        {"act": "relu"},
        {"pool": "max", "kernel": 2},
    ]
    rows = equivariance(net(layers, (2, 48), classes=None), torch.randn(8, 2, 48), shifts=(1, 2))
    errors = {(r["path"], r["shift"]): r["error"] for r in rows}
    assert errors[("layers.0", 1)] < 1e-6 and errors[("layers.2", 2)] < 1e-6
    assert errors[("layers.2", 1)] > 0.05


def sees_only(j: int, n: int, stride: int, rf: int, width: int, low: int) -> bool:
    """Position j of an n-position map exists and its window, widened by the stride on each
    side, lies in [low, width - 1] (the interior rule of ``equivariance``)."""
    pad = ((n - 1) * stride + rf - width) / 2
    first, last = j * stride - pad - stride, j * stride - pad + rf - 1 + stride
    return 0 <= j < n and low <= first and last <= width - 1


def reference_error(clean, moved, s: int, stride: int, rf: int, width: int) -> float | None:
    """||F(shift x) - shift F(x)|| / ||F(x)|| summed position by position (None: no interior)."""
    n = clean.shape[-1]
    whole, part = divmod(s, stride)
    num = den = 0.0
    for j in range(n):
        if not sees_only(j, n, stride, rf, width, s):
            continue
        compared = [j - whole] if not part else [j - whole, j - whole - 1]
        if not all(sees_only(k, n, stride, rf, width, 0) for k in compared):
            continue
        expected = clean[..., j - whole]
        if part:
            expected = (1 - part / stride) * expected + part / stride * clean[..., j - whole - 1]
        num += ((moved[..., j] - expected) ** 2).sum().item()
        den += (clean[..., j] ** 2).sum().item()
    return math.sqrt(num / den) if den else None


def test_equivariance_matches_its_definition_on_a_tiny_network():
    layers = [
        {"filter": "conv", "out": 2, "kernel": 3},
        {"act": "relu"},
        {"pool": "max", "kernel": 2},
        {"filter": "conv", "out": 2, "kernel": 3, "padding": "same"},
    ]
    model = net(layers, (1, 6, 24), classes=None).double().eval()
    x = torch.randn(5, 1, 6, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    geometry = [
        ("filter.conv", 1, 3),
        ("act.relu", 1, 3),
        ("pool.max", 2, 4),
        ("filter.conv", 2, 8),
    ]
    fill, shifts = -0.5, (1, 2, 3)
    expected = []
    with torch.no_grad():
        for i, (block, stride, rf) in enumerate(geometry):
            f = model.layers[: i + 1]
            for s in shifts:
                error = reference_error(f(x), f(shift(x, (s, 0), fill)), s, stride, rf, 24)
                row = {"path": f"layers.{i}", "block": block, "stride": stride, "shift": s}
                expected.append({**row, "multiple": s % stride == 0, "error": error})
    rows = equivariance(model, x, shifts, fill=fill, batch_size=8)  # chunks of 2 samples
    assert [{**r, "error": pytest.approx(r["error"], rel=1e-9)} for r in expected] == rows
    assert len(rows) == 12 and min(r["error"] for r in rows if not r["multiple"]) > 0.01


# -- everything, and bad input ---------------------------------------------------------


def test_evaluate_all_is_plain_json():
    model = net([CONVS[0], {"act": "relu"}, {"pool": "max", "kernel": 2}, {"head": "linear"}])
    x = torch.randn(30, 1, 16, 32)
    y = predict(model, x)
    result = evaluate_all(model, x, y, scales=(0.5, 1.0), max_shift=2)
    assert set(result) == {
        "clean_acc",
        "scale",
        "shift",
        "shift_consistency",
        "equivariance",
        "equivariance_left_out",
        "effective_rf",
        "samples",
    }
    assert result["samples"] == {"accuracy": 30, "equivariance": 30, "effective_rf": 30}
    assert [e["path"] for e in result["equivariance_left_out"]] == ["layers.3"]
    assert result["clean_acc"] == 1.0 and result["shift"]["accuracy"][0] == 1.0
    assert result["equivariance"] == equivariance(model, x, (1, 2))
    assert json.loads(json.dumps(result, allow_nan=False)) == result


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, x, y: scale_curve(m, x, y, scales=(1.0, 0.0)), r"scale 0\.0 .*\(0, 8\]"),
        (lambda m, x, y: scale_curve(m, x, y, scales=(-1,)), r"scale -1 .*\(0, 8\]"),
        (lambda m, x, y: scale_curve(m, x, y, scales=(8.5,)), r"scale 8\.5 .*\(0, 8\]"),
        (lambda m, x, y: shift_curve(m, x, y, max_shift=-1), r"max_shift -1 .*\[0, 7\]"),
        (lambda m, x, y: shift_curve(m, x, y, max_shift=8), r"max_shift 8 .*\[0, 7\]"),
        (lambda m, x, y: shift_consistency(m, x, max_shift=2.5), r"max_shift 2\.5"),
        (lambda m, x, y: equivariance(m, x, shifts=(0,)), r"shift 0 .*positive integer"),
        (lambda m, x, y: equivariance(m, x, shifts=(1.5,)), r"shift 1\.5"),
        (lambda m, x, y: equivariance(m, x, shifts=(True,)), r"shift True"),
        (lambda m, x, y: equivariance(m, x, shifts=(16,)), r"shift 16 .*\[1, 15\]"),
        (lambda m, x, y: equivariance(FullStub(), x), r"built by convzoo"),
        (lambda m, x, y: accuracy(m, x, y[:3]), r"labels must be a tensor \[4\]"),
        (lambda m, x, y: predict(m, x[0, 0]), r"\[N, C, L\] or \[N, C, H, W\]"),
        (lambda m, x, y: evaluate_all(m, x, y, max_shift=9), r"max_shift 9"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    model, x = net([{"head": "linear"}]), torch.zeros(4, 1, 16, 32)
    with pytest.raises(cz.ConvzooError, match=message):
        call(model, x, torch.zeros(4, dtype=torch.long))


def test_measure_says_which_layers_it_left_out_and_why():
    layers = [
        {"filter": "conv", "out": 2, "kernel": 9},
        {"filter": "conv", "out": 2, "kernel": 9},
        {"head": "linear"},
    ]
    found = measure(net(layers, (1, 18)), torch.randn(70, 1, 18), shifts=(1, 2))
    assert found.samples == 64
    assert {r["path"] for r in found.rows} == {"layers.0"}
    reasons = {e["path"]: e["reason"] for e in found.left_out}
    assert reasons["layers.1"].startswith("no position is away from the borders")
    assert reasons["layers.2"] == "its output has no spatial axis"
