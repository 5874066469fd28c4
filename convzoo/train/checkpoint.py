"""Where a run's checkpoint is written and read: the run directory, atomic saves, ``load``.

A run writes everything under one folder (``run_dir``); only rank zero writes::

    RUN/                       --out, else runs/ARCH-DATA-TIME
      checkpoints/last.ckpt    the last epoch's checkpoint, what --resume continues (CHECKPOINT)
      config.yaml              the resolved settings, written before the first step (CONFIG)
      logs/, logs-2/, ...      the metrics of each part of the run (loggers.py)
      report.md, report.json   written when the run has ended, report.json last (REPORT)

A folder with a checkpoint and no ``report.json`` holds an unfinished run.

Writing: Lightning's own writer stages a checkpoint under ``$TMPDIR`` and moves it
onto ``last.ckpt``; when ``$TMPDIR`` is another filesystem (a tmpfs ``/tmp``, runs on
disk) that move is a copy in place, and a kill during it leaves a truncated
``last.ckpt`` -- the only one -- and an orphan temporary file. Here the checkpoint
is serialized in memory and written through ``convzoo.files.write_atomic`` (a
temporary file in the same folder, fsync, rename, fsync of the folder), so the
previous checkpoint stays whole until the new one is complete; the temporary files
a kill leaves behind are removed when the run starts again.

Reading: ``load(path)`` gives the trained model back from the checkpoint alone, read
with ``weights_only=True``. Its hyperparameters hold the spec as plain data, so the
network is rebuilt by the assembler and its weights loaded; nothing in the file is
ever unpickled as code. Any file that is not a convzoo checkpoint -- empty, text,
truncated, random bytes, pickled Python objects -- is one short ``ConvzooError``
that names it, whatever torch raised while reading it. ``locate`` finds the
checkpoint of a run directory, or the run directory of a checkpoint. Reading imports
no Lightning (3 s): the writer's classes are made on first use.
"""

from __future__ import annotations

import functools
import io
import pickle
import re
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from convzoo.assemble import ConvNet, build
from convzoo.errors import ConvzooError
from convzoo.files import remove_orphans, write_atomic
from convzoo.train.config import TrainConfig
from convzoo.train.memory import check_weights

CHECKPOINT = Path("checkpoints") / "last.ckpt"
CONFIG = "config.yaml"
REPORT = "report.json"

# -- the run directory ---------------------------------------------------------------


def run_dir(config: TrainConfig, arch_name: str) -> Path:
    """``--out``, or ``runs/ARCH-DATA-TIMESTAMP``."""
    if config.out:
        return Path(config.out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{arch_name}-{config.data}-{stamp}"


def last_checkpoint(out: Path) -> Path | None:
    """The checkpoint ``--resume`` continues: ``checkpoints/last.ckpt``."""
    path = out / CHECKPOINT
    return path if path.is_file() else None


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


# -- writing ---------------------------------------------------------------------------


def checkpoint_callback(out: Path) -> Any:
    """Lightning's ``ModelCheckpoint`` that writes ``CHECKPOINT`` under ``out`` at every
    epoch's end, over the one before."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    return ModelCheckpoint(
        dirpath=out / CHECKPOINT.parent,
        filename=CHECKPOINT.stem,
        save_top_k=1,
        enable_version_counter=False,
    )


def atomic_checkpoint_io() -> Any:
    """Lightning's ``TorchCheckpointIO`` whose saves are atomic in the checkpoint's own folder."""
    return _atomic_checkpoint_io_class()()


@functools.cache
def _atomic_checkpoint_io_class() -> type:
    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

    class AtomicCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(
            self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
        ) -> None:
            """Serialize ``checkpoint`` and write it atomically to ``path``."""
            buffer = io.BytesIO()
            torch.save(checkpoint, buffer)
            write_atomic(path, buffer.getvalue())

        def __reduce__(self) -> tuple[Any, ...]:  # a spawned rank unpickles it: made again
            return atomic_checkpoint_io, ()

    return AtomicCheckpointIO


def remove_unfinished_saves(out: Path) -> None:
    """Delete the temporary files of a save that a kill interrupted."""
    remove_orphans(out / CHECKPOINT.parent)


# -- reading ---------------------------------------------------------------------------

PREFIX = "model."
_UNREADABLE = "not a readable checkpoint"
_PLAIN_DATA = (
    "convzoo only reads plain-data checkpoints (tensors, numbers, strings, lists and dicts, "
    "as `convzoo train` saves them), so this file is corrupt or was not saved by convzoo"
)
_REFUSED = "WeightsUnpickler error:"  # where torch's weights-only refusal gives its reason


def _brief(text: str, limit: int = 200) -> str:
    """The first sentence of torch's ``text`` on one line, at most ``limit`` characters: enough
    to say what went wrong, never a message that grows with the file or the network."""
    sentence = re.split(r"(?<=\.)\s", " ".join(text.split()), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 3] + "..."


def _torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)``; a failure, of whatever type, is one ``ConvzooError``."""
    if path.stat().st_size == 0:
        raise ConvzooError(f"{path}: {_UNREADABLE}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's text goes on to advise weights_only=False or an allow-list; convzoo does neither
        reason = str(exc).partition(_REFUSED)[2].strip().splitlines()
        detail = f" ({_brief(reason[0])})" if reason else ""
        raise ConvzooError(f"{path}: {_UNREADABLE}{detail}: {_PLAIN_DATA}") from exc
    except Exception as exc:  # damaged bytes make torch.load raise IndexError, KeyError, ...
        raise ConvzooError(
            f"{path}: {_UNREADABLE} ({type(exc).__name__}: {_brief(str(exc))}); "
            "it may be truncated or corrupt, or not saved by convzoo"
        ) from exc


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's content (tensors and plain data only)."""
    path = Path(path)
    if not path.is_file():
        raise ConvzooError(f"{path}: no such checkpoint file")
    content = _torch_load(path)
    if not isinstance(content, dict) or not isinstance(content.get("state_dict"), dict):
        raise ConvzooError(f"{path}: not a convzoo checkpoint (no state_dict)")
    hyper = content.get("hyper_parameters")
    if not isinstance(hyper, dict) or not isinstance(hyper.get("spec"), dict):
        raise ConvzooError(f"{path}: the checkpoint carries no spec; it was not saved by convzoo")
    return content


def load(path: str | Path, device: torch.device | str = "cpu") -> ConvNet:
    """The trained network of a checkpoint, in eval mode."""
    content = read_checkpoint(path)
    state = {k[len(PREFIX) :]: v for k, v in content["state_dict"].items() if k.startswith(PREFIX)}
    check_weights(Path(path), content["hyper_parameters"]["spec"], state, device)
    model = build(content["hyper_parameters"]["spec"], device=device)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ConvzooError(
            f"{path}: the weights do not fit the spec it carries ({_brief(str(exc))})"
        ) from exc
    return model.eval()
