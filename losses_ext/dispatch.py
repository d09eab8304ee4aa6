# SPDX-License-Identifier: Apache-2.0
"""Backend choice: which implementation runs a loss for given tensors.

* ``'cpu'``: the fused C++ kernels (CPU tensors).
* ``'reference'``: the differentiable PyTorch composites of ``losses_ext.reference``, on any
  device.
* ``'triton'``: the Triton kernels, for CUDA tensors (and for CPU tensors when Triton's
  interpreter is on, ``TRITON_INTERPRET=1``, which is how the test suite runs them without a GPU).
* ``'cuda'``: the hand-written CUDA kernels (CUDA tensors), when the extension was built with
  them.
* ``'auto'``: ``'cpu'`` for CPU tensors; for CUDA tensors ``'cuda'``, else ``'triton'``; anything
  else (or a missing piece, such as triton not installed) falls back to ``'reference'`` with a
  one-time warning.
"""

from __future__ import annotations

import logging
import os
import warnings

import torch

from . import _ops

BACKENDS = ("auto", "cpu", "cuda", "triton", "reference")

logger = logging.getLogger("losses_ext")
_warned_fallback: set[str] = set()


def resolve(name: str, backend: str, input: torch.Tensor) -> str:
    """The concrete backend ('cpu', 'cuda', 'triton' or 'reference') for loss ``name`` on
    ``input``'s device."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"{name}: unknown backend {backend!r}; expected one of {BACKENDS}")
    device = input.device.type
    if backend == "auto":
        if device == "cpu" and _ops.extension_available():
            chosen = "cpu"
        elif device == "cuda" and _ops.cuda_kernels_available():
            chosen = "cuda"
        elif device == "cuda" and _ops.triton_available():
            chosen = "triton"
        else:
            chosen = "reference"
            if device == "cpu":
                reason = f"the compiled extension failed to load ({_ops.EXTENSION_ERROR})"
            elif device == "cuda":
                reason = (
                    "this build has no CUDA kernels and triton is unavailable "
                    f"({_ops.TRITON_ERROR})"
                )
            else:
                reason = f"no fused kernels for {device} tensors"
            if reason not in _warned_fallback:
                _warned_fallback.add(reason)
                warnings.warn(
                    f"losses_ext: using the PyTorch reference implementation: {reason}",
                    stacklevel=3,
                )
        if not torch.compiler.is_compiling():  # dynamo cannot trace a logging call
            logger.debug("%s: backend 'auto' chose %r for %s tensors", name, chosen, device)
        return chosen
    if backend == "triton":
        if not _ops.triton_available():
            raise RuntimeError(f"{name}: backend='triton' needs triton: {_ops.TRITON_ERROR}")
        if device == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
            raise ValueError(
                f"{name}: backend='triton' needs CUDA tensors (CPU tensors run only in Triton's "
                "interpreter, TRITON_INTERPRET=1)"
            )
        if device not in ("cpu", "cuda"):
            raise ValueError(f"{name}: backend='triton' needs CUDA tensors, got {device} tensors")
        return backend
    if backend == "cuda":
        if not _ops.cuda_kernels_available():
            raise RuntimeError(
                f"{name}: backend='cuda' is not available: this build of losses_ext has no CUDA "
                "kernels (it was built without a CUDA toolkit, or with LOSSES_EXT_CUDA=0)"
            )
        if device != "cuda":
            raise ValueError(f"{name}: backend='cuda' needs CUDA tensors, got {device} tensors")
        return backend
    if backend == "cpu":
        if not _ops.extension_available():
            raise RuntimeError(
                f"{name}: backend='cpu' needs the compiled extension, which failed to load: "
                f"{_ops.EXTENSION_ERROR}"
            )
        if device != "cpu":
            raise ValueError(f"{name}: backend='cpu' needs CPU tensors, got {device} tensors")
    return backend
