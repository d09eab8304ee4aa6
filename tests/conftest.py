# SPDX-License-Identifier: Apache-2.0
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
# The repo root (for `benchmarks`, and for the in-place build) goes last, so that a build put on
# PYTHONPATH first, such as the sanitizer build of `make sanitize`, is the one tested.
sys.path.append(os.path.dirname(os.path.dirname(__file__)))

# Without a GPU the Triton kernels run in Triton's interpreter on CPU tensors. It must be chosen
# before triton is first imported (by losses_ext).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import losses_ext  # noqa: E402

CAPABILITIES = [
    c
    for c in ("default", "avx2", "avx512")
    if ("default", "avx2", "avx512").index(c)
    <= ("default", "avx2", "avx512").index(losses_ext.best_cpu_capability())
]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


# The fused backends this machine can run: the C++ kernels, and Triton (on a GPU, or in the
# interpreter).
FUSED_BACKENDS = (
    ["cpu"]
    + (["triton"] if losses_ext._ops.triton_available() else [])
    + (["cuda"] if torch.cuda.is_available() and losses_ext._ops.cuda_kernels_available() else [])
)


@pytest.fixture(params=[f"cpu-{c}" for c in CAPABILITIES] + FUSED_BACKENDS[1:])
def backend_variant(request):
    """Every fused kernel build: the C++ kernels once per instruction set they were built for
    and this CPU has, then Triton. Yields the backend name."""
    backend, _, capability = request.param.partition("-")
    before = losses_ext.cpu_capability()
    if capability:
        losses_ext.set_cpu_capability(capability)
    yield backend
    losses_ext.set_cpu_capability(before)


@pytest.fixture(params=FUSED_BACKENDS)
def backend(request):
    return request.param


def device_for(backend):
    """The device of a backend's test tensors: Triton runs on CUDA tensors when there is a GPU,
    else on CPU tensors (interpreter)."""
    if backend == "cuda" or (backend == "triton" and torch.cuda.is_available()):
        return "cuda"
    return "cpu"


def pytest_collection_modifyitems(config, items):
    """Tests marked `cuda` need a GPU; without one they skip with the reason."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none on this machine)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
