"""Several nodes: ranks that torchrun or SLURM started, simulated on one CPU machine.

Two local processes get the variables torchrun gives each rank of a 2-node x
1-process launch, and each runs ``convzoo train --num-nodes 2``: they must train
together into one run directory (one report, one checkpoint) and end with the
weights of one process that trains on their whole batch. A launch whose size does
not match ``--num-nodes x --devices`` must end with one message on every rank.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
import torch

from convzoo.errors import ConvzooError
from convzoo.train import ddp, launched, train
from tests.train.conftest import train_command

ROOT = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "TORCHELASTIC"))}
    paths = [str(ROOT), env.get("PYTHONPATH", "")]
    return {**env, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": "1", **extra}


def _train(folder: Path, out: str, *flags: str) -> list[str]:
    return train_command(folder, out, "--devices", "1", "--epochs", "1", *flags)


def _torchrun(folder: Path, *flags: str) -> list[subprocess.CompletedProcess[str]]:
    """Both ranks of a 2-node x 1-process torchrun launch, with the variables torchrun sets."""
    port = str(_free_port())
    ranks = []
    for rank in range(2):
        env = _env(
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
            WORLD_SIZE="2",
            RANK=str(rank),
            LOCAL_RANK="0",
            LOCAL_WORLD_SIZE="1",
            GROUP_RANK=str(rank),
            TORCHELASTIC_RUN_ID="convzoo-test",
        )
        command = _train(folder, "run", *flags)
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        ranks.append(subprocess.Popen(command, env=env, cwd=folder, text=True, **pipes))
    done = []
    for proc in ranks:
        out, err = proc.communicate(timeout=240)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.mark.timeout(600)
def test_two_nodes_train_as_one_process_with_their_whole_batch(tmp_path):
    ranks = _torchrun(tmp_path, "--num-nodes", "2", "--strategy", "ddp", "--batch-size", "16")
    for rank in ranks:
        assert rank.returncode == 0, rank.stderr[-3000:]
    assert ["report:" in rank.stdout for rank in ranks] == [True, False]  # rank zero's table
    run = tmp_path / "run"
    assert json.loads((run / "report.json").read_text())["world_size"] == 2
    assert sorted(p.name for p in run.glob("report.*")) == ["report.json", "report.md"]
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["last.ckpt"]

    single = subprocess.run(
        _train(tmp_path, "single", "--batch-size", "32"),
        env=_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    two, one = _weights(run), _weights(tmp_path / "single")
    for key in one:
        assert torch.allclose(two[key], one[key], atol=1e-5), f"2 nodes != 1 process at {key}"


@pytest.mark.timeout(300)
def test_a_launch_of_another_size_ends_with_one_message_on_every_rank(tmp_path):
    ranks = _torchrun(tmp_path, "--num-nodes", "1")  # strategy auto: DDP in launched ranks
    for rank in ranks:
        assert rank.returncode == 2, rank.stderr[-3000:]
        assert "Traceback" not in rank.stderr
        assert "WORLD_SIZE=2" in rank.stderr and "--num-nodes 2 --devices 1" in rank.stderr
    assert not (tmp_path / "run").exists()  # refused before the run wrote anything


SLURM = {
    "SLURM_NTASKS": "8",
    "SLURM_NNODES": "2",
    "SLURM_NTASKS_PER_NODE": "4",
    "SLURM_JOB_NAME": "train",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
}


def test_slurm_tasks_of_another_size_are_one_message(monkeypatch):
    for key, value in SLURM.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    env = launched.environment()
    assert isinstance(env, launched.Slurm)
    env.validate_settings(num_devices=4, num_nodes=2)
    with pytest.raises(ConvzooError, match=r"SLURM_NTASKS=8.*--num-nodes 2 --devices 4"):
        env.validate_settings(num_devices=1, num_nodes=2)


def test_torchrun_comes_first_and_auto_is_ddp_in_its_ranks(monkeypatch):
    torchrun = {"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "1"}
    for key, value in {**SLURM, **torchrun}.items():
        monkeypatch.setenv(key, value)
    made = ddp.strategy("auto", timeout=60)
    assert isinstance(made.cluster_environment, launched.Torchrun)
    assert made._ddp_kwargs["static_graph"] is True


def test_without_a_launcher_lightning_chooses(monkeypatch):
    for key in [*SLURM, "TORCHELASTIC_RUN_ID"]:
        monkeypatch.delenv(key, raising=False)
    assert launched.environment() is None
    assert ddp.strategy("auto", timeout=60) == "auto"
    assert ddp.strategy("ddp", timeout=60).cluster_environment is None


class _Trainer:
    """What ``ddp.timed_out`` reads of a trainer whose ranks a launcher started."""

    global_rank = 1

    def __init__(self, environment) -> None:
        self.strategy = type("Strategy", (), {"cluster_environment": environment})()


@pytest.mark.parametrize(("kind", "launcher"), [("Torchrun", "torchrun"), ("Slurm", "srun")])
def test_a_timeout_in_launched_ranks_leaves_the_others_to_the_launcher(tmp_path, kind, launcher):
    environment = getattr(launched, kind).__new__(getattr(launched, kind))
    message = str(ddp.timed_out(_Trainer(environment), 30, tmp_path))
    assert f"This rank ends now; {launcher}, which started the ranks, ends the others" in message
    assert "Every process of the run was ended" not in message
    assert "DDP rank 1 waited 30 s" in message and f"--out {tmp_path} --resume" in message


def test_several_nodes_without_a_launcher_are_refused_before_anything_is_written(
    config, tmp_path, monkeypatch
):
    for key in [*SLURM, "TORCHELASTIC_RUN_ID"]:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConvzooError, match="--num-nodes 2: .*torchrun or srun"):
        train(config(num_nodes=2))
    assert not (tmp_path / "run").exists()
