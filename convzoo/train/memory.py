"""What a device has free, and what a network from a file would take of it, before it is built.

Every estimate before an allocation compares against ``free_bytes``: ``preflight``'s
for a run (the network with its batch and its dataset), and ``check_weights`` for the
network of a checkpoint's spec, which ``checkpoint.load`` (``cz.load``, ``convzoo
evaluate``, ``scan``, the bench) asks before it builds it. The spec is traced on the
meta device, where parameters take no memory, so a spec edited to ask for billions of
weights costs nothing to refuse. This module imports no Lightning, so that loading a
checkpoint stays quick.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from convzoo.assemble import build_meta
from convzoo.errors import ConvzooError

GIB = 2**30


def free_bytes(accelerator: str) -> int | None:
    """Memory free on the device (``gpu``: the first GPU), or None where it cannot be read."""
    if accelerator == "gpu" and torch.cuda.is_available():
        return torch.cuda.mem_get_info(0)[0]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


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
    free = free_bytes(accelerator)
    if free is not None and size > free:
        raise ConvzooError(
            f"{path}: its network needs about {size / GIB:,.1f} GiB for its weights, and "
            f"{free / GIB:,.1f} GiB are free on the {accelerator}; free some memory, or load it "
            "on a device with more (cz.load(path, device=...))"
        )
