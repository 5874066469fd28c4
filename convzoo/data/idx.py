"""Read IDX files (the MNIST family's format), verified against known SHA-256 sums.

The sum is of the uncompressed content, so ``train-images-idx3-ubyte`` and its
``.gz`` both verify. A corrupt, truncated or substituted file fails before any
training with a message naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from convzoo.errors import ConvzooError


class DataError(ConvzooError):
    """A dataset that is missing, corrupt or does not fit the network."""


_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


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
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read the file ({exc}); download it again") from exc


def read_idx(path: Path, sha256: str | None) -> np.ndarray:
    """The array in an IDX file; ``sha256`` (of the uncompressed bytes) is checked first."""
    data = read_bytes(path)
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise DataError(
                f"{path}: SHA-256 of the content is {digest}, expected {sha256}: the file is "
                "corrupt, truncated or not the expected one; delete it and get it again"
            )
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    if len(data) != header + int(np.prod(shape)) * dtype.itemsize:
        raise DataError(f"{path}: size does not match its header {shape}: the file is truncated")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
