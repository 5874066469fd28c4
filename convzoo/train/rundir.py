"""A training run's directory: where its checkpoint and its report are.

``evaluate`` and ``scan`` take either a run directory or a checkpoint file; both
must find the checkpoint, and the report next to it that says which dataset, data
dir, permutation, seed and validation split the run used (``convzoo.data.prepared``
prepares its test split from them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from convzoo.errors import ConvzooError

CHECKPOINT = Path("checkpoints") / "last.ckpt"
REPORT = "report.json"
CONFIG = "config.yaml"  # the resolved settings, written before the first step


def locate(path: str | Path) -> tuple[Path, Path | None]:
    """The checkpoint file and the run directory (the folder holding its report), if any."""
    path = Path(path)
    if path.is_dir():
        ckpt = path / CHECKPOINT
        if not ckpt.is_file():
            raise ConvzooError(f"{path}: no checkpoint in this run directory (looked for {ckpt})")
        return ckpt, path
    if not path.is_file():
        raise ConvzooError(f"{path}: no such checkpoint file or run directory")
    for folder in (path.parent, path.parent.parent):
        if (folder / REPORT).is_file():
            return path, folder
    return path, None


def read_report(run: Path | None) -> dict[str, Any]:
    """The run's ``report.json``, or an empty dict without a run directory."""
    if run is None:
        return {}
    try:
        report = json.loads((run / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConvzooError(f"{run / REPORT}: cannot read the run's report ({exc})") from exc
    return report if isinstance(report, dict) else {}
