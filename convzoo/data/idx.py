"""Read IDX files (the MNIST family's format), verified against known SHA-256 sums.

The sum is of the uncompressed content, so ``train-images-idx3-ubyte`` and its
``.gz`` both verify. A damaged file -- an unreadable gzip stream, a bad magic
number, fewer bytes than its header promises -- fails before any training with one
message that names the file and says to fetch it again. A sound file with another
sum is not called damaged: the reader's ``verify`` says what it is instead (another
dataset's file, say), since the file may be a valid one given for the wrong dataset.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from convzoo.errors import ConvzooError


class DataError(ConvzooError):
    """A dataset that is missing, corrupt or does not fit the network."""


REFETCH = "delete it and download it again"
"""How every message about a damaged file ends."""

_DTYPES: dict[int, DTypeLike] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def find(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz``, whichever exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_bytes(path: Path) -> bytes:
    """The uncompressed content of a raw or gzipped file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (zlib.error, EOFError, gzip.BadGzipFile) as exc:  # before OSError: BadGzipFile is one
        raise DataError(
            f"{path}: cannot read the file, it is corrupt or truncated ({exc}); {REFETCH}"
        ) from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc


def read_idx(path: Path, verify: Callable[[str], str | None] | None = None) -> np.ndarray:
    """The array in an IDX file, read whole and checked for damage; then ``verify``, given
    the SHA-256 of the uncompressed content, returns None for the expected file, else what
    is wrong with it, raised as a ``DataError`` naming the file."""
    data = read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number); {REFETCH}")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    if len(data) != header + math.prod(shape) * dtype.itemsize:
        raise DataError(
            f"{path}: size does not match its header {shape}: the file is truncated; {REFETCH}"
        )
    wrong = verify(hashlib.sha256(data).hexdigest()) if verify is not None else None
    if wrong is not None:
        raise DataError(f"{path}: {wrong}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
