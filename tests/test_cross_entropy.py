# SPDX-License-Identifier: Apache-2.0
"""Fused softmax cross-entropy against torch.nn.functional.cross_entropy in float64, over
backends, dtypes, shapes, layouts, targets and options."""

import math
import os

import pytest
import torch
import torch.nn.functional as F

import losses_ext.functional as LF
from conftest import device_for
from tolerances import assert_close

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
# (input shape, layout): 'T' stores the (N, C) input transposed (class stride N), 'W' inside a
# wider buffer (row stride > C).
SHAPES = [((6, 2), ""), ((5,), ""), ((7, 33), ""), ((3, 5, 4, 2), ""), ((0, 4), ""),
          ((3, 4099), ""), ((9, 6), "T"), ((5, 7), "W")]  # fmt: skip
if os.environ.get("LOSSES_EXT_EXPECT_SANITIZED") == "1":  # `make sanitize`: a short run
    SHAPES = [((5,), ""), ((3, 5, 4, 2), ""), ((3, 4099), ""), ((9, 6), "T")]
OPTIONS = {
    "plain": {},
    "weight": {"weight": True},
    "ignore": {"ignore": True},
    "smooth": {"label_smoothing": 0.2},
    "all": {"weight": True, "ignore": True, "label_smoothing": 0.1},
    "prob": {"prob": True},
    "prob-smooth-weight": {"prob": True, "label_smoothing": 0.3, "weight": True},
}


def make(shape, layout, option, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 2
    if layout == "T":
        x = x.t().contiguous().t()
    elif layout == "W":
        x = torch.cat([x, torch.zeros(shape[0], 3, dtype=x.dtype)], dim=1)[:, : shape[1]]
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    kwargs = {"label_smoothing": option.get("label_smoothing", 0.0)}
    if option.get("weight"):
        kwargs["weight"] = torch.rand(n_classes, generator=g, dtype=torch.float64) + 0.2
    if option.get("prob"):
        y = torch.randn(shape, generator=g, dtype=torch.float64).softmax(
            0 if len(shape) == 1 else 1
        )
    else:
        t_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
        y = torch.randint(0, n_classes, t_shape, generator=g)
        if option.get("ignore") and y.numel():
            y.view(-1)[::3] = -100
    to = lambda t: t.to(device, dtype) if t.is_floating_point() else t.to(device)  # noqa: E731
    x, y = to(x), to(y)
    kwargs = {k: to(v) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    return x, y, kwargs


def _double(t):
    return t.detach().cpu().double() if t.is_floating_point() else t.cpu()


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("shape,layout", SHAPES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_matches_torch(dtype, shape, layout, option, reduction, backend_variant):
    backend = backend_variant
    x, y, kwargs = make(shape, layout, OPTIONS[option], dtype, device_for(backend))
    x.requires_grad_(True)
    y.requires_grad_(y.is_floating_point())
    loss = LF.cross_entropy(x, y, reduction=reduction, backend=backend, **kwargs)
    xr = _double(x).requires_grad_(True)
    yr = _double(y).requires_grad_(y.is_floating_point())
    ref = F.cross_entropy(xr, yr, reduction=reduction,
                          **{k: _double(v) if isinstance(v, torch.Tensor) else v
                             for k, v in kwargs.items()})  # fmt: skip
    assert loss.shape == ref.shape and loss.dtype == dtype
    assert_close(loss.cpu(), ref, dtype)
    if x.numel() == 0:
        return
    grad_out = torch.rand(ref.shape, dtype=torch.float64) + 0.5
    wrt = [x, y] if y.is_floating_point() else [x]
    grads = torch.autograd.grad(loss, wrt, grad_out.to(x.device, dtype))
    ref_grads = torch.autograd.grad(ref, [xr, yr] if y.is_floating_point() else [xr], grad_out)
    for g, r in zip(grads, ref_grads, strict=True):
        assert g.shape == r.shape
        assert_close(g.cpu(), r, dtype)


@pytest.mark.parametrize("option", ["all", "prob-smooth-weight"])
def test_gradcheck_float64(option, backend):
    x, y, kwargs = make((3, 5), "", OPTIONS[option], torch.float64, device_for(backend), seed=3)
    x.requires_grad_(True)
    inputs = (x, y.requires_grad_(True)) if y.is_floating_point() else (x,)

    def f(*args):
        target = args[1] if len(args) > 1 else y
        return LF.cross_entropy(args[0], target, backend=backend, **kwargs)

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7)
    assert torch.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-6)


def test_all_ignored_mean_is_nan_with_zero_gradient(backend):
    x = torch.randn(4, 3, device=device_for(backend), requires_grad=True)
    y = torch.full((4,), -100, device=x.device)
    loss = LF.cross_entropy(x, y, backend=backend)
    assert torch.isnan(loss)
    (grad,) = torch.autograd.grad(loss, x)
    assert torch.equal(grad, torch.zeros_like(grad))


@pytest.mark.parametrize("bad", [3, -1, -101])
def test_cpu_rejects_out_of_range_targets(bad):
    x = torch.randn(4, 3)
    y = torch.tensor([0, 1, bad, 2])
    with pytest.raises(RuntimeError, match=f"cross_entropy: target {bad} is out of bounds"):
        LF.cross_entropy(x, y, backend="cpu")


def test_gpu_kernels_mark_out_of_range_rows_nan(backend):
    if backend == "cpu":
        pytest.skip("the CPU backend raises instead")
    x = torch.randn(4, 3, device=device_for(backend), requires_grad=True)
    y = torch.tensor([0, 1, 7, -5], device=x.device)
    loss = LF.cross_entropy(x, y, reduction="none", backend=backend)
    assert torch.isfinite(loss[:2]).all() and torch.isnan(loss[2:]).all()


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(target=torch.zeros(4, 2, dtype=torch.long)), ValueError, "class-index target size"),
        (dict(target=torch.zeros(4, 3)), ValueError, "probability target size"),
        (dict(label_smoothing=1.5), ValueError, "label_smoothing must be in"),
        (dict(weight=torch.ones(4)), ValueError, "weight must be a"),
        (dict(reduction="batchmean"), ValueError, "reduction must be one of"),
        (dict(input=torch.zeros(4, 5, dtype=torch.long)), TypeError, "input must be a floating"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    args = dict(input=torch.randn(4, 5), target=torch.zeros(4, dtype=torch.long)) | kwargs
    with pytest.raises(exc, match=f"cross_entropy: {match}"):
        LF.cross_entropy(**args)


def test_opcheck(backend):
    device = device_for(backend)
    x = torch.randn(3, 5, 2, device=device)
    t = torch.randint(0, 5, (3, 2), device=device)
    y = torch.randn(3, 5, 2, device=device).softmax(1)
    w = torch.rand(5, device=device)
    op = torch.ops.losses_ext.cross_entropy if backend != "triton" else (
        torch.ops.losses_ext.triton_cross_entropy)  # fmt: skip
    for reduction in (0, 1, 2):
        torch.library.opcheck(op.default, (x, t, w, -100, 0.1, reduction, True, False))
        torch.library.opcheck(op.default, (x, y, None, -100, 0.0, reduction, True, True))


def test_module():
    import losses_ext

    x, t = torch.randn(8, 4), torch.randint(0, 4, (8,))
    m = losses_ext.CrossEntropyLoss(weight=torch.rand(4), label_smoothing=0.1)
    assert torch.equal(m(x, t), LF.cross_entropy(x, t, m.weight, label_smoothing=0.1))


@pytest.mark.parametrize("option", ["smooth", "all", "prob-smooth-weight"])
def test_huge_logits_keep_small_differences(option, backend):
    # lse = m + log(sum) would round log(sum) away at 3e7 in float32: terms are kept relative to m.
    x, y, kwargs = make((4, 6), "", OPTIONS[option], torch.float32, device_for(backend), seed=5)
    x = (x + 3e7).detach()
    loss = LF.cross_entropy(x, y, reduction="none", backend=backend, **kwargs)
    ref = F.cross_entropy(_double(x), _double(y), reduction="none",
                          **{k: _double(v) if isinstance(v, torch.Tensor) else v
                             for k, v in kwargs.items()})  # fmt: skip
    assert_close(loss.cpu(), ref, torch.float32)


@pytest.mark.parametrize(
    "x,t,kwargs,expected",
    [
        # Found by test_properties: full smoothing gives the target term coefficient 0, so its
        # -inf logit contributes 0; the smoothing term alone is infinite.
        ([[0.0, -math.inf]], [1], {"label_smoothing": 1.0}, [math.inf]),
        # A zero class weight with a -inf logit contributes 0 (torch gives NaN): the rest is
        # 0.9 log 2 from the target and 0.1 / 3 * 2 log 2 from the smoothing.
        (
            [[0.0, 0.0, -math.inf]],
            [0],
            {"weight": [1.0, 1.0, 0.0], "label_smoothing": 0.1},
            [(0.9 + 0.2 / 3) * math.log(2.0)],
        ),
        # Found by test_properties: a single class at -inf with probability 0 contributes 0.
        ([[-math.inf]], [[0.0]], {}, [0.0]),
        # Smoothing puts weight on a -inf class: the loss is infinite, not NaN, even when that
        # class comes first (a running maximum still at -inf).
        ([[-math.inf, 0.0, 1.0]], [2], {"label_smoothing": 0.1}, [math.inf]),
    ],
)
def test_zero_coefficient_against_minus_infinity(x, t, kwargs, expected, backend):
    device = device_for(backend)
    kwargs = {k: torch.tensor(v, device=device) if isinstance(v, list) else v
              for k, v in kwargs.items()}  # fmt: skip
    loss = LF.cross_entropy(torch.tensor(x, device=device), torch.tensor(t, device=device),
                            reduction="none", backend=backend, **kwargs)  # fmt: skip
    torch.testing.assert_close(loss.cpu().double(), torch.tensor(expected, dtype=torch.float64))
