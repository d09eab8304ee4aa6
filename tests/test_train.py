# SPDX-License-Identifier: Apache-2.0
"""The real-data training comparison (benchmarks.train): fused and eager runs agree on every
scenario, disagreement is caught, and the command line writes what it promises."""

import json
import os
import subprocess
import sys

import pytest
import torch

from benchmarks.train import __main__ as cli
from benchmarks.train import data
from benchmarks.train.loop import Run, max_relative_gap, steps_per_epoch, train
from benchmarks.train.scenarios import BY_KEY, SCENARIOS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def deterministic():
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


@pytest.mark.parametrize("key", list(BY_KEY))
def test_fused_and_eager_runs_agree(key, deterministic):
    scenario = BY_KEY[key]
    fused, eager = train(scenario, "fused", 2), train(scenario, "eager", 2)
    assert len(fused.curve) == len(eager.curve) == 2 * steps_per_epoch(scenario)
    assert all(torch.isfinite(torch.tensor(fused.curve)))
    assert cli.disagreements(key, fused, eager) == []
    assert fused.metrics.keys() == eager.metrics.keys() and fused.metrics
    # Training happened: the second epoch's mean loss is below the first's.
    n = steps_per_epoch(scenario)
    assert sum(fused.curve[n:]) < sum(fused.curve[:n])


def test_a_run_is_repeatable(deterministic):
    scenario = BY_KEY["multiclass/cross_entropy"]
    assert train(scenario, "fused", 1).curve == train(scenario, "fused", 1).curve


def test_disagreement_is_reported():
    a = Run(curve=[1.0, 0.5], metrics={"accuracy": 0.90}, loss_ms=0.1)
    close = Run(curve=[1.0, 0.5 * (1 + 5e-4)], metrics={"accuracy": 0.91}, loss_ms=0.1)
    far = Run(curve=[1.0, 0.5 * (1 + 5e-3)], metrics={"accuracy": 0.95}, loss_ms=0.1)
    assert cli.disagreements("s", a, close) == []
    bad = cli.disagreements("s", a, far)
    assert len(bad) == 2 and "accuracy" in bad[0] and "loss curves" in bad[1]


def test_max_relative_gap():
    assert max_relative_gap([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert max_relative_gap([1.0, 2.0], [1.0, 1.0]) == pytest.approx(0.5)
    assert max_relative_gap([0.0], [0.0]) == 0.0
    with pytest.raises(ValueError, match="lengths"):
        max_relative_gap([1.0], [1.0, 2.0])


def test_data_sets():
    digits = data.digits()
    assert len(digits) + len(digits.test["label"]) == 1797
    assert digits.train["image"].shape[1:] == (1, 8, 8)

    # Only training targets carry the one-sided outliers, in about the share asked for.
    diabetes = data.diabetes()
    raised = (diabetes.train["target"] > 5).float().mean().item()
    assert 0.05 < raised < 0.15
    assert diabetes.test["target"].abs().max() < 5

    props = data.digit_properties()
    eights = props.train["target"][digits.train["label"] == 8]
    names = [name for name, _ in data.DIGIT_LABELS]
    assert names == ["even", "five_or_more", "prime", "closed_loop"]
    assert (eights == torch.tensor([1.0, 1.0, 0.0, 1.0])).all()

    pairs = data.digit_pairs()
    assert pairs.train["same"].eq(1).float().mean().item() == pytest.approx(0.5)

    three = data.one_digit(3)
    assert 0.08 < three.train["target"].mean().item() < 0.12


def test_scenarios_cover_every_use_case():
    names = {(s.name, s.loss) for s in SCENARIOS}
    assert names == {
        ("multiclass", "cross_entropy"),
        ("binary", "binary_cross_entropy_with_logits"),
        ("binary", "sigmoid_focal_loss"),
        ("multilabel", "binary_cross_entropy_with_logits"),
        ("distillation", "kl_div"),
        ("regression", "log_cosh_loss"),
        ("regression", "mse_loss"),
        ("embedding", "hinge_embedding_loss"),
    }


def test_command_line(tmp_path):
    """One epoch of two scenarios and the 2-process DDP run: exit status, JSON keys, chart."""
    out = tmp_path / "train.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.train", "--epochs", "1", "--scenarios",
         "multiclass/cross_entropy", "regression/mse_loss", "--json", str(out),
         "--plot", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fused and eager agree" in result.stdout
    assert "DDP x2 vs one process, fused" in result.stdout
    records = json.loads(out.read_text())
    keys = {"scenario", "loss", "dataset", "metric", "fused", "eager", "max_curve_rel_diff",
            "fused_loss_ms", "eager_loss_ms", "world_size"}  # fmt: skip
    assert all(set(r) == keys for r in records)
    assert {(r["scenario"], r["world_size"]) for r in records} == {
        ("multiclass", 1),
        ("multiclass", 2),
        ("regression", 1),
    }
    assert (tmp_path / "train_curves.png").stat().st_size > 10_000
