# SPDX-License-Identifier: Apache-2.0
"""``nn.Module`` drop-ins for the fused losses, with torch.nn's constructor arguments plus a
keyword-only ``backend``."""

from __future__ import annotations

import torch
from torch import nn

from . import dispatch
from . import functional as F

Tensor = torch.Tensor

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
]


class _Loss(nn.Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", *, backend="auto"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = nn._reduction.legacy_get_string(size_average, reduce)
        allowed = ("none", "mean", "sum") + (("batchmean",) if isinstance(self, KLDivLoss) else ())
        if reduction not in allowed:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {allowed}, got {reduction!r}"
            )
        if backend not in dispatch.BACKENDS:
            raise ValueError(
                f"{type(self).__name__}: unknown backend {backend!r}; expected one "
                f"of {dispatch.BACKENDS}"
            )
        self.reduction = reduction
        self.backend = backend

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, backend={self.backend!r}"


class BCEWithLogitsLoss(_Loss):
    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
        *,
        backend="auto",
    ):
        super().__init__(size_average, reduce, reduction, backend=backend)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input,
            target,
            self.weight,
            reduction=self.reduction,
            pos_weight=self.pos_weight,
            backend=self.backend,
        )


class BCELoss(_Loss):
    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        *,
        backend="auto",
    ):
        super().__init__(size_average, reduce, reduction, backend=backend)
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(
            input, target, self.weight, reduction=self.reduction, backend=self.backend
        )


class SigmoidFocalLoss(_Loss):
    """Module form of torchvision's ``sigmoid_focal_loss`` (default reduction 'none')."""

    def __init__(
        self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none", *, backend="auto"
    ):
        super().__init__(reduction=reduction, backend=backend)
        self.alpha, self.gamma = alpha, gamma

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.sigmoid_focal_loss(
            input, target, self.alpha, self.gamma, self.reduction, backend=self.backend
        )


class LogCoshLoss(_Loss):
    def __init__(self, reduction: str = "mean", *, backend="auto"):
        super().__init__(reduction=reduction, backend=backend)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.log_cosh_loss(input, target, self.reduction, backend=self.backend)


class KLDivLoss(_Loss):
    def __init__(
        self,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        log_target: bool = False,
        *,
        backend="auto",
    ):
        super().__init__(size_average, reduce, reduction, backend=backend)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(
            input,
            target,
            reduction=self.reduction,
            log_target=self.log_target,
            backend=self.backend,
        )


class MSELoss(_Loss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction, backend=self.backend)


class HingeEmbeddingLoss(_Loss):
    def __init__(
        self,
        margin: float = 1.0,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        *,
        backend="auto",
    ):
        super().__init__(size_average, reduce, reduction, backend=backend)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(
            input, target, margin=self.margin, reduction=self.reduction, backend=self.backend
        )


class HingeLoss(_Loss):
    """SVM hinge loss ``max(0, margin - target * input)`` for labels in {-1, +1}."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean", *, backend="auto"):
        super().__init__(reduction=reduction, backend=backend)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_loss(input, target, self.margin, self.reduction, backend=self.backend)


class CrossEntropyLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean", label_smoothing: float = 0.0, *,
                 backend="auto"):  # fmt: skip
        super().__init__(size_average, reduce, reduction, backend=backend)
        self.register_buffer("weight", weight)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input, target, self.weight, ignore_index=self.ignore_index,
            reduction=self.reduction, label_smoothing=self.label_smoothing, backend=self.backend,
        )  # fmt: skip
