"""Checkpoints written atomically in the run directory itself.

Lightning's own writer stages a checkpoint under ``$TMPDIR`` and moves it onto
``last.ckpt``; when ``$TMPDIR`` is another filesystem (a tmpfs ``/tmp``, runs on
disk) that move is a copy in place, and a kill during it leaves a truncated
``last.ckpt`` -- the only one -- and an orphan temporary file. Here the
checkpoint is serialized in memory and written through ``convzoo.files.write_atomic``
(a temporary file in the same folder, fsync, rename, fsync of the folder), so the
previous checkpoint stays whole until the new one is complete; the temporary
files a kill leaves behind are removed when the run starts again.
"""

from __future__ import annotations

import io
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from convzoo.files import write_atomic


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose saves are atomic in the checkpoint's own folder."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        """Serialize ``checkpoint`` and write it atomically to ``path``."""
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(path, buffer.getvalue())
