# SPDX-License-Identifier: Apache-2.0
"""Loads the compiled extension and gives its ops fake (meta) kernels for torch.compile.

Every fused op returns ``(loss, grad_input, grad_target)``; see ``csrc/ops.cpp`` for the
schemas. A gradient that was not asked for is an empty ``(0,)`` tensor.
"""

from __future__ import annotations

import torch

try:
    from . import _C  # noqa: F401  (importing registers torch.ops.losses_ext.*)

    EXTENSION_ERROR: str | None = None
except ImportError as exc:  # the package stays usable with backend='reference'
    _C = None
    EXTENSION_ERROR = str(exc)

# Reduction codes of the ops: torch's own three, plus kl_div's 'batchmean'.
REDUCTION_CODES = {"none": 0, "mean": 1, "sum": 2, "batchmean": 3}

# The element-wise ops, each with the public function it serves (used in messages).
ELEMENTWISE_OPS = {
    "bce_with_logits": "binary_cross_entropy_with_logits",
    "bce": "binary_cross_entropy",
    "sigmoid_focal": "sigmoid_focal_loss",
    "log_cosh": "log_cosh_loss",
    "kl_div": "kl_div",
    "mse": "mse_loss",
    "hinge_embedding": "hinge_embedding_loss",
    "hinge": "hinge_loss",
}
PUBLIC_NAMES = {**ELEMENTWISE_OPS, "cross_entropy": "cross_entropy"}


def _elementwise_fake(input, target, *rest):
    reduction, grad_input, grad_target = rest[-3:]
    loss = input.new_empty(input.shape if reduction == REDUCTION_CODES["none"] else ())
    dx = input.new_empty(input.shape if grad_input else (0,))
    dy = input.new_empty(input.shape if grad_target else (0,))
    return loss, dx, dy


def _cross_entropy_fake(input, target, weight, ignore_index, label_smoothing, reduction,
                        grad_input, grad_target):  # fmt: skip
    n, _, s = input.shape
    loss = input.new_empty((n, s) if reduction == REDUCTION_CODES["none"] else ())
    dx = input.new_empty(input.shape if grad_input else (0,))
    dy = input.new_empty(input.shape if grad_target else (0,))
    return loss, dx, dy


if _C is not None:
    for _name in ELEMENTWISE_OPS:
        torch.library.register_fake(f"losses_ext::{_name}")(_elementwise_fake)

    torch.library.register_fake("losses_ext::cross_entropy")(_cross_entropy_fake)

    @torch.library.register_fake("losses_ext::scale_grad_")
    def _scale_grad_fake(grad, scale):
        return None


def _register_triton_ops():
    """Defines losses_ext::triton_<op> for every fused op, with the C++ op's schema, and its
    Triton implementation for CUDA tensors (and CPU tensors under TRITON_INTERPRET=1)."""
    import functools

    from .triton.cross_entropy import cross_entropy_fwd
    from .triton.elementwise import elementwise_fwd

    lib = torch.library.Library("losses_ext", "FRAGMENT")
    kernels = {name: functools.partial(elementwise_fwd, name) for name in ELEMENTWISE_OPS}
    kernels["cross_entropy"] = cross_entropy_fwd
    for name, kernel in kernels.items():
        schema = str(getattr(torch.ops.losses_ext, name).default._schema)
        lib.define(f"triton_{name}(" + schema.split("(", 1)[1])
        for key in ("CUDA", "CPU"):
            lib.impl(f"triton_{name}", kernel, key)
        fake = _cross_entropy_fake if name == "cross_entropy" else _elementwise_fake
        torch.library.register_fake(f"losses_ext::triton_{name}")(fake)
    return lib


TRITON_ERROR: str | None = None
if _C is not None:
    try:
        _TRITON_LIBRARY = _register_triton_ops()
    except ImportError as exc:  # no triton: backend='triton' is unavailable
        TRITON_ERROR = str(exc)
else:
    TRITON_ERROR = "the compiled extension (which defines the op schemas) failed to load"


def triton_available() -> bool:
    return TRITON_ERROR is None


def extension_available() -> bool:
    return _C is not None


def cuda_kernels_available() -> bool:
    """Whether this build holds the hand-written CUDA kernels (say nothing of a GPU)."""
    return _C is not None and torch._C._dispatch_has_kernel_for_dispatch_key(
        "losses_ext::mse", "CUDA"
    )


def cpu_capability() -> str:
    """The instruction set the CPU kernels use: 'default', 'avx2' or 'avx512'."""
    return _C.cpu_capability()


def set_cpu_capability(name: str) -> None:
    """Use the CPU kernels built for ``name`` ('default', 'avx2', 'avx512') from now on."""
    _C.set_cpu_capability(name)


def best_cpu_capability() -> str:
    return _C.best_cpu_capability()
