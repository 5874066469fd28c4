"""The normalizations against torch's functional forms, and local contrast normalization
against a direct, loop-by-loop reading of its definition (Jarrett et al. 2009)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import convzoo as cz

SHAPES = {1: [6, 10], 2: [6, 5, 4]}


def _net(layer: dict, shape: list[int], before: tuple[dict, ...] = ()) -> cz.ConvNet:
    return cz.build({"name": "probe", "input": shape, "layers": [*before, layer]}).double()


def _params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _randomize_affine(norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    with torch.no_grad():
        norm.weight.copy_(torch.randn_like(norm.weight))
        norm.bias.copy_(torch.randn_like(norm.bias))
    return norm.weight.detach(), norm.bias.detach()


@pytest.fixture
def flatten(scratch):
    scratch("filter", "flatten_probe", lambda: nn.Flatten(), description="flatten (test probe)")
    return ({"filter": "flatten_probe"},)


# -- group, layer, instance, none ------------------------------------------------------


@pytest.mark.parametrize("dims", [1, 2])
def test_group_matches_torch(dims):
    net = _net({"norm": "group", "num_groups": 3}, SHAPES[dims])
    weight, bias = _randomize_affine(net.layers[0])
    x = torch.randn(4, *SHAPES[dims], dtype=torch.float64) * 3 + 2
    expected = F.group_norm(x, 3, weight, bias, eps=1e-5)
    torch.testing.assert_close(net(x), expected)
    assert _params(net) == 2 * 6


@pytest.mark.parametrize("dims", [1, 2])
def test_layer_normalizes_each_sample_over_everything(dims):
    net = _net({"norm": "layer"}, SHAPES[dims])
    x = torch.randn(4, *SHAPES[dims], dtype=torch.float64) * 3 + 2
    plain = F.layer_norm(x, x.shape[1:], eps=1e-5)
    torch.testing.assert_close(net(x), plain)
    weight, bias = _randomize_affine(net.layers[0])
    view = (1, -1) + (1,) * dims
    torch.testing.assert_close(net(x), plain * weight.view(view) + bias.view(view))
    assert _params(net) == 2 * 6


@pytest.mark.parametrize("dims", [1, 2])
def test_instance_normalizes_each_sample_and_channel(dims):
    net = _net({"norm": "instance"}, SHAPES[dims])
    weight, bias = _randomize_affine(net.layers[0])
    x = torch.randn(4, *SHAPES[dims], dtype=torch.float64) * 3 + 2
    expected = F.instance_norm(x, weight=weight, bias=bias, eps=1e-5)
    torch.testing.assert_close(net(x), expected)
    torch.testing.assert_close(net.eval()(x), expected)  # no running statistics
    assert _params(net) == 2 * 6
    assert _params(_net({"norm": "instance", "affine": False}, SHAPES[dims])) == 0


@pytest.mark.parametrize("dims", [1, 2])
def test_none_is_the_identity(dims):
    net = _net({"norm": "none"}, SHAPES[dims])
    x = torch.randn(4, *SHAPES[dims], dtype=torch.float64)
    assert torch.equal(net(x), x)
    assert _params(net) == 0


def test_flat_features_are_channels_for_group_layer_and_none(flatten):
    x = torch.randn(4, 2, 3, 2, dtype=torch.float64) * 3 + 1
    flat = x.flatten(1)
    group = _net({"norm": "group", "num_groups": 4}, [2, 3, 2], flatten)
    torch.testing.assert_close(group(x), F.group_norm(flat, 4, eps=1e-5))
    layer = _net({"norm": "layer"}, [2, 3, 2], flatten)
    torch.testing.assert_close(layer(x), F.layer_norm(flat, (12,), eps=1e-5))
    assert _params(group) == _params(layer) == 2 * 12
    assert torch.equal(_net({"norm": "none"}, [2, 3, 2], flatten)(x), flat)


@pytest.mark.parametrize("name", ["instance", "lcn"])
def test_norms_that_need_positions_refuse_a_flat_input(flatten, name):
    with pytest.raises(cz.SpecError, match=rf"layers.1 \(norm.{name}\).*needs positions"):
        _net({"norm": name}, [2, 3, 2], flatten)


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (
            {"norm": "group", "num_groups": 4},
            [6, 8],
            "does not divide the 6 channels; use one of 1, 2, 3, 6",
        ),
        ({"norm": "group", "num_groups": 0}, [6, 8], "num_groups must be a positive integer"),
        ({"norm": "group", "num_groups": "2"}, [6, 8], "num_groups must be a positive integer"),
        ({"norm": "layer", "eps": 0}, [6, 8], "eps must be a positive number"),
        ({"norm": "instance"}, [6, 1, 1], "one position per channel"),
        ({"norm": "lcn", "kernel": 4}, [3, 8, 8], "kernel must be a positive odd integer"),
        ({"norm": "lcn", "sigma": -1.0}, [3, 8], "sigma must be a positive number"),
        ({"norm": "lcn", "eps": -1e-4}, [3, 8], "eps must be a positive number"),
    ],
)
def test_bad_arguments_are_refused(layer, shape, message):
    with pytest.raises(cz.SpecError, match=message):
        _net(layer, shape)


# -- local contrast normalization ------------------------------------------------------


def _local(x: torch.Tensor, pos: tuple[int, ...], kernel: int, sigma: float) -> float:
    """sum_{j,p,q} w_pq x[j, pos + (p, q)] with w Gaussian, over the offsets inside the
    input, divided by the weight of those offsets (C maps each)."""
    spatial = x.shape[1:]
    radius = kernel // 2
    total = weight = 0.0
    for offset in itertools.product(range(-radius, radius + 1), repeat=len(spatial)):
        at = tuple(p + o for p, o in zip(pos, offset))
        if all(0 <= a < n for a, n in zip(at, spatial)):
            g = math.exp(-sum(o * o for o in offset) / (2 * sigma**2))
            total += g * x[(slice(None), *at)].sum().item()
            weight += g * x.shape[0]
    return total / weight


def _direct_lcn(x: torch.Tensor, kernel: int, sigma: float, eps: float) -> torch.Tensor:
    """The definition, one position at a time, for one sample x of shape (C, ...)."""
    positions = list(itertools.product(*map(range, x.shape[1:])))
    v = x.clone()
    for pos in positions:
        v[(slice(None), *pos)] -= _local(x, pos, kernel, sigma)
    s = torch.empty(x.shape[1:], dtype=x.dtype)
    for pos in positions:
        s[pos] = math.sqrt(_local(v * v, pos, kernel, sigma) + eps**2)
    return v / torch.maximum(s, s.mean())


@pytest.mark.parametrize(("shape", "kernel", "sigma"), [([2, 13], 5, 1.5), ([2, 7, 6], 5, 1.0)])
def test_lcn_follows_its_definition_at_every_position(shape, kernel, sigma):
    net = _net({"norm": "lcn", "kernel": kernel, "sigma": sigma, "eps": 1e-3}, shape)
    x = torch.randn(2, *shape, dtype=torch.float64) + torch.tensor([[0.0], [3.0]]).view(
        2, *[1] * len(shape)
    )
    out = net(x)
    for n in range(2):
        torch.testing.assert_close(out[n], _direct_lcn(x[n], kernel, sigma, 1e-3))


@pytest.mark.parametrize("shape", [[3, 30], [3, 14, 12]])
def test_lcn_subtracts_the_gaussian_mean_over_space_and_maps(shape):
    net = _net({"norm": "lcn"}, shape)  # kernel 9, sigma 2
    x = torch.rand(1, *shape, dtype=torch.float64) * 10
    v = net.layers[0].subtract(x)[0]
    corner, edge, inside = (0,) * (len(shape) - 1), (2,) * (len(shape) - 1), (6,) * (len(shape) - 1)
    for pos in (corner, edge, inside, tuple(n - 1 for n in shape[1:])):
        expected = x[0][(slice(None), *pos)] - _local(x[0], pos, 9, 2.0)
        torch.testing.assert_close(v[(slice(None), *pos)], expected)


def test_lcn_removes_a_linear_ramp_away_from_the_borders():
    # a symmetric window's mean of a ramp is the centre value: v = 0 where the window fits
    i, k = torch.meshgrid(torch.arange(16.0), torch.arange(14.0), indexing="ij")
    x = (3 * i - 2 * k + 7).double().expand(1, 3, 16, 14)
    v = _net({"norm": "lcn"}, [3, 16, 14]).layers[0].subtract(x)
    torch.testing.assert_close(v[..., 4:-4, 4:-4], torch.zeros(1, 3, 8, 6, dtype=torch.float64))
    assert v[..., 0, 0].abs().min() > 0.5  # the clipped window at a corner is not symmetric


@pytest.mark.parametrize("shape", [[3, 20], [3, 10, 10]])
@pytest.mark.parametrize("value", [0.0, 0.1, 255.0, -1000.0])
def test_lcn_of_a_constant_input_is_zero_without_nan(shape, value):
    net = cz.build({"name": "flat", "input": shape, "layers": [{"norm": "lcn"}]})
    x = torch.full((2, *shape), value, requires_grad=True)
    out = net(x)
    out.square().sum().backward()
    assert out.abs().max() < 1e-6  # rounding only: no offset noise blown up by the divisor
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("shape", [[3, 20], [3, 10, 10]])
def test_lcn_ignores_the_input_scale(shape):
    # y = v / max(c, s): v, s and c all scale with a > 0, so y does not (up to eps)
    net = _net({"norm": "lcn", "kernel": 5}, shape)
    x = torch.randn(2, *shape, dtype=torch.float64)
    out = net(x)
    for a in (0.1, 7.0, 1000.0):
        torch.testing.assert_close(net(a * x), out, rtol=1e-5, atol=1e-5)
    # ... and the local deviation, not only its mean, does divide: high-contrast halves
    # are normalized separately from the low-contrast ones
    split = x.clone()
    split[..., : shape[-1] // 2] *= 100
    assert net(split).abs().max() < 10 * out.abs().max()


def test_lcn_divides_by_at_least_eps():
    # far below eps the divisor is eps itself: y = v / eps
    net = _net({"norm": "lcn", "eps": 1e-3}, [3, 9, 9])
    x = torch.randn(2, 3, 9, 9, dtype=torch.float64) * 1e-9
    lcn = net.layers[0]
    torch.testing.assert_close(net(x), lcn.subtract(x) / 1e-3, rtol=1e-6, atol=0)


def test_lcn_has_a_fixed_window_and_no_parameters():
    net = _net({"norm": "lcn", "kernel": 7, "sigma": 1.5}, [4, 12, 12])
    lcn = net.layers[0]
    assert _params(net) == 0
    window = lcn.window(torch.empty(0))
    assert window.shape == (1, 4, 7, 7)
    torch.testing.assert_close(window.sum().item(), 1.0)
    torch.testing.assert_close(window[0, 0], window[0, 3])  # the same for every map
    assert window[0, 0, 3, 3] == window.max()
    assert not list(lcn.buffers()) and not net.state_dict()
    assert lcn.kernel_size == (7, 7) and lcn.stride == (1, 1)


def test_lcn_window_is_built_in_the_inputs_dtype():
    lcn = _net({"norm": "lcn"}, [2, 9, 9]).layers[0]
    assert lcn.window(torch.empty(0, dtype=torch.float64)).dtype == torch.float64
    assert lcn.window(torch.empty(0, dtype=torch.float32)).dtype == torch.float32


@pytest.mark.parametrize("shape", [[2, 11], [2, 7, 6]])
def test_lcn_moved_to_float64_matches_a_float64_reference_to_1e12(shape):
    torch.manual_seed(0)
    net = cz.build({"name": "t", "input": shape, "layers": [{"norm": "lcn", "kernel": 5}]})
    net = net.double()  # built in float32, then moved
    x = torch.randn(2, *shape, dtype=torch.float64)
    out = net(x)
    assert out.dtype == torch.float64
    for n in range(2):
        expected = _direct_lcn(x[n], 5, 2.0, 1e-4)
        torch.testing.assert_close(out[n], expected, rtol=1e-12, atol=1e-12)


def test_lcn_keeps_the_size_even_with_a_window_larger_than_the_input():
    net = _net({"norm": "lcn"}, [2, 4, 3])
    x = torch.randn(5, 2, 4, 3, dtype=torch.float64)
    out = net(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    torch.testing.assert_close(out[0], _direct_lcn(x[0], 9, 2.0, 1e-4))


def test_lcn_sees_the_whole_input_through_its_divisive_floor():
    spec = {"name": "rf", "input": [1, 20, 20], "layers": [{"norm": "lcn", "kernel": 5}]}
    row = cz.summary(spec).layers[0]
    assert row.rf == "all" and tuple(row.stride) == (1, 1) and row.params == 0
    lcn = cz.build(spec).double()
    x = torch.rand(1, 1, 20, 20, dtype=torch.float64)
    changed = x.clone()
    changed[0, 0, 0, 0] += 1.0
    far = (lcn(changed) - lcn(x))[0, 0, 10:, 10:]  # outside the 5x5 window of the change
    assert far.abs().max() > 1e-6


@pytest.mark.parametrize(("channels", "groups"), [(64, 32), (6, 6), (48, 24), (7, 7), (96, 32)])
def test_group_default_is_the_largest_divisor_up_to_32(channels, groups):
    model = cz.build({"input": [channels, 4, 4], "layers": [{"norm": "group"}]})
    assert model.layers[0].num_groups == groups
