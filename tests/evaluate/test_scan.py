"""Dense scanning: one pass equals every window alone, strips, decoding, accuracy, the plot."""

from __future__ import annotations

import pytest
import torch

import convzoo as cz
from convzoo.errors import ConvzooError
from convzoo.evaluate.scan import (
    ScanGeometry,
    decode,
    default_spacing,
    digit_accuracy,
    geometry,
    make_strips,
    plot_scan,
    scan_model,
    score_map,
    sequence_accuracy,
    strip_layout,
    windowed_score_map,
)
from tests.evaluate.conftest import LINEAR, SYNTHETIC


def small(dims: int) -> dict:
    """Valid (unpadded) convolutions, pooling, and a conv1x1 head with a hidden layer."""
    return {
        "name": f"small{dims}d",
        "input": [1, 16, 16] if dims == 2 else [2, 16],
        "classes": 5,
        "layers": [
            {"filter": "conv", "out": 4, "kernel": 3},
            {"act": "relu"},
            {"pool": "max", "kernel": 2},
            {"filter": "conv", "out": 6, "kernel": 3},
            {"act": "tanh"},
            {"pool": "max", "kernel": 2},
            {"head": "conv1x1", "hidden": [8]},
        ],
    }


def allconv_unpadded() -> dict:
    """``allconv``'s layers without their padding (the registered one pads every conv)."""
    spec = cz.load_spec("allconv").to_dict()
    for layer in spec["layers"]:
        layer.pop("padding", None)
    return spec


SCANNABLE = {"small2d": small(2), "small1d": small(1), "allconv_unpadded": allconv_unpadded()}


@pytest.mark.parametrize("name", SCANNABLE)
def test_every_position_of_the_dense_pass_equals_its_window_alone(name):
    torch.manual_seed(0)
    model = cz.build(SCANNABLE[name]).eval()
    grid = geometry(model)
    *fixed, window = model.spec.input
    assert (grid.window, grid.stride) == (window, 4)
    strips = torch.randn(3, *fixed, 5 * window + 7)  # 7: not a whole number of strides
    dense, windowed = score_map(model, strips, batch_size=2), windowed_score_map(model, strips)
    count = (strips.shape[-1] - window) // 4 + 1
    assert dense.shape == windowed.shape == (3, model.spec.classes, count)
    torch.testing.assert_close(dense, windowed, rtol=0, atol=1e-5)
    one_by_one = windowed_score_map(model, strips, batch_size=1)
    torch.testing.assert_close(one_by_one, windowed, rtol=0, atol=1e-5)
    for k in (0, count // 2, count - 1):  # spot-check against the plain model, one crop each
        crop = strips[..., 4 * k : 4 * k + window]
        with torch.no_grad():
            torch.testing.assert_close(dense[:, :, k], model(crop), rtol=0, atol=1e-5)


def test_the_allconv_scanner_is_the_same_network_with_its_score_map_kept():
    torch.manual_seed(0)
    model = cz.build("allconv").eval()
    scanner = scan_model(model)
    assert scanner.layers[-1].reduce == "none" and model.layers[-1].reduce == "avg"
    state = model.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in scanner.state_dict().items())
    assert geometry(model) == ScanGeometry(window=28, stride=4)
    one = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(scanner(one).flatten(1), model(one), rtol=0, atol=1e-6)
    strips = torch.randn(2, 1, 28, 280)
    assert score_map(scanner, strips).shape == windowed_score_map(model, strips).shape
    assert score_map(scanner, strips).shape == (2, 10, 64)


def test_a_net_without_a_conv1x1_head_is_refused():
    with pytest.raises(ConvzooError, match=r"head\.conv1x1.*ends with head\.linear"):
        scan_model(cz.build(LINEAR))
    with pytest.raises(ConvzooError, match=r"ends with head\.rbf"):
        score_map(cz.build("lenet5"), torch.zeros(1, 1, 32, 64))


def test_strips_put_each_image_at_its_drawn_place():
    images = torch.arange(1, 31, dtype=torch.float32).reshape(30, 1, 1, 1).expand(30, 1, 6, 10)
    labels = torch.arange(30) % 10
    strips, sequences = make_strips(
        images, labels, digits=4, count=7, gap=(1, 5), seed=3, fill=-1.0
    )
    lefts, picks = strip_layout(7, 4, 10, 30, gap=(1, 5), seed=3)
    assert strips.shape == (7, 1, 6, 4 * 10 + 3 * 5)
    assert sequences.dtype == torch.long and torch.equal(sequences, labels[picks])
    gaps = lefts.diff(dim=1) - 10
    assert lefts[:, 0].eq(0).all() and gaps.min() >= 1 and gaps.max() <= 5
    for i in range(7):
        columns = strips[i, 0, 0]
        for j in range(4):
            left = int(lefts[i, j])
            assert columns[left : left + 10].eq(float(picks[i, j] + 1)).all()
        assert int(columns.eq(-1.0).sum()) == strips.shape[-1] - 40  # the rest is blank
    centres = lefts + (10 - 1) / 2
    assert torch.equal(strips[0, 0, 0, centres[0].long()], (picks[0] + 1).float())
    again, _ = make_strips(images, labels, digits=4, count=7, gap=(1, 5), seed=3, fill=-1.0)
    assert torch.equal(strips, again)


@pytest.mark.parametrize(
    ("digits", "count", "gap"), [(0, 3, (0, 8)), (2, 0, (0, 8)), (2, 3, (5, 2)), (2, 3, (-1, 2))]
)
def test_strips_refuse_bad_counts(digits, count, gap):
    with pytest.raises(ConvzooError):
        make_strips(torch.zeros(5, 1, 4, 4), torch.zeros(5), digits, count, gap=gap)


def peaked(positions: int, peaks: dict[int, tuple[int, float]], classes: int = 10) -> torch.Tensor:
    """Logits [1, classes, positions]: flat, with class c at logit v where ``peaks[k] = (c, v)``."""
    scores = torch.zeros(1, classes, positions)
    for k, (c, value) in peaks.items():
        scores[0, c, k] = value
    return scores


def test_decode_merges_runs_and_suppresses_weaker_neighbours():
    strong, weak = 8.0, 4.0  # softmax probability about 0.997 and 0.86 against 9 zeros
    peaks = {
        2: (3, strong),
        3: (3, strong),
        4: (3, weak),  # a run of 3s: one digit
        6: (1, weak),  # a lone 1 three positions from the 3s: suppressed
        11: (7, strong),
        12: (7, strong),  # a run of 7s
        16: (7, strong),  # 7 again, far enough apart: a second 7
        19: (2, 1.0),  # below the threshold: ignored
    }
    assert decode(peaked(22, peaks), spacing=5) == [[3, 7, 7]]
    assert decode(peaked(22, peaks), spacing=6) == [[3, 7]]
    assert decode(peaked(22, peaks), spacing=2) == [[3, 1, 7, 7]]
    assert decode(peaked(22, peaks), spacing=5, threshold=0.999) == [[]]
    assert decode(torch.cat([peaked(22, peaks), peaked(22, {})]), spacing=5) == [[3, 7, 7], []]


def test_decode_prefers_the_longer_run_over_a_single_spike():
    peaks = {4: (5, 9.0), 6: (8, 6.0), 7: (8, 6.0), 8: (8, 6.0)}
    assert decode(peaked(12, peaks), spacing=5) == [[8]]


def test_decode_drops_background_runs_and_applies_nms():
    strong, weak = 8.0, 4.0
    peaks = {k: (10, strong) for k in range(22)}  # class 10 everywhere, but for:
    peaks |= {2: (3, strong), 3: (3, strong), 4: (3, weak)}  # a 3
    peaks |= {9: (3, strong), 10: (3, strong)}  # another 3, after background
    peaks |= {15: (5, weak), 17: (8, strong), 18: (8, strong)}  # a weak 5 beside an 8
    scores = peaked(22, peaks, classes=11)
    assert decode(scores, spacing=6, background=10) == [[3, 3, 8]]
    assert decode(scores, spacing=8, background=10) == [[3, 8]]  # the second 3 is too close
    assert decode(scores, spacing=1, background=10) == [[3, 3, 5, 8]]
    assert 10 in decode(scores, spacing=1)[0]  # without a background class 10 is a class
    nothing = peaked(22, {k: (10, strong) for k in range(22)}, classes=11)
    assert decode(nothing, spacing=6, background=10) == [[]]
    assert (default_spacing(ScanGeometry(28, 4)), default_spacing(ScanGeometry(28, 4), True)) == (
        6,
        4,
    )


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"background": 11}, r"decode: background class 11 is not one of the score map's 11 "),
        ({"background": -1}, r"classes \(0\.\.10\); pass the index of the class that means"),
        ({"background": True}, r"background class True"),
        ({"spacing": 0}, r"decode: spacing 0 must be a whole number of positions, at least 1"),
        ({"threshold": 0.0}, r"decode: threshold 0\.0 must be a probability in \(0, 1\]"),
    ],
)
def test_decode_refuses_bad_arguments(kw, message):
    with pytest.raises(ConvzooError, match=message):
        decode(peaked(8, {}, classes=11), **{"spacing": 5, **kw})


def test_digit_accuracy_counts_edits():
    truth = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert digit_accuracy([[1, 2, 3, 4], [5, 6, 7, 8]], truth) == 1.0
    assert digit_accuracy([[1, 3, 4], [5, 6, 0, 8, 9]], truth) == 1.0 - 3 / 8


def test_the_plot_is_a_png(tmp_path):
    strip = torch.rand(1, 28, 120)
    scores = torch.randn(10, 24)
    truth = torch.tensor([1, 3])
    path = plot_scan(
        tmp_path / "sub" / "scan.png", strip, scores, [1, 2], truth, ScanGeometry(28, 4)
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    plain = plot_scan(tmp_path / "plain.png", torch.rand(2, 40), torch.randn(5, 7), [])
    assert plain.stat().st_size > 1000
    scores = torch.randn(11, 24)
    marked = plot_scan(tmp_path / "bg.png", strip, scores, [1], truth, ScanGeometry(28, 4), 10)
    assert marked.stat().st_size > 1000


def test_sequence_accuracy_is_a_share():
    model = cz.build(SYNTHETIC)
    images, labels = torch.rand(8, 1, 12, 12), torch.arange(8) % 4
    strips, sequences = make_strips(images, labels, digits=3, count=5)
    assert 0.0 <= sequence_accuracy(model, strips, sequences) <= 1.0
    assert 0.0 <= sequence_accuracy(model, strips, sequences, background=3) <= 1.0
