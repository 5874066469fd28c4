"""A run must take at least one optimizer step per epoch on every rank, or it is refused.

Lightning answers a training split smaller than one batch per rank with "No
training batches" and ends the fit at once; the test that follows would then
describe an untrained net as a result. Training batches are whole (the last,
short one is dropped) and every rank takes the same share of the split, so the
check is exact and can run before anything is built.
"""

from __future__ import annotations

from convzoo.errors import ConvzooError


def batches_per_rank(samples: int, batch_size: int, ranks: int) -> int:
    """Whole training batches each of ``ranks`` processes takes from ``samples`` per epoch."""
    return (samples // ranks) // batch_size


def check_batches(samples: int, batch_size: int, ranks: int) -> None:
    """Refuse a run whose ranks would get less than one whole batch each per epoch."""
    if batches_per_rank(samples, batch_size, ranks) >= 1:
        return
    share = samples // ranks
    over = f" over {ranks} processes" if ranks > 1 else ""
    fix = f"--batch-size {max(1, share)} or less"
    if ranks > 1:
        fix += f", or fewer processes (--devices x --num-nodes; one takes all {samples} samples)"
    raise ConvzooError(
        f"the training split has {samples} samples{over}: {share} per process, fewer than "
        f"one batch of {batch_size}, so no step would be taken and nothing trained. "
        f"Use {fix}"
    )
