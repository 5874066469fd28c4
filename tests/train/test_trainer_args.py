"""``trainer_args.split_argv``: the Trainer's words of a command line, set aside as given."""

from __future__ import annotations

import pytest

from convzoo.train.trainer_args import split_argv


@pytest.mark.parametrize(
    ("argv", "trainer"),
    [
        (["lenet5", "--epochs", "2"], []),
        (["--trainer.max_steps", "3", "lenet5"], ["--trainer.max_steps", "3"]),
        (["lenet5", "--trainer.max_steps=3", "--lr", "1"], ["--trainer.max_steps=3"]),
        (["--trainer.min_steps", "-1", "x"], ["--trainer.min_steps", "-1"]),  # a value, not a flag
        (["--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val_loss"], None),
        (["--trainer", '{"max_steps": 3}', "lenet5"], ["--trainer", '{"max_steps": 3}']),
        (["--trainer=t.yaml", "lenet5"], ["--trainer=t.yaml"]),
        (["lenet5", "--trainer.profiler.help", "--lr", "1"], ["--trainer.profiler.help"]),
        (["lenet5", "--trainer.max_steps"], ["--trainer.max_steps"]),  # jsonargparse says why
        (["--trainers", "x", "--trainer_x", "y"], []),  # not the group: refused as unknown
    ],
)
def test_the_trainer_s_words_are_set_aside_in_their_order(argv, trainer):
    trainer = argv if trainer is None else trainer
    own, words = split_argv(argv)
    assert words == trainer
    assert own == [w for w in argv if w not in trainer]  # no word appears twice here
