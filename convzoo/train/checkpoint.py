"""Where a run's checkpoint is written and read: the run directory, atomic saves, ``load``.

A run writes everything under one folder (``run_dir``); only rank zero writes::

    RUN/                       --out, else runs/ARCH-DATA-TIME
      checkpoints/last.ckpt    the last epoch's checkpoint, what --resume continues (CHECKPOINT)
      config.yaml              the resolved settings, written before the first step (CONFIG)
      logs/, logs-2/, ...      the metrics of each part of the run (report.py)
      report.md, report.json   written when the run has ended, report.json last (REPORT)

A folder with a checkpoint and no ``report.json`` holds an unfinished run.

Writing: Lightning's own writer stages a checkpoint under ``$TMPDIR`` and moves it
onto ``last.ckpt``; when ``$TMPDIR`` is another filesystem (a tmpfs ``/tmp``, runs on
disk) that move is a copy in place, and a kill during it leaves a truncated
``last.ckpt`` -- the only one -- and an orphan temporary file. Here the checkpoint
is serialized in memory and written through ``convzoo.files.write_atomic`` (a
temporary file in the same folder, fsync, rename, fsync of the folder), so the
previous checkpoint stays whole until the new one is complete; the temporary files
a kill leaves anywhere in the run directory are removed when the run starts again.

Integrity: the writer adds the SHA-256 of everything else in the checkpoint (``DIGEST``:
every tensor's dtype, shape and bytes and every plain value, in the checkpoint's own
order), and every read -- ``load``, ``convzoo evaluate`` and ``scan``, ``--resume`` and
Lightning's own read of the checkpoint it resumes -- goes through ``read_checkpoint``,
which recomputes it and refuses a file whose content no longer matches: bytes flipped on
disk or in a copy would otherwise load as different weights without a word. A
checkpoint written before convzoo kept a digest has none, and is read unchecked.

Reading: ``load(path)`` gives the trained model back from the checkpoint alone (or from
a run directory's, found as ``evaluate`` and ``scan`` find it: ``locate``), read with
``weights_only=True``. Its hyperparameters hold the spec as plain data, so the network
is rebuilt by the assembler and its weights loaded; nothing in the file is ever
unpickled as code. The model takes its inputs as its dataset gives them: the checkpoint
records how the run's data prepared its samples (``INPUT``: the permutation and the
training split's mean and std; the canvas is the spec's input), and the model applies
it (``TrainedNet``), so the test set as the dataset gives it scores what the report
says. A checkpoint written before convzoo recorded it loads with a warning, its inputs
taken as they are; ``load_network`` gives the bare network, for inputs already prepared.
Any file that is not a convzoo checkpoint -- empty, text, truncated, random bytes,
pickled Python objects -- is one short ``ConvzooError`` that names it, whatever torch
raised while reading it. ``locate`` finds the
checkpoint of a run directory, or the run directory of a checkpoint. Reading imports
no Lightning (3 s): the writer's classes are made on first use.
"""

from __future__ import annotations

import functools
import hashlib
import io
import pickle
import re
import warnings
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from convzoo.assemble import ConvNet, build, build_meta, memory
from convzoo.assemble.memory import GIB
from convzoo.data.preprocessing import Preprocessing
from convzoo.errors import ConvzooError, ConvzooWarning
from convzoo.files import remove_orphans, write_atomic
from convzoo.train.config import TrainConfig

CHECKPOINT = Path("checkpoints") / "last.ckpt"
CONFIG = "config.yaml"
REPORT = "report.json"
DIGEST = "sha256"  # the checkpoint's key for the SHA-256 of the rest of it
INPUT = "input"  # the key, under "convzoo", of how the data prepared its samples

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
            """Serialize ``checkpoint`` with its digest and write it atomically to ``path``."""
            buffer = io.BytesIO()
            torch.save({**checkpoint, DIGEST: digest(checkpoint)}, buffer)
            write_atomic(path, buffer.getvalue())

        def load_checkpoint(
            self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
        ) -> dict[str, Any]:
            """The checkpoint a fit resumes, read and checked as every checkpoint is."""
            return read_checkpoint(path)

        def __reduce__(self) -> tuple[Any, ...]:  # a spawned rank unpickles it: made again
            return atomic_checkpoint_io, ()

    return AtomicCheckpointIO


def remove_unfinished_saves(out: Path) -> None:
    """Delete the temporary files of the saves that kills interrupted anywhere in the run
    directory (a checkpoint, ``config.yaml``, a report, an evaluation), but a live writer's."""
    remove_orphans(out)


# -- integrity -------------------------------------------------------------------------

FINITE = ("state_dict", "optimizer_states")  # weights, buffers and optimizer state


def finite_state(checkpoint: Mapping[str, Any]) -> bool:
    """Whether every floating-point tensor under ``FINITE`` in ``checkpoint`` is finite. The
    rest may hold an infinity on purpose (``ModelCheckpoint``'s worst score so far)."""
    tensors = _tensors([checkpoint.get(key) for key in FINITE])
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (Mapping, list, tuple)):
        for item in value.values() if isinstance(value, Mapping) else value:
            yield from _tensors(item)


def digest(checkpoint: Mapping[str, Any]) -> str:
    """The SHA-256 of everything in ``checkpoint`` but its ``DIGEST``: each tensor's dtype,
    shape and bytes, each plain value's repr, mappings and lists with their lengths, in
    their own order (which saving and loading keep), sets in the order of their items' reprs."""
    sha = hashlib.sha256()
    _feed(sha, {k: v for k, v in checkpoint.items() if k != DIGEST})
    return sha.hexdigest()


def _feed(sha: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        sha.update(f"T{flat.dtype}{tuple(value.shape)}".encode())
        sha.update(flat.view(torch.uint8).numpy())
    elif isinstance(value, Mapping):
        sha.update(f"M{len(value)}".encode())
        for key, item in value.items():
            _feed(sha, key)
            _feed(sha, item)
    elif isinstance(value, (list, tuple)):
        sha.update(f"L{len(value)}".encode())
        for item in value:
            _feed(sha, item)
    elif isinstance(value, (set, frozenset)):  # in an order that no hash seed changes
        sha.update(f"S{len(value)}".encode())
        for item in sorted(value, key=repr):
            _feed(sha, item)
    else:
        text = repr(value)
        sha.update(f"V{len(text)}:{text}".encode())


def _check_digest(path: Path, content: dict[str, Any]) -> None:
    """Refuse a checkpoint whose content is not what its writer's digest says."""
    if DIGEST in content and content[DIGEST] != digest(content):
        raise ConvzooError(
            f"{path}: the checkpoint's content does not match the SHA-256 digest written with "
            "it, so the file was damaged or changed after it was saved; restore it from a "
            "copy, or train again"
        )


# -- reading ---------------------------------------------------------------------------

PREFIX = "model."
_UNREADABLE = "not a readable checkpoint"
_PLAIN_DATA = (
    "convzoo only reads plain-data checkpoints (tensors, numbers, strings, lists and dicts, "
    "as `convzoo train` saves them), so this file is corrupt or was not saved by convzoo"
)
_REFUSED = "WeightsUnpickler error:"  # where torch's weights-only refusal gives its reason
_NO_INPUT = (
    "the checkpoint records no input preprocessing (it was written before convzoo kept one), "
    "so the network takes its inputs as they are: give it samples prepared as its run "
    "prepared them (centred on its input canvas, standardized with the training split's mean "
    "and std), or train it again"
)


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
    """The checkpoint's content (tensors and plain data only), checked against its digest."""
    path = Path(path)
    if not path.is_file():
        raise ConvzooError(f"{path}: no such checkpoint file")
    content = _torch_load(path)
    if not isinstance(content, dict) or not isinstance(content.get("state_dict"), dict):
        raise ConvzooError(f"{path}: not a convzoo checkpoint (no state_dict)")
    _check_digest(path, content)
    hyper = content.get("hyper_parameters")
    if not isinstance(hyper, dict) or not isinstance(hyper.get("spec"), dict):
        raise ConvzooError(f"{path}: the checkpoint carries no spec; it was not saved by convzoo")
    return content


def check_weights(
    path: Path, spec: Mapping[str, Any], state: Mapping[str, torch.Tensor], device: Any
) -> None:
    """Refuse to build the network of the checkpoint ``path`` when its ``spec`` asks for more
    values than the checkpoint's ``state`` holds (the spec was edited, or belongs to other
    weights) or for more memory than ``device`` has free."""
    needed = build_meta(spec).state_dict().values()
    count, size = sum(t.numel() for t in needed), sum(t.numel() * t.element_size() for t in needed)
    held = sum(t.numel() for t in state.values())
    if count > held:
        raise ConvzooError(
            f"{path}: the spec it carries asks for {count:,} weights ({size / GIB:,.2f} GiB) "
            f"and the checkpoint holds {held:,}: the spec does not belong to these weights "
            "(the file was edited, or is corrupt); nothing was built"
        )
    accelerator = "gpu" if torch.device(device).type == "cuda" else "cpu"
    free = memory.free_bytes(accelerator)
    if free is not None and size > free:
        raise ConvzooError(
            f"{path}: its network needs about {size / GIB:,.1f} GiB for its weights, and "
            f"{free / GIB:,.1f} GiB are free on the {accelerator}; free some memory, or load it "
            "on a device with more (cz.load(path, device=...))"
        )


def _network(path: Path, content: Mapping[str, Any], device: torch.device | str) -> ConvNet:
    """The network of the checkpoint ``path`` whose ``content`` is read, in eval mode."""
    spec = content["hyper_parameters"]["spec"]
    state = {k[len(PREFIX) :]: v for k, v in content["state_dict"].items() if k.startswith(PREFIX)}
    check_weights(path, spec, state, device)
    model = build(spec, device=device)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ConvzooError(
            f"{path}: the weights do not fit the spec it carries ({_brief(str(exc))})"
        ) from exc
    return model.eval()


def load_network(path: str | Path, device: torch.device | str = "cpu") -> ConvNet:
    """The trained network of the checkpoint ``path``, in eval mode, taking inputs already
    prepared as its run prepared them (``evaluate``, ``scan`` and the bench prepare them)."""
    return _network(Path(path), read_checkpoint(path), device)


def _preprocessing(
    path: Path, content: Mapping[str, Any], canvas: tuple[int, ...]
) -> Preprocessing | None:
    """The ``Preprocessing`` the checkpoint records (``INPUT``); None where its data was not a
    convzoo ``DataModule``, or, with a warning, where it was written before convzoo kept it."""
    recorded = content.get("convzoo")
    if not isinstance(recorded, Mapping) or INPUT not in recorded:
        warnings.warn(f"{path}: {_NO_INPUT}", ConvzooWarning, stacklevel=3)
        return None
    if recorded[INPUT] is None:
        return None
    try:
        return Preprocessing.from_dict(canvas, recorded[INPUT])
    except ValueError as exc:
        raise ConvzooError(
            f"{path}: the input preprocessing it records is not one convzoo writes ({exc}); "
            "the file was edited or is corrupt"
        ) from exc


class TrainedNet(ConvNet):
    """A trained network that takes its inputs as its dataset gives them (what ``load`` gives).

    Its forward applies ``preprocess`` -- the canvas, permutation and standardization its
    run's data applied, as the checkpoint records them -- then the network. ``preprocess``
    is None where the checkpoint records none (data other than a convzoo ``DataModule``,
    or a checkpoint written before convzoo kept it): inputs are taken as they are. It
    holds the network's own layers (the same ``state_dict``); ``net`` is that network,
    sharing them, for inputs already prepared.
    """

    def __init__(self, net: ConvNet, preprocess: Preprocessing | None) -> None:
        super().__init__(net.spec, net.layers, net.rows, net.shared)
        self.preprocess = preprocess
        self.training = net.training

    @property
    def net(self) -> ConvNet:
        """The same network and weights, taking inputs already prepared."""
        net = ConvNet(self.spec, self.layers, self.rows, self.shared)
        net.training = self.training
        return net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of the samples ``x`` as the dataset gives them."""
        return super().forward(x if self.preprocess is None else self.preprocess(x))


def load(path: str | Path, device: torch.device | str = "cpu") -> TrainedNet:
    """The trained network of a checkpoint or a run directory, in eval mode, taking its inputs
    as its dataset gives them (``TrainedNet``)."""
    ckpt, _ = locate(path)
    content = read_checkpoint(ckpt)
    net = _network(ckpt, content, device)
    return TrainedNet(net, _preprocessing(ckpt, content, tuple(net.spec.input)))
