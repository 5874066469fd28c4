"""Several optimizer steps per Lightning step: the same training, a smaller framework tax.

``steps_per_call`` only changes how many batches one ``training_step`` receives;
without augmentation (whose random draws are made per call) the weights, the
schedule and the step count must be exactly those of one step per call, and the
logs must count optimizer steps, not calls.
"""

from __future__ import annotations

import csv

import pytest
import torch

import convzoo
from convzoo.train import ConvzooModule, train
from convzoo.train.checkpoint import last_checkpoint
from convzoo.train.module import compiled

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
