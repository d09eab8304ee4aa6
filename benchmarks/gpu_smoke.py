# SPDX-License-Identifier: Apache-2.0
"""A small forward+backward of every element-wise loss on every fused GPU backend, dtype and
reduction, on odd sizes (vector tails, several tiles): the run compute-sanitizer watches in
benchmarks/gpu_check.sh. Exits non-zero if a result disagrees with the reference."""

import argparse

import torch

import losses_ext
import losses_ext.functional as LF

from .__main__ import make_inputs

NAMES = ["binary_cross_entropy_with_logits", "binary_cross_entropy", "sigmoid_focal_loss",
         "log_cosh_loss", "kl_div", "mse_loss", "hinge_embedding_loss", "hinge_loss"]  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="'cpu' checks the script itself")
    device = parser.parse_args(argv).device
    if device == "cpu":
        backends = ["cpu"]
    else:
        available = {
            "cuda": losses_ext._ops.cuda_kernels_available(),
            "triton": losses_ext._ops.triton_available(),
        }
        backends = [b for b, ok in available.items() if ok]
    bad = 0
    for backend in backends:
        for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
            for numel in (1, 7, 4099 * 3, 1024 * 70 + 5):
                for name in NAMES:
                    g = torch.Generator().manual_seed(numel)
                    x, y, kwargs = make_inputs(name, numel, dtype, device, g)
                    for reduction in ("none", kwargs["reduction"], "sum"):
                        xg = x.detach().requires_grad_(True)
                        loss = getattr(LF, name)(xg, y, reduction=reduction, backend=backend)
                        loss.sum().backward()
                        xr = x.detach().double().cpu().requires_grad_(True)
                        ref = getattr(LF, name)(xr, y.double().cpu(), reduction=reduction,
                                                backend="reference")  # fmt: skip
                        ref.sum().backward()
                        tol = 1e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-4
                        # The exact value rounded once to dtype (a float16 sum may be inf).
                        ref = ref.to(dtype).double()
                        ok = torch.allclose(loss.double().cpu(), ref, rtol=tol, atol=tol,
                                            equal_nan=True) and torch.allclose(
                            xg.grad.double().cpu(), xr.grad, rtol=tol, atol=tol, equal_nan=True
                        )  # fmt: skip
                        if not ok:
                            bad += 1
                            print("MISMATCH", backend, dtype, numel, name, reduction)
    if device == "cuda":
        torch.cuda.synchronize()
    print(f"gpu_smoke: {bad} mismatches over backends {backends}")
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
