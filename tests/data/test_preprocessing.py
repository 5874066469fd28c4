"""``Preprocessing``: the DataModule's canvas, permutation and standardization as one value,
which prepares a dataset's samples bit for bit as the DataModule does, and reads back from
plain data only what it writes."""

from __future__ import annotations

import pytest
import torch

from convzoo.data import DataError, DataModule, load_dataset
from convzoo.data.preprocessing import Preprocessing


@pytest.mark.parametrize(
    ("canvas", "permute", "standardize"),
    [((1, 12, 12), None, True), ((1, 16, 16), 3, True), ((1, 16, 16), None, False)],
)
def test_it_prepares_the_samples_exactly_as_the_datamodule_does(canvas, permute, standardize):
    data = DataModule("synthetic", canvas, permute=permute, standardize=standardize)
    data.setup("test")
    steps = data.batching().preprocessing(canvas)
    assert steps == Preprocessing(canvas, permute, data.mean, data.std)
    raw = load_dataset("synthetic").test_x  # as the dataset gives it: 12x12, in [0, 1]
    assert torch.equal(steps(raw), data.splits["test"][0])


def test_it_round_trips_through_plain_data():
    steps = Preprocessing((1, 16, 16), 3, 0.25, 0.5)
    assert steps.to_dict() == {"permute": 3, "mean": 0.25, "std": 0.5}
    assert Preprocessing.from_dict((1, 16, 16), steps.to_dict()) == steps


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("text", "expected a mapping of permute, mean, std"),
        ({"permute": None, "mean": 0.0}, "expected a mapping"),
        ({"permute": None, "mean": 0.0, "std": 1.0, "more": 1}, "expected a mapping"),
        ({"permute": 1.5, "mean": 0.0, "std": 1.0}, "permute 1.5 is not a seed"),
        ({"permute": True, "mean": 0.0, "std": 1.0}, "permute True is not a seed"),
        ({"permute": None, "mean": float("nan"), "std": 1.0}, "mean nan is not a finite"),
        ({"permute": None, "mean": "0", "std": 1.0}, "mean '0' is not a finite"),
        ({"permute": None, "mean": 0.0, "std": 0.0}, "std 0.0 is not a positive"),
        ({"permute": None, "mean": 0.0, "std": float("inf")}, "std inf is not a positive"),
    ],
)
def test_anything_it_does_not_write_is_refused(data, why):
    with pytest.raises(ValueError, match=why):
        Preprocessing.from_dict((1, 12, 12), data)


def test_samples_larger_than_the_canvas_are_refused_naming_both_shapes():
    with pytest.raises(DataError, match=r"the input has samples of shape \[1, 20, 20\].*\[1, 16"):
        Preprocessing((1, 16, 16))(torch.zeros(2, 1, 20, 20))
