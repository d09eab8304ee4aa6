# SPDX-License-Identifier: Apache-2.0
"""The kernel benchmark (python -m benchmarks): its timer, its memory measurement, its allocator
conditions and its records."""

import json
import os
import subprocess
import sys
import time

import pytest
import torch

import losses_ext.functional as LF
from benchmarks.__main__ import Timer, _thp_mode, peak_extra_bytes, step
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
            "transparent_hugepage", "THP_MEM_ALLOC_ENABLE", "allocator"}  # fmt: skip
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
        assert r["allocator"] == "reuse"
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


FAULTS_OF_FIVE_FRESH_TENSORS = """
import resource, sys, torch
from benchmarks.__main__ import keep_freed_memory
if sys.argv[1] == "reuse":
    assert keep_freed_memory()
for _ in range(10):
    torch.empty(1 << 24).fill_(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    torch.empty(1 << 24).fill_(1)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.parametrize("allocator", ["reuse", "fresh"])
def test_allocator_conditions(allocator):
    """'reuse': a 64 MiB tensor made and written five times after a warm-up (glibc's heap takes a
    few rounds to settle) faults in fewer pages than one such tensor has; 'fresh': each time, its
    16,384 pages of 4 KiB fault again."""
    out = subprocess.run(
        [sys.executable, "-c", FAULTS_OF_FIVE_FRESH_TENSORS, allocator],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    faults = int(out.stdout.split()[-1])
    if allocator == "reuse":
        assert faults < 16384
        return
    if _thp_mode() == "always" or os.environ.get("THP_MEM_ALLOC_ENABLE", "0") != "0":
        pytest.skip("huge pages back fresh memory here: a fault maps 2 MiB, not 4 KiB")
    assert faults >= 5 * 16384 * 0.9
