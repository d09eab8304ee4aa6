# SPDX-License-Identifier: Apache-2.0
"""Speed of the fused losses next to eager PyTorch and torch.compile of the eager code.

    python -m benchmarks [--quick] [--device cpu|cuda] [--sizes 16 20 24]
                         [--ce-shapes 8192x2048] [--dtypes float32 bfloat16]
                         [--passes fwd fwd+bwd] [--impls ...] [--losses ...]
                         [--allocator reuse|fresh] [--budget-s S] [--json PATH] [--plot DIR]

For each loss, implementation, size and dtype (cross_entropy: each rows x classes shape, with
class-index targets): median and 20th/80th percentile milliseconds
after warm-up, all implementations measured side by side in one run on the same tensors.
Implementations: fused-cpu, fused-cuda, fused-triton (our kernels), eager (torch.nn.functional,
torchvision's focal formula, a stable log-cosh composite) and compile (torch.compile of the eager
code; compile time is not in the timings). 'fwd' times the loss alone, 'fwd+bwd' the loss and
loss.backward().

The floor is the time a perfect fused kernel needs to move its bytes (read input and target once,
write the gradient once for fwd+bwd) at the copy bandwidth measured in the same run; every row
shows its GB/s (floor bytes / time) and its multiple of that floor. Forward+backward rows also
show the peak memory of one call above what was allocated before it, in units of one input
tensor (CUDA: the caching allocator's peak; CPU: the profiler's allocation events).

CPU memory (--allocator), the same for every implementation:
  reuse (default)  glibc keeps freed memory in the heap (mallopt: no mmap, no trimming), so each
                   call reuses the pages of the one before, as a caching allocator would; the
                   timings are the kernels' own.
  fresh            glibc as it comes: every tensor of 32 MiB or more is a new mapping, and each
                   of its 4 KiB pages faults and is zeroed on first write, in every call.
PyTorch's own THP_MEM_ALLOC_ENABLE=1 (transparent huge pages for its CPU allocations) applies to
every implementation too; the records note it.

--quick: 2**20 and 2**24 float32 elements (cross_entropy 8192x2048 and 256x32768), forward+
backward, every loss and implementation; under 3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import platform
import statistics
import time

import torch
import torch._dynamo
from tabulate import tabulate
from torch._C._profiler import _EventType
from torch._dynamo.utils import counters
from torch.profiler import ProfilerActivity
from tqdm import tqdm

import losses_ext
import losses_ext.functional as LF

from .eager import EAGER

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def make_inputs(name: str, numel: int, dtype, device, g: torch.Generator, shape=None):
    """Inputs from each loss's own domain, made on the CPU from a seed, then moved."""
    if name == "cross_entropy":
        rows, n_classes = shape
        x = torch.randn(rows, n_classes, generator=g) * 3
        t = torch.randint(0, n_classes, (rows,), generator=g)
        return x.to(device, dtype), t.to(device), {"reduction": "mean"}
    x = torch.randn(numel, generator=g) * 3
    y = torch.rand(numel, generator=g)
    kwargs = {"reduction": "mean"}
    if name == "binary_cross_entropy":
        x = torch.rand(numel, generator=g) * 0.98 + 0.01
    elif name == "kl_div":
        # Rows of 1024 (or one row): log-probabilities against probabilities.
        cols = 1024 if numel % 1024 == 0 else numel
        x = torch.log_softmax(x.view(-1, cols), dim=-1).view(-1)
        y = torch.softmax(torch.randn(numel, generator=g).view(-1, cols), dim=-1).view(-1)
        kwargs["reduction"] = "batchmean"
    elif name in ("hinge_embedding_loss", "hinge_loss"):
        y = (torch.rand(numel, generator=g) < 0.5).float() * 2 - 1
    elif name in ("log_cosh_loss", "mse_loss"):
        y = torch.randn(numel, generator=g) * 3
    return x.to(device, dtype), y.to(device, dtype), kwargs


def _compiled(name: str):
    """torch.compile of the eager loss, from an empty compile cache. Dynamo traces every
    torch.nn.functional loss through one shared wrapper frame, whose limit of 8 recompilations
    would otherwise leave the 9th loss and later silently running eager."""
    torch._dynamo.reset()
    return torch.compile(EAGER[name], dynamic=False)


def _graphs_compiled() -> int:
    return counters["stats"]["unique_graphs"]


def implementations(device: str, wanted):
    impls = {}
    if device == "cpu":
        impls["fused-cpu"] = lambda name: lambda *a, **k: getattr(LF, name)(*a, **k, backend="cpu")
    else:
        if losses_ext._ops.cuda_kernels_available():
            impls["fused-cuda"] = lambda name: (
                lambda *a, **k: getattr(LF, name)(*a, **k, backend="cuda")
            )
        if losses_ext._ops.triton_available():
            impls["fused-triton"] = lambda name: (
                lambda *a, **k: getattr(LF, name)(*a, **k, backend="triton")
            )
    impls["eager"] = lambda name: EAGER[name]
    impls["compile"] = _compiled
    return {k: v for k, v in impls.items() if not wanted or k in wanted}


class Timer:
    """Wall-clock timing on the CPU, CUDA events on the GPU.

    With a budget, a call slower than budget_ms / repeats is timed fewer times (never fewer
    than MIN_REPEATS), judged by the median warm-up call: eager's slowest losses at 2**24 take
    about a second a call, and twenty of them would be a third of a --quick run."""

    MIN_REPEATS = 7

    def __init__(self, device: str, budget_ms: float | None = None):
        self.cuda = device == "cuda"
        self.budget_ms = budget_ms

    def once(self, fn) -> float:
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end)
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3

    def __call__(self, fn, repeats: int, warmup: int):
        """(median, 20th percentile, 80th percentile, number of timed calls) in ms."""
        warm = [self.once(fn) for _ in range(warmup)]
        if self.budget_ms is not None and warm:
            affordable = int(self.budget_ms / statistics.median(warm))
            repeats = max(min(repeats, self.MIN_REPEATS), min(repeats, affordable))
        times = [self.once(fn) for _ in range(repeats)]
        q = statistics.quantiles(times, n=10) if len(times) > 1 else times * 9
        return statistics.median(times), q[1], q[7], len(times)


def copy_bandwidth(numel: int, dtype, device: str, timer: Timer, repeats: int) -> float:
    """Bytes per millisecond of dst.copy_(src) (read + write), measured now."""
    src = torch.ones(numel, dtype=dtype, device=device)
    dst = torch.empty_like(src)
    median, *_ = timer(lambda: dst.copy_(src), repeats, 3)
    return 2 * numel * src.element_size() / median


class step:
    """One timed call: the loss, and loss.backward() for 'fwd+bwd'. reset() drops the previous
    call's gradient, so that memory is not counted as in use before the next call."""

    def __init__(self, fn, x, y, kwargs, backward: bool):
        self.fn, self.y, self.kwargs, self.backward = fn, y, kwargs, backward
        self.x = x.detach().requires_grad_(True) if backward else x

    def reset(self):
        self.x.grad = None

    def __call__(self):
        self.reset()
        loss = self.fn(self.x, self.y, **self.kwargs)
        if self.backward:
            loss.backward()


def peak_extra_bytes(run, device: str):
    """Peak memory of run() above what was in use before it. On CUDA the caching allocator's
    peak; on the CPU, the allocation events the profiler records from the CPU allocator, summed
    in time order (the process's resident set can't tell: glibc reuses freed blocks)."""
    run.reset()
    if device == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    with torch.profiler.profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    allocations, stack = [], list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        event = stack.pop()
        stack.extend(event.children)
        if event.tag == _EventType.Allocation and event.extra_fields.device.type == "cpu":
            allocations.append((event.start_time_ns, event.extra_fields.alloc_size))
    in_use = peak = 0
    for _, size in sorted(allocations):
        in_use += size
        peak = max(peak, in_use)
    return peak


def plot(records, directory: str):
    """speedup.png: best fused implementation over eager and over compile, per loss, against
    size (forward+backward, first dtype)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if r["pass"] == "fwd+bwd"]
    if not rows:
        return
    dtype = rows[0]["dtype"]
    losses = sorted({r["loss"] for r in rows})
    cols = 3
    n_rows = (len(losses) + cols - 1) // cols
    fig, axes = plt.subplots(n_rows, cols, squeeze=False, figsize=(4.2 * cols, 3.2 * n_rows))
    for ax, loss in zip(axes.flat, losses, strict=False):
        by_size = {}
        for r in rows:
            if r["loss"] == loss and r["dtype"] == dtype:
                by_size.setdefault(r["numel"], {})[r["impl"]] = r["median_ms"]
        sizes = sorted(by_size)
        for base, style in (("eager", "o-"), ("compile", "s--")):
            xs, ys = [], []
            for n in sizes:
                fused = [v for k, v in by_size[n].items() if k.startswith("fused")]
                if fused and base in by_size[n]:
                    xs.append(n)
                    ys.append(by_size[n][base] / min(fused))
            if xs:
                ax.plot(xs, ys, style, label=f"vs {base}")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(loss, fontsize=9)
        ax.set_xlabel("elements")
        ax.set_ylabel("speed-up (x)")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(losses) :]:
        ax.axis("off")
    device = rows[0]["device"]
    fig.suptitle(f"fused forward+backward speed-up, {device}, {dtype}")
    fig.tight_layout()
    os.makedirs(directory, exist_ok=True)
    fig.savefig(os.path.join(directory, "speedup.png"), dpi=110)
    plt.close(fig)


def keep_freed_memory() -> bool:
    """Makes glibc serve every allocation from its heap and never give freed memory back to the
    kernel, so a freed tensor's pages, already faulted in, serve the next allocation. For the
    whole process, from now on. False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's <malloc.h>
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


def _thp_mode() -> str:
    """The kernel's transparent huge page mode ('always', 'madvise', 'never'), or 'n/a'."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return f.read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        return "n/a"


def main(argv=None):
    # The profiler behind the CPU peak memory logs every start and stop, and on a machine
    # without a GPU an error about it, to stderr; level 6 keeps it quiet.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="2**20 and 2**24 float32, fwd+bwd")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--sizes", type=int, nargs="+", help="log2 of numel")
    parser.add_argument("--dtypes", nargs="+", choices=list(DTYPES))
    parser.add_argument("--passes", nargs="+", choices=["fwd", "fwd+bwd"])
    parser.add_argument("--impls", nargs="+", help="default: every one available")
    parser.add_argument("--ce-shapes", nargs="+", default=["8192x2048", "256x32768"],
                        help="rows x classes of the cross_entropy rows")  # fmt: skip
    parser.add_argument("--losses", nargs="+", default=list(EAGER), choices=list(EAGER))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--budget-s", type=float,
                        help="time slow calls fewer times (at least 7) to stay near this many "
                             "seconds per row and implementation (--quick: 2)")  # fmt: skip
    parser.add_argument("--allocator", choices=["reuse", "fresh"], default="reuse",
                        help="CPU memory for every implementation: freed memory reused "
                             "(default), or glibc's fresh mappings")  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="write the records as JSON")
    parser.add_argument("--plot", metavar="DIR", help="write speedup.png into DIR")
    args = parser.parse_args(argv)
    if args.allocator == "reuse" and not keep_freed_memory():
        print("--allocator reuse needs glibc's mallopt; measuring with fresh memory instead")
        args.allocator = "fresh"
    gpu = args.device == "cuda"
    if args.sizes is None:
        args.sizes = [20, 24] if args.quick else ([20, 24, 28] if gpu else [16, 20, 24])
    if args.dtypes is None:
        args.dtypes = ["float32"] if args.quick else ["float32", "bfloat16"]
    if args.passes is None:
        args.passes = ["fwd+bwd"] if args.quick else ["fwd", "fwd+bwd"]
    if args.budget_s is None and args.quick:
        args.budget_s = 2.0

    device = args.device
    env = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": losses_ext.cpu_capability(),
        "allocator": args.allocator,
        "transparent_hugepage": _thp_mode(),
        "THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE", "0"),
    }
    if device == "cuda":
        import triton

        env.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda,
                   triton=triton.__version__)  # fmt: skip
    print(", ".join(f"{k} {v}" for k, v in env.items()))
    impls = implementations(device, args.impls)
    timer = Timer(device, None if args.budget_s is None else args.budget_s * 1e3)
    records, rows = [], []
    ce_shapes = [tuple(int(v) for v in shape.split("x")) for shape in args.ce_shapes]
    jobs = [(s, d, p, n, None) for s in args.sizes for d in args.dtypes for p in args.passes
            for n in args.losses if n != "cross_entropy"]  # fmt: skip
    if "cross_entropy" in args.losses:
        jobs += [(None, d, p, "cross_entropy", shape) for shape in ce_shapes
                 for d in args.dtypes for p in args.passes]  # fmt: skip
    bandwidth = {}
    for log2, dtype_name, pass_name, name, shape in tqdm(jobs, desc="benchmark", leave=False):
        numel = shape[0] * shape[1] if shape else 2**log2
        dtype = DTYPES[dtype_name]
        size_label = f"{shape[0]}x{shape[1]}" if shape else f"2^{log2}"
        if (numel, dtype) not in bandwidth:
            bandwidth[numel, dtype] = copy_bandwidth(numel, dtype, device, timer, args.repeats)
        g = torch.Generator().manual_seed(0)
        x, y, kwargs = make_inputs(name, numel, dtype, device, g, shape)
        backward = pass_name == "fwd+bwd"
        # Read input and target once, write the gradient once.
        floor_bytes = (2 if backward else 1) * x.numel() * x.element_size()
        floor_bytes += y.numel() * y.element_size()
        floor_ms = floor_bytes / bandwidth[numel, dtype]
        medians = {}
        for impl, make in impls.items():
            run = step(make(name), x, y, kwargs, backward)
            graphs_before = _graphs_compiled()
            t0 = time.perf_counter()
            run()  # compiles for 'compile'; its time is reported apart, not in the timings
            first_call_s = time.perf_counter() - t0
            if impl == "compile" and _graphs_compiled() == graphs_before:
                raise RuntimeError(f"torch.compile made no graph for {name}; 'compile' would "
                                   "time eager code")  # fmt: skip
            median, p20, p80, timed = timer(run, args.repeats, args.warmup)
            medians[impl] = median
            peak = peak_extra_bytes(run, device) if backward else None
            records.append({
                "loss": name, "impl": impl, "device": device, "dtype": dtype_name,
                "numel": numel, "pass": pass_name, "median_ms": median, "p20_ms": p20,
                "p80_ms": p80, "gbps": floor_bytes / median / 1e6, "floor_ms": floor_ms,
                "peak_extra_bytes": peak, "runs": timed,
                "compile_s": first_call_s if impl == "compile" else None, **env,
            })  # fmt: skip
            peak_units = "" if peak is None else f"{peak / (numel * x.element_size()):.2f}"
            rows.append([name, size_label, dtype_name, pass_name, impl, f"{median:.3f}",
                         f"{p20:.3f}-{p80:.3f}", timed, f"{floor_bytes / median / 1e6:.1f}",
                         f"{median / floor_ms:.1f}", peak_units])  # fmt: skip
        ours = [m for k, m in medians.items() if k.startswith("fused")]
        for row in rows[-len(impls) :]:
            extra = []
            for base in ("eager", "compile"):
                if ours and base in medians:
                    extra.append(f"{medians[base] / min(ours):.2f}x")
                else:
                    extra.append("")
            row += extra if row[4] == "eager" else ["", ""]
    print(
        f"median ms of 'runs' timed calls after {args.warmup} warm-up calls; GB/s = floor bytes / "
        "median; x floor = median / floor; speed-ups (best fused vs eager, vs compile) on the "
        "eager row"
    )
    print(tabulate(rows, headers=["loss", "numel", "dtype", "pass", "impl", "median ms",
                                  "p20-p80", "runs", "GB/s", "x floor", "peak/input",
                                  "fused vs eager", "fused vs compile"]))  # fmt: skip
    compiles = [(r["loss"], r["numel"], r["compile_s"]) for r in records if r["compile_s"]]
    if compiles:
        total = sum(c for _, _, c in compiles)
        print(f"torch.compile: {len(compiles)} compilations, {total:.1f} s in all (first call, "
              "not in the timings)")  # fmt: skip
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    if args.plot:
        plot(records, args.plot)


if __name__ == "__main__":
    main()
