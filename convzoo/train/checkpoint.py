"""``load(path)``: a trained model back from a checkpoint alone, read with ``weights_only=True``.

The checkpoint's hyperparameters hold the spec as plain data, so the network is
rebuilt by the assembler and its weights loaded; nothing in the file is ever
unpickled as code. Any file that is not a convzoo checkpoint -- empty, text,
truncated, random bytes, pickled Python objects -- is one short ``ConvzooError``
that names it, whatever torch raised while reading it.
"""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from convzoo.assemble import ConvNet, build
from convzoo.errors import ConvzooError

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
    model = build(content["hyper_parameters"]["spec"], device=device)
    state = {k[len(PREFIX) :]: v for k, v in content["state_dict"].items() if k.startswith(PREFIX)}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ConvzooError(
            f"{path}: the weights do not fit the spec it carries ({_brief(str(exc))})"
        ) from exc
    return model.eval()
