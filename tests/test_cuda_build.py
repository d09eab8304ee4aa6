# SPDX-License-Identifier: Apache-2.0
"""The CUDA kernels are compiled and linked into the extension for A100 and H100/H200 (sm_80,
sm_90), even on a machine without a GPU; and the scale_grad_ op the backward uses."""

import os
import re
import subprocess

import pytest
import torch

import losses_ext

LOSS_STRUCTS = [
    "BceWithLogits", "Bce", "SigmoidFocal", "LogCosh", "KlDiv", "Mse", "HingeEmbedding", "Hinge",
]  # fmt: skip


def _cuobjdump():
    import triton

    path = os.path.join(os.path.dirname(triton.__file__), "backends/nvidia/bin/cuobjdump")
    if not os.path.exists(path):
        pytest.skip(f"cuobjdump is not shipped with this triton ({path})")
    return path


@pytest.mark.skipif(
    torch.version.cuda is None or os.environ.get("LOSSES_EXT_CUDA") == "0",
    reason="not a CUDA build of torch, or the CUDA build was switched off",
)
def test_library_holds_sm80_and_sm90_code_for_every_loss():
    """Every element-wise loss in 4 dtypes, cross-entropy, and the reduction kernels."""
    assert losses_ext._ops.cuda_kernels_available(), "the extension was built without CUDA"
    library = losses_ext._ops._C.__file__
    out = subprocess.run(
        [_cuobjdump(), "-res-usage", library], capture_output=True, text=True, check=True
    ).stdout
    # The listing goes arch by arch: an "arch = sm_XX" header, then "Function <name>:" lines.
    functions_by_arch = {}
    arch = None
    for line in out.splitlines():
        m = re.search(r"arch = (sm_\d+)", line)
        if m:
            arch = m.group(1)
        m = re.search(r"Function (\S+):", line)
        if m and arch:
            functions_by_arch.setdefault(arch, []).append(m.group(1))
    assert {"sm_80", "sm_90"} <= set(functions_by_arch), sorted(functions_by_arch)
    for arch in ("sm_80", "sm_90"):
        names = functions_by_arch[arch]
        for loss in LOSS_STRUCTS:
            kernels = [
                n for n in names if "elementwise_fwd_kernel" in n and f"{len(loss)}{loss}I" in n
            ]
            # float, double, half, bfloat16
            assert len(kernels) == 4, (arch, loss, kernels)
        ce = [n for n in names if "cross_entropy_kernel" in n]
        assert len(ce) == 8, (arch, ce)  # 4 dtypes x (class index, probability) targets
        assert any("sum_partials_kernel" in n for n in names)
        assert any("scale_grad_kernel" in n for n in names)


@pytest.mark.parametrize("scale", [1.0, 3.0, 0.0])
def test_scale_grad_in_place(scale):
    grad = torch.randn(100)
    expected = grad * scale
    torch.ops.losses_ext.scale_grad_(grad, torch.tensor(scale))
    assert torch.equal(grad, expected)


def test_scale_grad_opcheck():
    torch.library.opcheck(
        torch.ops.losses_ext.scale_grad_.default, (torch.randn(10), torch.tensor(2.0))
    )


def test_scale_grad_rejects_a_tensor_scale():
    with pytest.raises(RuntimeError, match="scale_grad_: expected a one-element scale"):
        torch.ops.losses_ext.scale_grad_(torch.randn(4), torch.ones(4))


@pytest.mark.cuda
def test_scale_grad_cuda_skips_one_without_sync():
    grad = torch.randn(1000, device="cuda")
    before = grad.clone()
    torch.ops.losses_ext.scale_grad_(grad, torch.tensor(1.0, device="cuda"))
    torch.ops.losses_ext.scale_grad_(grad, torch.tensor(2.0, device="cuda"))
    assert torch.equal(grad, before * 2)
