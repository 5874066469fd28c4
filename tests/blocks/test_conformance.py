"""Every registered block, driven by the registry: built, run, backpropagated, gradchecked.

Like timm's tests over ``list_models()``: a block added to the registry (built-in
or from a plugin) is covered here through its ``example`` arguments, in every
``dims`` its metadata claims -- and refused in the dims it does not claim.
"""

from __future__ import annotations

import pytest
import torch

import convzoo as cz

CLASSES = 3
CASES = [(info, dims) for info in cz.list_blocks() for dims in (1, 2)]


def _spec(info: cz.BlockInfo, dims: int) -> dict:
    data = {
        "name": f"{info.family}_{info.name}",
        "input": [3] + [6] * dims,
        "layers": [{info.family: info.name, **info.example}],
    }
    if info.family == "head":
        data["classes"] = CLASSES
    return data


@pytest.mark.parametrize(("info", "dims"), CASES, ids=[f"{i.key}-{d}d" for i, d in CASES])
def test_block_conforms(info, dims):
    if dims not in info.dims:
        with pytest.raises(cz.SpecError, match="supports dims"):
            cz.build(_spec(info, dims))
        return
    torch.manual_seed(0)
    model = cz.build(_spec(info, dims))
    x = torch.randn(4, 3, *[6] * dims, requires_grad=True)
    out = model(x)
    assert tuple(out.shape[1:]) == model.rows[-1].out_shape
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{info.key}: no gradient reached {name}"

    model = model.double().eval()
    tiny = torch.randn(2, 3, *[6] * dims, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(model, (tiny,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("info", cz.list_blocks(), ids=lambda i: i.key)
def test_metadata(info):
    assert info.family in cz.REGISTRY.families
    assert info.description, f"{info.key} has no description"
    assert info.source, f"{info.key} has no source"
    assert set(info.dims) <= {1, 2} and info.dims
    assert cz.get_block(info.family, info.name) is info
