# SPDX-License-Identifier: Apache-2.0
"""The eager PyTorch formulations the fused kernels are measured against: torch.nn.functional
where it has the loss, torchvision's focal-loss formula, a stable log-cosh composite and the
plain SVM hinge."""

import math

import torch
import torch.nn.functional as F


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    # torchvision.ops.sigmoid_focal_loss, written out so torchvision is not needed.
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def log_cosh_loss(input, target, reduction="mean"):
    d = (input - target).abs()
    loss = d + F.softplus(-2 * d) - math.log(2.0)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def hinge_loss(input, target, margin=1.0, reduction="mean"):
    loss = (margin - target * input).clamp_min(0)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


EAGER = {
    "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
    "binary_cross_entropy": F.binary_cross_entropy,
    "sigmoid_focal_loss": sigmoid_focal_loss,
    "log_cosh_loss": log_cosh_loss,
    "kl_div": F.kl_div,
    "mse_loss": F.mse_loss,
    "hinge_embedding_loss": F.hinge_embedding_loss,
    "hinge_loss": hinge_loss,
    "cross_entropy": F.cross_entropy,
}
