"""Windows of strips with a background class: shares, centres, gaps, seeds, the dataset.

Images are made on the spot: image i is the value i + 1 on the columns it inks, so
every column of a window tells which image it came from (0: blank canvas).
"""

from __future__ import annotations

import pytest
import torch

from convzoo.data import Dataset, dataset_names, load_dataset, sources
from convzoo.data.windows import make_windows, window_dataset
from convzoo.errors import ConvzooError

WIDTH, SHIFT, MARGIN = 28, 4, 10


def numbered(n: int, ink: int = WIDTH, first: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images [n, 1, 6, WIDTH], image i = ``first + i`` on its middle ``ink`` columns."""
    values = torch.arange(first, first + n, dtype=torch.float32)
    images = values.view(n, 1, 1, 1).expand(n, 1, 6, WIDTH).clone()
    lo = (WIDTH - ink) // 2
    images[..., :lo] = 0
    images[..., lo + ink :] = 0
    return images, torch.arange(n) % 10


def cut(images: torch.Tensor, labels: torch.Tensor, count: int = 3000, **kw):
    return make_windows(images, labels, count, background=10, shift=SHIFT, margin=MARGIN, **kw)


def test_the_background_class_has_its_share():
    images, labels = numbered(50)
    for share in (1 / 3, 0.5, 0.0):
        _, y = cut(images, labels, share=share)
        assert int(y.eq(10).sum()) == round(share * 3000)
        assert y.dtype == torch.long and set(y[y != 10].unique().tolist()) == set(range(10))


def test_a_digit_window_has_its_image_at_the_centre_within_the_shift():
    images, labels = numbered(50)
    x, y = cut(images, labels)
    shifts = []
    for window, label in zip(x[y != 10, 0, 0], y[y != 10]):
        centre = window[WIDTH // 2 - 1 : WIDTH // 2 + 1]
        assert centre[0] == centre[1] > 0
        image = int(centre[0]) - 1
        assert int(labels[image]) == int(label)
        mine = torch.nonzero(window == centre[0]).flatten()
        first, last = int(mine[0]), int(mine[-1])
        assert last - first + 1 == WIDTH - abs(first - (WIDTH - 1 - last))  # one run
        shifts.append(WIDTH - 1 - last if first == 0 else -first)
    assert min(shifts) == -SHIFT and max(shifts) == SHIFT  # random shifts, never larger


def test_neighbours_intrude_into_digit_windows():
    images, labels = numbered(50)
    x, y = cut(images, labels)
    digit = x[y != 10, 0, 0]
    centre = digit[:, WIDTH // 2]
    intruded = ((digit != centre[:, None]) & (digit > 0)).any(1)
    assert 0.1 < float(intruded.float().mean()) < 0.9


def test_a_background_window_is_centred_on_a_gap_or_blank_canvas():
    """Ink within MARGIN - 1 columns of an image's centre: a window centred at least MARGIN
    columns from every image centre has no ink in its two centre columns."""
    images, labels = numbered(50, ink=2 * (MARGIN - 1))
    x, y = cut(images, labels)
    middle = x[:, 0, 0, WIDTH // 2 - 1 : WIDTH // 2 + 1]
    assert middle[y == 10].eq(0).all()
    assert middle[y != 10].gt(0).all()
    seen = x[y == 10, 0, 0].gt(0).any(1)  # most show part of a digit, some only blank canvas
    assert 0.5 < float(seen.float().mean()) < 1.0


def test_a_seed_gives_the_same_windows():
    images, labels = numbered(50)
    x, y = cut(images, labels, seed=3)
    again, y_again = cut(images, labels, seed=3)
    other, y_other = cut(images, labels, seed=4)
    assert torch.equal(x, again) and torch.equal(y, y_again)
    assert not torch.equal(x, other) and not torch.equal(y, y_other)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"share": 1.5}, r"make_windows: share 1.5 must be a probability in \[0, 1\]"),
        ({"neighbour": -0.1}, r"make_windows: neighbour -0.1 must be a probability"),
        ({"count": 0}, r"make_windows: count 0 must be at least 1 \(the number of windows\)"),
        ({"shift": 10}, r"shift 10 and margin 10 need 0 <= shift < margin.*lower shift"),
        ({"margin": 15, "shift": 2}, r"margin 15 leaves no room.*28 columns wide.*lower margin"),
        ({"gap": (3, 1)}, r"gap must be \(low, high\) with 0 <= low <= high"),
    ],
)
def test_bad_arguments_say_what_to_change(kw, message):
    images, labels = numbered(5)
    args = {"count": 10, "shift": SHIFT, "margin": MARGIN, **kw}
    with pytest.raises(ConvzooError, match=message):
        make_windows(images, labels, background=10, **args)


def test_a_window_dataset_keeps_its_splits_apart_and_names_its_background_and_base():
    train, test = numbered(40), numbered(20, first=1001)
    base = Dataset("numbers", *train, *test, classes=10)
    ds = window_dataset("numbers_windows", base)
    assert (ds.classes, ds.background, ds.base, ds.name) == (11, 10, "numbers", "numbers_windows")
    assert ds.train_x.shape == (40, 1, 6, WIDTH) and ds.test_x.shape == (20, 1, 6, WIDTH)
    assert ds.train_x.max() <= 40 and ds.test_x[ds.test_x > 0].min() > 1000
    assert set(ds.train_y.tolist()) <= set(range(11)) and 10 in ds.train_y.tolist()


def test_mnist_windows_is_registered_and_cut_from_mnist(idx_set, monkeypatch):
    folder, sums = idx_set
    monkeypatch.setattr(sources, "MNIST_SHA256", sums)
    assert "mnist_windows" in dataset_names()
    ds = load_dataset("mnist_windows", folder, download=False)
    assert (ds.classes, ds.background, ds.base) == (11, 10, "mnist")
    assert ds.train_x.shape == (40, 1, 28, 28) and ds.test_x.shape == (20, 1, 28, 28)
    assert ds.train_x.dtype == torch.float32 and 0 <= ds.train_x.min() <= ds.train_x.max() <= 1
    assert int(ds.train_y.eq(10).sum()) == round(40 / 3)
