"""A user's own quiet ``lightning.Trainer`` on the CPU, for the tests that check convzoo's module
and data under a Trainer convzoo did not build (one epoch, no logger, checkpoints, bar or
summary unless a test asks)."""

from __future__ import annotations

from typing import Any

import lightning as L


def users_trainer(**kwargs: Any) -> L.Trainer:
    """``L.Trainer`` with those quiet defaults, ``kwargs`` over them."""
    settings = {
        "max_epochs": 1,
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        **kwargs,
    }
    return L.Trainer(**settings)
