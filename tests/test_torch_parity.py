# SPDX-License-Identifier: Apache-2.0
"""Same results as torch.nn.functional (and torchvision's focal formula) on ordinary data,
through the public API, for every backend we have."""

import pytest
import torch
import torch.nn.functional as F

import losses_ext
import losses_ext.functional as LF
from benchmarks.eager import sigmoid_focal_loss as focal_torchvision_formula
from tolerances import assert_close

BACKENDS = ["cpu", "reference"]


def _pair(ours, theirs, args, kwargs, wrt):
    out = []
    for fn in (ours, theirs):
        leaves = [a.detach().clone().requires_grad_(i in wrt) for i, a in enumerate(args)]
        loss = fn(*leaves, **kwargs)
        grads = torch.autograd.grad(loss.sum(), [leaves[i] for i in wrt])
        out.append((loss, grads))
    (l1, g1), (l2, g2) = out
    assert_close(l1, l2.double(), torch.float32)
    for a, b in zip(g1, g2, strict=True):
        assert_close(a, b.double(), torch.float32)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_bce_with_logits_weight_and_pos_weight(backend, reduction):
    x, y = torch.randn(4, 3, 5) * 2, torch.rand(4, 3, 5)
    kwargs = dict(weight=torch.rand(3, 1), pos_weight=torch.rand(5) + 0.5, reduction=reduction)
    _pair(
        lambda a, b, **k: LF.binary_cross_entropy_with_logits(a, b, **k, backend=backend),
        F.binary_cross_entropy_with_logits,
        (x, y),
        kwargs,
        wrt=(0, 1),
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_bce(backend, reduction):
    x, y = torch.rand(6, 7) * 0.9 + 0.05, torch.rand(6, 7)
    kwargs = dict(weight=torch.rand(7), reduction=reduction)
    _pair(
        lambda a, b, **k: LF.binary_cross_entropy(a, b, **k, backend=backend),
        F.binary_cross_entropy,
        (x, y),
        kwargs,
        wrt=(0, 1),
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (-1.0, 1.0), (0.7, 0.5), (0.25, 0.0)])
def test_focal_matches_torchvision(backend, alpha, gamma):
    x, y = torch.randn(5, 9) * 2, torch.rand(5, 9)
    kwargs = dict(alpha=alpha, gamma=gamma, reduction="sum")
    _pair(
        lambda a, b, **k: LF.sigmoid_focal_loss(a, b, **k, backend=backend),
        focal_torchvision_formula,
        (x, y),
        kwargs,
        wrt=(0, 1),
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["none", "batchmean", "sum"])
def test_kl_div(backend, log_target, reduction):
    x = torch.randn(4, 6).log_softmax(-1)
    y = torch.randn(4, 6).softmax(-1)
    y = y.log() if log_target else y
    _pair(
        lambda a, b, **k: LF.kl_div(a, b, **k, backend=backend),
        F.kl_div,
        (x, y),
        dict(reduction=reduction, log_target=log_target),
        wrt=(0, 1),
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_mse_broadcast(backend):
    x, y = torch.randn(3, 1, 5), torch.randn(4, 5)
    with pytest.warns(UserWarning):
        _pair(
            lambda a, b, **k: LF.mse_loss(a, b, **k, backend=backend),
            F.mse_loss,
            (x, y),
            dict(reduction="mean"),
            wrt=(0, 1),
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_hinge_embedding_with_other_labels(backend):
    x = torch.randn(20) * 2
    y = torch.tensor([1.0, -1.0, 0.0, 2.0] * 5)  # torch applies both terms to other labels
    _pair(
        lambda a, b, **k: LF.hinge_embedding_loss(a, b, **k, backend=backend),
        F.hinge_embedding_loss,
        (x, y),
        dict(margin=0.7, reduction="sum"),
        wrt=(0,),
    )


def test_modules_match_functional():
    x, y = torch.randn(8, 4), torch.rand(8, 4)
    pw = torch.rand(4) + 0.5
    assert torch.equal(
        losses_ext.BCEWithLogitsLoss(pos_weight=pw)(x, y),
        LF.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
    )
    assert torch.equal(
        losses_ext.nn.KLDivLoss(reduction="batchmean", log_target=False)(x.log_softmax(-1), y),
        LF.kl_div(x.log_softmax(-1), y, reduction="batchmean"),
    )
    assert torch.equal(losses_ext.SigmoidFocalLoss()(x, y), LF.sigmoid_focal_loss(x, y))
    assert losses_ext.MSELoss(reduction="sum")(x, y).shape == ()
    assert losses_ext.HingeLoss()(x, y.round() * 2 - 1).shape == ()
    assert losses_ext.LogCoshLoss(reduction="none")(x, y).shape == (8, 4)
