"""The assembler's signatures: what is injected, and the accepted and missing arguments."""

from __future__ import annotations

import pytest
from torch import nn

import convzoo as cz
from convzoo.spec import SpecError
from tests.assemble.conftest import net


def test_injects_what_the_block_cannot_know(scratch):
    seen = []

    def probe(in_channels, dims, in_shape, classes, gain: float = 1.0):
        seen.append((in_channels, dims, in_shape, classes, gain))
        return nn.Identity()

    scratch("act", "probe", probe)
    cz.build(
        net(
            {"filter": "conv", "out": 5, "kernel": 3},
            {"act": "probe", "gain": 2.0},
            {"head": "linear"},
            classes=4,
        )
    )
    assert seen[0] == (5, 2, (5, 10, 10), 4, 2.0)
    assert len(seen) == 2  # once on meta, once for real


def test_injected_arguments_cannot_be_given(scratch):
    with pytest.raises(SpecError, match="'in_channels' is set by the assembler"):
        cz.build(net({"filter": "conv", "out": 5, "kernel": 3, "in_channels": 1}))


def test_unknown_argument_lists_the_accepted_ones():
    with pytest.raises(SpecError) as err:
        cz.build(net({"filter": "conv", "out": 4, "kernel": 3, "strid": 2}))
    message = str(err.value)
    assert "layers.0" in message and "unknown argument 'strid'" in message
    assert "did you mean 'stride'" in message.lower()
    assert "out, kernel, stride=1, padding=0" in message


def test_missing_argument_lists_the_accepted_ones():
    with pytest.raises(
        SpecError,
        match=r"layers.1 \(filter.conv\): missing required argument\(s\) "
        r"kernel.*accepts: out, kernel",
    ):
        cz.build(net({"act": "relu"}, {"filter": "conv", "out": 4}))
