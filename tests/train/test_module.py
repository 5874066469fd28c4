"""The LightningModule: several optimizer steps per call, what it knows of its data, its
settings, and the exponential learning-rate schedule.

``steps_per_call`` only changes how many batches one ``training_step`` receives;
without augmentation (whose random draws are made per call) the weights, the
schedule and the step count must be exactly those of one step per call, and the
logs must count optimizer steps, not calls. The step learns its batching from the
value handed over (``attach``), else from the DataModule of a Trainer of one's own.
The exponential schedule is ``lr * lr_decay ** (step / steps per epoch)`` at every
optimizer step, refused when the decay is out of range, kept across a resume.
"""

from __future__ import annotations

import csv
import inspect

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import Logger

import convzoo
from convzoo.data import Batching, DataModule
from convzoo.errors import ConvzooError
from convzoo.train import ConvzooModule, TrainConfig, module, train
from convzoo.train.checkpoint import last_checkpoint
from convzoo.train.config import settings as declared
from convzoo.train.module import STEP_COUNTER, compiled, count_optimizer_steps
from tests.train.conftest import TINY
from tests.users_trainer import users_trainer

STEPS_PER_EPOCH = 14  # 512 synthetic images, 460 after the split: 14 full batches of 32


def _weights(out):
    return torch.load(last_checkpoint(out), weights_only=True)


@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_steps_per_call_change_nothing_but_speed(config, tmp_path, schedule):
    runs = {}
    for steps in (1, 4, 100):
        out = tmp_path / f"steps{steps}"
        report = train(config(out=str(out), epochs=2, schedule=schedule, steps_per_call=steps))
        runs[steps] = (_weights(out), report)
    one, _ = runs[1]
    assert one["global_step"] == 2 * STEPS_PER_EPOCH
    for steps in (4, 100):
        other, report = runs[steps]
        assert other["global_step"] == one["global_step"], steps
        for key, value in one["state_dict"].items():
            assert torch.equal(value, other["state_dict"][key]), (steps, key)
        lr = other["optimizer_states"][0]["param_groups"][0]["lr"]
        assert lr == one["optimizer_states"][0]["param_groups"][0]["lr"]
        assert report["test_acc"] == runs[1][1]["test_acc"]


def test_the_logs_count_optimizer_steps_not_calls(config, tmp_path):
    train(config(epochs=2, steps_per_call=4))
    with open(tmp_path / "run" / "logs" / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train_loss_step") or r.get("train_loss")]
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(steps) and len(steps) >= 2 * (STEPS_PER_EPOCH // 4)
    assert steps[-1] == 2 * STEPS_PER_EPOCH - 1


def test_gradient_clipping_applies_to_every_step(config, tmp_path, monkeypatch):
    norms = []
    clip = torch.nn.utils.clip_grad_norm_

    def recorded(parameters, max_norm, *args, **kwargs):
        norms.append(max_norm)
        return clip(parameters, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recorded)
    train(config(epochs=1, steps_per_call=4, grad_clip=0.5, lr=5.0))
    assert norms == [0.5] * STEPS_PER_EPOCH


@pytest.mark.parametrize(("device", "mode"), [("cuda", "reduce-overhead"), ("cpu", None)])
def test_compile_records_cuda_graphs_on_a_gpu_only(monkeypatch, device, mode):
    seen = {}

    def fake_compile(model, **kwargs):
        seen.update(kwargs)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    net = torch.nn.Linear(2, 2)
    assert compiled(net, torch.device(device)) is net
    assert seen == {"mode": mode}


def test_the_report_shows_the_first_call_apart(config, tmp_path):
    report = train(config(epochs=1))
    assert 0 < report["first_call_seconds"] < report["train_seconds"]
    assert "first training call" in (tmp_path / "run" / "report.md").read_text()


def test_a_module_takes_a_registry_name_and_saves_the_spec_as_plain_data():
    module = ConvzooModule("lenet5", schedule="constant")
    assert module.hparams["spec"] == convzoo.load_spec("lenet5").to_dict()
    assert module.model.spec.name == "lenet5"


def test_limit_train_batches_counts_optimizer_steps(config, tmp_path):
    train(config(epochs=2, steps_per_call=1, trainer={"limit_train_batches": 3}))
    checkpoint = torch.load(last_checkpoint(tmp_path / "run"), weights_only=True)
    assert checkpoint["global_step"] == 2 * 3


def test_from_config_takes_every_setting_of_the_same_name(monkeypatch):
    monkeypatch.setattr(module, "compiled", lambda model, device: model)
    changed = {
        "optimizer": "adamw",
        "lr": 0.02,
        "momentum": 0.5,
        "weight_decay": 0.01,
        "schedule": "cosine",
        "lr_decay": 0.5,
        "label_smoothing": 0.1,
        "channels_last": True,
        "compile": True,
        "grad_clip": 1.0,
    }
    same = [n for n in inspect.signature(ConvzooModule).parameters if n in declared()]
    assert sorted(same) == sorted(changed)
    config = TrainConfig("tiny", trainer={"accumulate_grad_batches": 3}, **changed)
    made = ConvzooModule.from_config(TINY, config)
    assert {name: made.hparams[name] for name in same} == changed
    assert made.hparams["accumulate"] == 3


def _users_trainer(**kwargs) -> L.Trainer:
    return users_trainer(**{"limit_val_batches": 0, **kwargs})


def test_under_a_users_trainer_the_module_asks_the_datamodule_for_its_batching():
    trained = ConvzooModule(TINY, schedule="constant")
    data = DataModule("synthetic", batch_size=32, steps=4)
    trainer = _users_trainer()
    trainer.fit(trained, datamodule=data)
    assert trained.batching == data.batching(1) and trained.batching.std != 1.0
    assert trainer.global_step == STEPS_PER_EPOCH


def test_a_batching_handed_over_is_the_one_the_step_uses(monkeypatch):
    trained = ConvzooModule(TINY, schedule="onecycle")
    data = DataModule("synthetic", batch_size=32, steps=4)
    trained.attach(Batching(16, 4, 2 * STEPS_PER_EPOCH, 0.0, 1.0))
    monkeypatch.setattr(DataModule, "batching", lambda *_: pytest.fail("asked the data"))
    trainer = _users_trainer()
    trainer.fit(trained, datamodule=data)
    assert trainer.global_step == 2 * STEPS_PER_EPOCH  # each call's rows cut into 16s
    assert trained.lr_schedulers().total_steps == 2 * STEPS_PER_EPOCH


class _Steps(Logger):
    """The steps at which Lightning logs the training loss of a step."""

    name, version = "steps", 0

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[int] = []

    def log_metrics(self, metrics, step=None) -> None:
        if "train_loss_step" in metrics:
            self.steps.append(step)

    def log_hyperparams(self, *args, **kwargs) -> None:
        pass


def test_lightning_logs_at_the_counter_that_counts_optimizer_steps():
    logged = _Steps()
    trainer = _users_trainer(logger=logged, log_every_n_steps=1)
    trainer.fit(ConvzooModule(TINY), datamodule=DataModule("synthetic", batch_size=32, steps=4))
    assert trainer.global_step == STEPS_PER_EPOCH  # 14 steps in calls of 4, 4, 4 and 2
    assert getattr(trainer.fit_loop.epoch_loop, STEP_COUNTER) == STEPS_PER_EPOCH
    assert logged.steps == [3, 7, 11, 13]


def test_a_lightning_without_the_counter_is_one_clear_error():
    class Loop:
        pass

    trainer = type("Trainer", (), {"fit_loop": type("FitLoop", (), {"epoch_loop": Loop()})()})()
    count_optimizer_steps(trainer, 1)  # one step per call: Lightning's own count is right
    with pytest.raises(ConvzooError, match=f"no fit_loop.epoch_loop.{STEP_COUNTER}.*--steps-per"):
        count_optimizer_steps(trainer, 4)


# -- the exponential schedule ------------------------------------------------------------

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


@pytest.mark.parametrize("steps", [1, 4])
def test_the_epochs_training_loss_and_accuracy_cover_every_batch(steps):
    trained = ConvzooModule(TINY, lr=0.0, schedule="constant")  # the weights stay as they are
    data = DataModule("synthetic", batch_size=32, val_fraction=0.0, steps=steps)  # 16 batches
    trainer = _users_trainer(log_every_n_steps=50)  # one logged call in the epoch
    trainer.fit(trained, datamodule=data)
    x, y = data.splits["train"]
    with torch.no_grad():
        scores = trained(x)
    metrics = trainer.callback_metrics
    assert float(metrics["train_acc"]) == (scores.argmax(1) == y).sum().item() / len(y)
    loss = torch.nn.functional.cross_entropy(scores, y)
    assert float(metrics["train_loss"]) == pytest.approx(float(loss), rel=1e-5)
    assert {"train_loss_step", "train_acc_step"} < set(metrics)
