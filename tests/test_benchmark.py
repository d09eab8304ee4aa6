# SPDX-License-Identifier: Apache-2.0
"""The kernel benchmark (python -m benchmarks): its memory measurement and its records; and the
fused CPU ops on outputs large enough to be advised for huge pages."""

import json
import os
import subprocess
import sys
import time

import pytest
import torch

import losses_ext.functional as LF
from benchmarks.__main__ import Timer, peak_extra_bytes, step
from benchmarks.eager import EAGER

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_cpu_peak_memory_counts_the_allocations_of_one_call():
    n = 1 << 16
    x, y = torch.randn(n), torch.rand(n)
    fused = peak_extra_bytes(step(LF.mse_loss, x, y, {}, backward=True), "cpu")
    # The fused call holds its gradient (and a few scalars) at its peak.
    assert 4 * n <= fused <= 4 * n + 1024
    # torchvision's focal formula keeps several element-wise temporaries alive at once.
    eager = peak_extra_bytes(
        step(EAGER["sigmoid_focal_loss"], x, y, {"reduction": "mean"}, backward=True), "cpu"
    )
    assert eager >= 4 * (4 * n)


def test_time_budget_times_slow_calls_fewer_times():
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.02)

    median, p20, p80, timed = Timer("cpu", budget_ms=100)(slow, repeats=20, warmup=2)
    assert timed == Timer.MIN_REPEATS and len(calls) == 2 + Timer.MIN_REPEATS
    assert 20 <= p20 <= median <= p80
    # A fast call, or no budget at all: every repeat is timed.
    assert Timer("cpu", budget_ms=100)(lambda: None, repeats=20, warmup=2)[3] == 20
    assert Timer("cpu")(slow, repeats=9, warmup=1)[3] == 9
    # Within the budget: as many as it affords, between the minimum and the repeats asked for.
    assert Timer.MIN_REPEATS < Timer("cpu", budget_ms=350)(slow, repeats=20, warmup=2)[3] < 20


def test_large_outputs_are_written_in_full():
    """Outputs of 32 MiB and more take the huge-page path of the CPU ops; an odd size puts the
    end of the tensor off a 2 MiB boundary."""
    n = (32 << 20) // 4 + 3
    x = torch.randn(n, dtype=torch.float32, requires_grad=True)
    y = torch.randn(n, dtype=torch.float32)
    loss = LF.mse_loss(x, y, reduction="none", backend="cpu")
    torch.testing.assert_close(loss, (x.detach() - y) ** 2)
    loss.sum().backward()
    torch.testing.assert_close(x.grad, 2 * (x.detach() - y))


def test_command_line_records(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--sizes", "12", "--losses", "mse_loss", "kl_div",
         "--impls", "fused-cpu", "eager", "--repeats", "3", "--warmup", "1", "--json", str(out),
         "--plot", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "profiler_start" not in result.stderr  # the profiler's log lines are kept quiet
    records = json.loads(out.read_text())
    keys = {"loss", "impl", "device", "dtype", "numel", "pass", "median_ms", "p20_ms", "p80_ms",
            "gbps", "floor_ms", "peak_extra_bytes", "runs", "threads", "torch",
            "transparent_hugepage", "LOSSES_EXT_HUGE_PAGES", "THP_MEM_ALLOC_ENABLE"}  # fmt: skip
    assert all(keys <= set(r) for r in records)
    assert {(r["loss"], r["impl"], r["pass"], r["dtype"]) for r in records} == {
        (loss, impl, p, d)
        for loss in ("mse_loss", "kl_div")
        for impl in ("fused-cpu", "eager")
        for p in ("fwd", "fwd+bwd")
        for d in ("float32", "bfloat16")
    }
    for r in records:
        assert r["numel"] == 1 << 12 and r["median_ms"] > 0 and r["runs"] == 3
        assert (r["peak_extra_bytes"] is None) == (r["pass"] == "fwd")
    assert (tmp_path / "speedup.png").exists()


def test_every_compile_row_is_compiled(tmp_path):
    """More torch.nn.functional losses than dynamo's recompile limit (8): each must still be
    compiled (the benchmark stops if torch.compile makes no graph)."""
    out = tmp_path / "bench.json"
    losses = ["binary_cross_entropy_with_logits", "binary_cross_entropy", "kl_div", "mse_loss",
              "hinge_embedding_loss"]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--sizes", "8", "10", "--losses", *losses,
         "--impls", "compile", "--passes", "fwd", "--dtypes", "float32", "--repeats", "2",
         "--warmup", "0", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "recompile_limit" not in result.stderr
    records = json.loads(out.read_text())
    assert len(records) == 10 and all(r["compile_s"] > 0 for r in records)


def _anon_huge_kb(address: int) -> int:
    """AnonHugePages of the mapping that holds `address`, from /proc/self/smaps."""
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            first = line.split()[0]
            if "-" in first and ":" not in first:
                start, end = (int(v, 16) for v in first.split("-"))
                inside = start <= address < end
            elif inside and first == "AnonHugePages:":
                return int(line.split()[1])
    raise AssertionError("address not mapped")


THP_MADVISE = os.path.exists("/sys/kernel/mm/transparent_hugepage/enabled") and "[madvise]" in (
    open("/sys/kernel/mm/transparent_hugepage/enabled").read()
)


@pytest.mark.skipif(not THP_MADVISE, reason="transparent huge pages are not in 'madvise' mode")
def test_large_outputs_get_huge_pages_unless_turned_off():
    code = (
        "import torch, losses_ext.functional as LF, test_benchmark as t\n"
        "x = torch.randn(1 << 24, requires_grad=True)\n"
        "LF.mse_loss(x, torch.randn(1 << 24)).backward()\n"
        "print(t._anon_huge_kb(x.grad.data_ptr() + (8 << 20)))\n"
    )
    tests = os.path.dirname(os.path.abspath(__file__))
    path = os.pathsep.join([tests, ROOT, os.environ.get("PYTHONPATH", "")])
    kb = {}
    for setting in ("1", "0"):
        env = dict(os.environ, LOSSES_EXT_HUGE_PAGES=setting, PYTHONPATH=path)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=120, check=True)  # fmt: skip
        kb[setting] = int(out.stdout.split()[-1])
    assert kb["1"] >= 2048  # at least one 2 MiB page backs the gradient
    assert kb["0"] == 0
