"""Where a run's metrics go: CSV (the default), TensorBoard, or Weights & Biases.

Each resumed part of a run logs into a folder of its own (``logs``, ``logs-2``,
...), so no part's log is overwritten. W&B runs offline unless ``WANDB_API_KEY``
is set; a logger whose package is missing says what to install.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from convzoo.errors import ConvzooError
from convzoo.train.config import LOGGERS


def _log_version(out: Path, base: str) -> str:
    """``base`` for a new run; ``base-2``, ``base-3``... for each resumed part, so no
    part of a resumed run's log is overwritten."""
    if not (out / base).exists():
        return base
    n = 2
    while (out / f"{base}-{n}").exists():
        n += 1
    return f"{base}-{n}"


def make_logger(name: str, out: Path) -> Any:
    """The Lightning logger ``name`` writing under ``out``."""
    if name == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(str(out), name="", version=_log_version(out, "logs"))
    if name == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        try:
            return TensorBoardLogger(str(out), name="", version=_log_version(out, "tensorboard"))
        except ModuleNotFoundError as exc:
            raise ConvzooError("--logger tensorboard needs: pip install tensorboard") from exc
    if name == "wandb":
        try:
            import wandb  # noqa: F401
        except ImportError as exc:
            raise ConvzooError("--logger wandb needs: pip install 'convzoo[wandb]'") from exc
        from lightning.pytorch.loggers import WandbLogger

        offline = not os.environ.get("WANDB_API_KEY")
        return WandbLogger(save_dir=str(out), offline=offline, project="convzoo")
    raise ConvzooError(f"unknown logger {name!r}; use one of {', '.join(LOGGERS)}")
