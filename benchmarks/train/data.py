# SPDX-License-Identifier: Apache-2.0
"""The data sets that ship inside scikit-learn, split and scaled the same way on every call.

Each loader returns a `Split`: dicts of equal-length tensors for training and testing. Batches
are rows of every tensor in the training dict, so a scenario keeps whatever it needs side by
side (images, labels, teacher logits, pairs of images).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

SPLIT_SEED = 0
TEST_SHARE = 0.2


@dataclass
class Split:
    train: dict[str, torch.Tensor]
    test: dict[str, torch.Tensor]

    def __post_init__(self):
        for part in (self.train, self.test):
            sizes = {len(v) for v in part.values()}
            if len(sizes) != 1:
                raise ValueError(f"tensors of one split differ in length: {sizes}")

    def __len__(self):
        return len(next(iter(self.train.values())))


def _float(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


@functools.cache
def digits() -> Split:
    """8x8 handwritten digits, 1,797 images in ten classes; pixels scaled to [0, 1];
    'image' (N, 1, 8, 8) and 'label' (N,) class indices."""
    data = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        data.images / 16.0, data.target, test_size=TEST_SHARE, random_state=SPLIT_SEED,
        stratify=data.target,
    )  # fmt: skip
    return Split(
        train={"image": _float(x_train)[:, None], "label": torch.as_tensor(y_train)},
        test={"image": _float(x_test)[:, None], "label": torch.as_tensor(y_test)},
    )


def one_digit(digit: int) -> Split:
    """Digits as a detection task, `digit` against the other nine (about 1:9): 'image',
    'target' (N,) float 0/1."""
    d = digits()
    return Split(
        train={"image": d.train["image"], "target": (d.train["label"] == digit).float()},
        test={"image": d.test["image"], "target": (d.test["label"] == digit).float()},
    )


# Properties of the written digit, several true at once: (name, digits that have it).
DIGIT_LABELS = (
    ("even", (0, 2, 4, 6, 8)),
    ("five_or_more", (5, 6, 7, 8, 9)),
    ("prime", (2, 3, 5, 7)),
    ("closed_loop", (0, 6, 8, 9)),
)


def digit_properties() -> Split:
    """Digits with four labels each ('target' (N, 4) float 0/1, in DIGIT_LABELS order)."""
    d = digits()

    def labels(y):
        return torch.stack([torch.isin(y, torch.tensor(ds)) for _, ds in DIGIT_LABELS], 1).float()

    return Split(
        train={"image": d.train["image"], "target": labels(d.train["label"])},
        test={"image": d.test["image"], "target": labels(d.test["label"])},
    )


@functools.cache
def breast_cancer() -> Split:
    """569 tumours, 30 features standardised on the training part; 'x', 'target' (N,) 0/1
    with 1 = malignant."""
    data = load_breast_cancer()
    malignant = 1 - data.target  # scikit-learn codes benign as 1
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, malignant, test_size=TEST_SHARE, random_state=SPLIT_SEED, stratify=malignant
    )
    scaler = StandardScaler().fit(x_train)
    return Split(
        train={"x": _float(scaler.transform(x_train)), "target": _float(y_train)},
        test={"x": _float(scaler.transform(x_test)), "target": _float(y_test)},
    )


@functools.cache
def diabetes(outlier_share: float = 0.1, outlier_scale: float = 8.0) -> Split:
    """442 patients, 10 standardised features, disease progression a year later as target.

    Targets are standardised with the clean training statistics ('target'); then a share of
    the training targets is raised by `outlier_scale` standard deviations, as a systematic
    recording error would (one-sided, so a squared loss is pulled towards it). Test targets stay
    clean. 'scale' (one value per row, all equal) turns a standardised error back into the
    data's own units.
    """
    data = load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=TEST_SHARE, random_state=SPLIT_SEED
    )
    scaler = StandardScaler().fit(x_train)
    mean, std = y_train.mean(), y_train.std()
    y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    rng = np.random.default_rng(SPLIT_SEED)
    corrupt = rng.random(len(y_train)) < outlier_share
    y_train = y_train + corrupt * outlier_scale
    return Split(
        train={"x": _float(scaler.transform(x_train)), "target": _float(y_train)[:, None]},
        test={"x": _float(scaler.transform(x_test)), "target": _float(y_test)[:, None],
              "scale": torch.full((len(y_test),), float(std))},
    )  # fmt: skip


def _pairs(images, labels, n_pairs: int, rng: np.random.Generator):
    """n_pairs pairs of images, half of the same digit ('same' = 1) and half of different
    digits ('same' = -1), as hinge_embedding_loss wants its targets."""
    labels = labels.numpy()
    by_digit = [np.flatnonzero(labels == d) for d in range(10)]
    first = rng.integers(0, len(labels), n_pairs)
    same = np.arange(n_pairs) % 2 == 0
    second = np.empty(n_pairs, dtype=np.int64)
    for k, i in enumerate(first):
        if same[k]:
            second[k] = rng.choice(by_digit[labels[i]])
        else:
            other = (labels[i] + rng.integers(1, 10)) % 10
            second[k] = rng.choice(by_digit[other])
    return {
        "image_a": images[torch.as_tensor(first)],
        "image_b": images[torch.as_tensor(second)],
        "same": _float(np.where(same, 1.0, -1.0)),
    }


@functools.cache
def digit_pairs(n_train: int = 4096, n_test: int = 1024) -> Split:
    """Pairs of digit images, each drawn within the training or within the test images."""
    d = digits()
    rng = np.random.default_rng(SPLIT_SEED)
    return Split(
        train=_pairs(d.train["image"], d.train["label"], n_train, rng),
        test=_pairs(d.test["image"], d.test["label"], n_test, rng),
    )
