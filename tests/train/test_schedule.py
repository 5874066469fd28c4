"""The exponential learning-rate schedule: ``lr * lr_decay ** (step / steps per epoch)`` at
every optimizer step, refused when the decay is out of range, kept across a resume."""

from __future__ import annotations

import pytest
import torch

from convzoo.errors import ConvzooError
from convzoo.train import ConvzooModule, train
from convzoo.train.checkpoint import last_checkpoint
from tests.train.conftest import TINY

STEPS_PER_EPOCH = 14  # 512 synthetic images, 460 after the split: 14 full batches of 32
EXPONENTIAL = {"optimizer": "adamw", "schedule": "exponential", "lr": 0.01, "lr_decay": 0.5}


def _record_lr(monkeypatch) -> list[tuple[int, float]]:
    """(scheduler steps taken, learning rate) after every ``training_step`` call."""
    seen: list[tuple[int, float]] = []
    step = ConvzooModule.training_step

    def recorded(self, batch, index):
        result = step(self, batch, index)
        seen.append((self.lr_schedulers().last_epoch, self.optimizers().param_groups[0]["lr"]))
        return result

    monkeypatch.setattr(ConvzooModule, "training_step", recorded)
    return seen


def _saved_lr(out) -> float:
    return torch.load(last_checkpoint(out), weights_only=True)["optimizer_states"][0][
        "param_groups"
    ][0]["lr"]


def test_the_rate_after_k_steps_is_lr_times_decay_to_k_over_the_epochs_steps(
    config, tmp_path, monkeypatch
):
    seen = _record_lr(monkeypatch)
    train(config(epochs=2, **EXPONENTIAL))
    steps = [k for k, _ in seen]
    assert steps[-1] == 2 * STEPS_PER_EPOCH and any(k % STEPS_PER_EPOCH for k in steps)
    for k, lr in seen:
        assert lr == pytest.approx(0.01 * 0.5 ** (k / STEPS_PER_EPOCH), rel=1e-12), k
    assert _saved_lr(tmp_path / "run") == pytest.approx(0.01 * 0.5**2, rel=1e-12)


@pytest.mark.parametrize("decay", [0.0, -0.5, 1.5])
def test_a_decay_out_of_range_is_refused(decay):
    with pytest.raises(ConvzooError, match=rf"lr_decay: must be in \(0, 1\], got {decay}"):
        ConvzooModule(TINY, schedule="exponential", lr_decay=decay)


def test_a_resumed_run_continues_the_decay_and_may_run_longer(config, tmp_path, monkeypatch):
    whole = tmp_path / "whole"
    train(config(epochs=3, out=str(whole), **EXPONENTIAL))
    step = ConvzooModule.training_step

    def stop_mid_epoch(self, batch, index):
        if self.current_epoch == 1 and index == 1:
            raise KeyboardInterrupt
        return step(self, batch, index)

    monkeypatch.setattr(ConvzooModule, "training_step", stop_mid_epoch)
    parts = tmp_path / "parts"
    with pytest.raises(ConvzooError, match="interrupted"):
        train(config(epochs=2, out=str(parts), **EXPONENTIAL))
    monkeypatch.undo()
    resume = {**EXPONENTIAL, "epochs": 3, "out": str(parts), "resume": True}
    with pytest.raises(ConvzooError, match=r"decays its learning rate by 0.5 .*--lr-decay 0.5"):
        train(config(**{**resume, "lr_decay": 0.9}))
    with pytest.raises(ConvzooError, match="exponential schedule; resume with --schedule exp"):
        train(config(**{**resume, "schedule": "cosine"}))
    train(config(**resume))  # 3 epochs, not the 2 planned: the decay is per epoch, not per run
    assert _saved_lr(parts) == _saved_lr(whole) == pytest.approx(0.01 * 0.5**3, rel=1e-12)
    a = torch.load(last_checkpoint(whole), weights_only=True)["state_dict"]
    b = torch.load(last_checkpoint(parts), weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
