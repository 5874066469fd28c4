"""Batches drawn from tensors that already live on the accelerator.

Small datasets (MNIST's 47 MB of bytes, MNIST-1D's 640 kB) fit in device memory
many times over. Keeping them there and slicing batches with one index per
batch removes the DataLoader's per-sample Python work, its worker processes and
the host-to-device copy from the training loop; augmentation runs on the device
in one batched call. Under DDP each rank takes its own shard of every epoch's
permutation (all ranks draw the same permutation from the same seed), with equal
shard sizes so that the ranks step in lockstep.

With ``steps > 1`` one item holds that many consecutive batches (``steps *
batch_size`` rows, the last item what is left): the LightningModule then takes
several optimizer steps per Lightning step, so Lightning's fixed cost per step
(hooks, loop bookkeeping, about 2 ms on a CPU) is paid once per item, and the
augmentation runs once over the whole item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch


class ResidentLoader:
    """An iterable of ``(x, y)`` batches over device-resident tensors, one epoch per ``iter``.

    The epoch number seeds the permutation; it counts the ``iter`` calls, or
    comes from ``epoch_source`` (the trainer's epoch, so a resumed run goes on
    with the right permutation).
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        augment: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor] | None = None,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        epoch_source: Callable[[], int] | None = None,
        steps: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if steps < 1:
            raise ValueError(f"steps (batches per item) must be positive, got {steps}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside a world of {world_size}")
        self.x, self.y = x, y
        self.batch_size, self.steps = batch_size, steps
        self.shuffle, self.drop_last = shuffle, drop_last
        self.augment = augment
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.epoch_source = epoch_source
        self.generator: torch.Generator | None = None
        if augment is not None:
            self.generator = torch.Generator(device=x.device)

    @property
    def shard_size(self) -> int:
        """Samples this rank sees per epoch."""
        return len(self.y) // self.world_size if self.world_size > 1 else len(self.y)

    @property
    def batches(self) -> int:
        """Batches (optimizer steps) per epoch on this rank."""
        full, rest = divmod(self.shard_size, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __len__(self) -> int:
        return -(-self.batches // self.steps)

    def set_epoch(self, epoch: int) -> None:
        """Draw the permutation and augmentation of ``epoch`` on the next ``iter``."""
        self.epoch = epoch

    def indices(self) -> torch.Tensor:
        """This rank's sample indices for the current epoch, in order of use."""
        n = len(self.y)
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=gen)
        else:
            order = torch.arange(n)
        if self.world_size > 1:
            order = order[: self.shard_size * self.world_size][self.rank :: self.world_size]
        return order.to(self.x.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.epoch_source is not None:
            self.epoch = self.epoch_source()
        order = self.indices()
        if self.generator is not None:
            self.generator.manual_seed(self.seed * 1_000_003 + self.epoch * 101 + self.rank)
        self.epoch += 1
        end = min(len(order), self.batches * self.batch_size)
        rows = self.steps * self.batch_size
        for start in range(0, end, rows):
            idx = order[start : min(start + rows, end)]
            xb = self.x.index_select(0, idx)
            if self.augment is not None:
                xb = self.augment(xb, self.generator)
            yield xb, self.y.index_select(0, idx)
