"""Swaps: by family, by name, in nested layers, and their error messages."""

from __future__ import annotations

import pytest
from torch import nn

import convzoo as cz
from convzoo.assemble import apply_swaps
from convzoo.spec import SpecError, parse
from tests.assemble.conftest import net


@pytest.fixture
def leaky(scratch):
    scratch("act", "leaky", lambda slope=0.01: nn.LeakyReLU(slope))


def test_swap_a_whole_family():
    model = cz.build("lenet5_modern", swap={"pool": "avg"})
    pools = [m for m in model.modules() if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    assert len(pools) == 2 and all(isinstance(p, nn.AvgPool2d) for p in pools)
    assert pools[0].kernel_size == 2  # the arguments are kept


def test_swap_by_name_wins_over_family(leaky):
    spec = parse(net({"act": "relu"}, {"act": "leaky"}, {"act": "relu"}))
    swapped = apply_swaps(spec, {"act.leaky": "relu", "act": "leaky"})
    assert [layer.name for layer in swapped.layers] == ["leaky", "relu", "leaky"]


def test_swap_reaches_nested_layers():
    spec = parse(
        net(
            {
                "repeat": 2,
                "layers": [{"residual": "identity", "layers": [{"pool": "max", "kernel": 1}]}],
            }
        )
    )
    swapped = apply_swaps(spec, {"pool.max": "avg"})
    assert swapped.layers[0].layers[0].layers[0].name == "avg"


def test_swap_with_an_argument_the_new_block_lacks_fails_clearly(leaky):
    with pytest.raises(SpecError) as err:
        cz.build(net({"act": "leaky", "slope": 0.2}), swap={"act": "relu"})
    message = str(err.value)
    assert "swap act=relu cannot replace act.leaky" in message
    assert "unknown argument 'slope'" in message and "act.relu accepts: (none)" in message


@pytest.mark.parametrize(
    ("swap", "message"),
    [
        ({1: "relu"}, "a swap maps"),
        ({"act": 3}, "a swap maps"),
        ({"norm": "batch"}, "matches no layer"),
        ({"act": "rleu"}, "(?i)did you mean 'relu'"),
        ({"activation": "relu"}, "not a block family"),
        ({"filter.cnov": "conv"}, "(?i)did you mean 'conv'"),
    ],
)
def test_bad_swaps(swap, message):
    with pytest.raises(cz.ConvzooError, match=message):
        cz.build("lenet5_modern", swap=swap)


@pytest.mark.parametrize("swap", [{"act" * 10**5: "relu"}, {"act": "x" * 10**5}])
def test_swap_messages_never_embed_unbounded_user_data(swap):
    with pytest.raises(cz.ConvzooError) as err:
        cz.build("lenet5_modern", swap=swap)
    assert len(str(err.value)) < 2000, str(err.value)[:3000]
