# SPDX-License-Identifier: Apache-2.0
"""Fused element-wise losses in Triton: one generic kernel, one ``@triton.jit`` helper per loss.

Math
    Each helper returns (loss, d loss / d input, d loss / d target) for one block of elements,
    with the same formulas as ``csrc/loss_math.h`` (see there for the derivations). A term whose
    coefficient is exactly 0 contributes 0 even against an infinite factor.

Numerics
    float16 and bfloat16 are loaded and computed in float32 and rounded once on store; float64
    computes in float64. ``log1p`` and ``expm1`` are formed from ``log`` and ``exp`` with the
    ``log(u) * v / (u - 1)`` and ``(u - 1) * v / log(u)`` corrections (exact where u == 1), so the
    kernels need no libdevice call and run unchanged in Triton's interpreter.

Reduction
    Each program sums its block (``tl.sum``, fp32 or fp64) into one partial; a second one-program
    kernel adds the partials in index order and divides for 'mean' / 'batchmean'. No atomics and
    no host synchronisation: the result is the same bits on every run, and the ops can be captured
    in a CUDA graph. An empty input gives 0 for 'sum' and 0 / 0 = NaN for 'mean'.

Limitations
    binary_cross_entropy cannot raise for inputs outside [0, 1] without a host synchronisation;
    such elements give a NaN loss and gradient instead (the C++ backends raise).
    Operands are made contiguous (a copy for strided or broadcast inputs).

Block size: 1024 elements per program with 4 warps, a fixed choice (not autotuned) so that the
partial sums, and so the reduced loss, never depend on a tuning run.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import triton
import triton.language as tl

from .._ops import ELEMENTWISE_OPS, REDUCTION_CODES

BLOCK_SIZE = 1024
NUM_WARPS = 4
REDUCE_BLOCK_SIZE = 1024

# Loss ids (the LOSS constexpr of the kernel).
BCE_WITH_LOGITS, BCE, SIGMOID_FOCAL, LOG_COSH, KL_DIV, MSE, HINGE_EMBEDDING, HINGE = range(8)
LN2 = 0.6931471805599453


def _split(value: float) -> tuple[float, float]:
    """A Python float as two float32 numbers whose sum is the value to about 2**-48 relative.
    Triton passes float arguments as float32; float64 kernels join the halves (_join)."""
    hi = float(np.float32(value))
    return hi, float(np.float32(value - hi)) if math.isfinite(value) else 0.0


@triton.jit
def _join(hi, lo, ACC_DTYPE: tl.constexpr):
    return tl.cast(hi, ACC_DTYPE) + tl.cast(lo, ACC_DTYPE)


@triton.jit
def _relu(v):
    return tl.where(v != v, v, tl.where(v > 0, v, 0.0))  # keeps NaN


@triton.jit
def _xmul(c, v):
    return tl.where(c == 0, 0.0, c * v)


@triton.jit
def _log1p(v):
    u = v + 1.0
    um1 = u - 1.0
    return tl.where(um1 == 0, v, tl.log(u) * (v / tl.where(um1 == 0, 1.0, um1)))


@triton.jit
def _expm1(v):
    u = tl.exp(v)
    um1 = u - 1.0
    log_u = tl.log(u)
    r = um1 * (v / tl.where(log_u == 0, 1.0, log_u))
    r = tl.where((um1 == u) | (um1 == -1.0), um1, r)
    return tl.where(u == 1.0, v, r)


@triton.jit
def _sigmoid_parts(x):
    """softplus(x), softplus(-x), sigmoid(x), sigmoid(-x) from one exp(-|x|)."""
    e = tl.exp(-tl.abs(x))
    l1p = _log1p(e)
    inv = 1.0 / (1.0 + e)
    nonneg = x >= 0
    return (
        _relu(x) + l1p,
        _relu(-x) + l1p,
        tl.where(nonneg, inv, e * inv),
        tl.where(nonneg, e * inv, inv),
    )


@triton.jit
def _bce_with_logits(x, y, pw):
    sp_pos, sp_neg, s_pos, s_neg = _sigmoid_parts(x)
    pos = pw * y
    neg = 1.0 - y
    loss = _xmul(pos, sp_neg) + _xmul(neg, sp_pos)
    return loss, neg * s_pos - pos * s_neg, pw * sp_neg - sp_pos


@triton.jit
def _bce(x, y):
    log_x = tl.maximum(tl.log(x), -100.0)
    log_1mx = tl.maximum(_log1p(-x), -100.0)
    invalid = (x < 0) | (x > 1) | (x != x)
    loss = tl.where(invalid, float("nan"), -(y * log_x + (1.0 - y) * log_1mx))
    dx = (x - y) / tl.maximum(x * (1.0 - x), 1e-12)
    return loss, tl.where(invalid, float("nan"), dx), log_1mx - log_x


@triton.jit
def _sigmoid_focal(x, y, alpha, gamma, USE_ALPHA: tl.constexpr):
    sp_pos, sp_neg, s_pos, s_neg = _sigmoid_parts(x)
    one_minus_y = 1.0 - y
    ce = _xmul(y, sp_neg) + _xmul(one_minus_y, sp_pos)
    m = s_pos * one_minus_y + s_neg * y
    if gamma == 2.0:
        mg = m * m
    else:
        # m ** gamma; gamma == 0 gives 1 even at m == 0, as pow does.
        mg = tl.where(gamma == 0, 1.0, tl.exp(gamma * tl.log(m)))
    m_pos = m > 0
    chain = tl.where(m_pos, gamma * (ce / tl.where(m_pos, m, 1.0)) * mg, 0.0)
    if USE_ALPHA:
        a_t = alpha * y + (1.0 - alpha) * one_minus_y
    else:
        a_t = 1.0
    ce_mg = _xmul(mg, ce)
    dx = a_t * ((s_pos - y) * mg + _xmul(s_pos * s_neg, chain) * (1.0 - 2.0 * y))
    dy = a_t * (_xmul(mg, -x) + chain * (s_neg - s_pos))
    if USE_ALPHA:
        dy += (2.0 * alpha - 1.0) * ce_mg
    return a_t * ce_mg, dx, dy


@triton.jit
def _log_cosh(x, y):
    d = x - y
    a = tl.abs(d)
    big = a > 20.0
    t = _expm1(tl.where(big, 20.0, a))
    one_t = 1.0 + t
    sinh = t * (2.0 + t) / (2.0 * one_t)
    loss = tl.where(big, a - 0.6931471805599453, 0.5 * _log1p(sinh * sinh))
    th = t * (2.0 + t) / (one_t * one_t + 1.0)
    dx = tl.where(d < 0, -th, th)
    return loss, dx, -dx


@triton.jit
def _kl_div(x, y, LOG_TARGET: tl.constexpr):
    if LOG_TARGET:
        ey = tl.exp(y)
        loss, dx, dy = _xmul(ey, y - x), -ey, _xmul(ey, y - x + 1.0)
    else:
        log_y = tl.log(y)
        loss, dx, dy = _xmul(y, log_y - x), -y, log_y + 1.0 - x
    return loss, dx, dy


@triton.jit
def _hinge_embedding(x, y, margin):
    slack = margin - x
    not_pos = y != 1
    not_neg = y != -1
    loss = tl.where(not_pos, _relu(slack), 0.0) + tl.where(not_neg, x, 0.0)
    dx = tl.where(not_pos & (slack > 0), -1.0, 0.0) + tl.where(not_neg, 1.0, 0.0)
    return loss, dx, 0.0 * x


@triton.jit
def _hinge(x, y, margin):
    slack = margin - y * x
    return _relu(slack), tl.where(slack > 0, -y, 0.0), 0.0 * x


@triton.jit
def _elementwise_fwd_kernel(
    x_ptr,  # (n_elements,) input
    y_ptr,  # (n_elements,) target
    weight_ptr,  # (n_elements,) element weight, read when HAS_WEIGHT
    pw_ptr,  # (n_elements,) pos_weight, read when HAS_POS_WEIGHT
    loss_ptr,  # (n_elements,) per-element loss, written when not REDUCE
    dx_ptr,  # (n_elements,) d loss / d input times grad_scale, written when NEED_DX
    dy_ptr,  # (n_elements,) d loss / d target times grad_scale, written when NEED_DY
    partial_ptr,  # (n_programs,) fp32/fp64 block loss sums, written when REDUCE
    n_elements,
    grad_scale_hi,  # 1, or 1 / divisor for 'mean' and 'batchmean', split by _split
    grad_scale_lo,
    p0_hi,  # alpha (focal) or margin (hinges), split by _split
    p0_lo,
    p1_hi,  # gamma (focal), split by _split
    p1_lo,
    LOSS: tl.constexpr,
    FLAG: tl.constexpr,  # use_alpha (focal) or log_target (kl_div)
    HAS_WEIGHT: tl.constexpr,
    HAS_POS_WEIGHT: tl.constexpr,
    REDUCE: tl.constexpr,
    NEED_DX: tl.constexpr,
    NEED_DY: tl.constexpr,
    ACC_DTYPE: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)  # 64-bit offsets: inputs over 2**31 elements
    offs = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offs < n_elements
    x = tl.load(x_ptr + offs, mask=mask, other=0).to(ACC_DTYPE)
    y = tl.load(y_ptr + offs, mask=mask, other=0).to(ACC_DTYPE)
    grad_scale = _join(grad_scale_hi, grad_scale_lo, ACC_DTYPE)
    p0 = _join(p0_hi, p0_lo, ACC_DTYPE)
    p1 = _join(p1_hi, p1_lo, ACC_DTYPE)

    if LOSS == 0:
        if HAS_POS_WEIGHT:
            pw = tl.load(pw_ptr + offs, mask=mask, other=1).to(ACC_DTYPE)
        else:
            pw = 1.0
        loss, dx, dy = _bce_with_logits(x, y, pw)
    elif LOSS == 1:
        loss, dx, dy = _bce(x, y)
    elif LOSS == 2:
        loss, dx, dy = _sigmoid_focal(x, y, p0, p1, FLAG)
    elif LOSS == 3:
        loss, dx, dy = _log_cosh(x, y)
    elif LOSS == 4:
        loss, dx, dy = _kl_div(x, y, FLAG)
    elif LOSS == 5:
        d = x - y
        loss, dx, dy = d * d, 2.0 * d, -2.0 * d
    elif LOSS == 6:
        loss, dx, dy = _hinge_embedding(x, y, p0)
    else:
        loss, dx, dy = _hinge(x, y, p0)
    if HAS_WEIGHT:
        w = tl.load(weight_ptr + offs, mask=mask, other=0).to(ACC_DTYPE)
        loss, dx, dy = loss * w, dx * w, dy * w

    if REDUCE:
        tl.store(partial_ptr + pid, tl.sum(tl.where(mask, loss, 0.0), axis=0))
    else:
        tl.store(loss_ptr + offs, loss.to(loss_ptr.dtype.element_ty), mask=mask)
    if NEED_DX:
        tl.store(dx_ptr + offs, (dx * grad_scale).to(dx_ptr.dtype.element_ty), mask=mask)
    if NEED_DY:
        tl.store(dy_ptr + offs, (dy * grad_scale).to(dy_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _sum_partials_kernel(
    partial_ptr,  # (n_partials,) block sums
    out_ptr,  # () the reduced loss, in the input dtype
    n_partials,
    divisor_hi,  # numel for 'mean', input.size(0) for 'batchmean', else 1; split by _split
    divisor_lo,
    divisor_ptr,  # () a divisor computed on the device, read instead when HAS_DIVISOR_PTR
    HAS_DIVISOR_PTR: tl.constexpr,
    ACC_DTYPE: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
):
    acc = tl.zeros([BLOCK_SIZE], dtype=ACC_DTYPE)
    for start in range(0, n_partials, BLOCK_SIZE):
        offs = start + tl.arange(0, BLOCK_SIZE)
        acc += tl.load(partial_ptr + offs, mask=offs < n_partials, other=0)
    if HAS_DIVISOR_PTR:
        divisor = tl.load(divisor_ptr).to(ACC_DTYPE)
    else:
        divisor = _join(divisor_hi, divisor_lo, ACC_DTYPE)
    tl.store(out_ptr, (tl.sum(acc, axis=0) / divisor).to(out_ptr.dtype.element_ty))


# How each op's extra arguments (after input and target, before reduction) map to the kernel.
_ARGUMENTS = {
    "bce_with_logits": lambda weight, pos_weight: dict(
        loss=BCE_WITH_LOGITS, weight=weight, pos_weight=pos_weight
    ),
    "bce": lambda weight: dict(loss=BCE, weight=weight),
    "sigmoid_focal": lambda alpha, gamma: dict(
        loss=SIGMOID_FOCAL, p0=alpha, p1=gamma, flag=alpha >= 0
    ),
    "log_cosh": lambda: dict(loss=LOG_COSH),
    "kl_div": lambda log_target: dict(loss=KL_DIV, flag=log_target),
    "mse": lambda: dict(loss=MSE),
    "hinge_embedding": lambda margin: dict(loss=HINGE_EMBEDDING, p0=margin),
    "hinge": lambda margin: dict(loss=HINGE, p0=margin),
}
_LABEL_TARGETS = ("hinge_embedding", "hinge")


def _check(name, ok, message):
    if not ok:
        raise RuntimeError(f"{name}: {message}")


def elementwise_fwd(op, input, target, *rest):
    """The Triton implementation of op ``losses_ext::triton_<op>``; same contract as the C++
    op of the same schema: returns (loss, grad_input, grad_target)."""
    name = ELEMENTWISE_OPS[op]
    *extra, reduction, need_dx, need_dy = rest
    args = _ARGUMENTS[op](*extra)
    _check(name, input.is_floating_point(), f"input must be floating point, got {input.dtype}")
    for what in ("target", "weight", "pos_weight"):
        t = target if what == "target" else args.get(what)
        if t is None:
            continue
        _check(name, t.device == input.device, f"{what} is on {t.device}, input on {input.device}")
        _check(name, t.dtype == input.dtype, f"{what} has dtype {t.dtype}, input {input.dtype}")
        _check(
            name,
            t.shape == input.shape,
            f"{what} has shape {tuple(t.shape)} but input has "
            f"shape {tuple(input.shape)} (the Python API broadcasts before calling this op)",
        )
    _check(name, reduction in REDUCTION_CODES.values(), f"unknown reduction code {reduction}")
    _check(
        name, not (need_dy and op in _LABEL_TARGETS), "the target is a label and has no gradient"
    )
    if op == "sigmoid_focal":
        _check(name, args["p1"] >= 0, f"gamma must be >= 0, got {args['p1']}")
    _check(
        name,
        input.device.type != "cpu" or os.environ.get("TRITON_INTERPRET") == "1",
        "backend='triton' on CPU tensors needs Triton's interpreter (TRITON_INTERPRET=1)",
    )

    x, y = input.contiguous(), target.contiguous()
    weight, pos_weight = args.get("weight"), args.get("pos_weight")
    weight = weight.contiguous() if weight is not None else None
    pos_weight = pos_weight.contiguous() if pos_weight is not None else None
    n = x.numel()
    reduce = reduction != REDUCTION_CODES["none"]
    if reduction == REDUCTION_CODES["mean"]:
        divisor = float(n)
    elif reduction == REDUCTION_CODES["batchmean"] and x.dim() > 0:
        divisor = float(x.size(0))
    else:
        divisor = 1.0
    divides = reduction in (REDUCTION_CODES["mean"], REDUCTION_CODES["batchmean"])
    scale = (1.0 / divisor if divisor else float("nan")) if divides else 1.0
    acc_torch = torch.float64 if x.dtype == torch.float64 else torch.float32
    acc = tl.float64 if acc_torch == torch.float64 else tl.float32

    loss = x.new_empty(() if reduce else x.shape)
    dx = x.new_empty(x.shape if need_dx else (0,))
    dy = x.new_empty(x.shape if need_dy else (0,))
    n_programs = triton.cdiv(n, BLOCK_SIZE)
    partials = torch.empty(max(n_programs, 1), dtype=acc_torch, device=x.device)
    if n > 0:
        _elementwise_fwd_kernel[(n_programs,)](
            x, y,
            weight if weight is not None else x,
            pos_weight if pos_weight is not None else x,
            loss, dx, dy, partials,
            n, *_split(scale), *_split(args.get("p0", 0.0)), *_split(args.get("p1", 0.0)),
            LOSS=args["loss"], FLAG=bool(args.get("flag", False)),
            HAS_WEIGHT=weight is not None, HAS_POS_WEIGHT=pos_weight is not None,
            REDUCE=reduce, NEED_DX=need_dx, NEED_DY=need_dy, ACC_DTYPE=acc,
            BLOCK_SIZE=BLOCK_SIZE, num_warps=NUM_WARPS,
        )  # fmt: skip
    if reduce:
        _sum_partials_kernel[(1,)](
            partials,
            loss,
            n_programs,
            *_split(divisor),
            partials,  # unused: the divisor is known here
            HAS_DIVISOR_PTR=False,
            ACC_DTYPE=acc,
            BLOCK_SIZE=REDUCE_BLOCK_SIZE,
        )
    return loss, dx, dy
