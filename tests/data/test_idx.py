"""IDX reading: arrays come back exactly, and corrupt or truncated files fail by name."""

from __future__ import annotations

import gzip
import zlib

import numpy as np
import pytest

from convzoo.data.idx import DataError, find, read_idx
from tests.data.conftest import idx_bytes

REFETCH = "delete it and download it again"


def test_round_trip_raw_and_gz(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "b.gz").write_bytes(gzip.compress(idx_bytes(array)))
    assert np.array_equal(read_idx(tmp_path / "a", None), array)
    assert np.array_equal(read_idx(find(tmp_path, "b"), None), array)
    assert find(tmp_path, "c") is None


def test_the_verifier_sees_the_content_sum_and_its_verdict_names_the_file(idx_set):
    folder, sums = idx_set
    path = find(folder, "train-labels-idx1-ubyte")
    seen: list[str] = []

    def verify(digest: str) -> str | None:
        seen.append(digest)
        return None if digest == sums["train-labels-idx1-ubyte"] else f"unexpected {digest}"

    assert read_idx(path, verify).tolist() == [i % 10 for i in range(40)]
    assert seen == [sums["train-labels-idx1-ubyte"]]  # of the content, not of the .gz
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[-1] ^= 1
    path.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(DataError, match=r"labels-idx1-ubyte.gz: unexpected [0-9a-f]{64}$"):
        read_idx(path, verify)


def test_a_damaged_file_is_called_damaged_before_its_sum_is_asked(tmp_path):
    (tmp_path / "t").write_bytes(idx_bytes(np.zeros((4, 5), dtype=np.uint8))[:-3])
    with pytest.raises(DataError, match=f"truncated; {REFETCH}"):
        read_idx(tmp_path / "t", lambda digest: "never asked")


def test_truncated_files_fail_clearly(tmp_path):
    array = np.zeros((4, 5), dtype=np.uint8)
    (tmp_path / "t").write_bytes(idx_bytes(array)[:-3])
    with pytest.raises(DataError, match=f"truncated; {REFETCH}"):
        read_idx(tmp_path / "t", None)
    (tmp_path / "t.gz").write_bytes(gzip.compress(idx_bytes(array))[:-8])
    with pytest.raises(DataError, match="t.gz: cannot read"):
        read_idx(tmp_path / "t.gz", None)
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(DataError, match=f"not an IDX file .*; {REFETCH}"):
        read_idx(tmp_path / "junk", None)


def scribbled_gzip(content: bytes) -> bytes:
    """``content`` gzipped, then 16 bytes from near the middle on overwritten, at the first
    spot where that makes zlib itself fail (``zlib.error``), not only gzip's CRC check."""
    packed = gzip.compress(content, mtime=0)
    for start in range(len(packed) // 2, len(packed) - 24):
        damaged = packed[:start] + b"\xa5" * 16 + packed[start + 16 :]
        try:
            gzip.decompress(damaged)
        except zlib.error:
            return damaged
        except (OSError, EOFError):
            continue
    raise AssertionError("no damage near the middle reaches zlib.error")


def _gzip_damage(kind: str) -> bytes:
    """A gzipped IDX file damaged in one way; each fails at a different place in gzip/zlib."""
    content = idx_bytes(np.random.default_rng(0).integers(0, 4, (32, 28, 28)))
    packed = gzip.compress(content, mtime=0)
    middle = len(packed) // 2
    damaged = {
        "scribbled_middle": scribbled_gzip(content),  # zlib.error
        "truncated": packed[:middle],  # EOFError
        "bad_trailer": packed[:-8] + bytes(8),  # gzip.BadGzipFile: CRC check failed
        "not_gzip": b"<html>404 Not Found</html>",  # gzip.BadGzipFile: Not a gzipped file
    }
    return damaged[kind]


@pytest.mark.parametrize("kind", ["scribbled_middle", "truncated", "bad_trailer", "not_gzip"])
def test_a_damaged_gzip_stream_is_one_data_error(tmp_path, kind):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(_gzip_damage(kind))
    with pytest.raises(DataError) as err:
        read_idx(path, None)
    message = str(err.value)
    assert message.startswith(f"{path}: cannot read the file, it is corrupt or truncated (")
    assert message.endswith(REFETCH) and "\n" not in message and len(message) < 400
