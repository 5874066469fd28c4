"""The poolings' registration and arguments; the window poolings against their formulas.

References are computed independently of the blocks' window unfolding: by
reshaping non-overlapping windows, or with torch's own poolings and reductions.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F

import convzoo as cz
from convzoo.assemble import INJECTED
from convzoo.blocks._windows import lp_norm
from tests.blocks.conftest import GLOBAL, SHAPES, block, max_pool

WINDOW = ("lp", "softmax", "logsumexp", "stochastic", "subsample")
NEW = (*WINDOW, "blur", *GLOBAL)

pytestmark = pytest.mark.usefixtures("torch_seed")


def blocks_of(x: torch.Tensor, k: int) -> torch.Tensor:
    """Non-overlapping k (or k x k) windows of x, by reshaping: (N, C, *out, K)."""
    if x.dim() == 3:
        n, c, length = x.shape
        return x.reshape(n, c, length // k, k)
    n, c, h, w = x.shape
    return x.reshape(n, c, h // k, k, w // k, k).permute(0, 1, 2, 4, 3, 5).flatten(-2)


# -- registration, arguments, geometry -----------------------------------------------


@pytest.mark.parametrize("name", NEW)
def test_registered_with_metadata(name):
    info = cz.get_block("pool", name)
    assert info.dims == (1, 2)
    assert info.description and info.reference
    assert info.deterministic == (name != "stochastic")


def test_no_argument_is_a_family_name_or_a_composite_key():
    blocks = cz.list_blocks()
    assert len(blocks) > 40
    for info in blocks:
        params = set(inspect.signature(info.obj).parameters) - set(INJECTED)
        assert not params & {*cz.FAMILIES, "layers", "repeat"}, info.key


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
@pytest.mark.parametrize("name", WINDOW)
@pytest.mark.parametrize(
    ("kernel", "stride", "padding"), [(2, None, 0), (3, None, 0), (3, 2, 1), (2, 1, 1)]
)
def test_window_blocks_have_max_pooling_geometry(name, shape, kernel, stride, padding):
    pool = block(name, shape, kernel=kernel, stride=stride, padding=padding)
    dims = len(shape) - 1
    assert pool.kernel_size == (kernel,) * dims
    assert pool.stride == (stride or kernel,) * dims
    x = torch.rand(2, *shape)
    assert pool(x).shape == max_pool(x, kernel, stride, padding).shape


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"pool": "lp", "kernel": 2, "p": 0.5}, "p must be at least 1"),
        ({"pool": "lp", "kernel": 2, "p": 1, "learn_p": True}, "learned p is kept above 1"),
        ({"pool": "lp", "kernel": 2, "p": "two"}, "p must be a finite number"),
        ({"pool": "logsumexp", "kernel": 2, "beta": 0}, "beta must be above 0"),
        ({"pool": "softmax", "kernel": 2, "learn_beta": "yes"}, "learn_beta must be true or"),
        ({"pool": "softmax", "kernel": 3, "padding": 2}, "more than half the kernel"),
        ({"pool": "stochastic", "kernel": [2, 2, 2]}, "kernel must be an integer or a list"),
        ({"pool": "subsample", "kernel": 0}, "kernel must be at least 1"),
        ({"pool": "lp", "kernel": 9}, "larger than the padded input"),
        ({"pool": "blur", "pre": "median"}, "pre must be one of max, avg, none"),
        ({"pool": "blur", "pre": "none", "kernel": 2}, "drop kernel and padding"),
        ({"pool": "blur", "filter_size": 0}, "filter_size must be a positive integer"),
    ],
)
def test_bad_arguments_fail_with_the_layer_and_the_fix(args, message):
    with pytest.raises(cz.SpecError, match=message) as err:
        cz.build({"name": "t", "input": [2, 8, 8], "layers": [args]})
    assert "layers.0" in str(err.value)


# -- lp --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
def test_lp_with_p_1_sums_magnitudes_and_p_2_is_the_euclidean_norm(shape):
    x = torch.randn(2, *shape, dtype=torch.float64)
    one = block("lp", shape, kernel=2, p=1).double()
    two = block("lp", shape, kernel=2, p=2).double()
    torch.testing.assert_close(one(x), blocks_of(x, 2).abs().sum(-1))
    torch.testing.assert_close(two(x), blocks_of(x, 2).square().sum(-1).sqrt())


def test_lp_large_p_approaches_max_magnitude_without_overflow():
    shape = (3, 8, 8)
    x = torch.randn(2, *shape) * 1e3  # |x|^p overflows float32 for p >= 13
    biggest = blocks_of(x, 2).abs().amax(-1)
    errors = []
    for p in (4.0, 16.0, 64.0, 1000.0):
        out = block("lp", shape, kernel=2, p=p)(x)
        assert torch.isfinite(out).all()
        assert (out >= biggest * (1 - 1e-6)).all()
        assert (out <= biggest * 4 ** (1 / p) * (1 + 1e-6)).all()  # 4 values per window
        errors.append((out - biggest).abs().max().item())
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-3 * biggest.max().item()


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0, 40.0])
def test_lp_norm_is_exact_in_value_and_in_gradient_to_values_and_p(p):
    values = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    power = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    naive = values.abs().pow(power).sum(-1).pow(1 / power)
    torch.testing.assert_close(lp_norm(values, power), naive)
    assert torch.autograd.gradcheck(lp_norm, (values, power))


def test_lp_norm_of_zeros_is_zero_with_finite_gradients():
    values = torch.randn(3, 4, dtype=torch.float64)
    values[0] = 0.0
    values[1, :2] = 0.0
    values.requires_grad_(True)
    p = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    out = lp_norm(values, p)
    out.sum().backward()
    assert out[0] == 0 and torch.isfinite(values.grad).all() and torch.isfinite(p.grad)
    assert (values.grad[0] == 0).all() and (values.grad[1, :2] == 0).all()


def test_learned_p_gets_a_gradient_and_stays_above_1():
    pool = block("lp", (3, 8, 8), kernel=2, p=2.0, learn_p=True)
    x = torch.randn(4, 3, 8, 8)
    pool(x).sum().backward()
    assert pool.p.raw.grad is not None and pool.p.raw.grad != 0
    optimizer = torch.optim.SGD(pool.parameters(), lr=10.0)
    for _ in range(50):  # the norm grows as p falls: maximizing drives p towards 1
        optimizer.zero_grad()
        (-pool(x).sum()).backward()
        optimizer.step()
    assert 1.0 <= pool.p().item() < 1.1  # float32 rounds 1 + softplus(-20) to 1


# -- softmax and logsumexp -------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
def test_softmax_pooling_goes_from_average_to_max(shape):
    x = torch.randn(2, *shape, dtype=torch.float64)
    windows = blocks_of(x, 2)
    average = block("softmax", shape, kernel=2, beta=0.0).double()
    torch.testing.assert_close(average(x), windows.mean(-1))
    errors = []
    for beta in (1.0, 10.0, 100.0, 1e4):
        out = block("softmax", shape, kernel=2, beta=beta).double()(x)
        errors.append((out - windows.amax(-1)).abs().max().item())
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-3
    middle = block("softmax", shape, kernel=2, beta=2.0).double()(x)
    torch.testing.assert_close(middle, (windows * (2 * windows).softmax(-1)).sum(-1))
    assert (middle > windows.mean(-1)).all() and (middle < windows.amax(-1)).all()


def test_softmax_pooling_by_hand_and_padding_left_out():
    pool = block("softmax", (1, 2), kernel=2, beta=1.0)
    x = torch.tensor([[[0.0, math.log(3.0)]]])  # weights 1/4 and 3/4
    torch.testing.assert_close(pool(x), torch.tensor([[[0.75 * math.log(3.0)]]]))
    padded = block("softmax", (1, 4), kernel=3, stride=1, padding=1, beta=1.0)
    x = torch.tensor([[[-5.0, 1.0, 2.0, -3.0]]])
    edge = torch.tensor([-5.0, 1.0])
    torch.testing.assert_close(padded(x)[0, 0, 0], (edge * edge.softmax(0)).sum())


def test_learned_beta_gets_a_gradient():
    for name in ("softmax", "logsumexp"):
        pool = block(name, (3, 8), kernel=2, learn_beta=True)
        pool(torch.randn(4, 3, 8)).square().sum().backward()
        assert pool.beta.raw.grad is not None and pool.beta.raw.grad != 0, name


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
@pytest.mark.parametrize("beta", [0.5, 1.0, 3.0])
def test_logsumexp_matches_torch(shape, beta):
    x = torch.randn(2, *shape, dtype=torch.float64)
    pool = block("logsumexp", shape, kernel=2, beta=beta).double()
    torch.testing.assert_close(pool(x), torch.logsumexp(beta * blocks_of(x, 2), -1) / beta)


def test_logsumexp_with_padding_leaves_the_padding_out():
    x = torch.randn(2, 3, 10, dtype=torch.float64)
    pool = block("logsumexp", (3, 10), kernel=3, stride=1, padding=1).double()
    windows = F.pad(x, (1, 1), value=-math.inf).unfold(-1, 3, 1)
    torch.testing.assert_close(pool(x), torch.logsumexp(windows, -1))


def test_logsumexp_large_beta_gives_max_from_above():
    x = torch.randn(2, 3, 8, 8) * 10
    biggest = max_pool(x, 2)
    errors = []
    for beta in (1.0, 10.0, 100.0, 1e4):
        out = block("logsumexp", (3, 8, 8), kernel=2, beta=beta)(x)
        assert (out >= biggest - 1e-4).all()
        assert (out <= biggest + math.log(4) / beta + 1e-4).all()  # 4 values per window
        errors.append((out - biggest).abs().max().item())
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-3


# -- stochastic ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
def test_stochastic_eval_is_the_probability_weighted_average(shape):
    x = torch.randn(2, *shape, dtype=torch.float64)
    x[0, 0] = -1.0  # a map of negatives: all-zero windows give 0
    pool = block("stochastic", shape, kernel=2).double().eval()
    a = blocks_of(x, 2).clamp_min(0)
    total = a.sum(-1, keepdim=True)
    expected = torch.nan_to_num((a / total * a).sum(-1))
    torch.testing.assert_close(pool(x), expected)
    assert (pool(x)[0, 0] == 0).all()
    assert torch.equal(pool(x), pool(x))


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
def test_stochastic_training_outputs_one_of_each_windows_values(shape):
    torch.manual_seed(0)
    x = torch.randn(16, *shape).relu()
    x[0, 0] = 0.0
    pool = block("stochastic", shape, kernel=2).train()
    out = pool(x)
    assert (out.unsqueeze(-1) == blocks_of(x, 2)).any(-1).all()
    assert (out[0, 0] == 0).all()
    x.requires_grad_(True)
    again = pool(x)
    again.sum().backward()  # the gradient reaches the sampled activation of each window only
    grad, windows = blocks_of(x.grad, 2), blocks_of(x.detach(), 2)
    alive = windows.amax(-1) > 0
    assert ((grad == 0) | (grad == 1)).all() and (grad.sum(-1)[alive] == 1).all()
    torch.testing.assert_close((grad * windows).sum(-1)[alive], again.detach()[alive])


@pytest.mark.parametrize(
    ("window", "shape"),
    [([1.0, 2.0, 3.0, 4.0], (1, 4)), ([0.0, 1.0, 0.0, 3.0], (1, 4)), ([0.5, 1.5, 2.0], (1, 3))],
)
def test_stochastic_training_frequencies_match_the_probabilities(window, shape):
    torch.manual_seed(1234)
    values = torch.tensor(window)
    pool = block("stochastic", shape, kernel=len(window)).train()
    samples = pool(values.expand(40_000, 1, len(window)).contiguous()).flatten()
    frequencies = (samples.unsqueeze(-1) == values).float().mean(0)
    torch.testing.assert_close(frequencies, values / values.sum(), atol=0.01, rtol=0)


def test_stochastic_training_frequencies_in_2d():
    torch.manual_seed(7)
    window = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    x = window.repeat(1, 1, 100, 100)  # 10,000 windows of the same values
    samples = block("stochastic", (1, 200, 200), kernel=2).train()(x).flatten()
    frequencies = (samples.unsqueeze(-1) == window.flatten()).float().mean(0)
    torch.testing.assert_close(frequencies, torch.tensor([0.1, 0.2, 0.3, 0.4]), atol=0.015, rtol=0)


# -- subsample -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
def test_subsample_is_coefficient_times_sum_plus_bias(shape):
    pool = block("subsample", shape).double()
    assert pool.kernel_size == (2,) * (len(shape) - 1)
    with torch.no_grad():
        pool.weight.copy_(torch.tensor([0.5, -2.0, 3.0]))
        pool.bias.copy_(torch.tensor([1.0, 0.0, -0.25]))
    x = torch.randn(2, *shape, dtype=torch.float64)
    per_map = (1, 3) + (1,) * (len(shape) - 1)
    expected = pool.weight.view(per_map) * blocks_of(x, 2).sum(-1) + pool.bias.view(per_map)
    torch.testing.assert_close(pool(x), expected)


def test_subsample_starts_as_average_pooling():
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(block("subsample", (3, 8, 8))(x), F.avg_pool2d(x, 2))


def test_subsample_has_two_parameters_per_map_as_lenet5_s2():
    spec = {"name": "s2", "input": [6, 28, 28], "layers": [{"pool": "subsample", "kernel": 2}]}
    assert cz.summary(spec).params == 12
    assert sum(p.numel() for p in cz.build(spec).parameters()) == 12
    one_d = {"name": "s", "input": [16, 10], "layers": [{"pool": "subsample"}]}
    assert cz.summary(one_d).params == 32
