"""The classifier heads keep their promises: conv1x1 is the linear head slid over
wider inputs, rbf is LeNet-5's distance to fixed codes, capsule is CapsNet's loss."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F

import convzoo as cz
import convzoo.blocks.capsule  # registers capsule.primary and capsule.routing
from convzoo.blocks.capsule_head import CapsuleHead, margin_loss
from convzoo.blocks.heads import RBF, rbf_codes, rbf_loss


def _spec(head: dict, input_shape: list[int], classes: int = 3, before=()) -> dict:
    return {
        "name": "probe",
        "input": input_shape,
        "classes": classes,
        "layers": [*before, head],
    }


# -- conv1x1 -----------------------------------------------------------------------------


@pytest.mark.parametrize("input_shape", [[2, 5, 4], [2, 7]])
def test_conv1x1_equals_linear_with_the_same_weights(input_shape):
    hidden = {"hidden": [6, 5], "activation": "tanh"}
    linear = cz.build(_spec({"head": "linear", **hidden}, input_shape))
    conv = cz.build(_spec({"head": "conv1x1", **hidden}, input_shape))
    dense = [m for m in linear.modules() if isinstance(m, torch.nn.Linear)]
    convs = [m for m in conv.modules() if isinstance(m, torch.nn.Conv1d | torch.nn.Conv2d)]
    assert len(dense) == len(convs) == 3
    with torch.no_grad():
        for d, c in zip(dense, convs):
            c.weight.copy_(d.weight.view(c.weight.shape))
            c.bias.copy_(d.bias)
    x = torch.randn(4, *input_shape)
    out = conv(x)
    assert out.shape == (4, 3)
    torch.testing.assert_close(out, linear(x), rtol=0, atol=1e-6)


def _scan_net(reduce: str) -> cz.ConvNet:
    torch.manual_seed(0)
    spec = _spec(
        {"head": "conv1x1", "hidden": [7], "reduce": reduce},
        [1, 9, 9],
        before=[{"filter": "conv", "out": 4, "kernel": 3, "stride": 2}, {"act": "tanh"}],
    )
    return cz.build(spec).eval()


def test_conv1x1_score_map_positions_equal_per_window_runs():
    net = _scan_net("none")
    wide = torch.randn(2, 1, 11, 15)
    scores = net(wide)
    assert scores.shape == (2, 3, 2, 4)  # stride 2: windows of 9 at 0, 2, ... of 11 and 15
    for i in range(2):
        for j in range(4):
            window = wide[:, :, 2 * i : 2 * i + 9, 2 * j : 2 * j + 9]
            alone = net(window)
            assert alone.shape == (2, 3, 1, 1)
            torch.testing.assert_close(scores[:, :, i, j], alone[:, :, 0, 0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("reduce", ["avg", "max"])
def test_conv1x1_pools_the_score_map_of_a_wider_input(reduce):
    scan = _scan_net("none")
    pooled = _scan_net(reduce)
    pooled.load_state_dict(scan.state_dict())
    wide = torch.randn(2, 1, 13, 9)
    out = pooled(wide)
    assert out.shape == (2, 3)
    grid = scan(wide).flatten(2)
    expected = grid.mean(2) if reduce == "avg" else grid.amax(2)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [({"reduce": "sum"}, "reduce must be one of"), ({"dropout": 1.0}, "dropout must be")],
)
def test_conv1x1_rejects_bad_arguments(args, message):
    with pytest.raises(cz.SpecError, match=message):
        cz.build(_spec({"head": "conv1x1", **args}, [2, 4, 4]))


def test_conv1x1_needs_a_feature_map():
    primary = {"capsule": "primary", "capsules": 2, "dim": 2, "kernel": 3}
    spec = _spec({"head": "conv1x1"}, [2, 8, 8], before=[primary])
    with pytest.raises(cz.SpecError, match=r"layers\.1.*feature map"):
        cz.build(spec)


# -- rbf ---------------------------------------------------------------------------------


def test_rbf_has_no_parameters_and_fixed_random_codes():
    head = RBF(in_shape=(84,), classes=10, codes="random")
    assert list(head.parameters()) == []
    assert head.codes.shape == (10, 84)
    assert set(head.codes.unique().tolist()) == {-1.0, 1.0}
    assert len(head.codes.unique(dim=0)) == 10
    again = RBF(in_shape=(84,), classes=10, codes="random").codes
    torch.testing.assert_close(head.codes, again, rtol=0, atol=0)
    other = RBF(in_shape=(84,), classes=10, codes="random", seed=1).codes
    assert not torch.equal(head.codes, other)
    assert "codes" in head.state_dict()


SEVEN = (
    ".......",
    "#######",
    ".....##",
    "....##.",
    "....##.",
    "...##..",
    "...##..",
    "..##...",
    "..##...",
    "..##...",
    ".......",
    ".......",
)


def test_rbf_bitmap_codes_are_the_digits_drawn_on_7x12():
    codes = RBF(in_shape=(84,), classes=10, codes="bitmap").codes
    drawn = ["".join("#" if v > 0 else "." for v in row) for row in codes[7].view(12, 7).tolist()]
    assert tuple(drawn) == SEVEN
    assert (codes > 0).sum(1).tolist() == [34, 25, 28, 30, 30, 32, 32, 23, 39, 32]
    hamming = torch.cdist(codes, codes, p=0) + 99 * torch.eye(10)
    assert hamming.min() >= 13, "every two digits' codes differ in at least 13 pixels"
    assert set(codes.unique().tolist()) == {-1.0, 1.0}


def test_rbf_auto_takes_the_bitmaps_where_they_fit_and_random_codes_elsewhere():
    bitmaps = RBF(in_shape=(84,), classes=10, codes="bitmap").codes
    torch.testing.assert_close(RBF(in_shape=(84, 1, 1), classes=10).codes, bitmaps)
    torch.testing.assert_close(RBF(in_shape=(84,), classes=4).codes, bitmaps[:4])
    torch.testing.assert_close(RBF(in_shape=(18,), classes=4).codes, rbf_codes(4, 18))
    torch.testing.assert_close(RBF(in_shape=(84,), classes=11).codes, rbf_codes(11, 84))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"in_shape": (18,), "classes": 4, "codes": "bitmap"}, "gets 18 units.*codes: random"),
        ({"in_shape": (84,), "classes": 11, "codes": "bitmap"}, "at most 10 classes"),
        ({"in_shape": (84,), "classes": 10, "codes": "ascii"}, "codes must be one of"),
        ({"in_shape": (84,), "classes": 10, "loss": "mse"}, "loss must be one of"),
        ({"in_shape": (84,), "classes": 10, "j": 0.0}, "j must be a positive number"),
    ],
)
def test_rbf_refuses_what_it_cannot_build(args, message):
    with pytest.raises(ValueError, match=message):
        RBF(**args)


def test_rbf_paper_loss_is_equation_9():
    torch.manual_seed(0)
    head = RBF(in_shape=(84,), classes=10, j=2.5)
    x = torch.randn(5, 84)
    target = torch.tensor([3, 1, 4, 1, 5])
    y = torch.cdist(x, head.codes).square()  # the RBF outputs, penalties
    by_hand = (
        sum(
            y[p, target[p]] + torch.log(torch.exp(torch.tensor(-2.5)) + torch.exp(-y[p]).sum())
            for p in range(5)
        )
        / 5
    )
    torch.testing.assert_close(head.loss(head(x), target), by_hand, rtol=1e-5, atol=1e-4)


def test_rbf_paper_loss_stops_pushing_codes_that_are_far_already():
    near = torch.tensor([[0.0, -1.0, -1.0]])
    far = torch.tensor([[0.0, -50.0, -50.0]])
    target = torch.tensor([0])
    assert rbf_loss(far, target, j=1.0) < rbf_loss(near, target, j=1.0)
    scores = far.clone().requires_grad_()
    rbf_loss(scores, target, j=1.0).backward()
    assert scores.grad[0, 1:].abs().max() < 1e-20
    floor = torch.log1p(torch.exp(-torch.tensor(1.0)))  # the rubbish class alone
    torch.testing.assert_close(rbf_loss(far, target, j=1.0), floor)


def test_rbf_cross_entropy_loss_is_the_softmax_of_the_scores():
    head = RBF(in_shape=(84,), classes=10, loss="cross_entropy")
    x, target = torch.randn(4, 84), torch.tensor([0, 9, 2, 2])
    torch.testing.assert_close(head.loss(head(x), target), F.cross_entropy(head(x), target))


def test_rbf_logits_are_minus_squared_distances():
    head = RBF(in_shape=(4, 3, 5), classes=5)
    assert head.kind == "random"
    x = torch.randn(6, 4, 3, 5)
    logits = head(x)
    assert logits.shape == (6, 5)
    for n in range(6):
        for c in range(5):
            distance = sum((a - b) ** 2 for a, b in zip(x[n].flatten(), head.codes[c]))
            torch.testing.assert_close(logits[n, c], -distance, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("codes", ["bitmap", "random"])
def test_rbf_the_class_whose_code_is_the_input_wins(codes):
    head = RBF(in_shape=(84,), classes=10, codes=codes)
    logits = head(head.codes + 0.3 * torch.randn(10, 84))
    assert logits.argmax(1).tolist() == list(range(10))
    assert head(head.codes).diagonal().abs().max() == 0


def test_rbf_codes_need_enough_units():
    assert len(rbf_codes(4, 2).unique(dim=0)) == 4
    with pytest.raises(ValueError, match="at least 3 input units"):
        rbf_codes(5, 2)


def test_rbf_builds_in_a_spec():
    model = cz.build(_spec({"head": "rbf"}, [2, 3, 3], classes=4))
    assert model(torch.randn(2, 2, 3, 3)).shape == (2, 4)
    assert sum(p.numel() for p in model.parameters()) == 0


# -- capsule -----------------------------------------------------------------------------


def test_margin_loss_matches_a_hand_computation():
    lengths = torch.tensor([[0.95, 0.3, 0.05], [0.5, 0.2, 0.8]])
    target = torch.tensor([0, 2])
    # sample 0: present 0; absent 0.5 * 0.2^2 = 0.02.  sample 1: present 0.1^2 = 0.01,
    # absent 0.5 * 0.4^2 + 0.5 * 0.1^2 = 0.085.  Mean (0.02 + 0.095) / 2.
    expected = torch.tensor(0.0575)
    torch.testing.assert_close(margin_loss(lengths, target), expected, rtol=0, atol=1e-7)
    head = CapsuleHead(in_shape=(3, 2), classes=3, input_shape=(1, 2, 2), reconstruction=False)
    torch.testing.assert_close(head.loss(lengths, target), expected, rtol=0, atol=1e-7)


def test_capsule_scores_are_capsule_lengths():
    head = CapsuleHead(in_shape=(3, 4), classes=3, input_shape=(1, 5, 5))
    poses = torch.randn(2, 3, 4)
    torch.testing.assert_close(head(poses), poses.norm(dim=-1), rtol=0, atol=1e-6)
    assert head.poses is poses


def test_capsnet_decoder_has_the_papers_parameter_count():
    head = CapsuleHead(in_shape=(10, 16), classes=10, input_shape=(1, 28, 28))
    assert sum(p.numel() for p in head.decoder.parameters()) == 1_411_344
    assert sum(p.numel() for p in head.parameters()) == 1_411_344


def test_reconstruction_is_masked_by_the_label_or_the_longest_capsule():
    torch.manual_seed(0)
    head = CapsuleHead(in_shape=(3, 4), classes=3, input_shape=(1, 5, 5))
    poses = torch.randn(2, 3, 4)
    poses[:, 1] *= 10  # capsule 1 is the longest
    head(poses)
    images = head.reconstruct(torch.tensor([0, 2]))
    assert images.shape == (2, 1, 5, 5)
    assert ((images > 0) & (images < 1)).all()
    only = torch.zeros_like(poses)
    only[0, 0], only[1, 2] = poses[0, 0], poses[1, 2]
    expected = head.decoder(only.flatten(1)).view(2, 1, 5, 5)
    torch.testing.assert_close(images, expected, rtol=0, atol=0)
    torch.testing.assert_close(
        head.reconstruct(), head.reconstruct(torch.tensor([1, 1])), rtol=0, atol=0
    )


@pytest.mark.parametrize("training", [True, False])
def test_capsule_loss_adds_the_weighted_reconstruction_error(training):
    torch.manual_seed(0)
    head = CapsuleHead(in_shape=(3, 4), classes=3, input_shape=(1, 5, 5)).train(training)
    poses = torch.randn(2, 3, 4, requires_grad=True)
    inputs = torch.rand(2, 1, 5, 5)
    target = torch.tensor([0, 2])
    scores = head(poses)
    loss = head.loss(scores, target, inputs)
    images = head.reconstruct(target if training else None)
    sse = ((images - inputs) ** 2).sum(dim=(1, 2, 3))
    expected = margin_loss(scores, target) + 0.0005 * sse.mean()
    torch.testing.assert_close(loss, expected, rtol=0, atol=1e-7)
    loss.backward()
    assert all(p.grad is not None for p in head.decoder.parameters())
    assert poses.grad is not None


def test_capsule_loss_through_the_network_and_in_its_copies():
    torch.manual_seed(0)
    spec = _spec(
        {"head": "capsule"},
        [1, 8, 8],
        before=[
            {"capsule": "primary", "capsules": 2, "dim": 4, "kernel": 3, "stride": 2},
            {"capsule": "routing", "dim": 4},
        ],
    )
    model = cz.build(spec)
    x = torch.rand(2, 1, 8, 8)
    target = torch.tensor([1, 0])
    scores = model(x)
    loss = model.loss(scores, target, x)
    torch.testing.assert_close(loss, model.layers[-1].loss(scores, target, x), rtol=0, atol=0)
    assert loss > margin_loss(scores, target)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert copy.deepcopy(model).layers[-1].poses is None
    with pytest.raises(ValueError, match="needs the input images"):
        model.loss(scores, target)


def test_capsule_head_rejects_what_is_not_class_capsules():
    spec = _spec({"head": "capsule"}, [2, 4, 4])
    with pytest.raises(cz.SpecError, match="routing layer to 3 capsules"):
        cz.build(spec)
    head = CapsuleHead(in_shape=(3, 4), classes=3, input_shape=(1, 2, 2), reconstruction=False)
    with pytest.raises(ValueError, match="no decoder"):
        head.reconstruct()
    with pytest.raises(ValueError, match="forward pass"):
        CapsuleHead(in_shape=(3, 4), classes=3, input_shape=(1, 2, 2)).reconstruct()


def test_margin_loss_is_zero_for_confident_right_answers():
    lengths = F.one_hot(torch.tensor([2, 0]), 3).float()
    assert margin_loss(lengths, torch.tensor([2, 0])) == 0
