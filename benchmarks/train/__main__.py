# SPDX-License-Identifier: Apache-2.0
"""Training on real data, with the fused losses and with eager PyTorch's, side by side.

    python -m benchmarks.train [--quick] [--scenarios KEY ...] [--world-size N | --no-ddp]
                               [--device cpu|cuda] [--json PATH] [--plot DIR]

Small models learn from the data sets that ship inside scikit-learn (nothing is downloaded):
each scenario trains twice from the same seed, once with losses_ext.functional (backend 'auto')
and once with the eager formulation, and the two are compared: test metric, the largest
relative gap between the two per-step loss curves, and the median time per step spent in the
loss (its forward and backward). The multi-class scenario runs again under
DistributedDataParallel on 2 local processes (gloo), and is compared with the one-process run.

The runs must agree: metrics within 0.02 and loss curves within 1e-3 relative; otherwise the
command says which do not and exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics

import torch
from tabulate import tabulate
from tqdm import tqdm

from . import ddp
from .loop import max_relative_gap, steps_per_epoch, train
from .scenarios import BY_KEY, SCENARIOS

METRIC_TOLERANCE = 0.02
CURVE_TOLERANCE = 1e-3
DDP_SCENARIO = "multiclass/cross_entropy"


def compare(scenario, fused, eager, world_size: int) -> list[dict]:
    """One record per metric of the scenario."""
    gap = max_relative_gap(fused.curve, eager.curve)
    return [
        {
            "scenario": scenario.name,
            "loss": scenario.loss,
            "dataset": scenario.dataset,
            "metric": metric,
            "fused": fused.metrics[metric],
            "eager": eager.metrics[metric],
            "max_curve_rel_diff": gap,
            "fused_loss_ms": fused.loss_ms,
            "eager_loss_ms": eager.loss_ms,
            "world_size": world_size,
        }  # fmt: skip
        for metric in fused.metrics
    ]


def disagreements(label: str, a, b, names=("fused", "eager")) -> list[str]:
    """What breaks the agreement between two runs, in words; empty when they agree."""
    bad = []
    for metric, value in a.metrics.items():
        if not abs(value - b.metrics[metric]) <= METRIC_TOLERANCE:
            bad.append(f"{label} {metric}: {names[0]} {value:.4f}, "
                       f"{names[1]} {b.metrics[metric]:.4f}")  # fmt: skip
    gap = max_relative_gap(a.curve, b.curve)
    if not gap <= CURVE_TOLERANCE:
        bad.append(f"{label}: loss curves differ by {gap:.2e}")
    return bad


def _per_epoch(values: list[float], n: int, reduce) -> list[float]:
    return [reduce(values[k : k + n]) for k in range(0, len(values), n)]


def plot(curves: dict, path: str):
    """One panel per pair of runs: each run's mean training loss per epoch, and the largest
    relative gap between the two runs' losses on any step of the epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    rows = (len(curves) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, squeeze=False, figsize=(4.4 * cols, 3.2 * rows))
    for ax, (title, (fused, eager, n)) in zip(axes.flat, curves.items(), strict=False):
        epochs = range(1, len(fused) // n + 1)
        ax.plot(epochs, _per_epoch(eager, n, statistics.fmean), color="tab:blue", linewidth=3,
                alpha=0.45, label="eager")  # fmt: skip
        ax.plot(epochs, _per_epoch(fused, n, statistics.fmean), color="tab:orange", linewidth=1,
                label="fused")  # fmt: skip
        ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("mean training loss")
        gap_ax = ax.twinx()
        gaps = [max_relative_gap([a], [b]) for a, b in zip(fused, eager, strict=True)]
        gap_ax.plot(epochs, [max(g, 1e-10) for g in _per_epoch(gaps, n, max)], color="grey",
                    linewidth=0.8, linestyle="--")  # fmt: skip
        gap_ax.axhline(CURVE_TOLERANCE, color="red", linewidth=0.6)
        gap_ax.set_yscale("log")
        gap_ax.set_ylim(1e-10, 1e-1)
        gap_ax.set_ylabel("largest step gap (grey), bound (red)", fontsize=7)
        ax.legend(fontsize=7, loc="upper right")
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    fig.suptitle("training loss, fused vs eager, and the relative gap between the two runs")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer epochs; under 3 minutes")
    parser.add_argument("--scenarios", nargs="+", choices=list(BY_KEY), default=list(BY_KEY),
                        metavar="KEY", help="from: " + ", ".join(BY_KEY))  # fmt: skip
    parser.add_argument("--epochs", type=int, help="the same number of epochs for every run")
    parser.add_argument("--world-size", type=int, default=2, help="processes of the DDP run")
    parser.add_argument("--no-ddp", action="store_true", help="skip the DDP run")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where to train (default: cuda when there is a GPU)")  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="write the records as JSON")
    parser.add_argument("--plot", metavar="DIR", help="write train_curves.png into DIR")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)

    print(f"platform {platform.platform()}, python {platform.python_version()}, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"device {args.device}")  # fmt: skip
    scenarios = [s for s in SCENARIOS if s.key in args.scenarios]
    run_ddp = not args.no_ddp and DDP_SCENARIO in args.scenarios and args.world_size > 1

    def epochs(s):
        return args.epochs or s.epochs[0 if args.quick else 1]

    total = sum(2 * epochs(s) * steps_per_epoch(s) for s in scenarios)
    total += 2 * epochs(BY_KEY[DDP_SCENARIO]) * steps_per_epoch(BY_KEY[DDP_SCENARIO]) * run_ddp
    records, curves, bad, notes = [], {}, [], []
    with tqdm(total=total, desc="training", unit="step", leave=False) as bar:
        for s in scenarios:
            bar.set_postfix_str(s.key)
            runs = {impl: train(s, impl, epochs(s), args.device, bar.update)
                    for impl in ("fused", "eager")}  # fmt: skip
            records += compare(s, runs["fused"], runs["eager"], 1)
            curves[f"{s.name}: {s.loss}"] = (
                runs["fused"].curve, runs["eager"].curve, steps_per_epoch(s))  # fmt: skip
            bad += disagreements(s.key, runs["fused"], runs["eager"])
            if s.key == DDP_SCENARIO:
                single = runs
        if run_ddp:
            s, n = BY_KEY[DDP_SCENARIO], args.world_size
            bar.set_postfix_str(f"{s.key}, DDP x{n}")
            runs = {}
            for impl in ("fused", "eager"):
                runs[impl] = ddp.launch(s.key, impl, epochs(s), n, args.device)
                bar.update(epochs(s) * steps_per_epoch(s))
            records += compare(s, runs["fused"], runs["eager"], n)
            curves[f"{s.name}: {s.loss}, DDP x{n}"] = (
                runs["fused"].curve, runs["eager"].curve, steps_per_epoch(s))  # fmt: skip
            bad += disagreements(f"{s.key} DDP x{n}", runs["fused"], runs["eager"])
            for impl in ("fused", "eager"):
                many, one = runs[impl], single[impl]
                metrics = ", ".join(f"{m} {many.metrics[m]:.4f} vs {one.metrics[m]:.4f}"
                                    for m in one.metrics)  # fmt: skip
                gap = max_relative_gap(many.curve, one.curve)
                notes.append(f"DDP x{n} vs one process, {impl}: {metrics}; loss curves within "
                             f"{gap:.1e}")  # fmt: skip
                bad += disagreements(f"{s.key} {impl}", many, one, (f"DDP x{n}", "one process"))

    rows = [[r["scenario"], r["loss"], r["dataset"], r["world_size"], r["metric"],
             f"{r['fused']:.4f}", f"{r['eager']:.4f}", f"{r['max_curve_rel_diff']:.1e}",
             f"{r['fused_loss_ms']:.3f}", f"{r['eager_loss_ms']:.3f}",
             f"{r['eager_loss_ms'] / r['fused_loss_ms']:.2f}x"] for r in records]  # fmt: skip
    print(tabulate(rows, headers=["scenario", "loss", "dataset", "procs", "metric", "fused",
                                  "eager", "curve gap", "loss ms fused", "loss ms eager",
                                  "loss speed-up"]))  # fmt: skip
    print(
        "curve gap: largest relative difference between the two runs' per-step training "
        "losses; loss ms: median per step of the loss's forward and backward"
    )
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    if args.plot:
        plot(curves, os.path.join(args.plot, "train_curves.png"))
    print("\n".join(notes))
    if bad:
        print("fused and eager runs disagree:\n  " + "\n  ".join(bad))
        return 1
    print(f"fused and eager agree: metrics within {METRIC_TOLERANCE}, loss curves within "
          f"{CURVE_TOLERANCE:g} relative")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
