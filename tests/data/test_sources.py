"""Where datasets come from: local folders, the Debian package, the download path, generators.

No test needs the real files: IDX sets are written on the spot and the known
sums patched to theirs; the download path runs torchvision's real downloader
against a ``file://`` mirror.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import numpy as np
import pytest
import torch
import torchvision.datasets

from convzoo.data import DataError, dataset_names, load_dataset, sources
from tests.data.conftest import idx_bytes, write_idx_set
from tests.data.test_idx import scribbled_gzip


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "DEBIAN_FASHION", tmp_path / "no-debian-package")
    monkeypatch.setenv("CONVZOO_DATA", str(tmp_path / "cache"))


def test_all_datasets_are_listed():
    assert set(dataset_names()) >= {"fashion_mnist", "mnist", "mnist1d", "digits", "synthetic"}


def test_mnist_from_a_data_dir(idx_set, monkeypatch):
    folder, sums = idx_set
    monkeypatch.setattr(sources, "MNIST_SHA256", sums)
    ds = load_dataset("mnist", folder, download=False)
    assert ds.train_x.shape == (40, 1, 28, 28) and ds.test_x.shape == (20, 1, 28, 28)
    assert ds.train_x.dtype == torch.float32 and ds.train_x.min() >= 0 and ds.train_x.max() <= 1
    assert ds.train_y.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert ds.classes == 10 and not ds.flips


def test_torchvision_layout_is_found(tmp_path, monkeypatch):
    sums = write_idx_set(tmp_path / "MNIST" / "raw", gz=False)
    monkeypatch.setattr(sources, "MNIST_SHA256", sums)
    assert load_dataset("mnist", tmp_path, download=False).train_x.shape[0] == 40


def test_the_real_sums_reject_a_stand_in(idx_set):
    folder, _ = idx_set
    with pytest.raises(DataError, match="SHA-256"):
        load_dataset("mnist", folder, download=False)


@pytest.mark.parametrize(
    ("registered", "given", "title", "other_title"),
    [
        ("MNIST_SHA256", "fashion_mnist", "Fashion-MNIST", "MNIST"),
        ("FASHION_SHA256", "mnist", "MNIST", "Fashion-MNIST"),
    ],
)
def test_another_known_datasets_file_is_named_with_its_data_flag(
    idx_set, monkeypatch, no_debian, registered, given, title, other_title
):
    """MNIST's valid files in --data-dir of a Fashion-MNIST run (``convzoo train lenet5_scan
    --data-dir MNIST`` without ``--data mnist``), and the reverse: the file is named as what
    it is, with the --data that reads it, and never called damaged."""
    folder, sums = idx_set
    monkeypatch.setattr(sources, registered, sums)  # the stand-in files are the known ones
    other = "mnist" if given == "fashion_mnist" else "fashion_mnist"
    with pytest.raises(DataError) as err:
        load_dataset(given, folder, download=False)
    message = str(err.value)
    assert message.startswith(
        f"{folder / 'train-images-idx3-ubyte.gz'}: this is {other_title}'s "
        f"train-images-idx3-ubyte, not {title}'s: to train on {other_title} give --data {other};"
    )
    assert "delete" not in message and "corrupt" not in message and "\n" not in message
    assert load_dataset(other, folder, download=False).train_x.shape[0] == 40


def test_a_file_of_no_known_dataset_is_damaged_or_another_datasets(idx_set, monkeypatch):
    folder, sums = idx_set
    monkeypatch.setattr(sources, "MNIST_SHA256", {**sums, "t10k-labels-idx1-ubyte": "0" * 64})
    with pytest.raises(DataError) as err:
        load_dataset("mnist", folder, download=False)
    message = str(err.value)
    assert message.startswith(f"{folder / 't10k-labels-idx1-ubyte.gz'}: not MNIST's ")
    assert "damaged or of another dataset. Give --data-dir a folder with MNIST's" in message
    assert "delete" not in message


def test_a_damaged_gzip_stream_in_a_data_dir_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MNIST_SHA256", write_idx_set(tmp_path))
    images = np.random.default_rng(0).integers(0, 4, (40, 28, 28))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(scribbled_gzip(idx_bytes(images)))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: cannot read the file") as err:
        load_dataset("mnist", tmp_path, download=False)
    assert str(err.value).endswith("delete it and download it again")


def test_fashion_mnist_prefers_the_debian_package(tmp_path, monkeypatch):
    sums = write_idx_set(tmp_path / "debian")
    monkeypatch.setattr(sources, "DEBIAN_FASHION", tmp_path / "debian")
    monkeypatch.setattr(sources, "FASHION_SHA256", sums)
    monkeypatch.setenv("CONVZOO_DATA", str(tmp_path / "cache"))
    ds = load_dataset("fashion_mnist", download=False)
    assert ds.train_x.shape[0] == 40 and ds.flips


def test_missing_data_says_how_to_get_it(no_debian):
    with pytest.raises(DataError) as err:
        load_dataset("fashion_mnist", download=False)
    assert "apt-get install dataset-fashion-mnist" in str(err.value)
    assert "--data-dir" in str(err.value)


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server over a folder: torchvision's real downloader, no internet."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_the_download_path_with_a_local_mirror(tmp_path, monkeypatch, no_debian, mirror):
    folder, url = mirror
    sums = write_idx_set(folder)
    resources = [(f.name, hashlib.md5(f.read_bytes()).hexdigest()) for f in folder.iterdir()]
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "mirrors", [url])
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "resources", sorted(resources))
    monkeypatch.setattr(sources, "FASHION_SHA256", sums)
    target = tmp_path / "downloads"
    ds = load_dataset("fashion_mnist", target, download=True)
    assert ds.train_x.shape[0] == 40
    assert (target / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_a_failed_download_is_one_clear_error(tmp_path, monkeypatch, no_debian, mirror):
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "mirrors", [mirror[1]])
    with pytest.raises(DataError, match="download failed.*apt-get install") as err:
        load_dataset("fashion_mnist", tmp_path / "dl", download=True)
    assert "\n" not in str(err.value)


def test_generated_and_bundled_datasets():
    digits = load_dataset("digits")
    assert digits.shape == (1, 8, 8) and len(digits.train_y) + len(digits.test_y) == 1797
    synthetic = load_dataset("synthetic")
    assert synthetic.shape == (1, 12, 12) and synthetic.classes == 4
    assert torch.equal(load_dataset("synthetic").train_x, synthetic.train_x)  # reproducible
    assert load_dataset("synthetic1d").shape == (1, 32)


@pytest.mark.timeout(120)
def test_mnist1d_is_generated_locally():
    ds = load_dataset("mnist1d")
    assert ds.shape == (1, 40)
    assert (len(ds.train_y), len(ds.test_y)) == (4000, 1000)
    assert set(ds.train_y.unique().tolist()) == set(range(10))
