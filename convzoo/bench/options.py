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
    ``data_dir`` the folder every cell whose dataset reads files reads them from (no part of a
    cell's fingerprint: the files are checked against their dataset's known sums);
    ``launcher`` ``local`` (this machine) or ``submitit`` (a job array, ``launcher_options``
    its executor settings, ``retries`` and ``wait`` how its jobs are followed); ``collect``
    runs nothing and reports what has ended."""

    out: Path
    devices: int = config.default("devices")
    strategy: str = config.default("strategy")
    accelerator: str = config.default("accelerator")
    data_dir: str | None = config.default("data_dir")
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

    def absolute_data_dir(self) -> str | None:
        """``data_dir`` as a worker process or a submitted job reads it, wherever it starts."""
        return None if self.data_dir is None else str(Path(self.data_dir).resolve())
