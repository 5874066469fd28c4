"""Capsule layers: primary capsules group and squash a convolution's maps, routing
matches a loop-by-loop reference of the paper's algorithm (values and gradients),
CapsNet has its counts."""

from __future__ import annotations

import pytest
import torch

import convzoo as cz
import convzoo.blocks.capsule_head  # registers head.capsule
from convzoo.blocks.capsule import DynamicRouting, PrimaryCapsules, squash

CAPSNET = {
    "name": "capsnet",
    "input": [1, 28, 28],
    "classes": 10,
    "layers": [
        {"filter": "conv", "out": 256, "kernel": 9},
        {"act": "relu"},
        {"capsule": "primary", "capsules": 32, "dim": 8, "kernel": 9, "stride": 2},
        {"capsule": "routing", "dim": 16, "iterations": 3},
        {"head": "capsule"},
    ],
}


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- squash ------------------------------------------------------------------------------


def test_squash_matches_the_formula():
    s = torch.randn(5, 7, 3, dtype=torch.float64)
    norm = s.norm(dim=-1, keepdim=True)
    expected = norm**2 / (1 + norm**2) * s / norm
    torch.testing.assert_close(squash(s), expected, rtol=1e-12, atol=1e-12)
    assert (squash(s).norm(dim=-1) < 1).all()


def test_squash_is_finite_at_zero_forward_and_backward():
    s = torch.zeros(2, 3, 4, requires_grad=True)
    v = squash(s)
    assert torch.equal(v, torch.zeros_like(v))
    v.sum().backward()
    assert torch.isfinite(s.grad).all()


def test_routing_of_zero_capsules_has_finite_gradients():
    layer = DynamicRouting(in_shape=(6, 4), capsules=3, dim=5)
    u = torch.zeros(2, 6, 4, requires_grad=True)
    v = layer(u)
    assert torch.equal(v, torch.zeros(2, 3, 5))
    v.sum().backward()
    assert torch.isfinite(u.grad).all() and torch.isfinite(layer.weight.grad).all()


# -- primary -----------------------------------------------------------------------------


@pytest.mark.parametrize("input_shape", [[3, 9, 7], [3, 11]])
def test_primary_groups_channels_into_squashed_capsules(input_shape):
    torch.manual_seed(0)
    dims = len(input_shape) - 1
    layer = PrimaryCapsules(in_channels=3, dims=dims, capsules=2, dim=4, kernel=3, stride=2)
    x = torch.randn(2, *input_shape)
    out = layer(x)
    maps = layer.conv(x).flatten(2)  # [N, 8, positions]
    positions = maps.shape[2]
    assert out.shape == (2, 2 * positions, 4)
    for t in range(2):
        for p in range(positions):
            s = maps[:, 4 * t : 4 * t + 4, p]
            n = s.norm(dim=1, keepdim=True)
            expected = n**2 / (1 + n**2) * s / n
            torch.testing.assert_close(out[:, t * positions + p], expected, rtol=0, atol=1e-6)


def test_primary_capsules_of_capsnet():
    model = cz.build(CAPSNET, device="meta")
    shapes = {r.path: r.out_shape for r in model.rows}
    assert shapes["layers.2"] == (1152, 8)
    assert shapes["layers.3"] == (10, 16)
    assert shapes["layers.4"] == (10,)


# -- routing -----------------------------------------------------------------------------


def _slow_routing(weight: torch.Tensor, u: torch.Tensor, iterations: int) -> torch.Tensor:
    """Procedure 1 of the paper, one sample and one capsule pair at a time."""
    in_caps, out_caps = weight.shape[:2]
    outputs = []
    for sample in u:
        u_hat = [[weight[i, j] @ sample[i] for j in range(out_caps)] for i in range(in_caps)]
        b = [[torch.tensor(0.0, dtype=u.dtype) for _ in range(out_caps)] for _ in range(in_caps)]
        for r in range(iterations):
            c = []
            for i in range(in_caps):
                exp = [torch.exp(b[i][j]) for j in range(out_caps)]
                c.append([e / sum(exp) for e in exp])
            v = []
            for j in range(out_caps):
                s = sum(c[i][j] * u_hat[i][j] for i in range(in_caps))
                norm = torch.sqrt(torch.dot(s, s))
                v.append(norm**2 / (1 + norm**2) * s / norm)
            if r < iterations - 1:
                for i in range(in_caps):
                    for j in range(out_caps):
                        b[i][j] = b[i][j] + torch.dot(u_hat[i][j], v[j])
        outputs.append(torch.stack(v))
    return torch.stack(outputs)


@pytest.mark.parametrize("iterations", [1, 3])
def test_routing_matches_a_loop_reference(iterations):
    torch.manual_seed(0)
    layer = DynamicRouting(in_shape=(5, 3), capsules=4, dim=2, iterations=iterations).double()
    with torch.no_grad():
        layer.weight.normal_(std=1.0)
    u = squash(torch.randn(3, 5, 3, dtype=torch.float64))
    expected = _slow_routing(layer.weight.detach(), u, iterations)
    torch.testing.assert_close(layer(u), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_routing_gradients_match_the_loop_reference(layout):
    torch.manual_seed(1)
    layer = DynamicRouting(in_shape=(6, 3), capsules=4, dim=5, iterations=3).double()
    layer = layer.to(memory_format=layout)  # what --channels-last does to the 4-D weight
    with torch.no_grad():
        layer.weight.normal_(std=1.0)
    u = torch.randn(2, 3, 6, dtype=torch.float64).transpose(1, 2).requires_grad_()  # strided
    weight = layer.weight.detach().clone().requires_grad_()
    u_ref = u.detach().clone().requires_grad_()
    layer(u).square().sum().backward()
    _slow_routing(weight, u_ref, 3).square().sum().backward()
    torch.testing.assert_close(layer.weight.grad, weight.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(u.grad, u_ref.grad, rtol=1e-10, atol=1e-12)


def test_routing_changes_the_coupling_by_agreement():
    torch.manual_seed(0)
    layer = DynamicRouting(in_shape=(5, 3), capsules=4, dim=2, iterations=3)
    u = squash(torch.randn(3, 5, 3))
    _, coupling = layer.route(u)
    assert coupling.shape == (3, 5, 4)
    torch.testing.assert_close(coupling.sum(2), torch.ones(3, 5), rtol=0, atol=1e-6)
    assert not torch.allclose(coupling, torch.full_like(coupling, 0.25))
    _, first = DynamicRouting(in_shape=(5, 3), capsules=4, dim=2, iterations=1).route(u)
    torch.testing.assert_close(first, torch.full_like(first, 0.25), rtol=0, atol=0)


def test_routing_defaults_to_the_spec_classes():
    spec = {
        "name": "caps",
        "input": [2, 8],
        "classes": 5,
        "layers": [
            {"capsule": "primary", "capsules": 2, "dim": 3, "kernel": 3},
            {"capsule": "routing", "dim": 6},
            {"head": "capsule", "reconstruction": False},
        ],
    }
    model = cz.build(spec)
    assert model.layers[1].weight.shape == (12, 5, 6, 3)
    assert model(torch.randn(4, 2, 8)).shape == (4, 5)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([{"capsule": "routing", "capsules": 2}], "put a capsule.primary layer before it"),
        (
            [{"capsule": "primary", "capsules": 2, "dim": 3, "kernel": 3}, {"capsule": "routing"}],
            "give 'capsules: N'",
        ),
        (
            [
                {"capsule": "primary", "capsules": 2, "dim": 3, "kernel": 3},
                {"capsule": "routing", "capsules": 2, "iterations": 0},
            ],
            "iterations must be a positive integer",
        ),
        ([{"capsule": "primary", "capsules": 0, "dim": 3, "kernel": 3}], "capsules must be"),
    ],
)
def test_bad_capsule_arguments_are_explained(layers, message):
    with pytest.raises(cz.SpecError, match=message):
        cz.build({"name": "bad", "input": [2, 8, 8], "layers": layers})


# -- CapsNet -----------------------------------------------------------------------------


def test_capsnet_has_the_papers_parameter_counts():
    assert _params(cz.build(CAPSNET)) == 8_215_568
    no_decoder = {
        **CAPSNET,
        "layers": [*CAPSNET["layers"][:-1], {"head": "capsule", "reconstruction": False}],
    }
    model = cz.build(no_decoder)
    assert _params(model) == 6_804_224
    assert _params(model.layers[3]) == 1152 * 10 * 16 * 8  # W only, no biases
