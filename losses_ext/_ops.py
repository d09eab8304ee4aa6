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

ELEMENTWISE_OPS = (
    "bce_with_logits",
    "bce",
    "sigmoid_focal",
    "log_cosh",
    "kl_div",
    "mse",
    "hinge_embedding",
    "hinge",
)


def _elementwise_fake(input, target, *rest):
    reduction, grad_input, grad_target = rest[-3:]
    loss = input.new_empty(input.shape if reduction == REDUCTION_CODES["none"] else ())
    dx = input.new_empty(input.shape if grad_input else (0,))
    dy = input.new_empty(input.shape if grad_target else (0,))
    return loss, dx, dy


if _C is not None:
    for _name in ELEMENTWISE_OPS:
        torch.library.register_fake(f"losses_ext::{_name}")(_elementwise_fake)


def extension_available() -> bool:
    return _C is not None


def cpu_capability() -> str:
    """The instruction set the CPU kernels use: 'default', 'avx2' or 'avx512'."""
    return _C.cpu_capability()


def set_cpu_capability(name: str) -> None:
    """Use the CPU kernels built for ``name`` ('default', 'avx2', 'avx512') from now on."""
    _C.set_cpu_capability(name)


def best_cpu_capability() -> str:
    return _C.best_cpu_capability()
