"""A run that would take no optimizer step is refused before it starts, saying the sizes."""

from __future__ import annotations

import pytest

from convzoo.data import DataModule
from convzoo.errors import ConvzooError
from convzoo.train import train
from convzoo.train.batches import batches_per_rank, check_batches


def test_batches_per_rank_count_whole_batches_of_each_ranks_share():
    assert batches_per_rank(461, 256, 2) == 0
    assert batches_per_rank(461, 230, 2) == 1
    assert batches_per_rank(461, 32, 1) == 14


def test_fewer_samples_per_rank_than_one_batch_are_refused_with_the_sizes_and_the_fix():
    with pytest.raises(
        ConvzooError,
        match=r"461 samples over 2 processes: 230 per process.*"
        r"batch of 256.*--batch-size 230 or less, or fewer processes \(--devices x --num-nodes",
    ):
        check_batches(461, 256, 2)
    with pytest.raises(
        ConvzooError, match=r"100 samples: 100 per process.*--batch-size 100 or less"
    ):
        check_batches(100, 128, 1)
    check_batches(461, 230, 2)


def test_the_training_split_size_is_the_one_setup_makes():
    data = DataModule("synthetic", (1, 12, 12), val_fraction=0.1)
    expected = data.train_samples
    data.setup("fit")
    assert len(data.splits["train"][1]) == expected


def test_a_ddp_run_with_less_than_a_batch_per_rank_is_refused_before_it_starts(config, tmp_path):
    with pytest.raises(ConvzooError, match=r"461 samples over 2 processes.*fewer than one batch"):
        train(config(batch_size=256, devices=2, strategy="ddp"))
    assert not (tmp_path / "run" / "report.json").exists()
    with pytest.raises(ConvzooError, match=r"461 samples: 461 per process"):
        train(config(batch_size=512))
