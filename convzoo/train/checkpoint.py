"""``load(path)``: a trained model back from a checkpoint alone, read with ``weights_only=True``.

The checkpoint's hyperparameters hold the spec as plain data, so the network is
rebuilt by the assembler and its weights loaded; nothing in the file is ever
unpickled as code. A file that is not a convzoo checkpoint, or is corrupt, is
one clear ``ConvzooError``.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from convzoo.assemble import ConvNet, build
from convzoo.errors import ConvzooError

PREFIX = "model."


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's content (tensors and plain data only)."""
    path = Path(path)
    if not path.is_file():
        raise ConvzooError(f"{path}: no such checkpoint file")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        ValueError,
        zipfile.BadZipFile,
        OSError,
    ) as exc:
        raise ConvzooError(
            f"{path}: not a readable checkpoint ({type(exc).__name__}: {str(exc)[:200]}); "
            "it may be truncated or corrupt, or not saved by convzoo"
        ) from exc
    if not isinstance(content, dict) or "state_dict" not in content:
        raise ConvzooError(f"{path}: not a convzoo checkpoint (no state_dict)")
    if "spec" not in content.get("hyper_parameters", {}):
        raise ConvzooError(f"{path}: the checkpoint carries no spec; it was not saved by convzoo")
    return content


def load(path: str | Path, device: torch.device | str = "cpu") -> ConvNet:
    """The trained network of a checkpoint, in eval mode."""
    content = read_checkpoint(path)
    model = build(content["hyper_parameters"]["spec"], device=device)
    state = {k[len(PREFIX) :]: v for k, v in content["state_dict"].items() if k.startswith(PREFIX)}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ConvzooError(f"{path}: the weights do not fit the spec it carries: {exc}") from exc
    return model.eval()
