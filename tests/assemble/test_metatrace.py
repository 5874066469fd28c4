"""``MetaTrace``: the same shapes and FLOPs as torch's own meta kernels, without their imports.

Driven by the registry: every block's example and every zoo architecture is traced
both ways, with the mode and on the bare meta device, and must give the same rows.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import convzoo as cz
from convzoo.assemble import build_meta, trace
from convzoo.assemble.assembler import Assembler
from convzoo.assemble.metatrace import CPU_LIMIT, MetaTrace, counting_flops
from convzoo.spec import load_spec
from convzoo.testing import example_spec

BLOCKS = cz.list_blocks()
CASES = [(info, dims) for info in BLOCKS for dims in info.dims]
ARCHS = cz.list_archs()


def bare_trace(spec):
    """The rows of ``spec`` traced on the meta device with torch's own kernels."""
    assembler = Assembler(spec, None)
    with torch.device("meta"):
        assembler.run()
    return assembler.rows


@pytest.mark.parametrize(
    ("info", "dims"), CASES, ids=[f"{info.key}-{dims}d" for info, dims in CASES]
)
def test_every_block_traces_as_on_the_bare_meta_device(info, dims):
    spec = load_spec(example_spec(info, dims))
    assert trace(spec) == bare_trace(spec)


@pytest.mark.parametrize("name", ARCHS)
def test_every_architecture_traces_as_on_the_bare_meta_device(name):
    spec = load_spec(name)
    assert trace(spec) == bare_trace(spec)


@pytest.mark.parametrize("name", ARCHS)
def test_flops_per_module_are_flop_counter_modes(name):
    model = build_meta(name).eval()
    x = torch.empty((1, *model.spec.input), device="meta")
    with FlopCounterMode(display=False) as reference, torch.no_grad():
        model(x)
    root = type(model).__name__
    expected = {
        key.removeprefix(root).removeprefix("."): sum(counts.values())
        for key, counts in reference.get_flop_counts().items()
        if key != "Global"
    }
    with counting_flops(model) as counted, torch.no_grad():
        model(x)
    assert counted.flops[""] > 0
    assert {k: v for k, v in counted.flops.items() if v} == {k: v for k, v in expected.items() if v}


def test_results_keep_shape_dtype_and_strides_and_in_place_results_are_their_input():
    x = torch.empty(2, 3, 4, device="meta").transpose(1, 2)
    with MetaTrace():
        y = torch.tanh(x) > 0
        z = x.relu_()
        r = torch.arange(5, device="meta")
    assert (y.device.type, y.shape, y.dtype, y.stride()) == (
        "meta",
        x.shape,
        torch.bool,
        x.stride(),
    )
    assert z is x
    assert (r.device.type, r.shape, r.dtype) == ("meta", (5,), torch.int64)


def test_random_operations_leave_the_generator_as_the_meta_device_does():
    before = torch.get_rng_state()
    with MetaTrace():
        w = torch.empty(4, 5, device="meta")
        torch.nn.init.kaiming_uniform_(w)
        d = torch.nn.functional.dropout(torch.empty(2, 5, device="meta"), 0.5, training=True)
    assert torch.equal(torch.get_rng_state(), before)
    assert (w.device.type, d.shape) == ("meta", (2, 5))


def test_an_operation_that_fails_on_zeros_runs_on_the_meta_device():
    # Zeros are singular: the CPU refuses to invert them, the meta device does not look.
    with MetaTrace():
        inv = torch.linalg.inv(torch.empty(2, 3, 3, device="meta"))
    assert (inv.device.type, inv.shape) == ("meta", (2, 3, 3))


def test_a_shape_error_is_still_raised():
    with MetaTrace(), pytest.raises(RuntimeError):
        torch.empty(2, 3, device="meta") + torch.empty(4, device="meta")


def test_tensors_over_the_limit_stay_on_the_meta_device(monkeypatch):
    ran = []
    monkeypatch.setattr(
        "convzoo.assemble.metatrace._run_on_cpu", lambda *a: ran.append(a[0]) or 1 / 0
    )
    with MetaTrace():
        big = torch.empty(CPU_LIMIT + 1, device="meta").relu()
    assert not ran
    assert (big.device.type, big.shape) == ("meta", (CPU_LIMIT + 1,))


def _imported_by_summaries(names: list[str]) -> list[str]:
    code = (
        "import json, sys, convzoo as cz\n"
        f"for name in {names!r}:\n"
        "    cz.summary(name)\n"
        "print(json.dumps([m for m in ('torch._dynamo', 'sympy') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_summarizing_every_architecture_imports_no_dynamo():
    assert "torch._dynamo" not in _imported_by_summaries(ARCHS)


def test_summarizing_small_networks_imports_no_sympy_either():
    # capsnet's 9x9 convolution over 256 channels is over WORK_LIMIT: it stays on
    # the meta device, whose checks import sympy.
    assert _imported_by_summaries(["lenet5", "resnet", "mnist1d_cnn", "lenet5_hyper"]) == []
