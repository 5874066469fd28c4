"""Nothing lost, nothing half-written: divergence, locks, resumed time, atomic checkpoints,
memory estimates -- on the CPU with the tiny spec and synthetic data."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from torch import nn

import convzoo
from convzoo.errors import ConvzooError
from convzoo.train import ConvzooModule, train
from convzoo.train.checkpoint import last_checkpoint
from convzoo.train.divergence import RunDiverged


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


def _hold_lock(folder) -> subprocess.Popen:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom convzoo.files import locked\n"
            f"with locked({str(folder)!r}):\n    print('held', flush=True)\n    time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_and_nothing_is_written(config, tmp_path):
    out = tmp_path / "run"
    holder = _hold_lock(out)
    try:
        with pytest.raises(ConvzooError, match=rf"another convzoo process \(pid {holder.pid}\)"):
            train(config(epochs=1))
    finally:
        holder.kill()
        holder.wait()
    assert sorted(p.name for p in out.iterdir()) == [".lock"]
    assert train(config(epochs=1))["status"] == "ok"  # the lock left with its process


def test_resumed_parts_add_up_and_a_finished_run_is_not_resumed(config, tmp_path, monkeypatch):
    step = ConvzooModule.training_step

    def stop_in_second_epoch(self, batch, index):
        if self.current_epoch == 1:
            raise KeyboardInterrupt
        return step(self, batch, index)

    monkeypatch.setattr(ConvzooModule, "training_step", stop_in_second_epoch)
    with pytest.raises(ConvzooError, match="interrupted"):
        train(config(epochs=2))
    first = torch.load(last_checkpoint(tmp_path / "run"), weights_only=True)["callbacks"]
    (part,) = [v for k, v in first.items() if k.startswith("Throughput")]
    assert part["seconds"] > 0 and part["images"] == 448  # 14 full batches of 32
    monkeypatch.undo()
    report = train(config(epochs=2, resume=True))
    assert report["train_seconds"] > part["seconds"]
    assert report["images_per_s"] == pytest.approx(896 / report["train_seconds"])
    with pytest.raises(ConvzooError, match="has ended.*nothing to resume"):
        train(config(epochs=2, resume=True))


def test_an_interrupted_run_resumes_to_bit_identical_weights(config, tmp_path, monkeypatch):
    settings = {"epochs": 3, "translate": 2, "schedule": "cosine", "steps_per_call": 2}
    whole = train(config(out=str(tmp_path / "whole"), **settings))
    step = ConvzooModule.training_step

    def stop_mid_epoch(self, batch, index):
        if self.current_epoch == 1 and index == 5:
            raise KeyboardInterrupt
        return step(self, batch, index)

    monkeypatch.setattr(ConvzooModule, "training_step", stop_mid_epoch)
    with pytest.raises(ConvzooError, match="interrupted"):
        train(config(out=str(tmp_path / "parts"), **settings))
    monkeypatch.undo()
    parts = train(config(out=str(tmp_path / "parts"), resume=True, **settings))
    a = torch.load(last_checkpoint(tmp_path / "whole"), weights_only=True)
    b = torch.load(last_checkpoint(tmp_path / "parts"), weights_only=True)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    states_a, states_b = a["optimizer_states"][0]["state"], b["optimizer_states"][0]["state"]
    assert all(
        torch.equal(states_a[i]["momentum_buffer"], states_b[i]["momentum_buffer"])
        for i in states_a
    )
    assert parts["test_acc"] == whole["test_acc"]
