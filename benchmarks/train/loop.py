# SPDX-License-Identifier: Apache-2.0
"""One training run of a scenario, with the fused losses or with eager PyTorch's.

Both runs start from the same seed (the same initial weights and the same batch order) with
deterministic algorithms on, so any difference between them comes from the loss. The loss is
timed on its own each step: the model's output is detached, the loss and its backward run on
that leaf, and the gradient it receives is then pushed through the model.

Under torch.distributed, each of the world's processes takes an equal slice of every batch;
DistributedDataParallel averages the gradients, which equals the gradient of the whole batch's
mean loss, so a run on several processes follows the one-process run.
"""

from __future__ import annotations

import statistics
import time
import types
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist

import losses_ext.functional as LF

from ..eager import EAGER
from .scenarios import Scenario

SEED = 0
LOSSES = {"fused": LF, "eager": types.SimpleNamespace(**EAGER)}


@dataclass
class Run:
    curve: list[float]  # the loss of every step, averaged over the processes
    metrics: dict[str, float]
    loss_ms: float  # median time per step in the loss's forward and backward


def steps_per_epoch(scenario: Scenario) -> int:
    return len(scenario.data()) // scenario.batch_size


def _to(part: dict, device) -> dict:
    return {k: v.to(device) for k, v in part.items()}


def train(
    scenario: Scenario,
    impl: str,
    epochs: int,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> Run:
    """Trains `scenario` with the 'fused' or 'eager' losses. In a torch.distributed process
    group the model is wrapped in DistributedDataParallel and every process must call this; the
    metrics are computed on each process from the same weights."""
    F = LOSSES[impl]
    split = scenario.data()
    train_set, test_set = _to(split.train, device), _to(split.test, device)
    distributed = dist.is_available() and dist.is_initialized()
    rank, world_size = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    if scenario.batch_size % world_size:
        raise ValueError(f"batch size {scenario.batch_size} does not split over {world_size}")

    torch.manual_seed(SEED)
    model = scenario.model().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=scenario.lr)
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(model)
    order = torch.Generator().manual_seed(SEED)
    curve, times = [], []
    for _ in range(epochs):
        # Whole batches only, so every process gets an equal share of each.
        batches = torch.randperm(len(split), generator=order).split(scenario.batch_size)
        for idx in batches[: steps_per_epoch(scenario)]:
            mine = idx.chunk(world_size)[rank].to(device)
            batch = {k: v[mine] for k, v in train_set.items()}
            out = scenario.forward(model, batch)

            z = out.detach().requires_grad_(True)
            if device != "cpu":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            loss = scenario.loss_fn(F, z, batch)
            loss.backward()
            if device != "cpu":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - t0) * 1e3)

            optimizer.zero_grad(set_to_none=True)
            out.backward(z.grad)
            optimizer.step()
            value = loss.detach().float()
            if distributed:
                dist.all_reduce(value)
                value /= world_size
            curve.append(value.item())
            if progress:
                progress(1)
    module = model.module if distributed else model
    return Run(curve, scenario.evaluate(module, test_set), statistics.median(times))


def max_relative_gap(a: list[float], b: list[float]) -> float:
    """Largest |a - b| / max(|a|, |b|) over two loss curves of the same length."""
    if len(a) != len(b):
        raise ValueError(f"curves of different lengths: {len(a)} and {len(b)}")
    gaps = [abs(x - y) / max(abs(x), abs(y)) for x, y in zip(a, b, strict=True) if x != y]
    return max(gaps, default=0.0)
