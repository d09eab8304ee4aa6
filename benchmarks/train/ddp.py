# SPDX-License-Identifier: Apache-2.0
"""A scenario under torch.distributed DistributedDataParallel.

`launch()` starts the processes on this machine (gloo, one thread each) and returns what rank 0
measured. Under torchrun, the same training runs on as many processes and machines as torchrun
starts, NCCL on GPUs and gloo otherwise:

    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m benchmarks.train.ddp [--scenario multiclass/cross_entropy] [--epochs N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from .loop import Run, train
from .scenarios import BY_KEY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world_size, port, key: str, impl: str, epochs: int, device: str, out: str):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        run = train(BY_KEY[key], impl, epochs, device=device)
        if rank == 0:
            with open(out, "w") as f:
                json.dump(dataclasses.asdict(run), f)
    finally:
        dist.destroy_process_group()


def launch(key: str, impl: str, epochs: int, world_size: int = 2, device: str = "cpu") -> Run:
    """Trains scenario `key` on `world_size` local processes over gloo, all on `device` (on a
    single GPU they share it; gloo reduces CUDA tensors too)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run.json")
        args = (world_size, _free_port(), key, impl, epochs, device, out)
        mp.start_processes(_worker, args=args, nprocs=world_size, start_method="spawn")
        with open(out) as f:
            return Run(**json.load(f))


def main(argv=None):
    """Entry point under torchrun, which sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous."""
    parser = argparse.ArgumentParser(
        prog="torchrun ... -m benchmarks.train.ddp",
        description="one scenario under DDP, fused and eager",
    )
    parser.add_argument("--scenario", default="multiclass/cross_entropy", choices=list(BY_KEY))
    parser.add_argument("--epochs", type=int, help="default: the scenario's full run")
    args = parser.parse_args(argv)
    scenario = BY_KEY[args.scenario]
    epochs = args.epochs or scenario.epochs[1]
    if torch.cuda.is_available():
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        torch.cuda.set_device(device)
    else:
        device = "cpu"
    torch.use_deterministic_algorithms(True)
    dist.init_process_group("nccl" if device != "cpu" else "gloo")
    try:
        for impl in ("fused", "eager"):
            run = train(scenario, impl, epochs, device=device)
            if dist.get_rank() == 0:
                print(f"{scenario.key} {impl} world_size={dist.get_world_size()} "
                      f"final loss {run.curve[-1]:.6f} {run.metrics}")  # fmt: skip
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
