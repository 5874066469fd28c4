"""How ``convzoo bench`` runs a suite, ``BenchOptions``: where to, on what, which cells, how.

It imports no torch, so that ``convzoo bench``'s parser can read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convzoo.train import config


@dataclass
class BenchOptions:
    """How to run a suite: where to, on what, and which cells (``only``: a subset, no report);
    ``launcher`` ``local`` (this machine) or ``submitit`` (a job array, ``launcher_options``
    its executor settings)."""

    out: Path
    devices: int = config.default("devices")
    strategy: str = config.default("strategy")
    accelerator: str = config.default("accelerator")
    parallel: bool = False
    only: list[str] | None = None
    progress: bool = False
    launcher: str = "local"
    launcher_options: dict[str, Any] = field(default_factory=dict)
