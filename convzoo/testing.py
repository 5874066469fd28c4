"""The conformance kit: ``check_block`` verifies a registered block the way convzoo's own tests do.

For the project and for plugin authors::

    from convzoo.testing import check_block
    check_block("pool", "median")               # with the block's registered example
    check_block("pool", "median", kernel=5)     # or with other arguments

For each dims (1, 2) the block claims, it builds a one-block network (after the
block's ``example_before`` layers) on a tiny input, checks the real output shape
against the meta-device inference, runs forward and backward and checks that a
gradient reaches the input and every parameter, checks that a deterministic
block gives equal outputs for equal inputs, and gradchecks it in float64 (in
eval mode, where stochastic blocks are deterministic). It checks float64 against
a float64 reference: the block built in float32 and moved with ``.double()``
must hold only float64 tensors and compute, to 1e-12, what the same block built
in float64 computes -- a buffer derived in float32 (a window, a filter) fails
this. In the dims it does not
claim, building must fail with a clear ``SpecError``. Its metadata must be
complete. Any failure raises ``AssertionError`` naming the block and the check.
"""

from __future__ import annotations

from typing import Any

import torch

from convzoo.assemble import build
from convzoo.registry import REGISTRY, BlockInfo
from convzoo.spec import SpecError

CHANNELS = 3
SIZE = 8
CLASSES = 3


def example_spec(info: BlockInfo, dims: int, args: dict[str, Any] | None = None) -> dict:
    """The one-block spec ``check_block`` builds for ``info`` in ``dims``."""
    layer = {info.family: info.name, **(info.example if args is None else args)}
    spec: dict[str, Any] = {
        "name": f"check_{info.family}_{info.name}",
        "input": [CHANNELS] + [SIZE] * dims,
        "layers": [*info.example_before, layer],
    }
    if info.family == "head":
        spec["classes"] = CLASSES
    return spec


def _check_metadata(info: BlockInfo) -> None:
    assert info.family in REGISTRY.families, f"{info.key}: unknown family"
    assert info.description.strip(), f"{info.key}: no description"
    assert info.source, f"{info.key}: no source"
    assert info.dims and set(info.dims) <= {1, 2}, f"{info.key}: dims {info.dims}"


def _check_float64(info: BlockInfo, dims: int, data: dict) -> None:
    torch.manual_seed(0)
    moved = build(data).double().eval()
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        native = build(data).eval()
    finally:
        torch.set_default_dtype(previous)
    native.load_state_dict(moved.state_dict())
    for name, t in [*moved.named_parameters(), *moved.named_buffers()]:
        assert not t.is_floating_point() or t.dtype == torch.float64, (
            f"{info.key} ({dims}-D): {name} is {t.dtype} after .double()"
        )
    x = torch.randn(2, *data["input"], dtype=torch.float64)
    with torch.no_grad():
        got, expected = moved(x), native(x)
    assert got.dtype == torch.float64, f"{info.key} ({dims}-D): float64 input gives {got.dtype}"
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-12), (
        f"{info.key} ({dims}-D): moved to float64 it differs from the block built in float64 "
        f"by {(got - expected).abs().max().item():.2e}; build buffers in the module's dtype"
    )


def _check_dims(info: BlockInfo, dims: int, args: dict[str, Any] | None) -> None:
    data = example_spec(info, dims, args)
    torch.manual_seed(0)
    model = build(data)
    x = torch.randn(4, *data["input"], requires_grad=True)
    out = model(x)
    predicted = model.rows[-1].out_shape
    assert predicted is not None, f"{info.key} ({dims}-D): the meta inference has no output"
    assert tuple(out.shape[1:]) == predicted, (
        f"{info.key} ({dims}-D): output {list(out.shape[1:])}, meta inference {list(predicted)}"
    )
    assert torch.isfinite(out).all(), f"{info.key} ({dims}-D): non-finite output"
    assert out.requires_grad, f"{info.key} ({dims}-D): the output is cut off from autograd"
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0, f"{info.key}: no gradient to the input"
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{info.key} ({dims}-D): no gradient reached {name}"

    if info.deterministic:
        with torch.no_grad():
            again = model(x)
        assert torch.allclose(out, again, rtol=1e-5, atol=1e-6), (
            f"{info.key} ({dims}-D): two runs on the same input differ; register it with "
            "deterministic=False if it samples"
        )

    model = model.double().eval()
    tiny = torch.randn(2, *data["input"], dtype=torch.float64, requires_grad=True)
    try:
        ok = torch.autograd.gradcheck(model, (tiny,), eps=1e-6, atol=1e-5, rtol=1e-3)
    except RuntimeError as exc:
        raise AssertionError(f"{info.key} ({dims}-D): gradcheck failed: {exc}") from exc
    assert ok, f"{info.key} ({dims}-D): gradcheck failed"
    _check_float64(info, dims, data)


def check_block(family: str, name: str, **args: Any) -> None:
    """Verify the registered block ``family.name``; ``args`` replace its example arguments."""
    info = REGISTRY.get(family, name)
    _check_metadata(info)
    for dims in (1, 2):
        if dims in info.dims:
            _check_dims(info, dims, args or None)
            continue
        try:
            build(example_spec(info, dims, args or None))
        except SpecError as exc:
            assert "supports dims" in str(exc), f"{info.key}: unclear refusal: {exc}"
        else:
            raise AssertionError(f"{info.key} claims dims {info.dims} but builds in {dims}-D")
