# SPDX-License-Identifier: Apache-2.0
"""losses_ext: fused loss functions for PyTorch.

Each loss reads its inputs once and produces the loss and its gradient in the same pass; the
backward only applies grad_output. ``losses_ext.functional`` mirrors ``torch.nn.functional``,
``losses_ext.nn`` mirrors ``torch.nn`` (its modules are exported here too).
"""

from . import functional, nn, reference
from ._ops import best_cpu_capability, cpu_capability, extension_available, set_cpu_capability
from .nn import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HingeEmbeddingLoss,
    HingeLoss,
    KLDivLoss,
    LogCoshLoss,
    MSELoss,
    SigmoidFocalLoss,
)

__version__ = "0.1.0"

__all__ = [
    "BCELoss",
    "CrossEntropyLoss",
    "BCEWithLogitsLoss",
    "HingeEmbeddingLoss",
    "HingeLoss",
    "KLDivLoss",
    "LogCoshLoss",
    "MSELoss",
    "SigmoidFocalLoss",
    "best_cpu_capability",
    "cpu_capability",
    "extension_available",
    "functional",
    "nn",
    "reference",
    "set_cpu_capability",
]
