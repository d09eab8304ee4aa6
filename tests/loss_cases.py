# SPDX-License-Identifier: Apache-2.0
"""Input generators for every element-wise loss: each loss gets data from its own domain
(probabilities for binary_cross_entropy, log-probabilities for kl_div, labels for the hinges)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

import losses_ext.functional as LF


def _logits(shape, g):
    return torch.randn(shape, generator=g, dtype=torch.float64) * 3


def _probs(shape, g):
    return torch.rand(shape, generator=g, dtype=torch.float64) * 0.9 + 0.05


def _labels(shape, g):
    return torch.randint(0, 2, shape, generator=g).double() * 2 - 1


def _log_probs(shape, g):
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    return torch.log_softmax(x, dim=-1) if x.dim() > 0 and x.numel() > 0 else x.clamp_max(0)


def _away_from_kink(x, margin=1.0):
    # Keep |margin - |x|| >= 0.1 so finite differences never straddle a hinge.
    near = (x.abs() - margin).abs() < 0.1
    return torch.where(near, x + 0.3 * torch.sign(x), x)


@dataclass
class LossCase:
    name: str
    fn: object
    make_input: object
    make_target: object
    kwargs: dict = field(default_factory=dict)
    aux: tuple = ()  # keyword tensors built like the input: ('weight', 'pos_weight')
    target_grad: bool = True
    reductions: tuple = ("none", "mean", "sum")

    @property
    def id(self):
        extra = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        extra += "".join(f",{a}" for a in self.aux)
        return f"{self.name}[{extra}]" if extra else self.name

    def make(self, shape, dtype, seed=0, requires_grad=False):
        """(input, target, aux kwargs) in `dtype`, from float64 draws."""
        g = torch.Generator().manual_seed(seed)
        x = self.make_input(shape, g)
        y = self.make_target(shape, g)
        if self.name == "hinge_loss":  # kink where y * x == margin
            x = _away_from_kink(x * y) * y
        elif self.name == "hinge_embedding_loss":  # kink where x == margin
            x = _away_from_kink(x)
        aux = {}
        last = shape[-1:] if len(shape) else ()
        for a in self.aux:
            # weight broadcasts from the full shape, pos_weight from the last dimension only.
            s = shape if a == "weight" else last
            aux[a] = (torch.rand(s, generator=g, dtype=torch.float64) + 0.5).to(dtype)
        x = x.to(dtype).requires_grad_(requires_grad)
        y = y.to(dtype).requires_grad_(requires_grad and self.target_grad)
        return x, y, aux

    def __call__(self, x, y, aux, reduction, backend="auto"):
        return self.fn(x, y, reduction=reduction, backend=backend, **self.kwargs, **aux)


CASES = [
    LossCase(
        "binary_cross_entropy_with_logits", LF.binary_cross_entropy_with_logits, _logits, _probs
    ),
    LossCase(
        "binary_cross_entropy_with_logits",
        LF.binary_cross_entropy_with_logits,
        _logits,
        _probs,
        aux=("weight", "pos_weight"),
    ),
    LossCase("binary_cross_entropy", LF.binary_cross_entropy, _probs, _probs),
    LossCase("binary_cross_entropy", LF.binary_cross_entropy, _probs, _probs, aux=("weight",)),
    LossCase("sigmoid_focal_loss", LF.sigmoid_focal_loss, _logits, _probs),
    LossCase(
        "sigmoid_focal_loss",
        LF.sigmoid_focal_loss,
        _logits,
        _probs,
        kwargs={"alpha": -1.0, "gamma": 0.5},
    ),
    LossCase(
        "sigmoid_focal_loss",
        LF.sigmoid_focal_loss,
        _logits,
        _probs,
        kwargs={"alpha": 0.6, "gamma": 0.0},
    ),
    LossCase("log_cosh_loss", LF.log_cosh_loss, _logits, _logits),
    LossCase("kl_div", LF.kl_div, _log_probs, _probs, reductions=("none", "batchmean", "sum")),
    LossCase(
        "kl_div",
        LF.kl_div,
        _log_probs,
        _log_probs,
        kwargs={"log_target": True},
        reductions=("none", "batchmean", "sum"),
    ),
    LossCase("mse_loss", LF.mse_loss, _logits, _logits),
    LossCase(
        "hinge_embedding_loss",
        LF.hinge_embedding_loss,
        _logits,
        _labels,
        kwargs={"margin": 1.0},
        target_grad=False,
    ),
    LossCase(
        "hinge_loss", LF.hinge_loss, _logits, _labels, kwargs={"margin": 1.0}, target_grad=False
    ),
]
