"""The checks before a run: each refusal is one message, raised before anything is written."""

from __future__ import annotations

import shutil

import pytest
import torch
import yaml

import convzoo
from convzoo.errors import ConvzooError
from convzoo.train import train
from convzoo.train.checkpoint import DIGEST, last_checkpoint
from convzoo.train.preflight import check_batches, check_fits, data_bytes, estimate
from tests.train.conftest import SLURM, TINY


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"data": "fashion_mnst"}, "(?i)did you mean 'fashion_mnist'"),
        ({"data": "mnist1d"}, r"\[1, 40\].*\[1, 12, 12\]"),
        ({"devices": 64}, "more CPU processes than this machine has"),
        ({"accelerator": "gpu", "devices": 64}, "more GPUs"),
        ({"logger": "mlflow"}, "logger: .mlflow. is not one of csv"),
        ({"resume": True}, "holds no checkpoint to continue"),
        ({"swap": {"act": "rleu"}}, "(?i)did you mean 'relu'"),
    ],
)
def test_bad_settings_fail_before_training(config, tmp_path, settings, message):
    with pytest.raises(ConvzooError, match=message):
        train(config(**settings))
    assert not (tmp_path / "run" / "report.json").exists()


def test_a_finished_run_is_not_overwritten(config):
    train(config(epochs=1))
    with pytest.raises(ConvzooError, match="already holds a finished run"):
        train(config(epochs=1))


def test_the_memory_estimate_refuses_a_huge_network_before_allocating(config, tmp_path):
    layers = [{"filter": "conv", "out": 10**9, "kernel": 3}, {"head": "linear"}]
    spec = convzoo.load_spec({"name": "huge", "input": [3, 32, 32], "classes": 4, "layers": layers})
    params, activations = estimate(spec, 256)
    assert params == 4 * 4 * (10**9 * 27 + 10**9 + 4 * 10**9 * 30 * 30 + 4)
    assert activations == 2 * 4 * 256 * (10**9 * 30 * 30 + 4)
    with pytest.raises(ConvzooError, match=r"huge needs about [\d,.]+ GiB .* --memory-limit"):
        check_fits(spec, 256, "cpu", None)
    check_fits(spec, 256, "cpu", 10.0**9)  # a limit raised by hand lets it through
    path = tmp_path / "huge.yaml"
    path.write_text(spec.to_yaml())
    with pytest.raises(ConvzooError, match="huge needs about"):
        train(config(arch=str(path)))
    with pytest.raises(ConvzooError, match="are set by --memory-limit"):
        train(config(memory_limit=1e-6))
    assert not (tmp_path / "run").exists()


def test_several_nodes_without_a_launcher_are_refused_before_anything_is_written(
    config, tmp_path, monkeypatch
):
    for key in [*SLURM, "TORCHELASTIC_RUN_ID"]:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConvzooError, match="--num-nodes 2: .*torchrun or srun"):
        train(config(num_nodes=2))
    assert not (tmp_path / "run").exists()


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


def test_a_ddp_run_with_less_than_a_batch_per_rank_is_refused_before_it_starts(config, tmp_path):
    with pytest.raises(ConvzooError, match=r"461 samples over 2 processes.*fewer than one batch"):
        train(config(batch_size=256, devices=2, strategy="ddp"))
    assert not (tmp_path / "run" / "report.json").exists()
    with pytest.raises(ConvzooError, match=r"461 samples: 461 per process"):
        train(config(batch_size=512))


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        (
            {"limit_train_batches": 0.01},
            r"limit_train_batches 0.01: .* 57 training batches .*"
            r"least 1/57 or a count of batches \(--trainer.limit_train_batches 1\)",
        ),
        ({"overfit_batches": 0.01}, r"overfit_batches 0.01: .* 57 training batches"),
        (
            {"val_check_interval": 60},
            r"val_check_interval 60 validates every 60 training batches"
            r", and an epoch of this run has 57; use at most 57, or .*check_val_every_n_epoch null",
        ),
        ({"val_check_interval": 9, "limit_train_batches": 5}, r"epoch of this run has 5;"),
    ],
)
def test_limits_and_intervals_lightning_fails_on_at_the_fit_are_refused_before_it(
    config, tmp_path, trainer, message
):
    # 461 training samples in batches of 8: 57 batches an epoch
    with pytest.raises(ConvzooError, match=message):
        train(config(batch_size=8, steps_per_call=1, trainer=trainer))
    assert not (tmp_path / "run").exists()


def test_an_interval_that_fits_the_epoch_or_counts_across_epochs_trains(config):
    counted = {"val_check_interval": 60, "check_val_every_n_epoch": None}
    report = train(config(batch_size=8, steps_per_call=1, trainer=counted))
    assert report["status"] == "ok"


def test_a_resume_keeps_the_settings_its_checkpoint_was_made_with_whatever_config_yaml_says(
    config, tmp_path
):
    train(config(epochs=1, schedule="constant"))
    run = tmp_path / "run"
    (run / "report.json").unlink()  # as if the run had stopped early
    kept = run / "config.yaml"
    kept.write_text(kept.read_text().replace("lr: 0.1", "lr: 0.05"))  # edited by hand
    with pytest.raises(
        ConvzooError,
        match=r"made with lr = 0\.1 \(as .*last\.ckpt records\), and this command gives 0\.05; "
        r"resume it with lr = 0\.1",
    ):
        train(config(epochs=2, schedule="constant", lr=0.05, resume=True))
    kept.unlink()
    with pytest.raises(ConvzooError, match="made with optimizer = 'sgd' .* gives 'adamw'"):
        train(config(epochs=2, schedule="constant", optimizer="adamw", resume=True))
    # a checkpoint written before convzoo kept its settings is held to config.yaml
    shutil.copytree(run, tmp_path / "old")
    old = last_checkpoint(tmp_path / "old")
    content = torch.load(old, weights_only=True)
    del content["convzoo"]["config"], content[DIGEST]
    torch.save(content, old)
    (tmp_path / "old" / "config.yaml").write_text(yaml.safe_dump({"momentum": 0.5}))
    with pytest.raises(ConvzooError, match=r"made with momentum = 0\.5 \(as .*config\.yaml"):
        train(config(epochs=2, schedule="constant", out=str(tmp_path / "old"), resume=True))
    resumed = train(config(epochs=2, schedule="constant", ddp_timeout=60, resume=True))
    assert resumed["epochs"] == 2


def test_a_run_config_that_is_no_mapping_is_one_message_on_resume(config, tmp_path):
    train(config(epochs=1))
    (tmp_path / "run" / "report.json").unlink()  # an unfinished run, to be resumed
    old = last_checkpoint(tmp_path / "run")  # written before checkpoints kept the settings
    content = torch.load(old, weights_only=True)
    del content["convzoo"]["config"], content[DIGEST]
    torch.save(content, old)
    for text in ("- lr\n- epochs\n", "epochs and lr\n"):
        (tmp_path / "run" / "config.yaml").write_text(text)
        with pytest.raises(ConvzooError, match=r"config.yaml holds no mapping of settings"):
            train(config(epochs=1, resume=True))


def _spec_file(tmp_path, **spec) -> str:
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(convzoo.load_spec(spec).to_yaml())
    return str(path)


def test_a_spec_with_fewer_classes_than_the_data_s_labels_is_refused_before_the_run(
    config, tmp_path
):
    arch = _spec_file(tmp_path, **{**TINY, "classes": 2})  # synthetic data has 4 classes
    with pytest.raises(ConvzooError, match=r"tiny has classes: 2, but the dataset 'synthetic' "):
        train(config(arch=arch))
    assert not (tmp_path / "run").exists()


def test_the_dataset_on_the_input_canvas_counts_in_the_memory_estimate(config, tmp_path):
    # 768 samples on a 256x256 canvas: 0.38 GiB on the CPU (the canvas and the splits made
    # from it), where the network itself needs a few kB
    layers = [{"pool": "max", "kernel": 16}, {"head": "linear"}]
    arch = _spec_file(tmp_path, name="wide", input=[1, 256, 256], classes=4, layers=layers)
    assert data_bytes(768, [1, 256, 256], 4, "cpu", True) == 2 * 768 * 256 * 256 * 4
    assert data_bytes(768, [1, 256, 256], 4, "gpu", False) == 0  # it stays on the host
    with pytest.raises(
        ConvzooError, match=r"0.38 GiB of data on the input canvas \[1, 256, 256\]\), but 0.2 GiB"
    ):
        train(config(arch=arch, batch_size=8, memory_limit=0.25))
    assert not (tmp_path / "run").exists()
