# SPDX-License-Identifier: Apache-2.0
"""The backward protocol: buffers handed to autograd, retain_graph, grad_output scaling,
non-leaf and shared inputs, determinism across thread counts."""

import pytest
import torch

import losses_ext.functional as LF
from conftest import FUSED_BACKENDS, device_for
from loss_cases import CASES
from tolerances import assert_close


def _grads(case, x, y, aux, reduction, grad_out=None, backend="cpu"):
    device = device_for(backend) if backend != "reference" else "cpu"
    x, y = x.to(device), y.to(device)
    aux = {k: v.to(device) for k, v in aux.items()}
    grad_out = grad_out.to(device) if grad_out is not None else None
    x = x.detach().requires_grad_(True)
    y = y.detach().requires_grad_(case.target_grad)
    loss = case(x, y, aux, reduction, backend=backend)
    loss.backward(grad_out)
    return loss.detach(), x.grad, y.grad


def _cpu(t):
    return None if t is None else t.cpu()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_retain_graph_twice_gives_identical_gradients(case, backend):
    x, y, aux = case.make((5, 6), torch.float32)
    device = device_for(backend)
    x, y = x.to(device).requires_grad_(True), y.to(device)
    aux = {k: v.to(device) for k, v in aux.items()}
    loss = case(x, y, aux, case.reductions[1], backend=backend)
    first = torch.autograd.grad(loss, [x], retain_graph=True)[0]
    second = torch.autograd.grad(loss, [x], retain_graph=True)[0]
    assert torch.equal(first, second)
    # A scaled second backward recomputes from the saved inputs: still exact.
    third = torch.autograd.grad(loss, [x], torch.tensor(3.0, device=device))[0]
    assert torch.equal(third, first * 3)


@pytest.mark.parametrize("scale", [0.0, 65536.0, 0.5])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_scalar_grad_output(case, scale, backend):
    x, y, aux = case.make((4, 5), torch.float32)
    reduction = case.reductions[1]
    _, gx, gy = _grads(case, x, y, aux, reduction, torch.tensor(scale), backend=backend)
    _, rx, ry = _grads(
        case,
        x.double(),
        y.double(),
        {k: v.double() for k, v in aux.items()},
        reduction,
        torch.tensor(scale, dtype=torch.float64),
        backend="reference",
    )
    assert_close(_cpu(gx), rx, torch.float32, atol=2e-6 * max(scale, 1))
    if case.target_grad:
        assert_close(_cpu(gy), ry, torch.float32, atol=2e-6 * max(scale, 1))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_per_element_grad_output_for_none(case, backend):
    x, y, aux = case.make((3, 7), torch.float32)
    grad_out = torch.randn(3, 7)
    _, gx, _ = _grads(case, x, y, aux, "none", grad_out, backend=backend)
    _, rx, _ = _grads(
        case,
        x.double(),
        y.double(),
        {k: v.double() for k, v in aux.items()},
        "none",
        grad_out.double(),
        backend="reference",
    )
    assert_close(_cpu(gx), rx, torch.float32)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_non_leaf_input_used_twice(case, backend):
    x0, y, aux = case.make((4, 6), torch.float64)
    outs = []
    for b in (backend, "reference"):
        device = device_for(b) if b != "reference" else "cpu"
        leaf = x0.clone().to(device).requires_grad_(True)
        x = leaf * 1.0  # a non-leaf input
        aux_d = {k: v.to(device) for k, v in aux.items()}
        loss = case(x, y.to(device), aux_d, case.reductions[1], backend=b)
        total = loss + (x**2).sum()  # x used elsewhere in the graph too
        total.backward()
        outs.append(leaf.grad.cpu())
    assert_close(outs[0], outs[1], torch.float64)


def test_gradient_accumulates_into_existing_grad():
    x = torch.randn(100, requires_grad=True)
    y = torch.rand(100)
    LF.binary_cross_entropy_with_logits(x, y).backward()
    once = x.grad.clone()
    LF.binary_cross_entropy_with_logits(x, y).backward()
    assert torch.equal(x.grad, once * 2)


def test_target_only_gradient():
    x = torch.randn(50)
    y = torch.rand(50, requires_grad=True)
    LF.binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    yr = y.detach().double().requires_grad_(True)
    LF.binary_cross_entropy_with_logits(
        x.double(), yr, reduction="sum", backend="reference"
    ).backward()
    assert_close(y.grad, yr.grad, torch.float32)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cpu_deterministic_across_runs_and_thread_counts(case):
    x, y, aux = case.make((5, 70001), torch.float32)
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2, 1, 2):
            torch.set_num_threads(n)
            results.append(_grads(case, x, y, aux, case.reductions[2]))
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert (a is None and b is None) or torch.equal(a, b)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_triton_deterministic_across_runs(case):
    if "triton" not in FUSED_BACKENDS:
        pytest.skip("triton is not installed")
    x, y, aux = case.make((3, 5000), torch.float32)
    runs = [_grads(case, x, y, aux, case.reductions[2], backend="triton") for _ in range(3)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            assert (a is None and b is None) or torch.equal(a, b)


def test_label_target_requiring_grad_gives_a_loss_without_graph():
    x = torch.randn(5)
    y = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0], requires_grad=True)
    loss = LF.hinge_loss(x, y)
    assert not loss.requires_grad  # no gradient path to a label, and no autograd warning
    assert torch.equal(loss, LF.hinge_loss(x, y.detach(), backend="reference"))
