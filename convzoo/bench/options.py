"""How ``convzoo bench`` runs a suite, ``BenchOptions``: where to, on what, which cells, how.

It imports no torch, so that ``convzoo bench``'s parser can make flags from it: the
settings declared here with ``settings.setting`` -- how submitted cells are retried and
waited for, and ``collect`` -- are flags by that declaration alone, as ``--devices``,
``--strategy`` and ``--accelerator`` are ``TrainConfig``'s (``cli/bench.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convzoo.settings import NON_NEGATIVE, setting
from convzoo.train import config


@dataclass
class BenchOptions:
    """How to run a suite: where to, on what, and which cells (``only``: a subset, no report);
    ``launcher`` ``local`` (this machine) or ``submitit`` (a job array, ``launcher_options``
    its executor settings, ``retries`` and ``wait`` how its jobs are followed); ``collect``
    runs nothing and reports what has ended."""

    out: Path
    devices: int = config.default("devices")
    strategy: str = config.default("strategy")
    accelerator: str = config.default("accelerator")
    parallel: bool = False
    only: list[str] | None = None
    progress: bool = False
    launcher: str = "local"
    launcher_options: dict[str, Any] = field(default_factory=dict)
    retries: int = setting(
        1,
        "submit a cell whose job failed or died (a lost node, out of memory) again, at most "
        "this many times; it resumes from its last checkpoint (--launcher submitit)",
        rule=NON_NEGATIVE,
    )
    wait: bool = setting(
        True,
        "wait for the submitted jobs and write the report (no: submit and return; "
        "--collect writes the report later) (--launcher submitit)",
    )
    collect: bool = setting(
        False,
        "train nothing: write the report of the cells that have ended (after --no-wait), "
        "those still running shown as not ended",
    )
