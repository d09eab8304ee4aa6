# SPDX-License-Identifier: Apache-2.0
"""Plain, differentiable PyTorch composites of every loss: the test oracle and a fallback.

Each follows the same math as the fused kernels (see ``csrc/loss_math.h``), including the
convention that a term whose coefficient is exactly 0 contributes 0 even when its other factor
is infinite. They take already-broadcast tensors of one dtype and a reduction name; float16 and
bfloat16 are computed in float32 and rounded once at the end. Run in float64 they are the oracle
the tests compare against; ``backend='reference'`` runs them on any device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _xmul(coef: Tensor, value: Tensor) -> Tensor:
    """coef * value, exactly 0 where coef == 0, with a NaN-free gradient there too."""
    zero = coef == 0
    return torch.where(zero, 0.0, coef * torch.where(zero, 0.0, value))


def _softplus(x: Tensor) -> Tensor:
    # The threshold only switches to the identity where log1p(exp(x)) == x to working precision.
    return F.softplus(x, beta=1.0, threshold=40.0)


def reduce(loss: Tensor, reduction: str, input: Tensor) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    if reduction == "batchmean":
        return loss.sum() / input.size(0) if input.dim() > 0 else loss.sum()
    raise ValueError(f"unknown reduction {reduction!r}")


def _widened(fn):
    """Runs fn in float32 for float16/bfloat16 inputs and casts the result back."""

    def wrapper(input, target, *args, **kwargs):
        dtype = input.dtype
        if dtype in (torch.float16, torch.bfloat16):
            args = tuple(a.float() if isinstance(a, Tensor) else a for a in args)
            target = target.float() if target.is_floating_point() else target
            return fn(input.float(), target, *args, **kwargs).to(dtype)
        return fn(input, target, *args, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_widened
def binary_cross_entropy_with_logits(input, target, weight, pos_weight, reduction):
    positive = target if pos_weight is None else pos_weight * target
    loss = _xmul(positive, _softplus(-input)) + _xmul(1 - target, _softplus(input))
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction, input)


@_widened
def binary_cross_entropy(input, target, weight, reduction):
    loss = -(
        target * torch.log(input).clamp_min(-100)
        + (1 - target) * torch.log1p(-input).clamp_min(-100)
    )
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction, input)


@_widened
def sigmoid_focal_loss(input, target, alpha, gamma, reduction):
    ce = binary_cross_entropy_with_logits(input, target, None, None, "none")
    # 1 - p_t, with both sigmoids formed directly so a saturated logit keeps its precision.
    m = torch.sigmoid(input) * (1 - target) + torch.sigmoid(-input) * target
    loss = ce if gamma == 0 else _xmul(m**gamma, ce)
    if alpha >= 0:
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return reduce(loss, reduction, input)


@_widened
def log_cosh_loss(input, target, reduction):
    a = (input - target).abs()
    # log cosh a = a + log(1 + exp(-2a)) - log 2: never overflows.
    loss = a + _softplus(-2 * a) - math.log(2.0)
    return reduce(loss, reduction, input)


@_widened
def kl_div(input, target, log_target, reduction):
    if log_target:
        weight = torch.exp(target)
        loss = _xmul(weight, target - input)
    else:
        loss = _xmul(target, torch.log(target) - input)
    return reduce(loss, reduction, input)


@_widened
def mse_loss(input, target, reduction):
    return reduce((input - target) ** 2, reduction, input)


@_widened
def hinge_embedding_loss(input, target, margin, reduction):
    target = target.detach()  # a label
    loss = torch.where(target != 1, (margin - input).clamp_min(0), 0.0) + torch.where(
        target != -1, input, 0.0
    )
    return reduce(loss, reduction, input)


@_widened
def hinge_loss(input, target, margin, reduction):
    target = target.detach()  # a label
    return reduce((margin - target * input).clamp_min(0), reduction, input)


@_widened
def cross_entropy(input, target, weight, ignore_index, label_smoothing, reduction):
    """torch.nn.functional.cross_entropy's semantics on (N, C, S) logits with (N, S) class
    indices or (N, C, S) probabilities, plus the zero-coefficient convention: a class whose
    weight (or smoothed target probability) is 0 contributes 0 even at a -inf logit, where torch
    gives NaN."""
    n_classes = input.size(1)
    log_p = torch.log_softmax(input, dim=1)
    w = torch.ones(n_classes, dtype=input.dtype, device=input.device) if weight is None else weight
    w = w.view(1, -1, 1)
    eps = label_smoothing
    if target.is_floating_point():
        q = (1 - eps) * target + eps / n_classes
        loss = -_xmul(w * q, log_p).sum(1)
        if reduction == "mean":
            return loss.sum() / loss.numel()
        return reduce(loss, reduction, input)
    ignored = target == ignore_index
    bad = ((target < 0) | (target >= n_classes)) & ~ignored
    if bad.any():
        raise RuntimeError(
            f"cross_entropy: target {target[bad][0].item()} is out of bounds for {n_classes} "
            "classes"
        )
    safe = torch.where(ignored, 0, target)
    w_t = torch.where(ignored, 0.0, w.view(-1)[safe])
    nll = -_xmul((1 - eps) * w_t, log_p.gather(1, safe.unsqueeze(1)).squeeze(1))
    smooth = -_xmul((eps / n_classes) * w.expand_as(log_p), log_p).sum(1)
    loss = torch.where(ignored, 0.0, nll + smooth)
    if reduction == "mean":
        return loss.sum() / w_t.sum()
    return reduce(loss, reduction, input)
