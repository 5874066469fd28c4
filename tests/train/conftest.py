"""A tiny spec that fits the 12x12 synthetic data, a fast training configuration, the
``convzoo train`` command line of the subprocess tests, and the variables SLURM gives a task."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from convzoo.train import TrainConfig

TINY = {
    "name": "tiny",
    "input": [1, 12, 12],
    "classes": 4,
    "layers": [
        {"filter": "conv", "out": 4, "kernel": 3},
        {"act": "relu"},
        {"pool": "max", "kernel": 2},
        {"head": "linear"},
    ],
}

# a task of a 2-node x 4-task SLURM job
SLURM = {
    "SLURM_NTASKS": "8",
    "SLURM_NNODES": "2",
    "SLURM_NTASKS_PER_NODE": "4",
    "SLURM_JOB_NAME": "train",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
}


def train_command(folder: Path, out: str, *flags: str) -> list[str]:
    """``convzoo train`` of the tiny spec (written to ``folder``) on synthetic data on the CPU,
    into ``folder/out``, with ``flags``."""
    spec = folder / "tiny.yaml"
    spec.write_text(json.dumps(TINY))
    command = [sys.executable, "-m", "convzoo.cli", "train", str(spec), "--data", "synthetic"]
    return [*command, "--accelerator", "cpu", "--out", str(folder / out), *flags]


@pytest.fixture
def tiny_spec(tmp_path: Path) -> Path:
    import yaml

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY, sort_keys=False))
    return path


@pytest.fixture
def config(tiny_spec: Path, tmp_path: Path):
    def make(**kw) -> TrainConfig:
        settings = {
            "arch": str(tiny_spec),
            "data": "synthetic",
            "epochs": 2,
            "batch_size": 32,
            "lr": 0.1,
            "out": str(tmp_path / "run"),
            "progress": False,
            "accelerator": "cpu",
        }
        settings.update(kw)
        return TrainConfig(**settings)

    return make
