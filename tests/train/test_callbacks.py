"""What a run shows and watches: Lightning's redrawing bar only where both output streams are
terminals, an epoch line whose training figures cover the whole epoch, and a stop at the first
non-finite loss that keeps the last finite checkpoint."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

import convzoo
from convzoo.train import ConvzooModule, train
from convzoo.train.callbacks import (
    Bar,
    EpochLines,
    RunDiverged,
    Throughput,
    progress_callbacks,
)
from convzoo.train.checkpoint import last_checkpoint


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    ("stdout_tty", "stderr_tty", "shown"),
    [
        (True, True, Bar),
        (False, True, EpochLines),
        (True, False, EpochLines),
        (False, False, EpochLines),
    ],
)
def test_the_bar_needs_both_streams_on_a_terminal(monkeypatch, stdout_tty, stderr_tty, shown):
    monkeypatch.setattr(sys, "stdout", _Stream(stdout_tty))
    monkeypatch.setattr(sys, "stderr", _Stream(stderr_tty))
    callbacks, bar = progress_callbacks(Throughput(), show=True)
    assert [type(c) for c in callbacks] == [shown]
    assert bar is (shown is Bar)


def test_no_progress_asked_shows_none(monkeypatch):
    monkeypatch.setattr(sys, "stdout", _Stream(True))
    monkeypatch.setattr(sys, "stderr", _Stream(True))
    assert progress_callbacks(Throughput(), show=False) == ([], False)


def strict(path):
    """The JSON file, refusing NaN and infinities as JSON parsers do."""
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path}: {c}"))


class NaNAfter(nn.Module):
    """Identity until ``calls`` training forwards have run, then NaN."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls, self.seen = calls, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.seen += 1
        return x * math.nan if self.training and self.seen > self.calls else x


@pytest.fixture
def nan_after():
    convzoo.register("act", "nan_after", NaNAfter, description="test: NaN after N calls")
    yield
    convzoo.REGISTRY.unregister("act", "nan_after")


def test_divergence_stops_at_the_first_nan_and_keeps_the_last_finite_checkpoint(
    config, tmp_path, nan_after
):
    # 512 synthetic training images, 460 after the split: 14 full batches of 32 an epoch.
    spec = tmp_path / "nan.yaml"
    spec.write_text(
        "name: nan\ninput: [1, 12, 12]\nclasses: 4\nlayers:\n"
        "  - {filter: conv, out: 4, kernel: 3}\n  - {act: nan_after, calls: 20}\n"
        "  - {pool: max, kernel: 2}\n  - {head: linear}\n"
    )
    with pytest.raises(
        RunDiverged, match="diverged: the loss or the weights became NaN .* at step 21"
    ) as err:
        train(config(arch=str(spec), epochs=4, schedule="constant", lr=0.05))
    assert (err.value.step, err.value.lr, err.value.epochs) == (21, 0.05, 1)
    out = tmp_path / "run"
    report = strict(out / "report.json")
    assert report["status"] == "diverged" and report["diverged_at_step"] == 21
    assert report["lr_at_divergence"] == 0.05 and "test_acc" not in report
    assert "diverged at step 21" in (out / "report.md").read_text()
    saved = torch.load(last_checkpoint(out), weights_only=True)
    assert saved["epoch"] == 0  # the first epoch's, written before the NaN
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())


class SpoilsAndSaves(Callback):
    """A user's callback that makes a weight infinite and saves the weights alone (for which
    Lightning calls no callback's ``on_save_checkpoint``, the guard's included)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_epoch_end(self, trainer, module) -> None:
        with torch.no_grad():
            next(module.parameters()).fill_(math.inf)
        trainer.save_checkpoint(self.path, weights_only=True)


def test_no_checkpoint_is_written_with_weights_that_are_not_finite_whatever_asks(config, tmp_path):
    mine = tmp_path / "mine.ckpt"
    with pytest.raises(RunDiverged, match="NaN or infinite at step 14 "):
        train(config(epochs=1), callbacks=[SpoilsAndSaves(mine)])
    assert not mine.exists()
    assert strict(tmp_path / "run" / "report.json")["diverged_at_step"] == 14


def test_a_diverging_learning_rate_exits_1_with_one_message(capsys, config, tmp_path, tiny_spec):
    from convzoo.cli import main

    code = main(
        [
            "train",
            str(tiny_spec),
            "--data",
            "synthetic",
            "--lr",
            "1e20",
            "--epochs",
            "3",
            "--accelerator",
            "cpu",
            "--out",
            str(tmp_path / "r"),
            "--schedule",
            "constant",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    (message,) = [line for line in err.splitlines() if line.startswith("convzoo: error:")]
    assert message.startswith("convzoo: error: training diverged") and "rate 1e+20" in message
    assert strict(tmp_path / "r" / "report.json")["status"] == "diverged"


def test_the_epoch_line_shows_the_loss_and_accuracy_over_every_batch_of_the_epoch(
    config, capsys, monkeypatch
):
    seen: dict[int, list[tuple[float, int, int]]] = {}  # epoch: (loss x rows, right, rows)
    step = ConvzooModule._step

    def counted(module, batch):
        loss, scores = step(module, batch)
        if module.training:  # a training batch, not a validation one
            rows, right = len(batch[1]), int((scores.argmax(1) == batch[1]).sum())
            total = float(loss.detach()) * rows
            seen.setdefault(module.current_epoch, []).append((total, right, rows))
        return loss, scores

    monkeypatch.setattr(ConvzooModule, "_step", counted)
    train(config(epochs=2, progress=True, steps_per_call=4, schedule="constant", lr=0.05))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2
    for epoch, line in enumerate(lines):
        shown = dict(zip(line.split()[2::2], line.split()[3::2]))
        loss, right, rows = (sum(column) for column in zip(*seen[epoch]))
        assert rows == 14 * 32  # every batch of the epoch, counted once
        assert shown["train_acc"] == f"{right / rows:.4f}"
        assert float(shown["train_loss"]) == pytest.approx(loss / rows, abs=1e-4)
        assert {"val_loss", "val_acc", "images_per_s"} < set(shown)
