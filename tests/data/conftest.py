"""Small IDX datasets written on the spot, standing in for MNIST's and Fashion-MNIST's files."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from convzoo.data.sources import PARTS


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True) -> dict:
    """Four IDX files in ``folder``; returns the SHA-256 of each file's content."""
    rng = np.random.default_rng(0)
    arrays = {
        PARTS[0]: rng.integers(0, 256, (n_train, 28, 28)),
        PARTS[1]: np.arange(n_train) % 10,
        PARTS[2]: rng.integers(0, 256, (n_test, 28, 28)),
        PARTS[3]: np.arange(n_test) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, array in arrays.items():
        data = idx_bytes(array)
        sums[name] = hashlib.sha256(data).hexdigest()
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return sums


@pytest.fixture
def idx_set(tmp_path: Path):
    """A folder with a small, valid IDX set and its sums."""
    folder = tmp_path / "idx"
    return folder, write_idx_set(folder)
