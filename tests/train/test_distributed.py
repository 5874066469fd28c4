"""Several processes: DDP on CPU with gloo, launchers simulated on one machine, timeouts.

A script trains the tiny net with Lightning's own DDP strategy (its launcher
starts the second process by re-running the script) and every rank saves its
weights. With the same global batch, averaging two half-batch gradients is the
full-batch gradient, so the two-process result must match a one-process run.

Several nodes: two local processes get the variables torchrun gives each rank of
a 2-node x 1-process launch, and each runs ``convzoo train --num-nodes 2``: they
must train together into one run directory (one report, one checkpoint) and end
with the weights of one process that trains on their whole batch. A launch whose
size does not match ``--num-nodes x --devices`` must end with one message on
every rank.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from convzoo.errors import ConvzooError
from convzoo.files import locked
from convzoo.train import distributed
from tests.train.conftest import SLURM, TINY, train_command

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


NAN_AFTER = """
import sys
import convzoo
from convzoo.cli import main
from tests.train.test_callbacks import NaNAfter

convzoo.register("act", "nan_after", NaNAfter, description="test: NaN after N calls")
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.timeout(240)
def test_a_ddp_divergence_between_checks_never_reaches_a_checkpoint(tmp_path):
    # Each rank's loss is NaN from step 5; a validation, and a checkpoint, every 2 steps;
    # the guard's own check comes only every 10 steps under DDP.
    script, spec, out = tmp_path / "nan_after.py", tmp_path / "nan.yaml", tmp_path / "run"
    script.write_text(NAN_AFTER)
    spec.write_text(
        json.dumps({**TINY, "layers": [{"act": "nan_after", "calls": 4}, *TINY["layers"]]})
    )
    flags = ["--batch-size", "16", "--devices", "2", "--strategy", "ddp", "--schedule", "constant"]
    command = [sys.executable, str(script), "train", str(spec), "--data", "synthetic"]
    command += ["--accelerator", "cpu", "--out", str(out), *flags]
    paths = [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(
        [*command, "--trainer.val_check_interval", "2"],
        capture_output=True,
        text=True,
        timeout=200,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    (message,) = [line for line in done.stderr.splitlines() if line.startswith("convzoo: error:")]
    assert "training diverged" in message and "at step 5 " in message
    assert json.loads((out / "report.json").read_text())["diverged_at_step"] == 5
    kept = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert kept["global_step"] == 4  # the last validation's before the NaN
    moments = [s for p in kept["optimizer_states"][0]["state"].values() for s in p.values()]
    assert all(torch.isfinite(t).all() for t in [*kept["state_dict"].values(), *moments])


@pytest.mark.parametrize(
    ("name", "static", "unused"),
    [
        ("ddp", True, False),
        ("ddp_spawn", True, False),
        ("ddp_find_unused_parameters_true", False, True),
    ],
)
def test_ddp_strategies_take_the_settings_for_small_nets(name, static, unused):
    made = distributed.strategy(name, timeout=60)
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
    assert distributed.is_timeout(error) is timeout


GLOO_RESET = (  # what rank 0 got when rank 1 was killed (SIGKILL) mid-run
    "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error "
    "[127.0.0.1]:20650: Connection reset by peer. This is typically caused by a remote worker "
    "hanging or bugs in the application."
)


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (RuntimeError(GLOO_RESET), True),
        (RuntimeError("[../gloo/transport/tcp/pair.cc:598] Connection closed by peer"), True),
        (RuntimeError("[../gloo/transport/tcp/pair.cc:534] Timed out waiting 60000ms"), True),
        (RuntimeError("CUDA out of memory"), False),
    ],
)
def test_a_killed_rank_is_a_lost_rank(error, lost):
    assert distributed.is_lost(error) is lost


def test_a_killed_rank_is_named_in_one_message(tmp_path):
    """What rank zero says when a rank it launched was killed: the rank, its process and its
    status, and how to resume; not the 94 lines of gloo's traceback."""
    killed = subprocess.Popen([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])
    killed.wait()
    launcher = type("Launcher", (), {"procs": [killed]})()
    strategy = type("Strategy", (), {"launcher": launcher, "cluster_environment": None})()
    trainer = type("Trainer", (), {"strategy": strategy, "global_rank": 0})()
    error = distributed.timed_out(trainer, 60, tmp_path / "run", RuntimeError(GLOO_RESET))
    assert str(error) == (
        f"DDP rank 0 lost its connection to another rank: rank 1 (process {killed.pid}) died "
        "with status -9. Every process of the run was ended; continue it with convzoo train "
        f"... --out {tmp_path / 'run'} --resume"
    )
    assert isinstance(error, ConvzooError) and error.exit_code == 1


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


def test_slurm_tasks_of_another_size_are_one_message(monkeypatch):
    for key, value in SLURM.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    env = distributed.environment()
    assert isinstance(env, distributed.Slurm)
    env.validate_settings(num_devices=4, num_nodes=2)
    with pytest.raises(ConvzooError, match=r"SLURM_NTASKS=8.*--num-nodes 2 --devices 4"):
        env.validate_settings(num_devices=1, num_nodes=2)


def test_torchrun_comes_first_and_auto_is_ddp_in_its_ranks(monkeypatch):
    torchrun = {"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "1"}
    for key, value in {**SLURM, **torchrun}.items():
        monkeypatch.setenv(key, value)
    made = distributed.strategy("auto", timeout=60)
    assert isinstance(made.cluster_environment, distributed.Torchrun)
    assert made._ddp_kwargs["static_graph"] is True


def test_without_a_launcher_lightning_chooses(monkeypatch):
    for key in [*SLURM, "TORCHELASTIC_RUN_ID"]:
        monkeypatch.delenv(key, raising=False)
    assert distributed.environment() is None
    assert distributed.strategy("auto", timeout=60) == "auto"
    assert distributed.strategy("ddp", timeout=60).cluster_environment is None


class _Trainer:
    """What ``distributed.timed_out`` reads of a trainer whose ranks a launcher started."""

    global_rank = 1

    def __init__(self, environment) -> None:
        self.strategy = type("Strategy", (), {"cluster_environment": environment})()


@pytest.mark.parametrize(("kind", "launcher"), [("Torchrun", "torchrun"), ("Slurm", "srun")])
def test_a_timeout_in_launched_ranks_leaves_the_others_to_the_launcher(tmp_path, kind, launcher):
    environment = getattr(distributed, kind).__new__(getattr(distributed, kind))
    message = str(distributed.timed_out(_Trainer(environment), 30, tmp_path))
    assert f"This rank ends now; {launcher}, which started the ranks, ends the others" in message
    assert "Every process of the run was ended" not in message
    assert "DDP rank 1 waited 30 s" in message and f"--out {tmp_path} --resume" in message
