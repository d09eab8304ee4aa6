# SPDX-License-Identifier: Apache-2.0
"""Fused softmax cross-entropy in Triton: one program per row.

Math
    Per row of C logits x, with label smoothing eps and class weights w (1 when absent),
    lse = log sum_c exp(x_c):
      class index t:   l = (1 - eps) w_t (lse - x_t) + eps / C * sum_c w_c (lse - x_c)
                       dl/dx_j = p_j A - (1 - eps) w_t [j == t] - eps / C * w_j,
                       A = (1 - eps) w_t + eps / C * sum_c w_c
      probabilities y: q_c = (1 - eps) y_c + eps / C,  l = sum_c w_c q_c (lse - x_c)
                       dl/dx_j = p_j sum_c w_c q_c - w_j q_j;  dl/dy_j = -(1 - eps) w_j log p_j
    Reductions are torch.nn.functional.cross_entropy's: 'mean' divides by the summed w_t of the
    rows that are not ignore_index (N for probability targets); all rows ignored gives NaN.

Numerics
    The first sweep over the row keeps an online maximum and sum of exponentials in fp32 (fp64
    for fp64 inputs), chunk by chunk (BLOCK_C columns), so any C works and no logit overflows;
    the second sweep writes the gradient. The (rows, C) log-probabilities are never stored.
    The 'mean' divisor depends on the targets: a small kernel computes each row's weight first
    and the ordered partial sum kernel of elementwise.py adds them on the device, so the main
    kernel scales the gradient without a host synchronisation.

Limitations
    A class index outside [0, C) that is not ignore_index cannot raise without a host
    synchronisation: that row's loss and gradient are NaN, and nothing is read out of bounds.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from .._ops import REDUCTION_CODES
from .elementwise import REDUCE_BLOCK_SIZE, _split, _sum_partials_kernel, _xmul

MAX_BLOCK_C = 4096  # columns per chunk of a row
NUM_WARPS = 4


@triton.jit
def _ce_row_weight_kernel(
    target_ptr,  # (N, S) int64 class indices
    weight_ptr,  # (C,) class weights, read when HAS_WEIGHT
    out_ptr,  # (N * S,) the row's weight w_t, 0 where ignored
    S,
    stride_t_n,
    stride_t_s,
    n_classes,
    ignore_index,
    HAS_WEIGHT: tl.constexpr,
    ACC_DTYPE: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    t = tl.load(target_ptr + (row // S) * stride_t_n + (row % S) * stride_t_s)
    valid = (t >= 0) & (t < n_classes)
    if HAS_WEIGHT:
        w_t = tl.load(weight_ptr + tl.where(valid, t, 0)).to(ACC_DTYPE)
    else:
        w_t = tl.full([], 1.0, ACC_DTYPE)
    tl.store(out_ptr + row, tl.where(t == ignore_index, 0.0, w_t))


@triton.jit
def _ce_fwd_kernel(
    x_ptr,  # (N, C, S) logits, any strides
    target_ptr,  # (N, S) int64 class indices, or (N, C, S) probabilities (PROB_TARGET)
    weight_ptr,  # (C,) class weights, read when HAS_WEIGHT
    loss_ptr,  # (N * S,) per-row loss (fp32/fp64 partials when REDUCE, input dtype otherwise)
    dx_ptr,  # (N, C, S) contiguous d loss / d x, written when NEED_DX
    dy_ptr,  # (N, C, S) contiguous d loss / d y, written when NEED_DY
    divisor_ptr,  # () summed row weights, read when DIVIDE_BY_WEIGHT
    S,
    n_classes,
    stride_x_n,
    stride_x_c,
    stride_x_s,
    stride_t_n,
    stride_t_c,  # probability targets only
    stride_t_s,
    ignore_index,
    eps_hi,  # label smoothing, split by elementwise._split
    eps_lo,
    scale_hi,  # gradient scale when not DIVIDE_BY_WEIGHT (1, or 1 / N), split
    scale_lo,
    PROB_TARGET: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    DIVIDE_BY_WEIGHT: tl.constexpr,
    NEED_DX: tl.constexpr,
    NEED_DY: tl.constexpr,
    ACC_DTYPE: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)  # 64-bit offsets: N * C over 2**31 elements
    n = row // S
    s = row % S
    x_row = x_ptr + n * stride_x_n + s * stride_x_s
    eps = tl.cast(eps_hi, ACC_DTYPE) + tl.cast(eps_lo, ACC_DTYPE)
    smooth = eps / n_classes
    cols = tl.arange(0, BLOCK_C)
    neg_inf = float("-inf")

    if PROB_TARGET:
        y_row = target_ptr + n * stride_t_n + s * stride_t_s
        bad = False
        ignored = False
        t = 0
    else:
        t = tl.load(target_ptr + n * stride_t_n + s * stride_t_s)
        ignored = t == ignore_index
        bad = ((t < 0) | (t >= n_classes)) & (t != ignore_index)
        t = tl.where((t >= 0) & (t < n_classes), t, 0)  # never read out of bounds

    # Sweep 1: online max / sum of exponentials, and the weighted sums the smoothing and the
    # probability targets need: sum w q and sum w q x (q = 1 for the index-target smoothing).
    m = tl.full([], neg_inf, ACC_DTYPE)
    sum_exp = tl.zeros([], ACC_DTYPE)
    sum_wq = tl.zeros([], ACC_DTYPE)
    sum_wq_dx = tl.zeros([], ACC_DTYPE)  # sum w q (x - m), kept relative to the running max
    for start in range(0, n_classes, BLOCK_C):
        c = start + cols
        mask = c < n_classes
        x = tl.load(x_row + c * stride_x_c, mask=mask, other=neg_inf).to(ACC_DTYPE)
        m_new = tl.maximum(m, tl.max(x, axis=0))
        # exp(m - m_new) and exp(x - m_new) are NaN while both are -inf; the sum stays 0 then.
        rescale = tl.where(m_new == neg_inf, 0.0, tl.exp(m - m_new))
        shifted = tl.where(mask & (x != neg_inf), tl.exp(x - m_new), 0.0)
        sum_exp = sum_exp * rescale + tl.sum(shifted, axis=0)
        shift = tl.where(m == neg_inf, 0.0, m - m_new)
        if PROB_TARGET:
            y = tl.load(y_row + c * stride_t_c, mask=mask, other=0).to(ACC_DTYPE)
            q = tl.where(mask, (1.0 - eps) * y + smooth, 0.0)
        else:
            q = tl.where(mask, 1.0, 0.0)
        if HAS_WEIGHT:
            q = q * tl.load(weight_ptr + c, mask=mask, other=0).to(ACC_DTYPE)
        # A -inf logit with q > 0 adds -inf (not -inf - -inf = NaN while the max is -inf).
        q_dx = tl.where(x == neg_inf, neg_inf, q * (x - m_new))
        sum_wq_dx += sum_wq * shift + tl.sum(tl.where(q == 0, 0.0, q_dx), axis=0)
        sum_wq += tl.sum(q, axis=0)
        m = m_new
    # lse = m + log_sum, kept apart: with logits of 3e7, m + log 2 rounds the log 2 away.
    log_sum = tl.log(sum_exp)

    if PROB_TARGET:
        # A row whose logits are all -inf has log_sum = -inf: xmul keeps a zero weight at 0.
        row_loss = _xmul(sum_wq, log_sum) - sum_wq_dx
        a = sum_wq
        w_t = tl.zeros([], ACC_DTYPE)
    else:
        x_t = tl.load(x_row + t * stride_x_c).to(ACC_DTYPE)
        if HAS_WEIGHT:
            w_t = tl.load(weight_ptr + t).to(ACC_DTYPE)
        else:
            w_t = tl.full([], 1.0, ACC_DTYPE)
        # A zero coefficient (eps = 1, or w_t = 0) contributes 0 even at x_t = -inf.
        row_loss = _xmul((1.0 - eps) * w_t, (m - x_t) + log_sum)
        row_loss += tl.where(eps > 0, smooth * (_xmul(sum_wq, log_sum) - sum_wq_dx), 0.0)
        a = (1.0 - eps) * w_t + smooth * sum_wq
        row_loss = tl.where(ignored, 0.0, tl.where(bad, float("nan"), row_loss))
    tl.store(loss_ptr + row, row_loss.to(loss_ptr.dtype.element_ty))

    # Sweep 2: the gradient, already scaled for the reduction.
    if NEED_DX:
        if DIVIDE_BY_WEIGHT:
            scale = 1.0 / tl.load(divisor_ptr).to(ACC_DTYPE)
        else:
            scale = tl.cast(scale_hi, ACC_DTYPE) + tl.cast(scale_lo, ACC_DTYPE)
        coef = a / sum_exp * scale
        out_row = n * n_classes * S + s
        for start in range(0, n_classes, BLOCK_C):
            c = start + cols
            mask = c < n_classes
            x = tl.load(x_row + c * stride_x_c, mask=mask, other=0).to(ACC_DTYPE)
            e = tl.exp(x - m)
            if HAS_WEIGHT:
                w = tl.load(weight_ptr + c, mask=mask, other=0).to(ACC_DTYPE)
            else:
                w = 1.0
            if PROB_TARGET:
                y = tl.load(y_row + c * stride_t_c, mask=mask, other=0).to(ACC_DTYPE)
                grad = coef * e - scale * w * ((1.0 - eps) * y + smooth)
            else:
                # -(1 - eps) w_t at the target class, -eps / C w_j everywhere.
                grad = coef * e - scale * (w * smooth + tl.where(c == t, (1.0 - eps) * w_t, 0.0))
                grad = tl.where(ignored, 0.0, tl.where(bad, float("nan"), grad))
            tl.store(dx_ptr + out_row + c * S, grad.to(dx_ptr.dtype.element_ty), mask=mask)
            if NEED_DY:
                dy = -scale * w * (1.0 - eps) * ((x - m) - log_sum)
                tl.store(dy_ptr + out_row + c * S, dy.to(dy_ptr.dtype.element_ty), mask=mask)


def _fail(message):
    raise RuntimeError(f"cross_entropy: {message}")


def cross_entropy_fwd(input, target, weight, ignore_index, label_smoothing, reduction,
                      need_dx, need_dy):  # fmt: skip
    """The Triton implementation of op losses_ext::triton_cross_entropy; same contract as the
    C++ op: (N, C, S) logits, (N, S) int64 or (N, C, S) probability targets."""
    if input.dim() != 3:
        _fail(f"expected input of shape (N, C, S), got {tuple(input.shape)}")
    if not input.is_floating_point():
        _fail(f"input must be a floating-point tensor, got {input.dtype}")
    N, C, S = input.shape
    prob = target.is_floating_point()
    if prob and (target.shape != input.shape or target.dtype != input.dtype):
        _fail("probability targets must have the input's shape and dtype")
    if not prob and (target.dtype != torch.int64 or tuple(target.shape) != (N, S)):
        _fail(f"expected int64 class-index target of shape ({N}, {S}), got "
              f"{target.dtype} {tuple(target.shape)}")  # fmt: skip
    if need_dy and not prob:
        _fail("class-index targets have no gradient")
    if reduction not in (0, 1, 2):
        _fail(f"unknown reduction code {reduction}")
    if not 0 <= label_smoothing <= 1:
        _fail(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if weight is not None and (weight.shape != (C,) or weight.device != input.device):
        _fail(f"weight must be a ({C},) tensor on the input's device")
    if input.device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        _fail("backend='triton' on CPU tensors needs Triton's interpreter (TRITON_INTERPRET=1)")

    rows = N * S
    acc_torch = torch.float64 if input.dtype == torch.float64 else torch.float32
    acc = tl.float64 if acc_torch == torch.float64 else tl.float32
    reduce = reduction != REDUCTION_CODES["none"]
    mean = reduction == REDUCTION_CODES["mean"]
    loss = input.new_empty(() if reduce else (N, S))
    row_loss = torch.empty(rows, dtype=acc_torch, device=input.device) if reduce else loss
    dx = input.new_empty(input.shape if need_dx else (0,))
    dy = input.new_empty(input.shape if need_dy else (0,))
    divide_by_weight = mean and not prob
    divisor = torch.empty((), dtype=acc_torch, device=input.device)
    if divide_by_weight:  # the summed weight of the rows that count, on the device
        row_weight = torch.empty(max(rows, 1), dtype=acc_torch, device=input.device)
        if rows:
            _ce_row_weight_kernel[(rows,)](
                target, weight if weight is not None else target, row_weight, S,
                target.stride(0), target.stride(1), C, ignore_index,
                HAS_WEIGHT=weight is not None, ACC_DTYPE=acc,
            )  # fmt: skip
        _sum_partials_kernel[(1,)](
            row_weight, divisor, rows, *_split(1.0), divisor,
            HAS_DIVISOR_PTR=False, ACC_DTYPE=acc, BLOCK_SIZE=REDUCE_BLOCK_SIZE,
        )  # fmt: skip
    static_divisor = float(rows) if mean else 1.0
    scale = 1.0 / static_divisor if static_divisor else float("nan")
    block_c = max(16, min(MAX_BLOCK_C, triton.next_power_of_2(max(C, 1))))
    stride_t = (target.stride(0), target.stride(1), target.stride(2)) if prob else (
        target.stride(0), 0, target.stride(1))  # fmt: skip
    if rows:
        _ce_fwd_kernel[(rows,)](
            input, target, weight if weight is not None else input, row_loss, dx, dy, divisor,
            S, C, input.stride(0), input.stride(1), input.stride(2), *stride_t, ignore_index,
            *_split(label_smoothing), *_split(scale),
            PROB_TARGET=prob, HAS_WEIGHT=weight is not None, DIVIDE_BY_WEIGHT=divide_by_weight,
            NEED_DX=need_dx, NEED_DY=need_dy, ACC_DTYPE=acc, BLOCK_C=block_c,
            num_warps=NUM_WARPS,
        )  # fmt: skip
    if reduce:
        _sum_partials_kernel[(1,)](
            row_loss, loss, rows, *_split(static_divisor), divisor,
            HAS_DIVISOR_PTR=divide_by_weight, ACC_DTYPE=acc, BLOCK_SIZE=REDUCE_BLOCK_SIZE,
        )  # fmt: skip
    return loss, dx, dy
