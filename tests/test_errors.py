# SPDX-License-Identifier: Apache-2.0
"""Bad input raises a clear Python exception that names the loss and the problem."""

import pytest
import torch

import losses_ext.functional as LF
from loss_cases import CASES

X = torch.randn(3, 4)
Y = torch.rand(3, 4)
NAMES = sorted({c.name for c in CASES})
FN = {c.name: c.fn for c in CASES}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "input,target,kwargs,exc,match",
    [
        (X.long(), Y, {}, TypeError, "input must be a floating-point"),
        (X.to(torch.complex64), Y, {}, TypeError, "input must be a floating-point"),
        ([1.0, 2.0], Y, {}, TypeError, "input must be a torch.Tensor"),
        (X, Y, {"reduction": "avg"}, ValueError, "reduction must be one of"),
        (X, Y, {"backend": "gpu"}, ValueError, "unknown backend"),
        (X, Y, {"backend": "cuda"}, ValueError, "backend='cuda' needs CUDA tensors"),
        (X, Y[:, :3], {}, ValueError, "size"),
        (X, Y.to("meta"), {}, ValueError, "device"),
    ],
    ids=["int", "complex", "list", "reduction", "backend", "cuda", "shape", "device"],
)
def test_bad_input(name, input, target, kwargs, exc, match):
    if (
        name == "binary_cross_entropy"
        and isinstance(input, torch.Tensor)
        and input.is_floating_point()
    ):
        input = input.sigmoid()
    with pytest.raises(exc, match=match) as info:
        FN[name](input, target, **kwargs)
    assert name in str(info.value)


@pytest.mark.parametrize(
    "name",
    [
        "binary_cross_entropy_with_logits",
        "sigmoid_focal_loss",
        "log_cosh_loss",
        "kl_div",
        "mse_loss",
    ],
)
def test_integer_target_rejected(name):
    with pytest.raises(TypeError, match=f"{name}: target must be a floating-point"):
        FN[name](X, Y.long())


def test_negative_gamma():
    with pytest.raises(ValueError, match="sigmoid_focal_loss: gamma must be >= 0"):
        LF.sigmoid_focal_loss(X, Y, gamma=-1.0)
    with pytest.raises(RuntimeError, match="sigmoid_focal_loss: gamma must be >= 0"):
        torch.ops.losses_ext.sigmoid_focal(X, Y, 0.25, -1.0, 1, False, False)


def test_pos_weight_and_weight_that_do_not_broadcast():
    name = "binary_cross_entropy_with_logits"
    with pytest.raises(ValueError, match=f"{name}: pos_weight of size"):
        LF.binary_cross_entropy_with_logits(X, Y, pos_weight=torch.ones(3))
    with pytest.raises(ValueError, match=f"{name}: weight of size"):
        LF.binary_cross_entropy_with_logits(X, Y, weight=torch.ones(5, 3, 4))
    with pytest.raises(ValueError, match=f"{name}: weight does not support gradients"):
        LF.binary_cross_entropy_with_logits(X, Y, weight=torch.ones(4, requires_grad=True))


@pytest.mark.parametrize("bad", [-0.5, 1.5, float("nan")])
def test_bce_probability_out_of_range(bad):
    x = torch.full((5,), 0.5)
    x[3] = bad
    with pytest.raises(RuntimeError, match="binary_cross_entropy: all elements of input"):
        LF.binary_cross_entropy(x, torch.rand(5))


def test_kl_div_mean_warns_and_batchmean_only_for_kl():
    with pytest.warns(UserWarning, match="kl_div: reduction='mean'"):
        LF.kl_div(X.log_softmax(-1), Y, reduction="mean")
    with pytest.raises(ValueError, match="mse_loss: reduction must be one of"):
        LF.mse_loss(X, Y, reduction="batchmean")


def test_op_level_checks_name_the_loss():
    with pytest.raises(RuntimeError, match="mse_loss: target has shape"):
        torch.ops.losses_ext.mse(X, Y[:2], 1, True, False)
    with pytest.raises(RuntimeError, match="hinge_loss: the target is a label"):
        torch.ops.losses_ext.hinge(X, Y, 1.0, 1, True, True)
    with pytest.raises(RuntimeError, match="kl_div: unknown reduction code"):
        torch.ops.losses_ext.kl_div(X, Y, False, 7, False, False)
    with pytest.raises(RuntimeError, match="log_cosh_loss: target has dtype"):
        torch.ops.losses_ext.log_cosh(X, Y.double(), 1, False, False)


def test_module_constructors_check_arguments():
    import losses_ext

    with pytest.raises(ValueError, match="BCEWithLogitsLoss: reduction must be one of"):
        losses_ext.BCEWithLogitsLoss(reduction="avg")
    with pytest.raises(ValueError, match="MSELoss: unknown backend"):
        losses_ext.MSELoss(backend="gpu")
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of"):
        losses_ext.MSELoss(reduction="batchmean")
    assert losses_ext.KLDivLoss(reduction="batchmean").reduction == "batchmean"


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="mse_loss: backend='triton' needs CUDA tensors"):
        LF.mse_loss(X, Y, backend="triton")
    with pytest.raises(RuntimeError, match="mse_loss: backend='triton' on CPU tensors needs"):
        torch.ops.losses_ext.triton_mse(X, Y, 1, False, False)
