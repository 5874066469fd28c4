"""Every registered block, driven by the registry, through ``convzoo.testing.check_block``.

Like timm's tests over ``list_models()``: a block added to the registry (built-in
or from a plugin) is covered here through its ``example`` arguments, without a
new test. The kit itself is tested on blocks that break each of its rules.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import convzoo as cz
from convzoo.testing import check_block

BLOCKS = cz.list_blocks()


@pytest.mark.parametrize("info", BLOCKS, ids=[b.key for b in BLOCKS])
def test_block_conforms(info):
    check_block(info.family, info.name)


BUILT_IN = [b for b in BLOCKS if b.source.startswith("convzoo.")]


@pytest.mark.parametrize("info", BUILT_IN, ids=[b.key for b in BUILT_IN])
def test_every_built_in_block_names_its_reference(info):
    assert info.reference and info.reference.strip(), f"{info.key} has no reference"


def test_arguments_replace_the_example():
    check_block("pool", "max", kernel=3, stride=1)
    with pytest.raises(cz.SpecError):
        check_block("pool", "max", kernel=30)


class _NoGrad(nn.Module):
    def forward(self, x):
        return x.detach()


class _Noisy(nn.Module):
    def forward(self, x):
        return x + torch.rand_like(x)


class _BadGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 3


class _WrongGradient(nn.Module):
    def forward(self, x):
        return _BadGrad.apply(x)


class _Only2d(nn.Module):
    def forward(self, x):
        assert x.dim() == 4
        return x


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (_NoGrad, {}, "cut off from autograd"),
        (_Noisy, {}, "two runs on the same input differ"),
        (_WrongGradient, {}, "gradcheck failed"),
        (_Only2d, {}, "output|failed|cannot take"),
        (nn.Identity, {"description": " "}, "no description"),
    ],
)
def test_the_kit_catches_broken_blocks(scratch, factory, kwargs, message):
    scratch("act", "broken_probe", lambda: factory(), **{"description": "probe", **kwargs})
    with pytest.raises((AssertionError, cz.SpecError), match=message):
        check_block("act", "broken_probe")


def test_a_sampling_block_may_declare_itself(scratch):
    scratch("act", "noisy_probe", lambda: _NoisyInTrain(), description="p", deterministic=False)
    check_block("act", "noisy_probe")


class _NoisyInTrain(nn.Module):
    def forward(self, x):
        return x + torch.rand_like(x) if self.training else x
