"""Where each dataset comes from: local IDX files, a generator, or a download.

- ``fashion_mnist``: ``--data-dir`` when given, else the Debian package
  ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``), else
  torchvision's download into the data dir.
- ``mnist``: the four IDX files in ``--data-dir`` (raw or gzipped, directly or in
  torchvision's ``MNIST/raw`` layout), else torchvision's download.
- ``mnist1d``: generated locally by the ``mnist1d`` package's ``make_dataset``
  with its default arguments (never its download).
- ``digits``: scikit-learn's 8x8 digits, split 80/20 with a fixed seed.
- ``synthetic``, ``synthetic1d``: small generated sets for tests and smoke runs.

IDX files are checked against the SHA-256 of their uncompressed content. A file
whose sum is another known dataset's is named as that dataset's, with the ``--data``
that reads it: a valid file given for the wrong dataset is never called damaged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from convzoo.data.catalog import Dataset, register_dataset
from convzoo.data.idx import DataError, find, read_idx

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
PARTS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

FASHION_SHA256 = dict(
    zip(
        PARTS,
        (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    )
)
MNIST_SHA256 = dict(
    zip(
        PARTS,
        (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    )
)


def known_sums() -> dict[str, tuple[str, dict[str, str]]]:
    """The datasets whose files convzoo knows by their sums: name -> (title, part -> SHA-256)."""
    return {"fashion_mnist": ("Fashion-MNIST", FASHION_SHA256), "mnist": ("MNIST", MNIST_SHA256)}


def verifier(name: str, part: str) -> Callable[[str], str | None]:
    """The check of dataset ``name``'s file ``part`` by the SHA-256 of its content: None for
    its own sum, else what the file is -- another known dataset's, named with the ``--data``
    that reads it, or a file damaged or of a dataset convzoo does not know."""
    known = known_sums()
    title, sums = known[name]
    others = {
        digest: (other, other_title, other_part)
        for other, (other_title, other_sums) in known.items()
        if other != name
        for other_part, digest in other_sums.items()
    }

    def verify(digest: str) -> str | None:
        if digest == sums[part]:
            return None
        if digest in others:
            other, other_title, other_part = others[digest]
            return (
                f"this is {other_title}'s {other_part}, not {title}'s: to train on "
                f"{other_title} give --data {other}; for {title}, give --data-dir a "
                f"folder with {title}'s files"
            )
        return (
            f"not {title}'s {part}: the SHA-256 of its content is {digest}, expected "
            f"{sums[part]}; the file is damaged or of another dataset. Give --data-dir a "
            f"folder with {title}'s files (downloaded again if these are damaged)"
        )

    return verify


def default_data_dir() -> Path:
    """``$CONVZOO_DATA``, else ``~/.cache/convzoo``: where downloads go."""
    return Path(os.environ.get("CONVZOO_DATA", Path.home() / ".cache" / "convzoo"))


def _complete(folder: Path) -> bool:
    return all(find(folder, part) is not None for part in PARTS)


def _from_idx(name: str, folder: Path, flips: bool) -> Dataset:
    paths = [find(folder, part) or folder / part for part in PARTS]  # the folder is complete
    arrays = [read_idx(path, verifier(name, part)) for path, part in zip(paths, PARTS)]
    images = [torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1) for a in arrays[::2]]
    labels = [torch.from_numpy(a.astype(np.int64)) for a in arrays[1::2]]
    return Dataset(name, images[0], labels[0], images[1], labels[1], 10, flips)


def _idx_dataset(
    name: str,
    tv_name: str,
    folders: list[Path],
    download_root: Path,
    download: bool,
    how: str,
    flips: bool,
) -> Dataset:
    title = known_sums()[name][0]
    folders = list(dict.fromkeys(folders))
    for folder in folders:
        if _complete(folder):
            return _from_idx(name, folder, flips)
    looked = ", ".join(str(f) for f in folders)
    if not download:
        raise DataError(f"{title} was not found in {looked}. {how}")
    import torchvision.datasets

    try:
        for train in (True, False):
            getattr(torchvision.datasets, tv_name)(str(download_root), train=train, download=True)
    except Exception as exc:
        raise DataError(
            f"{title} was not found in {looked}, and the download failed "
            f"({type(exc).__name__}: {' '.join(str(exc).split())}). {how}"
        ) from exc
    return _from_idx(name, download_root / tv_name / "raw", flips)


@register_dataset(
    "fashion_mnist",
    description="Fashion-MNIST: 60,000 + 10,000 28x28 greyscale images of clothing, 10 classes",
    reference="Xiao, Rasul, Vollgraf 2017",
    dims=[2],
)
def fashion_mnist(data_dir: Path | None, download: bool) -> Dataset:
    """The Debian package's files, or ``data_dir``'s, or torchvision's download."""
    root = data_dir or default_data_dir()
    folders = [root, root / "FashionMNIST" / "raw"] if data_dir else []
    folders += [DEBIAN_FASHION, root / "FashionMNIST" / "raw"]
    how = (
        "Install it with `apt-get install dataset-fashion-mnist`, let torchvision download "
        "it (needs the internet), or pass --data-dir with the four IDX files."
    )
    return _idx_dataset("fashion_mnist", "FashionMNIST", folders, root, download, how, flips=True)


@register_dataset(
    "mnist",
    description="MNIST: 60,000 + 10,000 28x28 greyscale handwritten digits",
    reference="LeCun, Cortes, Burges 1998",
    dims=[2],
)
def mnist(data_dir: Path | None, download: bool) -> Dataset:
    """``data_dir``'s four IDX files (or torchvision's layout there), or the download."""
    root = data_dir or default_data_dir()
    how = (
        "Pass --data-dir with the four IDX files (train-images-idx3-ubyte[.gz], ...), "
        "or let torchvision download them (needs the internet)."
    )
    return _idx_dataset(
        "mnist", "MNIST", [root, root / "MNIST" / "raw"], root, download, how, flips=False
    )


@register_dataset(
    "mnist1d",
    description="MNIST-1D: 4,000 + 1,000 signals of length 40, generated locally",
    reference="Greydanus & Kobak 2024, Scaling down deep learning with MNIST-1D",
    dims=[1],
)
def mnist1d(data_dir: Path | None, download: bool) -> Dataset:
    """Generated by ``mnist1d.data.make_dataset`` with its default arguments."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        raise DataError(f"MNIST-1D needs the mnist1d package: pip install mnist1d ({exc})") from exc
    state = np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(state)

    def signals(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32)).unsqueeze(1)

    def labels(y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(y.astype(np.int64))

    train = signals(data["x"]), labels(data["y"])
    return Dataset("mnist1d", *train, signals(data["x_test"]), labels(data["y_test"]), 10)


def _split(
    x: torch.Tensor, y: torch.Tensor, test: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = int(len(y) * (1 - test))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


@register_dataset(
    "digits",
    description="scikit-learn's 1,797 8x8 handwritten digits (UCI), split 80/20",
    reference="Alpaydin & Kaynak 1998",
    dims=[2],
)
def digits(data_dir: Path | None, download: bool) -> Dataset:
    """Shipped with scikit-learn; pixel values 0..16 scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    return Dataset("digits", *_split(x, y, 0.2, seed=0), classes=10)


def _synthetic(name: str, size: tuple[int, ...], classes: int = 4, n: int = 768) -> Dataset:
    """Class templates (smooth random patterns) shifted by up to one pixel, plus noise."""
    gen = torch.Generator().manual_seed(0)
    coarse = torch.rand(classes, 1, *[max(2, s // 3) for s in size], generator=gen)
    mode = "bilinear" if len(size) == 2 else "linear"
    templates = torch.nn.functional.interpolate(coarse, size=size, mode=mode, align_corners=False)
    labels = torch.arange(n) % classes
    x = templates[labels].clone()
    shifts = torch.randint(-1, 2, (n, len(size)), generator=gen)
    for i in range(n):
        x[i] = torch.roll(x[i], tuple(shifts[i].tolist()), dims=tuple(range(1, len(size) + 1)))
    x = (x + 0.1 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    cut = n * 2 // 3
    return Dataset(name, x[:cut], labels[:cut], x[cut:], labels[cut:], classes)


@register_dataset("synthetic", description="512 + 256 generated 12x12 images, 4 classes", dims=[2])
def synthetic(data_dir: Path | None, download: bool) -> Dataset:
    """Small, learnable, made on the spot: for tests and smoke runs."""
    return _synthetic("synthetic", (12, 12))


@register_dataset("synthetic1d", description="512 + 256 generated signals of length 32", dims=[1])
def synthetic1d(data_dir: Path | None, download: bool) -> Dataset:
    """The 1-D counterpart of ``synthetic``."""
    return _synthetic("synthetic1d", (32,))
