"""A tiny spec that fits the 12x12 synthetic data, and a fast training configuration."""

from __future__ import annotations

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
