# SPDX-License-Identifier: Apache-2.0
"""A fuzz loop over wrong types, shapes, dtypes, devices, reductions and option values for every
public loss and module. Run as a script (tests/test_fuzz.py runs it in a subprocess, so a crash
of the process is seen as such): every call must either succeed or raise TypeError, ValueError,
RuntimeError or NotImplementedError with a message that names the loss. Prints one summary line.
"""

import random
import sys

import torch

import losses_ext
import losses_ext.functional as LF

ALLOWED = (TypeError, ValueError, RuntimeError, NotImplementedError)


def tensors(rng):
    shape = rng.choice([(), (0,), (1,), (3,), (2, 3), (3, 2), (2, 3, 4), (1, 3, 1)])
    dtype = rng.choice([torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64,
                        torch.int32, torch.bool, torch.complex64, torch.uint8])  # fmt: skip
    if dtype.is_complex:
        t = torch.randn(shape, dtype=dtype)
    elif dtype.is_floating_point:
        t = torch.randn(shape).to(dtype)
    elif dtype == torch.bool:
        t = torch.rand(shape) > 0.5
    else:
        t = torch.randint(0 if dtype == torch.uint8 else -3, 5, shape, dtype=dtype)
    if rng.random() < 0.1:
        t = t.to("meta")
    if rng.random() < 0.1 and t.dim() == 2:
        t = t.t()
    if rng.random() < 0.2 and t.is_floating_point() and t.device.type == "cpu":
        t = t.clone().requires_grad_(True)
    return t


def value(rng):
    return rng.choice([None, 1, -1, 0.5, -2.0, float("nan"), float("inf"), "mean", "x", [1.0],
                       True, (2,), object()])  # fmt: skip


def arguments(rng, name):
    x = tensors(rng) if rng.random() < 0.9 else value(rng)
    y = tensors(rng) if rng.random() < 0.9 else value(rng)
    kwargs = {}
    if rng.random() < 0.5:
        kwargs["reduction"] = rng.choice(["none", "mean", "sum", "batchmean", "avg", None, 2])
    if rng.random() < 0.3:
        kwargs["backend"] = rng.choice(["auto", "cpu", "reference", "triton", "cuda", "gpu", 3])
    options = {
        "binary_cross_entropy_with_logits": ["weight", "pos_weight"],
        "binary_cross_entropy": ["weight"],
        "sigmoid_focal_loss": ["alpha", "gamma"],
        "kl_div": ["log_target"],
        "hinge_embedding_loss": ["margin"],
        "hinge_loss": ["margin"],
        "cross_entropy": ["weight", "ignore_index", "label_smoothing"],
    }.get(name, [])
    for option in options:
        if rng.random() < 0.5:
            kwargs[option] = tensors(rng) if option in ("weight", "pos_weight") else value(rng)
    return x, y, kwargs


def main(iterations):
    rng = random.Random(1234)
    names = [n for n in LF.__all__]
    modules = {
        "binary_cross_entropy_with_logits": losses_ext.BCEWithLogitsLoss,
        "binary_cross_entropy": losses_ext.BCELoss,
        "sigmoid_focal_loss": losses_ext.SigmoidFocalLoss,
        "log_cosh_loss": losses_ext.LogCoshLoss,
        "kl_div": losses_ext.KLDivLoss,
        "mse_loss": losses_ext.MSELoss,
        "hinge_embedding_loss": losses_ext.HingeEmbeddingLoss,
        "hinge_loss": losses_ext.HingeLoss,
        "cross_entropy": losses_ext.CrossEntropyLoss,
    }
    counts = {"ok": 0, "raised": 0}
    for i in range(iterations):
        name = names[i % len(names)]
        x, y, kwargs = arguments(rng, name)
        use_module = rng.random() < 0.2
        try:
            if use_module:
                module = modules[name](**kwargs)
                out = module(x, y)
            else:
                out = getattr(LF, name)(x, y, **kwargs)
            if isinstance(out, torch.Tensor) and out.requires_grad and out.device.type != "meta":
                out.sum().backward()
            counts["ok"] += 1
        except ALLOWED as exc:
            counts["raised"] += 1
            label = modules[name].__name__ if use_module else name
            expected = (name, modules[name].__name__)
            if not any(e in str(exc) for e in expected):
                print(f"message does not name {label}: {type(exc).__name__}: {exc}\n"
                      f"  call: {name}({x!r:.60}, {y!r:.60}, {kwargs!r:.200})")  # fmt: skip
                return 1
    print(f"fuzz: {iterations} calls, {counts['ok']} succeeded, {counts['raised']} raised "
          "clear errors")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
