"""Device-resident batching: every sample once per epoch, equal shards under DDP, seeded order."""

from __future__ import annotations

import pytest
import torch

from convzoo.data import ResidentLoader


def loader(n=103, batch=10, **kw):
    x = torch.arange(n, dtype=torch.float32).view(n, 1)
    return ResidentLoader(x, torch.arange(n), batch, **kw)


def seen(it):
    return torch.cat([y for _, y in it]).tolist()


def test_an_epoch_covers_every_sample_once_in_order_without_shuffle():
    ld = loader()
    assert len(ld) == 11 and seen(ld) == list(range(103))
    assert len(loader(drop_last=True)) == 10


def test_shuffle_is_a_seeded_permutation_that_changes_per_epoch():
    ld = loader(shuffle=True, seed=3)
    first, second = seen(ld), seen(ld)
    assert sorted(first) == list(range(103)) and first != second
    assert seen(loader(shuffle=True, seed=3)) == first
    ld.set_epoch(0)
    assert seen(ld) == first


def test_ranks_take_disjoint_equal_shards_of_the_same_permutation():
    shards = [seen(loader(shuffle=True, seed=1, rank=r, world_size=3)) for r in range(3)]
    assert all(len(s) == 103 // 3 for s in shards)
    union = set().union(*map(set, shards))
    assert len(union) == 3 * (103 // 3)
    single = seen(loader(shuffle=True, seed=1))[: 3 * (103 // 3)]
    assert sorted(union) == sorted(single)


def test_two_ranks_of_half_batches_equal_one_process_of_full_batches():
    one = [set(y.tolist()) for _, y in loader(n=96, batch=16, shuffle=True, seed=5)]
    halves = [
        [
            set(y.tolist())
            for _, y in loader(n=96, batch=8, shuffle=True, seed=5, rank=r, world_size=2)
        ]
        for r in range(2)
    ]
    assert [a | b for a, b in zip(*halves)] == one


def test_epoch_source_drives_the_permutation():
    epoch = {"now": 4}
    ld = loader(shuffle=True, epoch_source=lambda: epoch["now"])
    ref = loader(shuffle=True)
    ref.set_epoch(4)
    assert seen(ld) == seen(ref)


def test_augmentation_runs_on_the_batch():
    calls = []

    def augment(x, gen):
        calls.append(x.shape[0])
        return x + 1000

    xs = torch.cat([x for x, _ in loader(augment=augment)])
    assert calls[0] == 10 and xs.min() >= 1000


def test_items_of_several_batches_hold_the_same_samples_in_the_same_order():
    for drop_last in (False, True):
        single = loader(shuffle=True, seed=2, drop_last=drop_last)
        chunked = loader(shuffle=True, seed=2, drop_last=drop_last, steps=4)
        assert chunked.batches == single.batches == (10 if drop_last else 11)
        assert len(chunked) == 3
        sizes = [len(y) for _, y in chunked]
        assert sizes == ([40, 40, 20] if drop_last else [40, 40, 23])
        chunked.set_epoch(0)
        assert seen(chunked) == seen(single)


def test_items_of_several_batches_are_augmented_once_each():
    calls = []

    def augment(x, generator):
        calls.append(len(x))
        return x + 1

    ld = loader(steps=5, augment=augment)
    assert torch.cat([x for x, _ in ld]).flatten().tolist() == [i + 1.0 for i in range(103)]
    assert calls == [50, 50, 3]
    with pytest.raises(ValueError, match="steps"):
        loader(steps=0)
