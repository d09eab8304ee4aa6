# SPDX-License-Identifier: Apache-2.0
"""The training scenarios: for each, its data, model, loss and test metric.

A scenario's loss is written once against a namespace `F` of loss functions, either
`losses_ext.functional` (the fused kernels, backend 'auto') or the eager PyTorch formulations in
`benchmarks.eager`; both have the same names and signatures. `forward` maps a batch to the
tensor the loss takes (logits, a prediction, a pair distance), so the time spent in the loss
can be measured on its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as torch_F
from sklearn.metrics import average_precision_score, f1_score, recall_score
from torch import nn

from . import data
from .data import Split

# Distillation: softmax temperature, and the share of the loss given to the teacher's targets.
TEMPERATURE = 4.0
SOFT_SHARE = 0.7
# Embedding: pairs of different digits are pushed at least this far apart.
MARGIN = 1.0


@dataclass(frozen=True)
class Scenario:
    name: str
    loss: str  # the functional's name
    dataset: str
    data: Callable[[], Split]
    model: Callable[[], nn.Module]
    forward: Callable[[nn.Module, dict], torch.Tensor]
    loss_fn: Callable[[object, torch.Tensor, dict], torch.Tensor]
    evaluate: Callable[[nn.Module, dict], dict[str, float]]
    epochs: tuple[int, int]  # (--quick, full run)
    batch_size: int = 64
    lr: float = 1e-3

    @property
    def key(self) -> str:
        return f"{self.name}/{self.loss}"


# Smooth activations throughout: a rounding-level difference between two runs' gradients then
# stays a rounding-level difference in their weights. With ReLU and max-pooling, such a
# difference flips units on and off, and the two runs' loss curves drift apart by more than
# their losses ever differed (measured: up to 5% on one step of the multi-label CNN).
def digit_cnn(n_out: int) -> nn.Module:
    """Two 3x3 convolutions on 8x8 images, the second with stride 2, then two linear layers."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.Tanh(),
        nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.Tanh(), nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64), nn.Tanh(), nn.Linear(64, n_out),
    )  # fmt: skip


def mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, n_hidden), nn.Tanh(),
                         nn.Linear(n_hidden, n_out))  # fmt: skip


@torch.no_grad()
def _outputs(model: nn.Module, forward, test: dict) -> torch.Tensor:
    model.eval()
    out = forward(model, test)
    model.train()
    return out.float().cpu()


def _images(model, batch):
    return model(batch["image"])


def _features(model, batch):
    return model(batch["x"])


def _one_logit(model, batch):
    return model(batch["image" if "image" in batch else "x"]).squeeze(-1)


def _pair_distance(model, batch):
    """Euclidean distance between the two embeddings; the small constant keeps its gradient
    finite when the two coincide."""
    diff = model(batch["image_a"]) - model(batch["image_b"])
    return torch.sqrt(diff.pow(2).sum(-1) + 1e-12)


def accuracy(forward):
    def evaluate(model, test):
        logits = _outputs(model, forward, test)
        return {"accuracy": (logits.argmax(-1) == test["label"].cpu()).float().mean().item()}

    return evaluate


def detection(model, test):
    scores = torch.sigmoid(_outputs(model, _one_logit, test)).numpy()
    target = test["target"].cpu().numpy()
    return {
        "average_precision": float(average_precision_score(target, scores)),
        "recall": float(recall_score(target, scores > 0.5)),
    }


def per_label_f1(model, test):
    predicted = (_outputs(model, _images, test) > 0).numpy()
    target = test["target"].cpu().numpy()
    return {
        f"f1_{name}": float(f1_score(target[:, k], predicted[:, k]))
        for k, (name, _) in enumerate(data.DIGIT_LABELS)
    }


def mean_absolute_error(model, test):
    """In the data's own units, on clean test targets."""
    error = (_outputs(model, _features, test) - test["target"].cpu()).abs().squeeze(-1)
    return {"mae": (error * test["scale"].cpu()).mean().item()}


def pair_accuracy(model, test):
    """A pair is called 'same digit' when its distance is under half the margin."""
    same = _outputs(model, _pair_distance, test) < MARGIN / 2
    return {"pair_accuracy": (same == (test["same"].cpu() > 0)).float().mean().item()}


def _multilabel_data() -> Split:
    return data.digit_properties()


@functools.cache
def _distillation_data(teacher_epochs: int = 15) -> Split:
    """Digits with the logits of a teacher CNN beside each training image. The teacher is
    trained here with PyTorch's own cross_entropy and a fixed seed, so the fused and eager
    students learn from the same teacher."""
    split = data.digits()
    torch.manual_seed(1)
    teacher = digit_cnn(10)
    optimizer = torch.optim.Adam(teacher.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(1)
    images, labels = split.train["image"], split.train["label"]
    for _ in range(teacher_epochs):
        for idx in torch.randperm(len(labels), generator=generator).split(64):
            optimizer.zero_grad()
            torch_F.cross_entropy(teacher(images[idx]), labels[idx]).backward()
            optimizer.step()
    with torch.no_grad():
        teacher_logits = teacher(images)
    return Split(train={**split.train, "teacher": teacher_logits}, test=split.test)


def _distillation_loss(F, z, batch):
    """Hinton et al.'s distillation: KL divergence to the teacher's softened distribution,
    scaled by T**2 so its gradients keep their size as T changes, plus cross-entropy on the
    true labels."""
    student = torch.log_softmax(z / TEMPERATURE, dim=-1)
    teacher = torch.log_softmax(batch["teacher"] / TEMPERATURE, dim=-1)
    soft = F.kl_div(student, teacher, reduction="batchmean", log_target=True)
    hard = F.cross_entropy(z, batch["label"])
    return SOFT_SHARE * TEMPERATURE**2 * soft + (1 - SOFT_SHARE) * hard


def _multilabel_loss(F, z, batch, pos_weight=None):
    return F.binary_cross_entropy_with_logits(z, batch["target"], pos_weight=pos_weight)


@functools.cache
def _label_pos_weight() -> torch.Tensor:
    """Negatives over positives per label, on the training part."""
    target = data.digit_properties().train["target"]
    positives = target.sum(0)
    return (len(target) - positives) / positives


SCENARIOS = [
    Scenario(
        "multiclass", "cross_entropy", "digits", data.digits, lambda: digit_cnn(10), _images,
        lambda F, z, b: F.cross_entropy(z, b["label"], label_smoothing=0.1),
        accuracy(_images), epochs=(10, 40),
    ),
    Scenario(
        "binary", "binary_cross_entropy_with_logits", "breast cancer", data.breast_cancer,
        lambda: mlp(30, 32, 1), _one_logit,
        lambda F, z, b: F.binary_cross_entropy_with_logits(z, b["target"]),
        detection, epochs=(20, 80), batch_size=32,
    ),
    Scenario(
        "binary", "sigmoid_focal_loss", "digits: 3 vs rest", lambda: data.one_digit(3),
        lambda: digit_cnn(1), _one_logit,
        lambda F, z, b: F.sigmoid_focal_loss(z, b["target"], reduction="mean"),
        detection, epochs=(10, 30),
    ),
    Scenario(
        "multilabel", "binary_cross_entropy_with_logits", "digits: 4 properties",
        _multilabel_data, lambda: digit_cnn(len(data.DIGIT_LABELS)), _images,
        lambda F, z, b: _multilabel_loss(F, z, b, _label_pos_weight()),
        per_label_f1, epochs=(10, 40),
    ),
    Scenario(
        "distillation", "kl_div", "digits", _distillation_data, lambda: mlp(64, 32, 10),
        _images, _distillation_loss, accuracy(_images), epochs=(20, 60),
    ),
    Scenario(
        "regression", "log_cosh_loss", "diabetes, 10% outliers", data.diabetes,
        lambda: nn.Linear(10, 1), _features,
        lambda F, z, b: F.log_cosh_loss(z, b["target"]),
        mean_absolute_error, epochs=(30, 150), batch_size=32, lr=1e-2,
    ),
    Scenario(
        "regression", "mse_loss", "diabetes, 10% outliers", data.diabetes,
        lambda: nn.Linear(10, 1), _features,
        lambda F, z, b: F.mse_loss(z, b["target"]),
        mean_absolute_error, epochs=(30, 150), batch_size=32, lr=1e-2,
    ),
    Scenario(
        "embedding", "hinge_embedding_loss", "digit pairs", data.digit_pairs,
        lambda: mlp(64, 64, 16), _pair_distance,
        lambda F, z, b: F.hinge_embedding_loss(z, b["same"], margin=MARGIN),
        pair_accuracy, epochs=(6, 30),
    ),
]  # fmt: skip

BY_KEY = {s.key: s for s in SCENARIOS}
