# SPDX-License-Identifier: Apache-2.0
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

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


@pytest.fixture(params=CAPABILITIES)
def capability(request):
    """Runs a test once per instruction set the CPU kernels were built for and this CPU has."""
    before = losses_ext.cpu_capability()
    losses_ext.set_cpu_capability(request.param)
    yield request.param
    losses_ext.set_cpu_capability(before)
