# SPDX-License-Identifier: Apache-2.0
"""Property-based tests: random shapes, layouts, dtypes, options and extreme values against the
float64 reference. The rule: NaN where the reference is NaN, the same infinity where it is
infinite, otherwise within the dtype's tolerance (tests/tolerances.py)."""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import losses_ext.functional as LF
from conftest import FUSED_BACKENDS, device_for
from tolerances import TOLERANCES

INF = math.inf
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]

LOGITS = st.one_of(
    st.floats(-12, 12),
    st.sampled_from([INF, -INF, 1e30, -1e30, 88.0, -88.0, 150.0, -150.0, 0.0, -0.0, 1e-30]),
)
PROBS = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 1e-30, 0.9999999]))
LABELS = st.sampled_from([-1.0, 1.0])
LOG_PROBS = st.one_of(st.floats(-60, 0), st.sampled_from([-INF, 0.0, -1e30]))

# name -> (function, input elements, target elements, option strategies)
LOSSES = {
    "binary_cross_entropy_with_logits": (LF.binary_cross_entropy_with_logits, LOGITS, PROBS, {}),
    "binary_cross_entropy": (LF.binary_cross_entropy, PROBS, PROBS, {}),
    "sigmoid_focal_loss": (
        LF.sigmoid_focal_loss, LOGITS, PROBS,
        {"alpha": st.sampled_from([0.25, -1.0, 0.9]),
         "gamma": st.sampled_from([0.0, 0.5, 2.0, 3.5])},
    ),
    "log_cosh_loss": (LF.log_cosh_loss, LOGITS, LOGITS, {}),
    "kl_div": (LF.kl_div, LOG_PROBS, PROBS, {}),
    "kl_div_log_target": (LF.kl_div, LOG_PROBS, LOG_PROBS, {"log_target": st.just(True)}),
    "mse_loss": (LF.mse_loss, LOGITS, LOGITS, {}),
    "hinge_embedding_loss": (
        LF.hinge_embedding_loss, LOGITS, LABELS, {"margin": st.sampled_from([0.0, 1.0, 2.5])}
    ),
    "hinge_loss": (LF.hinge_loss, LOGITS, LABELS, {"margin": st.sampled_from([0.0, 1.0, 2.5])}),
}  # fmt: skip

SHAPES = st.one_of(
    st.lists(st.integers(0, 6), min_size=0, max_size=3).map(tuple),
    st.sampled_from([(2, 9000), (17000,)]),  # more than one block
)


def _tensor(draw, elements, shape):
    n = math.prod(shape)
    if n > 64:  # big shapes: a few drawn values repeated, to keep examples small
        values = draw(st.lists(elements, min_size=1, max_size=8))
        flat = torch.tensor(values, dtype=torch.float64).repeat(n // len(values) + 1)[:n]
    else:
        flat = torch.tensor(draw(st.lists(elements, min_size=n, max_size=n)), dtype=torch.float64)
    return flat.reshape(shape)


def _layout(t, layout):
    if layout == "transposed" and t.dim() >= 2:
        return t.transpose(0, 1).contiguous().transpose(0, 1)
    if layout == "sliced":
        return torch.stack([t, torch.zeros_like(t)], dim=-1)[..., 0]
    return t


def _check_rule(actual, expected, dtype):
    expected = expected.to(dtype).double()  # the exact value rounded once to dtype
    actual = actual.detach().double().cpu()
    assert actual.shape == expected.shape
    nan = torch.isnan(expected)
    assert torch.equal(torch.isnan(actual), nan), "NaN where the reference is not, or missing"
    inf = torch.isinf(expected)
    assert torch.equal(actual[inf], expected[inf]), "infinity differs from the reference"
    finite = ~nan & ~inf
    torch.testing.assert_close(actual[finite], expected[finite], **TOLERANCES[dtype])


@st.composite
def elementwise_examples(draw):
    name = draw(st.sampled_from(sorted(LOSSES)))
    fn, x_el, y_el, options = LOSSES[name]
    shape = draw(SHAPES)
    dtype = draw(st.sampled_from(DTYPES))
    x = _tensor(draw, x_el, shape)
    y = _tensor(draw, y_el, shape)
    kwargs = {k: draw(v) for k, v in options.items()}
    kwargs["reduction"] = draw(
        st.sampled_from(["none", "sum", "batchmean" if "kl" in name else "mean"])
    )
    layout = draw(st.sampled_from(["contiguous", "transposed", "sliced"]))
    return name, fn, x, y, dtype, kwargs, layout


def _run_elementwise(backend, example):
    name, fn, x, y, dtype, kwargs, layout = example
    device = device_for(backend)
    # Rounded to dtype first: the reference sees exactly the kernel's inputs.
    xd, yd = x.to(dtype), y.to(dtype)
    ours = fn(
        _layout(xd, layout).to(device), _layout(yd, layout).to(device), backend=backend, **kwargs
    )
    ref = fn(xd.double(), yd.double(), backend="reference", **kwargs)
    _check_rule(ours, ref, dtype)


@pytest.mark.parametrize("backend", FUSED_BACKENDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(example=elementwise_examples())
def test_elementwise_values_follow_the_reference(backend, example):
    _run_elementwise(backend, example)


@st.composite
def cross_entropy_examples(draw):
    rows = draw(st.integers(0, 5))
    n_classes = draw(st.sampled_from([1, 2, 3, 7, 40]))
    dtype = draw(st.sampled_from(DTYPES))
    x = _tensor(draw, st.one_of(st.floats(-30, 30), st.sampled_from([-INF, 1e30, -1e30, 3e7])),
                (rows, n_classes))  # fmt: skip
    kwargs = {
        "reduction": draw(st.sampled_from(["none", "mean", "sum"])),
        "label_smoothing": draw(st.sampled_from([0.0, 0.1, 1.0])),
    }
    if draw(st.booleans()):
        kwargs["weight"] = _tensor(draw, st.floats(0, 3), (n_classes,))
    if draw(st.booleans()):
        y = _tensor(draw, PROBS, (rows, n_classes))
    else:
        classes = st.one_of(st.integers(0, n_classes - 1), st.just(-100))
        y = torch.tensor(draw(st.lists(classes, min_size=rows, max_size=rows)), dtype=torch.long)
    layout = draw(st.sampled_from(["contiguous", "transposed"]))
    return x, y, dtype, kwargs, layout


@pytest.mark.parametrize("backend", FUSED_BACKENDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(example=cross_entropy_examples())
def test_cross_entropy_values_follow_the_reference(backend, example):
    x, y, dtype, kwargs, layout = example
    device = device_for(backend)
    xd = x.to(dtype)
    # A finite logit that overflows the dtype becomes its largest value, not +inf: with a +inf
    # logit log_softmax (the reference) is NaN while the kernels give the limit, inf.
    xd = torch.where(torch.isposinf(xd) & ~torch.isposinf(x), torch.finfo(dtype).max, xd)
    yd = y.to(dtype) if y.is_floating_point() else y
    kw = {
        k: v.to(dtype).to(device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()
    }
    ours = LF.cross_entropy(_layout(xd, layout).to(device), yd.to(device), backend=backend, **kw)
    kw64 = {
        k: v.to(dtype).double() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()
    }
    y64 = yd.double() if y.is_floating_point() else yd
    ref = LF.cross_entropy(xd.double(), y64, backend="reference", **kw64)
    _check_rule(ours, ref, dtype)
