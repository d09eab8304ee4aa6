# SPDX-License-Identifier: Apache-2.0
"""The public bug-report cases (tests/public_cases.py) on every fused backend."""

import builtins
import math

import pytest
import torch

import losses_ext.functional as LF
from conftest import device_for
from public_cases import CASES

FUNCTIONS = {
    "binary_cross_entropy_with_logits": LF.binary_cross_entropy_with_logits,
    "sigmoid_focal_loss": LF.sigmoid_focal_loss,
    "log_cosh": LF.log_cosh_loss,
    "kl_div": LF.kl_div,
    "mse_loss": LF.mse_loss,
    "hinge_embedding_loss": LF.hinge_embedding_loss,
    "cross_entropy": LF.cross_entropy,
}


def sparse_full(shape, fill, entries, dtype=torch.float32):
    """A `fill`ed tensor with t[index] = value for each [index, value] of entries."""
    t = torch.full(tuple(shape), fill, dtype=dtype)
    for index, value in entries:
        t[index] = value
    return t


def _big_pattern(rows, n_classes):
    r = torch.arange(rows)
    return r, (r * 7919) % n_classes


def big_ce_logits(rows, n_classes, dtype):
    """Zero logits except x[r, 7919 r mod V] = (r mod 5) - 2."""
    r, cols = _big_pattern(rows, n_classes)
    x = torch.zeros(rows, n_classes, dtype=dtype)
    x[r, cols] = ((r % 5) - 2).to(dtype)
    return x


def big_ce_target(rows, n_classes):
    """7919 r mod V on even rows, the class after it on odd rows."""
    r, cols = _big_pattern(rows, n_classes)
    return (cols + r % 2) % n_classes


def materialize(spec, dtype, integer=False):
    if isinstance(spec, dict):
        names = {"torch": torch, "math": math, "sparse_full": sparse_full,
                 "big_ce_logits": big_ce_logits, "big_ce_target": big_ce_target}  # fmt: skip
        return eval(spec["recipe"], names)  # the recipes are this file's own data
    return torch.tensor(spec, dtype=torch.int64 if integer else dtype)


def _close(actual, expected, tol):
    # Infinities must match exactly and NaN must be NaN; assert_close checks both.
    torch.testing.assert_close(
        actual.detach().double().cpu(), torch.as_tensor(expected, dtype=torch.float64),
        equal_nan=True, **tol,
    )  # fmt: skip


def _params():
    for case in CASES:
        marks = [pytest.mark.cuda, pytest.mark.big] if case.get("big") else []
        yield pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_public_case(case, backend):
    if case.get("big") and backend not in ("cuda", "triton"):
        pytest.skip("big cases run on a GPU")
    dtype = getattr(torch, case["dtype"])
    device = device_for(backend)
    kwargs = dict(case["kwargs"], backend=backend)
    for key in ("weight", "pos_weight"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = torch.tensor(kwargs[key], dtype=dtype, device=device)
    is_ce = case["loss"] == "cross_entropy"
    x = materialize(case["inputs"]["input"], dtype).to(device)
    y = materialize(case["inputs"]["target"], dtype, integer=is_ce).to(device)
    expected = case["expected"]
    x.requires_grad_(expected.get("requires_grad", True))
    fn = FUNCTIONS[case["loss"]]
    if "raises" in expected:
        if backend != "cpu":
            pytest.skip("GPU kernels cannot raise on data without a host synchronisation")
        with pytest.raises(tuple(getattr(builtins, n) for n in expected["raises"])) as info:
            fn(x, y, **kwargs)
        assert case["loss"] in str(info.value)
        return
    if "warns" in expected:
        with pytest.warns(getattr(builtins, expected["warns"])):
            loss = fn(x, y, **kwargs)
    else:
        loss = fn(x, y, **kwargs)
    tol = case["tolerance"]
    if "loss_rows" in expected:
        rows = fn(x.detach(), y, **dict(kwargs, reduction="none"))
        for row, value in expected["loss_rows"].items():
            _close(rows[row], value, tol)
    if "loss" in expected:
        _close(loss, expected["loss"], tol)
    if "loss_shape" in expected:
        assert list(loss.shape) == expected["loss_shape"]
    if not x.requires_grad or not any(k.startswith("grad_") for k in expected):
        return
    grad_out = case["inputs"].get("grad_output")
    grad_out = torch.ones_like(loss) if grad_out is None else torch.tensor(grad_out, dtype=dtype)
    (grad,) = torch.autograd.grad(loss, x, grad_out.to(device))
    spec = expected.get("grad_input")
    if isinstance(spec, dict):
        assert list(grad.shape) == spec["shape"]
    elif spec is not None:
        _close(grad, spec, tol)
    for key in ("grad_input_sparse", "grad_entries"):
        if key in expected:
            entries = expected[key]
            for r, c, value in entries:
                _close(grad[r, c], value, tol)
            if key == "grad_input_sparse":  # every other entry is 0
                mask = torch.ones_like(grad, dtype=torch.bool)
                for r, c, _ in entries:
                    mask[r, c] = False
                assert torch.all(grad[mask] == 0)
