"""How a dataset's samples become a network's inputs: canvas, permutation, standardization.

The DataModule prepares every sample in three steps, in this order: it centres the
sample on the network's canvas (``fit_canvas``), moves its positions by the run's
fixed permutation when there is one (``--permute``), and standardizes it with the
training split's mean and std. A trained network expects its inputs so prepared;
given the dataset's own samples it scores worse, without a word. ``Preprocessing``
is those three steps as one frozen value of plain numbers: the training module
records it in every checkpoint (``to_dict``), and ``convzoo.load`` gives back a
network that applies it (``from_dict``), so the test set as its dataset gives it
scores exactly what the run's report says.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from convzoo.data.transforms import fit_canvas, permute_pixels, pixel_permutation
from convzoo.errors import is_int, is_number, short_repr


def standardize(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """``x`` less ``mean``, over ``std``: the training split's statistics make it zero-mean."""
    return (x - mean) / std


@dataclass(frozen=True)
class Preprocessing:
    """The steps that make a dataset's samples ``[N, *s]`` a network's inputs ``[N, *canvas]``:
    centred on ``canvas``, permuted with the seed ``permute`` (None: not), standardized."""

    canvas: tuple[int, ...]
    permute: int | None = None
    mean: float = 0.0
    std: float = 1.0

    @functools.cached_property
    def order(self) -> torch.Tensor | None:
        """The fixed order of the canvas's positions (None without ``permute``)."""
        return None if self.permute is None else pixel_permutation(self.canvas, self.permute)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The samples ``x``, as the dataset gives them, prepared as the run prepared its own."""
        x = fit_canvas(x, self.canvas, "the input")
        if self.order is not None:
            x = permute_pixels(x, self.order)
        return standardize(x, self.mean, self.std)

    def to_dict(self) -> dict[str, Any]:
        """The steps as plain data, as a checkpoint keeps them (the canvas is its spec's input)."""
        return {"permute": self.permute, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, canvas: tuple[int, ...], data: Any) -> Preprocessing:
        """The steps ``to_dict`` wrote, onto ``canvas``; a ``ValueError`` that says what is wrong
        for anything else."""
        keys = ("permute", "mean", "std")
        if not isinstance(data, Mapping) or set(data) != set(keys):
            raise ValueError(f"expected a mapping of {', '.join(keys)}, got {short_repr(data)}")
        permute, mean, std = (data[key] for key in keys)
        if permute is not None and not is_int(permute):
            raise ValueError(f"permute {short_repr(permute)} is not a seed")
        if not (is_number(mean) and math.isfinite(mean)):
            raise ValueError(f"mean {short_repr(mean)} is not a finite number")
        if not (is_number(std) and math.isfinite(std) and std > 0):
            raise ValueError(f"std {short_repr(std)} is not a positive number")
        return cls(tuple(canvas), permute, float(mean), float(std))
