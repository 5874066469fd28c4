"""What a run shows and watches: Lightning's redrawing bar only where both output streams are
terminals, every metric of it whole in 100 columns, an epoch line whose training figures cover
the whole epoch, and a stop at the first non-finite loss that keeps the last finite checkpoint."""

from __future__ import annotations

import io
import json
import math
import os
import re
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from torch import nn
from tqdm.utils import disp_len

import convzoo
from convzoo.train import ConvzooModule, train
from convzoo.train.callbacks import (
    Bar,
    EpochLines,
    RunDiverged,
    Throughput,
    bar_metrics,
    per_second,
    progress_callbacks,
    rounded,
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


class _Terminal:
    """A file that says it is a terminal."""

    def __init__(self, file) -> None:
        self.file = file

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name: str):
        return getattr(self.file, name)


WIDTH = 100  # the terminal's columns; tqdm draws in one less
FIELDS = ("loss", "acc", "val_loss", "val_acc", "img/s")
ROUNDED = re.compile(r"\d\.\d{3}|\de[+-]\d\d")  # 0.412, 1e-04


def _drawn(line: str) -> tuple[int, dict[str, str]]:
    """The width of the bar's graphic and the metrics of one drawn line of the training bar."""
    _, graphic, rest = line.split("|", 2)
    metrics = dict(part.split("=") for part in rest.split(", ")[1:])
    return len(graphic), metrics


def test_the_bar_keeps_every_metric_whole_in_100_columns(config, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "get_terminal_size", lambda *_: os.terminal_size((WIDTH, 30)))
    with open(tmp_path / "out.txt", "w+") as out, open(tmp_path / "err.txt", "w+") as err:
        monkeypatch.setattr(sys, "stdout", _Terminal(out))
        monkeypatch.setattr(sys, "stderr", _Terminal(err))
        train(config(epochs=2, progress=True, steps_per_call=1))
        monkeypatch.undo()
        drawn = re.split(r"[\r\n]", (tmp_path / "out.txt").read_text())
    lines = [line for line in drawn if line.startswith("epoch ")]
    assert lines and all(line.startswith(("epoch 1/2 ", "epoch 2/2 ")) for line in lines)
    for line in lines:
        assert disp_len(line) == WIDTH - 1, line  # the graphic fills what the text leaves
        graphic, metrics = _drawn(line)
        assert graphic >= 2, line  # so nothing was cut at the right
        assert all(ROUNDED.fullmatch(metrics[k]) for k in FIELDS[:4] if k in metrics), line
    assert set(_drawn(lines[-1])[1]) == set(FIELDS)


def test_the_bar_fits_100_columns_with_long_epochs_and_wide_numbers():
    logged = {"train_loss_step": 2.302585, "train_acc_step": 0.09375, "val_loss": 6.907755}
    shown = bar_metrics({**logged, "val_acc": 0.001, "train_loss": 1.0, "v_num": 3}, 23456.7)
    assert shown == {
        "loss": "2.303",
        "acc": "0.094",
        "val_loss": "6.908",
        "val_acc": "0.001",
        "img/s": "23.5k",
    }
    line = Tqdm(total=5004, file=io.StringIO(), ncols=WIDTH - 1, bar_format=Bar.FORMAT)
    line.set_description_str("epoch 90/90", refresh=False)
    line.set_postfix(shown, refresh=False)
    line.n, line.start_t = 2000, line._time() - 3600  # an hour for 40%: 1:30:00 left
    text = str(line)
    assert "eta 1:30:0" in text and disp_len(text) == WIDTH - 1
    graphic, metrics = _drawn(text)
    assert graphic >= 2 and metrics == shown


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0.000"), (0.41234, "0.412"), (1.5, "1.500"), (0.000135, "1e-04"), (1234.5, "1e+03")],
)
def test_losses_and_accuracies_are_rounded_to_five_or_six_characters(value, text):
    assert rounded(value) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [(950.4, "950"), (12345.0, "12.3k"), (123456.0, "123k"), (1234567.0, "1.2M")],
)
def test_rates_take_at_most_five_characters(rate, text):
    assert per_second(rate) == text
