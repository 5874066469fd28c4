"""What a device has free: every estimate made before an allocation compares against it.

``train.preflight`` compares a run's estimate (the network with its batch and its
dataset) against ``free_bytes`` before anything is allocated, and
``train.checkpoint.load`` the weights of a checkpoint's spec before it builds the
network; both trace the spec on the meta device first, where parameters take no
memory. It sits in ``assemble`` beside the meta trace, and imports no Lightning.
"""

from __future__ import annotations

from pathlib import Path

import torch

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
