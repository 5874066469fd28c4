"""The unfold convolution: torch's convolution written as unfold (im2col) + one matrix
product, checked against torch's own on values, gradients, padding and state_dicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

import convzoo as cz
from convzoo.blocks.filters import conv, unfold_conv
from tests.blocks.conftest import n_params

LENET5 = {
    "name": "lenet5_test",
    "input": [1, 32, 32],
    "classes": 10,
    "layers": [
        {"filter": "conv", "out": 6, "kernel": 5},
        {"act": "tanh"},
        {"pool": "avg", "kernel": 2},
        {"filter": "conv", "out": 16, "kernel": 5, "connections": "lenet5_c3"},
        {"act": "tanh"},
        {"pool": "avg", "kernel": 2},
        {"filter": "conv", "out": 120, "kernel": 5},
        {"act": "tanh"},
        {"head": "linear", "hidden": [84]},
    ],
}


@st.composite
def conv_cases(draw):
    dims = draw(st.sampled_from([1, 2]))
    groups = draw(st.integers(1, 3))
    per_dim = st.lists(st.integers(1, 3), min_size=dims, max_size=dims)
    kernel, stride = draw(per_dim), draw(per_dim)
    dilation = draw(st.lists(st.integers(1, 2), min_size=dims, max_size=dims))
    if all(s == 1 for s in stride) and draw(st.booleans()):
        padding = "same"
        size = [draw(st.integers(1, 6)) for _ in range(dims)]
    else:
        padding = draw(st.lists(st.integers(0, 2), min_size=dims, max_size=dims))
        size = [
            max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4))
            for k, d, p in zip(kernel, dilation, padding)
        ]
    args = {
        "out": groups * draw(st.integers(1, 2)),
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
        "bias": draw(st.booleans()),
    }
    return dims, groups * draw(st.integers(1, 2)), size, args


def _run(layer, x, upstream):
    x = x.clone().requires_grad_()
    y = layer(x)
    (y * upstream).sum().backward()
    grads = {name: p.grad for name, p in layer.named_parameters()}
    return y, x.grad, grads


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@settings(max_examples=60, deadline=None)
@given(case=conv_cases(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_unfold_conv_matches_conv(case, dtype):
    dims, channels, size, args = case
    reference = conv(in_channels=channels, dims=dims, **args).to(dtype)
    mine = unfold_conv(in_channels=channels, dims=dims, **args).to(dtype)
    mine.load_state_dict(reference.state_dict())
    x = torch.randn(2, channels, *size, dtype=dtype)
    y_ref = reference(x)
    upstream = torch.randn_like(y_ref)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    expected, got = _run(reference, x, upstream), _run(mine, x, upstream)
    torch.testing.assert_close(got[0], expected[0], atol=tol, rtol=tol)
    torch.testing.assert_close(got[1], expected[1], atol=tol, rtol=tol)
    assert got[2].keys() == expected[2].keys()
    for name in expected[2]:
        torch.testing.assert_close(got[2][name], expected[2][name], atol=tol, rtol=tol)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize(
    ("dims", "kernel", "dilation"), [(1, 2, 1), (1, 4, 3), (2, [2, 3], 1), (2, [4, 2], [1, 2])]
)
def test_same_padding_puts_the_odd_pixel_where_torch_does(dims, kernel, dilation):
    args = {"in_channels": 2, "dims": dims, "out": 3, "kernel": kernel, "dilation": dilation}
    reference = conv(**args, padding="same")
    mine = unfold_conv(**args, padding="same")
    mine.load_state_dict(reference.state_dict())
    x = torch.randn(2, 2, *(7,) * dims)
    assert mine(x).shape == (2, 3, *(7,) * dims)
    torch.testing.assert_close(mine(x), reference(x), atol=1e-5, rtol=1e-5)


def test_unfold_conv_calls_no_torch_convolution(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a torch convolution was called")

    for module, names in (
        (F, ("conv1d", "conv2d", "conv3d")),
        (torch, ("conv1d", "conv2d", "conv3d", "convolution", "_convolution")),
    ):
        for name in names:
            monkeypatch.setattr(module, name, forbidden)
    for dims in (1, 2):
        for connections in (None, [[0, 1], [2]]):
            layer = unfold_conv(in_channels=3, dims=dims, out=2, kernel=3, connections=connections)
            layer(torch.randn(2, 3, *(6,) * dims)).sum().backward()
        with pytest.raises(AssertionError, match="a torch convolution was called"):
            conv(in_channels=3, dims=dims, out=2, kernel=3, connections=[[0], [1]])(
                torch.randn(1, 3, *(6,) * dims)
            )


CRASH = {
    "name": "crash",
    "input": [1, 12, 12],
    "classes": 4,
    "layers": [
        {"filter": "unfold_conv", "out": 5, "kernel": 3, "padding": 1},
        {"residual": "projection", "layers": [{"pool": "max", "kernel": 3, "stride": 3}]},
        {"head": "linear"},
    ],
}

ONE_STEP = """
import json, sys
import torch
import convzoo

torch.manual_seed(0)
net = convzoo.build(json.loads(sys.argv[1]))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
for batch in (2, 32):
    x, y = torch.randn(batch, 1, 12, 12), torch.randint(0, 4, (batch,))
    loss = torch.nn.functional.cross_entropy(net(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss), loss
"""


def test_a_strided_projection_after_unfold_conv_trains_a_step():
    """Regression: this valid spec aborted the process (heap corruption, exit 134) in its first
    backward, in oneDNN's AVX2 1x1 weight-gradient kernel, which on one thread writes past its
    buffer when the projection's stride-3 1x1 conv gets a channels-last input -- as
    unfold_conv's output was. The child is pinned to that kernel (AVX2, one thread) so the test
    means the same on any x86 CPU, and a crash fails it instead of ending pytest."""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", ONE_STEP, json.dumps(CRASH)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    died = f"killed by signal {-result.returncode}" if result.returncode < 0 else "failed"
    assert result.returncode == 0, (
        f"the child {died} ({result.returncode}): {result.stderr[-2000:]}"
    )


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize(("groups", "bias"), [(1, True), (1, False), (2, True)])
def test_the_output_and_the_input_gradient_are_contiguous(dims, groups, bias):
    """The matrix product leaves the maps last in memory (channels-last); handing that on
    sent a following strided 1x1 conv into a oneDNN backward that corrupts the heap
    (benchmarks/mkldnn_crash.py), so the block returns torch's default layout."""
    layer = unfold_conv(
        in_channels=4, dims=dims, out=6, kernel=3, padding=1, groups=groups, bias=bias
    )
    x = torch.randn(2, 4, *(7,) * dims, requires_grad=True) * 1
    seen = []
    x.register_hook(seen.append)
    y = layer(x)
    assert y.is_contiguous()
    y.backward(torch.randn_like(y))
    assert seen[0].is_contiguous()


def _aten_ops(layer, x):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        layer(x).sum().backward()
    return {event.name for event in prof.events()}


def test_no_convolution_kernel_runs_under_the_profiler():
    x = torch.randn(2, 4, 7, 7, requires_grad=True)
    args = {"in_channels": 4, "dims": 2, "out": 4, "kernel": 3, "stride": 2, "groups": 2}
    assert any("convolution" in op for op in _aten_ops(conv(**args), x))
    assert not any("conv" in op for op in _aten_ops(unfold_conv(**args), x))


@pytest.mark.parametrize("name", ["true_conv", "unfold_conv"])
def test_state_dicts_interchange_with_conv(name):
    args = {"in_channels": 4, "dims": 2, "out": 6, "kernel": [3, 2], "groups": 2}
    reference = conv(**args)
    other = cz.get_block("filter", name).obj(**args)
    assert {k: v.shape for k, v in other.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }
    other.load_state_dict(reference.state_dict())
    reference.load_state_dict(other.state_dict())


def test_lenet5_swaps_to_unfold_conv_with_its_connections():
    model = cz.build(LENET5)
    swapped = cz.build(LENET5, swap={"filter.conv": "unfold_conv"})
    assert n_params(model) == n_params(swapped)
    swapped.load_state_dict(model.state_dict())
    x = torch.randn(3, 1, 32, 32)
    torch.testing.assert_close(swapped(x), model(x), atol=1e-5, rtol=1e-5)
    table, swapped_table = cz.summary(LENET5), cz.summary(LENET5, {"filter.conv": "unfold_conv"})
    assert [r.rf for r in table.layers] == [r.rf for r in swapped_table.layers]
    assert table.layers[3].params == swapped_table.layers[3].params == 1516
