# SPDX-License-Identifier: Apache-2.0
"""The public bug-report cases (tests/public_cases.py) on the fused CPU kernels."""

import builtins

import pytest
import torch
from conftest import device_for

import losses_ext.functional as LF
from public_cases import CASES

FUNCTIONS = {
    "binary_cross_entropy_with_logits": LF.binary_cross_entropy_with_logits,
    "sigmoid_focal_loss": LF.sigmoid_focal_loss,
    "log_cosh": LF.log_cosh_loss,
    "kl_div": LF.kl_div,
    "mse_loss": LF.mse_loss,
    "hinge_embedding_loss": LF.hinge_embedding_loss,
}


def _tensor(spec, dtype, device):
    if isinstance(spec, dict):
        return torch.zeros(spec["shape"], dtype=dtype, device=device)
    return torch.tensor(spec, dtype=dtype, device=device)


def _expected(value):
    return torch.tensor(value, dtype=torch.float64)


def _close(actual, expected, tol):
    actual = actual.detach().double()
    # Infinities must match exactly and NaN must be NaN; assert_close checks both.
    torch.testing.assert_close(actual, expected, equal_nan=True, **tol)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_public_case(case, backend):
    dtype = getattr(torch, case["dtype"])
    device = device_for(backend)
    kwargs = dict(case["kwargs"], backend=backend)
    for key in ("weight", "pos_weight"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = torch.tensor(kwargs[key], dtype=dtype, device=device)
    x = _tensor(case["inputs"]["input"], dtype, device).requires_grad_(True)
    y = _tensor(case["inputs"]["target"], dtype, device)
    fn = FUNCTIONS[case["loss"]]
    expected = case["expected"]
    if "raises" in expected:
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
    _close(loss, _expected(expected["loss"]), tol)
    grad_spec = expected.get("grad_input")
    if grad_spec is None:
        return
    (grad,) = torch.autograd.grad(loss, x, torch.ones_like(loss))
    if isinstance(grad_spec, dict):
        assert list(grad.shape) == grad_spec["shape"]
    else:
        _close(grad, _expected(grad_spec), tol)
