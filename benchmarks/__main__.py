# SPDX-License-Identifier: Apache-2.0
"""Forward+backward time of the fused CPU kernels next to eager PyTorch.

    python -m benchmarks [--numel N] [--repeats R] [--json PATH]

For each element-wise loss at N float32 elements: median and 20th/80th percentile milliseconds of
loss = f(input, target); loss.backward(), after warm-up, both implementations measured side by
side in one run on the same tensors. The speed-up column is eager median / fused median.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
from tabulate import tabulate
from tqdm import tqdm

import losses_ext
import losses_ext.functional as LF

from .eager import EAGER


def make_inputs(name: str, numel: int, g: torch.Generator):
    x = torch.randn(numel, generator=g) * 3
    y = torch.rand(numel, generator=g)
    kwargs = {"reduction": "mean"}
    if name == "binary_cross_entropy":
        x = torch.rand(numel, generator=g) * 0.98 + 0.01
    elif name == "kl_div":
        x = torch.log_softmax(x.view(-1, 1024), dim=-1).view(-1)
        y = torch.softmax(torch.randn(numel, generator=g).view(-1, 1024), dim=-1).view(-1)
        kwargs["reduction"] = "batchmean"
    elif name in ("hinge_embedding_loss", "hinge_loss"):
        y = (torch.rand(numel, generator=g) < 0.5).float() * 2 - 1
    elif name in ("log_cosh_loss", "mse_loss"):
        y = torch.randn(numel, generator=g) * 3
    return x, y, kwargs


def time_fwd_bwd(fn, x, y, kwargs, repeats: int, warmup: int = 3):
    times = []
    for i in range(warmup + repeats):
        xi = x.detach().requires_grad_(True)
        start = time.perf_counter()
        fn(xi, y, **kwargs).backward()
        elapsed = time.perf_counter() - start
        if i >= warmup:
            times.append(elapsed * 1e3)
    q = statistics.quantiles(times, n=10)
    return statistics.median(times), q[1], q[7]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numel", type=int, default=2**20)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", metavar="PATH", help="write the records as JSON")
    args = parser.parse_args(argv)

    env = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": losses_ext.cpu_capability(),
    }
    print(", ".join(f"{k} {v}" for k, v in env.items()))
    g = torch.Generator().manual_seed(0)
    records, rows = [], []
    for name in tqdm(list(EAGER), desc="losses", leave=False):
        x, y, kwargs = make_inputs(name, args.numel, g)
        results = {}
        for impl, fn in (("fused-cpu", getattr(LF, name)), ("eager", EAGER[name])):
            median, p20, p80 = time_fwd_bwd(fn, x, y, kwargs, args.repeats)
            results[impl] = median
            records.append(
                {
                    "loss": name,
                    "impl": impl,
                    "device": "cpu",
                    "dtype": "float32",
                    "numel": args.numel,
                    "pass": "fwd+bwd",
                    "median_ms": median,
                    "p20_ms": p20,
                    "p80_ms": p80,
                    **env,
                }
            )
            rows.append([name, impl, f"{median:.3f}", f"{p20:.3f}", f"{p80:.3f}"])
        rows[-2].append(f"{results['eager'] / results['fused-cpu']:.2f}x")
        rows[-1].append("")
    print(f"forward+backward, float32, {args.numel} elements, CPU")
    print(
        tabulate(
            rows, headers=["loss", "impl", "median ms", "p20 ms", "p80 ms", "speed-up vs eager"]
        )
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
