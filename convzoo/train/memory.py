"""How much memory a run will need, estimated on the meta device before anything is allocated.

A spec asking for ``out: 10**12`` channels must be refused with a number, not
by the allocator failing (or the machine swapping). The estimate counts the
parameters four times (weights, gradients and up to two optimizer buffers) and
every layer's output twice per sample of a batch (kept for the backward pass,
and its gradient), in float32. It is compared with the memory free on the
training device -- ``MemAvailable`` of ``/proc/meminfo`` on the CPU, the free
memory of the first GPU -- unless ``memory_limit`` (GiB) says otherwise.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from convzoo.assemble import build_meta
from convzoo.errors import ConvzooError
from convzoo.spec import Spec

BYTES = 4
GIB = 2**30


def estimate(spec: Spec, batch_size: int) -> tuple[int, int]:
    """Bytes for the parameters (with gradients and optimizer state) and for the activations."""
    model = build_meta(spec)
    params = sum(p.numel() for p in model.parameters())
    outputs = sum(math.prod(r.out_shape) for r in model.rows if r.out_shape is not None)
    return 4 * params * BYTES, 2 * outputs * batch_size * BYTES


def free_bytes(accelerator: str) -> int | None:
    """Memory free on the training device, or None where it cannot be read."""
    if accelerator == "gpu" and torch.cuda.is_available():
        return torch.cuda.mem_get_info(0)[0]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_fits(spec: Spec, batch_size: int, accelerator: str, limit_gib: float | None) -> None:
    """Refuse a run whose estimate exceeds ``limit_gib`` (default: the free memory)."""
    params, activations = estimate(spec, batch_size)
    limit = free_bytes(accelerator) if limit_gib is None else int(limit_gib * GIB)
    if limit is None or params + activations <= limit:
        return
    where = "set by --memory-limit" if limit_gib is not None else f"free on the {accelerator}"
    raise ConvzooError(
        f"{spec.name} needs about {(params + activations) / GIB:,.1f} GiB "
        f"({params / GIB:,.2f} GiB for parameters, gradients and optimizer state; "
        f"{activations / GIB:,.2f} GiB of activations at batch size {batch_size}), but "
        f"{limit / GIB:,.1f} GiB are {where}. Make the network or --batch-size smaller, "
        "or raise --memory-limit GIB if the estimate is too cautious"
    )
