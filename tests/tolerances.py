# SPDX-License-Identifier: Apache-2.0
"""The one table of comparison tolerances, per dtype, against the float64 reference.

float16 and bfloat16 are computed in float32 and rounded once, so their bounds are a little over
half an ulp of the storage type; float32 allows for the different but equally accurate
formulas of kernel and reference; float64 checks that the float64 kernel is really float64.
"""

import torch

TOLERANCES = {
    torch.float64: dict(rtol=1e-10, atol=1e-12),
    torch.float32: dict(rtol=2e-5, atol=2e-6),
    torch.float16: dict(rtol=2e-3, atol=2e-3),
    torch.bfloat16: dict(rtol=1.6e-2, atol=1.6e-2),
}


def assert_close(actual, expected, dtype=None, **override):
    """actual against a float64 expected value, with the tolerance of `dtype` (or actual's)."""
    dtype = dtype or actual.dtype
    tol = dict(TOLERANCES[dtype])
    tol.update(override)
    if dtype in (torch.float16, torch.bfloat16):
        # The kernel's result is the exact value rounded once to dtype: an overflow to inf
        # is the right answer there.
        expected = expected.to(dtype)
    torch.testing.assert_close(
        actual.double(), expected.double(), equal_nan=True, check_dtype=False, **tol
    )
