# SPDX-License-Identifier: Apache-2.0
"""One ``torch.autograd.Function`` per loss over the fused ops.

Forward runs the fused op, which returns the loss and, in the same pass, the gradients that
autograd will need (as if grad_output were 1, already divided for 'mean'). Backward only applies
grad_output, in place (nothing at all when it is exactly 1, as for a plain ``loss.backward()``);
it never recomputes the forward, with two exceptions:

* A second backward through the same graph (``retain_graph=True``): the first backward handed
  its gradient buffer to autograd (scaled in place, no copy), so a later one recomputes the
  gradients from the saved inputs.
* Double backward (``create_graph=True``): the gradient must itself be differentiable, so it is
  taken through the differentiable reference composite of the same loss.

Under ``torch.compile`` the buffers are saved with ``save_for_backward`` and scaled out of
place, which the compiler can trace and fuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import _ops, reference
from ._ops import REDUCTION_CODES

Tensor = torch.Tensor


@dataclass(frozen=True)
class LossSpec:
    """How the autograd layer calls one loss.

    The op is called as ``op(input, target, *tensors, *params, reduction_code, need_dx, need_dy)``
    and the reference as ``reference(input, target, *tensors, *params, reduction)``.
    """

    name: str  # the public function's name, used in messages
    op: str  # name in torch.ops.losses_ext
    reference: Callable[..., Tensor]
    target_has_grad: bool = True
    # The per-element loss of cross_entropy is (N, S) for (N, C, S) logits: its grad_output
    # gains the class dimension before it scales the gradient.
    per_row: bool = False

    def grad_output_for(self, grad_output: Tensor) -> Tensor:
        if self.per_row and grad_output.dim() == 2:
            return grad_output.unsqueeze(1)
        return grad_output


def run_op(spec: LossSpec, backend, input, target, tensors, params, reduction, need_dx, need_dy):
    """Calls the fused op of ``backend`` ('cpu' and 'cuda' share the C++ op, which dispatches on
    the device; 'triton' has its own)."""
    op = getattr(torch.ops.losses_ext, ("triton_" if backend == "triton" else "") + spec.op)
    return op(input, target, *tensors, *params, REDUCTION_CODES[reduction], need_dx, need_dy)


def _scale_(buffer: Tensor, grad_output: Tensor) -> None:
    """buffer *= grad_output in place. A one-element grad_output goes to scale_grad_, which
    returns at once when it is exactly 1 (read on the device for CUDA tensors: no host
    synchronisation; on the CPU, read here first, which spares the plain ``loss.backward()`` an op
    call); a per-element one ('none') is a plain multiply."""
    if grad_output.numel() == 1 and buffer.device.type in ("cpu", "cuda"):
        if buffer.device.type == "cpu" and grad_output.item() == 1.0:
            return
        if buffer.device.type == "cpu" or _ops.cuda_kernels_available():
            torch.ops.losses_ext.scale_grad_(buffer, grad_output.reshape(()).to(buffer.dtype))
            return
    buffer.mul_(grad_output)


def _forward(ctx, spec: LossSpec, input, target, tensors, params, reduction, backend):
    need_dx = ctx.needs_input_grad[0]
    need_dy = ctx.needs_input_grad[1] and spec.target_has_grad
    loss, dx, dy = run_op(
        spec, backend, input, target, tensors, params, reduction, need_dx, need_dy
    )
    ctx.spec, ctx.params, ctx.reduction, ctx.backend = spec, params, reduction, backend
    ctx.n_tensors = len(tensors)
    ctx.need = (need_dx, need_dy)
    ctx.compiled = torch.compiler.is_compiling()
    if ctx.compiled:
        ctx.save_for_backward(input, target, *tensors, dx, dy)
    else:
        ctx.save_for_backward(input, target, *tensors)
        ctx.buffers = (dx, dy)  # handed to autograd by the first backward
    return loss


def _backward(ctx, grad_output: Tensor):
    saved = ctx.saved_tensors
    input, target = saved[0], saved[1]
    tensors = saved[2 : 2 + ctx.n_tensors]
    need_dx, need_dy = ctx.need
    spec = ctx.spec
    n_none = ctx.n_tensors + len(ctx.params) + 2  # the non-differentiable forward arguments

    if torch.is_grad_enabled():  # create_graph=True: differentiate the reference instead
        wrt = [t for t, need in ((input, need_dx), (target, need_dy)) if need]
        with torch.enable_grad():
            loss = spec.reference(input, target, *tensors, *ctx.params, ctx.reduction)
            grads = iter(torch.autograd.grad(loss, wrt, grad_output, create_graph=True))
        gx = next(grads) if need_dx else None
        gy = next(grads) if need_dy else None
        return (gx, gy) + (None,) * n_none

    grad_output = spec.grad_output_for(grad_output)
    if ctx.compiled:
        dx, dy = saved[2 + ctx.n_tensors :]
        gx = dx * grad_output if need_dx else None
        gy = dy * grad_output if need_dy else None
        return (gx, gy) + (None,) * n_none

    if ctx.buffers is not None:  # first backward: scale the buffers in place and hand them over
        dx, dy = ctx.buffers
        ctx.buffers = None
        if need_dx:
            _scale_(dx, grad_output)
        if need_dy:
            _scale_(dy, grad_output)
    else:  # a later backward (retain_graph): the buffers are gone, recompute them
        _, dx, dy = run_op(
            spec, ctx.backend, input, target, tensors, ctx.params, ctx.reduction, *ctx.need
        )
        dx = dx * grad_output if need_dx else None
        dy = dy * grad_output if need_dy else None
    return (dx if need_dx else None, dy if need_dy else None) + (None,) * n_none


def _specs():
    r = reference

    def spec(op, ref, **options):
        return LossSpec(_ops.PUBLIC_NAMES[op], op, ref, **options)

    return {
        "bce_with_logits": spec("bce_with_logits", r.binary_cross_entropy_with_logits),
        "bce": spec("bce", r.binary_cross_entropy),
        "sigmoid_focal": spec("sigmoid_focal", r.sigmoid_focal_loss),
        "log_cosh": spec("log_cosh", r.log_cosh_loss),
        "kl_div": spec("kl_div", r.kl_div),
        "mse": spec("mse", r.mse_loss),
        "hinge_embedding": spec("hinge_embedding", r.hinge_embedding_loss, target_has_grad=False),
        "hinge": spec("hinge", r.hinge_loss, target_has_grad=False),
        "cross_entropy": spec("cross_entropy", r.cross_entropy, per_row=True),
    }


SPECS = _specs()


class BCEWithLogitsFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, reduction: str, backend: str):
        return _forward(
            ctx,
            SPECS["bce_with_logits"],
            input,
            target,
            (weight, pos_weight),
            (),
            reduction,
            backend,
        )

    backward = staticmethod(_backward)


class BCEFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, weight, reduction: str, backend: str):
        return _forward(ctx, SPECS["bce"], input, target, (weight,), (), reduction, backend)

    backward = staticmethod(_backward)


class SigmoidFocalLossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, alpha: float, gamma: float, reduction: str, backend: str):
        return _forward(
            ctx, SPECS["sigmoid_focal"], input, target, (), (alpha, gamma), reduction, backend
        )

    backward = staticmethod(_backward)


class LogCoshLossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, reduction: str, backend: str):
        return _forward(ctx, SPECS["log_cosh"], input, target, (), (), reduction, backend)

    backward = staticmethod(_backward)


class KLDivFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, log_target: bool, reduction: str, backend: str):
        return _forward(ctx, SPECS["kl_div"], input, target, (), (log_target,), reduction, backend)

    backward = staticmethod(_backward)


class MSELossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, reduction: str, backend: str):
        return _forward(ctx, SPECS["mse"], input, target, (), (), reduction, backend)

    backward = staticmethod(_backward)


class HingeEmbeddingLossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, margin: float, reduction: str, backend: str):
        return _forward(
            ctx, SPECS["hinge_embedding"], input, target, (), (margin,), reduction, backend
        )

    backward = staticmethod(_backward)


class HingeLossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, margin: float, reduction: str, backend: str):
        return _forward(ctx, SPECS["hinge"], input, target, (), (margin,), reduction, backend)

    backward = staticmethod(_backward)


class CrossEntropyFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, input, target, weight, ignore_index: int, label_smoothing: float, reduction: str,
        backend: str,
    ):  # fmt: skip
        params = (ignore_index, label_smoothing)
        spec = SPECS["cross_entropy"]
        return _forward(ctx, spec, input, target, (weight,), params, reduction, backend)

    backward = staticmethod(_backward)


FUNCTIONS = {
    "bce_with_logits": BCEWithLogitsFunction,
    "bce": BCEFunction,
    "sigmoid_focal": SigmoidFocalLossFunction,
    "log_cosh": LogCoshLossFunction,
    "kl_div": KLDivFunction,
    "mse": MSELossFunction,
    "hinge_embedding": HingeEmbeddingLossFunction,
    "hinge": HingeLossFunction,
    "cross_entropy": CrossEntropyFunction,
}
