"""IDX reading: arrays come back exactly, and corrupt or truncated files fail by name."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from convzoo.data.idx import DataError, find, read_idx
from tests.data.conftest import idx_bytes


def test_round_trip_raw_and_gz(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "b.gz").write_bytes(gzip.compress(idx_bytes(array)))
    assert np.array_equal(read_idx(tmp_path / "a", None), array)
    assert np.array_equal(read_idx(find(tmp_path, "b"), None), array)
    assert find(tmp_path, "c") is None


def test_a_wrong_sum_names_the_file(idx_set):
    folder, sums = idx_set
    path = find(folder, "train-labels-idx1-ubyte")
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[-1] ^= 1
    path.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: SHA-256 .* corrupt"):
        read_idx(path, sums["train-labels-idx1-ubyte"])


def test_truncated_files_fail_clearly(tmp_path):
    array = np.zeros((4, 5), dtype=np.uint8)
    (tmp_path / "t").write_bytes(idx_bytes(array)[:-3])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "t", None)
    (tmp_path / "t.gz").write_bytes(gzip.compress(idx_bytes(array))[:-8])
    with pytest.raises(DataError, match="t.gz: cannot read"):
        read_idx(tmp_path / "t.gz", None)
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "junk", None)
