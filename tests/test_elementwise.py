# SPDX-License-Identifier: Apache-2.0
"""Values and gradients of the fused CPU kernels against the float64 reference, over losses,
options, dtypes, reductions, shapes, layouts and CPU instruction sets."""

import os

import pytest
import torch

from conftest import device_for
from loss_cases import CASES
from tolerances import assert_close

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 33), (3, 20000), (0,), (0, 3)]
if os.environ.get("LOSSES_EXT_EXPECT_SANITIZED") == "1":  # `make sanitize`: a short run
    SHAPES = [(), (7,), (3, 20000), (0, 3)]


def _layout(t, layout):
    """The same values in another memory layout."""
    if layout == "transposed" and t.dim() >= 2:
        return t.transpose(0, 1).contiguous().transpose(0, 1)
    if layout == "sliced":
        wide = torch.zeros(t.shape + (2,), dtype=t.dtype)
        wide[..., 0] = t
        return wide[..., 0]
    return t


def _check(case, shape, dtype, reduction, backend="cpu", layout="contiguous", seed=0):
    device = device_for(backend)
    x, y, aux = case.make(shape, dtype, seed=seed)
    x, y = _layout(x, layout).to(device), _layout(y, layout).to(device)
    aux = {k: v.to(device) for k, v in aux.items()}
    x.requires_grad_(True)
    y.requires_grad_(case.target_grad)
    loss = case(x, y, aux, reduction, backend=backend)
    assert loss.dtype == dtype
    assert loss.shape == (x.shape if reduction == "none" else ())
    grad_out = (
        torch.rand_like(loss) + 0.5 if reduction == "none" else torch.tensor(1.0, dtype=dtype)
    )
    wrt = [x, y] if case.target_grad else [x]
    grads = torch.autograd.grad(loss, wrt, grad_out, allow_unused=True) if x.numel() else None

    xr = x.detach().cpu().double().requires_grad_(True)
    yr = y.detach().cpu().double().requires_grad_(case.target_grad)
    aux_r = {k: v.cpu().double() for k, v in aux.items()}
    ref = case(xr, yr, aux_r, reduction, backend="reference")
    assert_close(loss.cpu(), ref, dtype)
    if grads is None:
        return
    wrt = [xr, yr] if case.target_grad else [xr]
    ref_grads = torch.autograd.grad(ref, wrt, grad_out.cpu().double())
    for g, r in zip(grads, ref_grads, strict=True):
        assert g.shape == r.shape and g.dtype == dtype
        assert_close(g.cpu(), r, dtype)


CASE_REDUCTIONS = [
    pytest.param(case, reduction, id=f"{case.id}-{reduction}")
    for case in CASES
    for reduction in case.reductions
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case,reduction", CASE_REDUCTIONS)
def test_matches_reference(case, reduction, dtype, shape, backend_variant):
    if dtype in (torch.float16, torch.bfloat16) and reduction == "sum" and len(shape) > 1:
        shape = shape[:-1] + (min(shape[-1], 50),)  # keep half-precision sums representable
    _check(case, shape, dtype, reduction, backend_variant)


@pytest.mark.parametrize("layout", ["transposed", "sliced"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_non_contiguous(case, layout, backend):
    _check(case, (6, 7), torch.float32, case.reductions[1], backend, layout=layout)


@pytest.mark.parametrize("case,reduction", CASE_REDUCTIONS)
def test_gradcheck_float64(case, reduction, backend):
    x, y, aux = case.make((3, 4), torch.float64, seed=1, requires_grad=True)
    device = device_for(backend)
    x, y = x.detach().to(device).requires_grad_(), y.detach().to(device).requires_grad_()
    aux = {k: v.to(device) for k, v in aux.items()}
    inputs = (x, y) if case.target_grad else (x,)

    def f(*args):
        return case(args[0], args[1] if case.target_grad else y, aux, reduction, backend=backend)

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gradgradcheck_float64(case, backend):
    x, y, aux = case.make((2, 3), torch.float64, seed=2, requires_grad=True)
    inputs = (x, y) if case.target_grad else (x,)

    def f(*args):
        return case(
            args[0], args[1] if case.target_grad else y, aux, case.reductions[1], backend=backend
        )

    assert torch.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_no_grad_forward_matches(case, backend):
    x, y, aux = case.make((4, 9), torch.float32)
    with torch.no_grad():
        plain = case(x, y, aux, "sum", backend=backend)
    x.requires_grad_(True)
    assert torch.equal(case(x, y, aux, "sum", backend=backend).detach(), plain)
