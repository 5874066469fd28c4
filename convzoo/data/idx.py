"""Read IDX files (the MNIST family's format), verified against known SHA-256 sums.

The sum is of the uncompressed content, so ``train-images-idx3-ubyte`` and its
``.gz`` both verify. A corrupt, truncated or substituted file -- a damaged gzip
stream included -- fails before any training with one message that names the
file and says to fetch it again.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import zlib
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


def read_idx(path: Path, sha256: str | None) -> np.ndarray:
    """The array in an IDX file; ``sha256`` (of the uncompressed bytes) is checked first."""
    data = read_bytes(path)
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise DataError(
                f"{path}: SHA-256 of the content is {digest}, expected {sha256}: the file is "
                f"corrupt, truncated or not the expected one; {REFETCH}"
            )
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
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
