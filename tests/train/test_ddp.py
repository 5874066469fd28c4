"""DDP on CPU with the gloo backend: ranks agree, and two ranks equal one process.

A script trains the tiny net with Lightning's own DDP strategy (its launcher
starts the second process by re-running the script) and every rank saves its
weights. With the same global batch, averaging two half-batch gradients is the
full-batch gradient, so the two-process result must match a one-process run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from convzoo.files import locked
from convzoo.train import ddp
from tests.train.conftest import TINY, train_command

SCRIPT = """
import json, sys
import lightning as L
import torch
from convzoo.data import DataModule
from convzoo.train import ConvzooModule

spec, out, devices, batch = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
L.seed_everything(0, verbose=False)
data = DataModule("synthetic", tuple(spec["input"]), batch_size=batch, val_fraction=0.25)
module = ConvzooModule(spec, optimizer="sgd", lr=0.05, momentum=0.9, schedule="constant")
trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=devices,
                    strategy="ddp" if devices > 1 else "auto", logger=False,
                    enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False, num_sanity_val_steps=0)
trainer.fit(module, datamodule=data)
torch.save(module.model.state_dict(), f"{out}/rank{trainer.global_rank}-of-{devices}.pt")
"""


def run(tmp_path: Path, devices: int, batch: int) -> None:
    script = tmp_path / "ddp_script.py"
    script.write_text(SCRIPT)
    paths = [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    result = subprocess.run(
        [sys.executable, str(script), json.dumps(TINY), str(tmp_path), str(devices), str(batch)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.timeout(600)
def test_two_gloo_ranks_agree_and_match_one_process(tmp_path):
    run(tmp_path, devices=2, batch=16)
    run(tmp_path, devices=1, batch=32)
    rank0 = torch.load(tmp_path / "rank0-of-2.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1-of-2.pt", weights_only=True)
    single = torch.load(tmp_path / "rank0-of-1.pt", weights_only=True)
    for key in single:
        assert torch.equal(rank0[key], rank1[key]), f"ranks differ at {key}"
        assert torch.allclose(rank0[key], single[key], atol=1e-5), f"DDP != one process at {key}"
    assert not torch.equal(single["layers.0.weight"], torch.zeros_like(single["layers.0.weight"]))


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _ddp_train(folder: Path, *extra: str) -> list[str]:
    """``convzoo train`` of the tiny spec on synthetic data, 2 CPU ranks, into ``folder/run``."""
    ddp_flags = ("--batch-size", "16", "--devices", "2", "--strategy", "ddp")
    return train_command(folder, "run", *ddp_flags, *extra)


@pytest.mark.timeout(240)
def test_a_stopped_rank_ends_the_run_with_one_message_and_no_process_left(tmp_path):
    command = _ddp_train(tmp_path, "--epochs", "500", "--ddp-timeout", "60")
    # 60 s: long enough for the second rank to start on a loaded machine
    main = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in main.stderr:  # wait until both ranks train
            if line.startswith("epoch 2/"):
                break
        (rank1,) = _children(main.pid)
        os.kill(rank1, signal.SIGSTOP)
        _, err = main.communicate(timeout=180)
    finally:
        main.kill()
    assert main.returncode == 1
    assert f"rank 1 (process {rank1}) is stopped" in err and "--resume" in err
    assert "Traceback" not in err
    assert not Path(f"/proc/{rank1}").exists() or "Z" in Path(f"/proc/{rank1}/stat").read_text()


@pytest.mark.timeout(240)
def test_a_diverging_ddp_run_stops_on_both_ranks_with_one_report(tmp_path):
    out = tmp_path / "run"
    command = _ddp_train(tmp_path, "--epochs", "5", "--lr", "1e20", "--schedule", "constant")
    done = subprocess.run(command, capture_output=True, text=True, timeout=200)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("convzoo: error: training diverged") == 1  # rank zero, for all
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "diverged" and report["lr_at_divergence"] == 1e20


@pytest.mark.parametrize(
    ("name", "static", "unused"),
    [
        ("ddp", True, False),
        ("ddp_spawn", True, False),
        ("ddp_find_unused_parameters_true", False, True),
    ],
)
def test_ddp_strategies_take_the_settings_for_small_nets(name, static, unused):
    made = ddp.strategy(name, timeout=60)
    assert made._ddp_kwargs["gradient_as_bucket_view"] is True
    assert made._ddp_kwargs["static_graph"] is static
    assert made._ddp_kwargs["find_unused_parameters"] is unused
    assert made._timeout.total_seconds() == 60


@pytest.mark.parametrize(
    ("error", "timeout"),
    [
        (RuntimeError("[../gloo/transport/tcp/pair.cc:534] Timed out waiting 60000ms"), True),
        (RuntimeError("Application timeout caused pair closure"), True),
        (torch.distributed.DistBackendError("NCCL watchdog"), True),
        (RuntimeError("CUDA out of memory"), False),
    ],
)
def test_every_form_of_a_collective_timeout_is_recognised(error, timeout):
    assert ddp.is_timeout(error) is timeout


@pytest.mark.timeout(240)
def test_a_ddp_run_into_a_folder_another_process_writes_is_refused(tmp_path):
    out = tmp_path / "run"
    with locked(out):  # this test's process is the other writer
        done = subprocess.run(
            _ddp_train(tmp_path, "--epochs", "1"), capture_output=True, text=True, timeout=200
        )
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"another convzoo process (pid {os.getpid()})" in done.stderr
    assert done.stderr.count("convzoo: error") == 1 and "Traceback" not in done.stderr
    assert not out.exists()  # the refused run wrote nothing; the lock went with its holder
