"""Training runs end to end on CPU: reports, checkpoints, resume (to bit-identical weights,
its time adding up), one writer per run directory, loggers, and what Lightning refuses."""

from __future__ import annotations

import copy
import csv
import json
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

import convzoo
from convzoo.errors import ConvzooError
from convzoo.train import ConvzooModule, load, train, trainer_args
from convzoo.train.checkpoint import last_checkpoint
from convzoo.train.fit import RunInterrupted


def test_a_run_learns_and_reports(config, tmp_path):
    report = train(config(epochs=3))
    out = tmp_path / "run"
    assert report["test_acc"] > 0.9  # 4 classes: chance is 0.25
    saved = json.loads((out / "report.json").read_text())
    assert saved["test_acc"] == report["test_acc"] and saved["epochs"] == 3
    assert saved["params"] == convzoo.summary(saved["spec"]).params
    assert saved["flops"] > 0 and saved["images_per_s"] > 0 and "CPU" in saved["devices"]
    markdown = (out / "report.md").read_text()
    for field in ("test accuracy", "parameters", "FLOPs per sample", "images/s", "device(s)"):
        assert field in markdown
    rows = list(csv.DictReader((out / "logs" / "metrics.csv").open()))
    assert any(r.get("val_acc") for r in rows) and any(r.get("train_loss") for r in rows)


def test_a_callback_given_as_a_setting_runs_and_stays_plain_data(config, tmp_path):
    callbacks = [{"class_path": "EarlyStopping", "init_args": {"monitor": "val_loss"}}]
    run = config(epochs=2, trainer={"callbacks": copy.deepcopy(callbacks)})
    report = train(run)
    assert run.trainer == {"callbacks": callbacks}
    assert json.loads((tmp_path / "run" / "report.json").read_text())["epochs"] == report["epochs"]
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["trainer"] == {"callbacks": callbacks}


@pytest.mark.parametrize("callback", ["EarlyStopping", "ModelCheckpoint"])
def test_a_run_max_steps_ends_inside_its_first_epoch_validates_for_its_callbacks(
    config, tmp_path, callback
):
    # 57 batches an epoch; the run ends at step 7, where it validates before the epoch ends
    watch = {"class_path": callback, "init_args": {"monitor": "val_loss"}}
    report = train(config(batch_size=8, trainer={"max_steps": 7, "callbacks": [watch]}))
    assert report["status"] == "ok" and report["epochs"] == 1
    rows = list(csv.DictReader((tmp_path / "run" / "logs" / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows if r.get("val_loss")] == [6]


def test_a_checkpoint_rebuilds_the_trained_model(config, tmp_path):
    train(config(epochs=1))
    model = load(last_checkpoint(tmp_path / "run"))
    assert model.spec.name == "tiny" and not model.training
    ckpt = torch.load(last_checkpoint(tmp_path / "run"), weights_only=True)
    weights = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items()}
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())
    assert isinstance(ckpt["hyper_parameters"]["spec"], dict)  # plain data, not objects


def interrupt_in_epoch(monkeypatch, epoch: int) -> None:
    step = ConvzooModule.training_step

    def interrupted(self, batch, index):
        if self.current_epoch == epoch:
            raise KeyboardInterrupt
        return step(self, batch, index)

    monkeypatch.setattr(ConvzooModule, "training_step", interrupted)


def test_an_interrupted_run_resumes_from_its_latest_checkpoint(config, tmp_path, monkeypatch):
    interrupt_in_epoch(monkeypatch, 1)
    with pytest.raises(ConvzooError, match="interrupted after 1 epoch.*--resume"):
        train(config(epochs=3))
    assert not (tmp_path / "run" / "report.json").exists()
    monkeypatch.undo()
    with pytest.raises(ConvzooError, match="planned for 3 epochs.*--epochs 3"):
        train(config(epochs=5, resume=True))
    report = train(config(epochs=3, resume=True))
    assert report["epochs"] == 3 and report["test_acc"] > 0.9
    first = list(csv.DictReader((tmp_path / "run" / "logs" / "metrics.csv").open()))
    second = list(csv.DictReader((tmp_path / "run" / "logs-2" / "metrics.csv").open()))
    assert {r["epoch"] for r in first if r.get("val_acc")} == {"0"}
    assert {r["epoch"] for r in second if r.get("val_acc")} == {"1", "2"}


def test_a_run_s_config_yaml_resumes_it_in_its_own_folder_from_anywhere(
    config, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    train(config(epochs=1, out=None))  # into runs/tiny-synthetic-TIME
    (run,) = (tmp_path / "runs").iterdir()
    (run / "report.json").unlink()  # as if the run had stopped early
    monkeypatch.chdir(tmp_path.parent)
    values = yaml.safe_load((run / "config.yaml").read_text())
    assert values["out"] == str(run)
    resumed, _ = convzoo.train.config.for_arch(values.pop("arch"), values, {"resume": True})
    report = train(resumed)
    assert report["run_dir"] == str(run) and report["epochs"] == 1
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [run.name]


def test_a_ctrl_c_while_testing_is_the_interrupt_s_one_message_and_resumes(
    config, tmp_path, monkeypatch
):
    def interrupted(self, batch, index):
        raise KeyboardInterrupt

    monkeypatch.setattr(ConvzooModule, "test_step", interrupted)
    with pytest.raises(RunInterrupted, match=r"testing was interrupted after .* \(1 epochs\)"):
        train(config(epochs=1))
    assert RunInterrupted.exit_code == 130 and not (tmp_path / "run" / "report.json").exists()
    monkeypatch.undo()
    report = train(config(epochs=1, resume=True))  # tests the trained net, writes its report
    assert report["epochs"] == 1 and report["test_acc"] > 0.5


_SIDEWAYS = {"monitor": "val_loss", "mode": "sideways"}


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        ({"max_time": "bogus"}, "not a valid duration"),
        ({"profiler": "bogus"}, "bogus"),
        ({"callbacks": [{"class_path": "EarlyStopping", "init_args": _SIDEWAYS}]}, "sideways"),
    ],
)
def test_a_trainer_setting_lightning_refuses_is_one_message_and_leaves_nothing(
    config, tmp_path, trainer, message
):
    with pytest.raises(ConvzooError, match=f"lightning.Trainer refused .*{message}"):
        train(config(trainer=trainer))
    assert not (tmp_path / "run").exists()


def test_a_crashed_run_leaves_no_report(config, tmp_path, monkeypatch):
    def crash(self, batch, index):
        raise RuntimeError("boom")

    monkeypatch.setattr(ConvzooModule, "training_step", crash)
    with pytest.raises(RuntimeError, match="boom"):
        train(config(epochs=1))
    assert not (tmp_path / "run" / "report.json").exists()
    assert not (tmp_path / "run" / "report.md").exists()


def test_tensorboard_logger_writes_events(config, tmp_path):
    pytest.importorskip("tensorboard")
    train(config(epochs=1, logger="tensorboard"))
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))


def test_wandb_runs_offline_without_a_key(config, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    train(config(epochs=1, logger="wandb"))
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert runs, "no offline run directory"
    assert any(p.name.endswith(".wandb") for p in runs[0].iterdir())


@pytest.mark.parametrize(
    ("settings", "expect"),
    [
        ({"optimizer": "adamw", "schedule": "cosine", "lr": 0.01}, 0.5),
        ({"schedule": "constant", "label_smoothing": 0.1, "translate": 1}, 0.5),
        ({"resident": False, "translate": 1, "scale": (0.9, 1.1)}, 0.5),
        ({"grad_clip": 0.5, "precision": "bf16-mixed"}, 0.5),
    ],
)
def test_optimizers_schedules_and_paths(config, settings, expect):
    assert train(config(**settings))["test_acc"] > expect


def test_compiled_channels_last_run_saves_plain_weights(config, tmp_path, monkeypatch):
    # convzoo's part is the wiring (the compiled wrapper must not register the weights
    # twice); torch's eager backend exercises it without a C++ build of the graph
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, mode: compile_(model, backend="eager"))
    report = train(config(epochs=1, compile=True, channels_last=True))
    assert report["test_acc"] > 0.25
    ckpt = torch.load(last_checkpoint(tmp_path / "run"), weights_only=True)
    assert all(
        k.startswith(("model.", "train_acc", "val_acc", "test_acc")) for k in ckpt["state_dict"]
    )
    assert load(last_checkpoint(tmp_path / "run")).spec.name == "tiny"


def test_a_reconstructing_head_sees_the_pixels_in_0_1_not_standardized(
    config, tmp_path, monkeypatch
):
    from convzoo.blocks.capsule_head import CapsuleHead

    seen = []
    real = CapsuleHead.loss

    def spy(self, scores, target, inputs=None):
        seen.append((float(inputs.min()), float(inputs.max())))
        return real(self, scores, target, inputs)

    monkeypatch.setattr(CapsuleHead, "loss", spy)
    spec = tmp_path / "caps.yaml"
    spec.write_text(
        "name: caps\ninput: [1, 12, 12]\nclasses: 4\nlayers:\n"
        "  - {filter: conv, out: 8, kernel: 3}\n  - {act: relu}\n"
        "  - {capsule: primary, capsules: 2, dim: 4, kernel: 3, stride: 2}\n"
        "  - {capsule: routing, dim: 4}\n  - {head: capsule}\n"
    )
    train(config(arch=str(spec), epochs=1))
    assert seen and all(low >= 0.0 and high <= 1.0 for low, high in seen)
    assert max(high for _, high in seen) > 0.5  # the images, not a squashed copy


def test_a_moved_run_folder_resumes(config, tmp_path):
    train(config(epochs=1, schedule="constant"))
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "run", moved)
    for name in ("report.json", "report.md"):
        (moved / name).unlink()
    report = train(config(epochs=2, schedule="constant", out=str(moved), resume=True))
    assert report["epochs"] == 2


def test_the_metrics_a_callback_may_monitor_are_the_ones_a_run_logs(config, tmp_path):
    train(config(epochs=1))
    columns = next(csv.reader((tmp_path / "run" / "logs" / "metrics.csv").open()))
    logged = {c.removesuffix("_step").removesuffix("_epoch") for c in columns}
    assert set(trainer_args.METRICS) <= logged, sorted(logged)


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
