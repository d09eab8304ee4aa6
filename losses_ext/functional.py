# SPDX-License-Identifier: Apache-2.0
"""The public loss functions: same names, parameters and defaults as ``torch.nn.functional``
(and ``torchvision.ops.sigmoid_focal_loss``), plus a keyword-only ``backend``.

This layer only checks arguments, broadcasts, promotes dtypes and picks a backend; the math lives
in the kernels (``csrc/loss_math.h``) and in ``losses_ext.reference``.
"""

from __future__ import annotations

import math
import warnings

import torch

from . import dispatch
from ._autograd import FUNCTIONS, SPECS, run_op

Tensor = torch.Tensor

__all__ = [
    "binary_cross_entropy",
    "cross_entropy",
    "binary_cross_entropy_with_logits",
    "hinge_embedding_loss",
    "hinge_loss",
    "kl_div",
    "log_cosh_loss",
    "mse_loss",
    "sigmoid_focal_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(name: str, reduction, allowed=_REDUCTIONS) -> str:
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {allowed}, got {reduction!r}")
    return reduction


def _legacy_reduction(name: str, size_average, reduce, reduction):
    """torch's deprecated size_average / reduce arguments, when given, decide the reduction."""
    if size_average is None and reduce is None:
        return reduction
    return torch.nn._reduction.legacy_get_string(size_average, reduce, emit_warning=False)


def _check_float(name: str, value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: {what} must be a number, got {type(value).__name__}")
    return float(value)


def _check_tensors(name: str, input, target):
    """input and target are tensors on one device, and input is floating point."""
    for what, t in (("input", input), ("target", target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} must be a torch.Tensor, got {type(t).__name__}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{name}: input must be a floating-point tensor, got {input.dtype}")
    if input.device != target.device:
        raise ValueError(
            f"{name}: input is on {input.device} but target is on {target.device}; "
            "move both to one device"
        )


def _check_weight(name: str, what: str, value, input: Tensor):
    """A weight-like tensor: real, on input's device, not requiring grad."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name}: {what} must be a torch.Tensor or None, got {type(value).__name__}"
        )
    if value.dtype.is_complex:
        raise TypeError(f"{name}: {what} must be a real tensor, got {value.dtype}")
    if value.device != input.device:
        raise ValueError(f"{name}: {what} is on {value.device} but input is on {input.device}")
    if value.requires_grad:
        raise ValueError(f"{name}: {what} does not support gradients; pass {what}.detach()")
    return value


def _check_pair(name: str, input, target, *, broadcast: bool, label_target: bool = False):
    """Checks input and target, promotes them to one floating dtype and, where the loss allows,
    broadcasts them to one shape. Returns the two (possibly expanded) tensors."""
    _check_tensors(name, input, target)
    if target.dtype.is_complex or (not label_target and not target.dtype.is_floating_point):
        raise TypeError(f"{name}: target must be a floating-point tensor, got {target.dtype}")
    dtype = (
        input.dtype
        if not target.dtype.is_floating_point
        else (torch.promote_types(input.dtype, target.dtype))
    )
    if input.dtype != dtype:
        input = input.to(dtype)
    if target.dtype != dtype:
        target = target.to(dtype)
    if input.shape != target.shape:
        if not broadcast:
            raise ValueError(
                f"{name}: target size {tuple(target.shape)} must be the same as input size "
                f"{tuple(input.shape)}"
            )
        try:
            shape = torch.broadcast_shapes(input.shape, target.shape)
        except RuntimeError:
            raise ValueError(
                f"{name}: input size {tuple(input.shape)} and target size "
                f"{tuple(target.shape)} cannot be broadcast together"
            ) from None
        input, target = input.expand(shape), target.expand(shape)
    return input, target


def _check_aux(name: str, what: str, value, input: Tensor):
    """weight / pos_weight: a tensor that broadcasts (right-aligned) to input's shape."""
    if value is None:
        return None
    _check_weight(name, what, value, input)
    # Right-aligned: each of value's sizes is 1 or input's. (torch.broadcast_shapes says the
    # same, but costs more than the whole fused loss of a small batch.)
    trailing = input.shape[input.dim() - value.dim() :]
    fits = value.dim() <= input.dim() and all(
        v == 1 or v == i for v, i in zip(value.shape, trailing, strict=True)
    )
    if not fits:
        raise ValueError(
            f"{name}: {what} of size {tuple(value.shape)} cannot be broadcast to the input size "
            f"{tuple(input.shape)}"
        )
    if value.dtype != input.dtype:
        value = value.to(input.dtype)
    return value.expand(input.shape)


def _run(op: str, backend: str, input, target, tensors=(), params=(), reduction="mean"):
    spec = SPECS[op]
    chosen = dispatch.resolve(spec.name, backend, input)
    if chosen == "reference":
        return spec.reference(input, target, *tensors, *params, reduction)
    needs_grad = torch.is_grad_enabled() and (
        input.requires_grad or (spec.target_has_grad and target.requires_grad)
    )
    if not needs_grad:  # loss only: no gradient is computed or written
        # no_grad: a label target may require grad, but the loss has no gradient path to it.
        with torch.no_grad():
            return run_op(spec, chosen, input, target, tensors, params, reduction, False, False)[0]
    return FUNCTIONS[op].apply(input, target, *tensors, *params, reduction, chosen)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
    *,
    backend: str = "auto",
) -> Tensor:
    """Binary cross-entropy on logits, as ``torch.nn.functional`` defines it.

    ``weight`` broadcasts against input; ``pos_weight`` broadcasts right-aligned (a ``(C,)``
    pos_weight weights the last dimension). Targets may be soft (any real value is used as given).
    Infinite logits give the limit of the loss (0 or inf), never NaN.
    """
    name = "binary_cross_entropy_with_logits"
    reduction = _legacy_reduction(name, size_average, reduce, reduction)
    reduction = _check_reduction(name, reduction)
    input, target = _check_pair(name, input, target, broadcast=False)
    weight = _check_aux(name, "weight", weight, input)
    pos_weight = _check_aux(name, "pos_weight", pos_weight, input)
    return _run("bce_with_logits", backend, input, target, (weight, pos_weight), (), reduction)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    backend: str = "auto",
) -> Tensor:
    """Binary cross-entropy on probabilities, as ``torch.nn.functional`` defines it (log terms
    clamped at -100). Inputs outside [0, 1] raise ``RuntimeError``."""
    name = "binary_cross_entropy"
    reduction = _legacy_reduction(name, size_average, reduce, reduction)
    reduction = _check_reduction(name, reduction)
    input, target = _check_pair(name, input, target, broadcast=False)
    weight = _check_aux(name, "weight", weight, input)
    return _run("bce", backend, input, target, (weight,), (), reduction)


def sigmoid_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
    *,
    backend: str = "auto",
) -> Tensor:
    """Focal loss on logits, as ``torchvision.ops.sigmoid_focal_loss`` defines it.

    ``alpha < 0`` disables the class weighting; any ``gamma >= 0`` works, including 0 and
    fractional values (saturated logits give the limit, never NaN).
    """
    name = "sigmoid_focal_loss"
    reduction = _check_reduction(name, reduction)
    alpha = _check_float(name, alpha, "alpha")
    gamma = _check_float(name, gamma, "gamma")
    if not gamma >= 0:
        raise ValueError(f"{name}: gamma must be >= 0, got {gamma}")
    inputs, targets = _check_pair(name, inputs, targets, broadcast=True)
    return _run("sigmoid_focal", backend, inputs, targets, (), (alpha, gamma), reduction)


def log_cosh_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", *, backend: str = "auto"
) -> Tensor:
    """reduce(log(cosh(input - target))), in a form that cannot overflow for any residual."""
    name = "log_cosh_loss"
    reduction = _check_reduction(name, reduction)
    input, target = _check_pair(name, input, target, broadcast=True)
    return _run("log_cosh", backend, input, target, (), (), reduction)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
    *,
    backend: str = "auto",
) -> Tensor:
    """KL divergence of log-probabilities ``input`` from ``target``, as ``torch.nn.functional``
    defines it. ``reduction='batchmean'`` divides by ``input.size(0)``, the mathematical
    definition; ``'mean'`` divides by the number of elements and warns."""
    name = "kl_div"
    reduction = _legacy_reduction(name, size_average, reduce, reduction)
    reduction = _check_reduction(name, reduction, _REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn(
            "kl_div: reduction='mean' divides the summed loss by the number of elements, not "
            "by the batch size; reduction='batchmean' gives the KL divergence as defined.",
            UserWarning,
            stacklevel=2,
        )
    if not isinstance(log_target, bool):
        raise TypeError(f"{name}: log_target must be a bool, got {type(log_target).__name__}")
    input, target = _check_pair(name, input, target, broadcast=True)
    return _run("kl_div", backend, input, target, (), (log_target,), reduction)


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    backend: str = "auto",
) -> Tensor:
    """Mean squared error, as ``torch.nn.functional`` defines it, broadcasting included (with
    its warning when the sizes differ)."""
    name = "mse_loss"
    reduction = _legacy_reduction(name, size_average, reduce, reduction)
    reduction = _check_reduction(name, reduction)
    shapes = (tuple(getattr(input, "shape", ())), tuple(getattr(target, "shape", ())))
    input, target = _check_pair(name, input, target, broadcast=True)
    if shapes[0] != shapes[1]:
        warnings.warn(
            f"mse_loss: target size {shapes[1]} differs from input size {shapes[0]}; the two "
            "are broadcast together, which is often a mistake. Make the sizes match to silence "
            "this warning.",
            UserWarning,
            stacklevel=2,
        )
    return _run("mse", backend, input, target, (), (), reduction)


def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    backend: str = "auto",
) -> Tensor:
    """Hinge embedding loss, as ``torch.nn.functional`` defines it: ``input`` where the target
    is 1, ``max(0, margin - input)`` where it is -1. The target is a label (no gradient)."""
    name = "hinge_embedding_loss"
    reduction = _legacy_reduction(name, size_average, reduce, reduction)
    reduction = _check_reduction(name, reduction)
    margin = _check_float(name, margin, "margin")
    input, target = _check_pair(name, input, target, broadcast=True, label_target=True)
    return _run("hinge_embedding", backend, input, target, (), (margin,), reduction)


def hinge_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    reduction: str = "mean",
    *,
    backend: str = "auto",
) -> Tensor:
    """The SVM hinge loss ``max(0, margin - target * input)`` for labels in {-1, +1} (other
    values are used as given). The target is a label (no gradient)."""
    name = "hinge_loss"
    reduction = _check_reduction(name, reduction)
    margin = _check_float(name, margin, "margin")
    input, target = _check_pair(name, input, target, broadcast=True, label_target=True)
    return _run("hinge", backend, input, target, (), (margin,), reduction)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    *,
    backend: str = "auto",
) -> Tensor:
    """Softmax cross-entropy, as ``torch.nn.functional`` defines it: input ``(C,)``, ``(N, C)``
    or ``(N, C, d1, ...)``; class-index targets (integer) or class-probability targets (float, the
    input's shape); class weights, ignore_index and label smoothing combined as torch combines
    them. The (rows, C) log-probabilities are never stored: forward+backward keeps one gradient
    tensor."""
    name = "cross_entropy"
    reduction = _legacy_reduction(name, size_average, reduce, reduction)
    reduction = _check_reduction(name, reduction)
    _check_tensors(name, input, target)
    if input.dim() == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-dim tensor")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"{name}: ignore_index must be an int, got {type(ignore_index).__name__}")
    label_smoothing = _check_float(name, label_smoothing, "label_smoothing")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    class_dim = 0 if input.dim() == 1 else 1
    n_classes = input.shape[class_dim]
    batch = input.shape[:1] if input.dim() > 1 else ()
    spatial = tuple(input.shape[2:])
    prob_target = target.dtype.is_floating_point
    if prob_target:
        if target.shape != input.shape:
            raise ValueError(
                f"{name}: probability target size {tuple(target.shape)} must be the input size "
                f"{tuple(input.shape)}"
            )
        target = target.to(input.dtype)
    else:
        if target.dtype.is_complex or target.dtype == torch.bool:
            raise TypeError(f"{name}: target must hold class indices or probabilities, got "
                            f"{target.dtype}")  # fmt: skip
        if tuple(target.shape) != tuple(batch) + spatial:
            raise ValueError(
                f"{name}: class-index target size {tuple(target.shape)} does not match input "
                f"size {tuple(input.shape)} (expected {tuple(batch) + spatial})"
            )
        target = target.long()
    if weight is not None:
        if not isinstance(weight, Tensor) or weight.shape != (n_classes,):
            shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
            raise ValueError(f"{name}: weight must be a ({n_classes},) tensor, got {shape}")
        weight = _check_weight(name, "weight", weight, input).to(input.dtype)

    # The ops take (N, C, S) logits and (N, S) or (N, C, S) targets; reshape is a view whenever
    # the layout allows (any strides otherwise pass through as a copy).
    n = batch[0] if batch else 1
    s = math.prod(spatial)
    x3 = input.reshape(n, n_classes, s)
    t = target.reshape(n, n_classes, s) if prob_target else target.reshape(n, s)
    out_shape = tuple(batch) + spatial
    if prob_target and input.dim() == 1:
        out_shape = ()
    loss = _run("cross_entropy", backend, x3, t, (weight,), (ignore_index, label_smoothing),
                reduction)  # fmt: skip
    return loss.reshape(out_shape) if reduction == "none" else loss
