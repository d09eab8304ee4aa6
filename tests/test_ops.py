# SPDX-License-Identifier: Apache-2.0
"""The registered ops: torch.library.opcheck on each, and torch.compile(fullgraph=True)."""

import pytest
import torch

import losses_ext
import losses_ext.functional as LF
from conftest import device_for

OPS = {
    "bce_with_logits": lambda x, y: (x, y, torch.rand_like(x), torch.rand_like(x) + 0.5),
    "bce": lambda x, y: (x.sigmoid(), y, torch.rand_like(x)),
    "sigmoid_focal": lambda x, y: (x, y, 0.25, 1.5),
    "log_cosh": lambda x, y: (x, y),
    "kl_div": lambda x, y: (x.log_softmax(-1), y, False),
    "mse": lambda x, y: (x, y),
    "hinge_embedding": lambda x, y: (x, y.round() * 2 - 1, 1.0),
    "hinge": lambda x, y: (x, y.round() * 2 - 1, 1.0),
}
LABEL_OPS = ("hinge_embedding", "hinge")


@pytest.mark.parametrize("need_dy", [False, True])
@pytest.mark.parametrize("need_dx", [False, True])
@pytest.mark.parametrize("reduction", [0, 1, 2, 3])
@pytest.mark.parametrize("name", list(OPS))
def test_opcheck(name, reduction, need_dx, need_dy, backend):
    if need_dy and name in LABEL_OPS:
        pytest.skip("labels have no gradient")
    device = device_for(backend)
    x, y = torch.randn(4, 5, device=device), torch.rand(4, 5, device=device)
    args = OPS[name](x, y) + (reduction, need_dx, need_dy)
    prefix = "triton_" if backend == "triton" else ""
    torch.library.opcheck(getattr(torch.ops.losses_ext, prefix + name).default, args)


class _Model(torch.nn.Module):
    def __init__(self, backend):
        super().__init__()
        self.linear = torch.nn.Linear(8, 6)
        self.backend = backend

    def forward(self, x, y, labels):
        z = self.linear(x)
        b = self.backend
        pos_weight = torch.full((6,), 2.0, device=x.device)
        return (
            LF.binary_cross_entropy_with_logits(z, y, pos_weight=pos_weight, backend=b)
            + LF.binary_cross_entropy(z.sigmoid(), y, backend=b)
            + LF.sigmoid_focal_loss(z, y, reduction="mean", backend=b)
            + LF.log_cosh_loss(z, y, backend=b)
            + LF.kl_div(z.log_softmax(-1), y.softmax(-1), reduction="batchmean", backend=b)
            + LF.mse_loss(z, y, backend=b)
            + LF.hinge_embedding_loss(z, labels, backend=b)
            + LF.hinge_loss(z, labels, backend=b)
        )


def test_compile_fullgraph_matches_eager(backend):
    torch._dynamo.reset()
    device = device_for(backend)
    model = _Model(backend).to(device)
    x, y = torch.randn(16, 8, device=device), torch.rand(16, 6, device=device)
    labels = torch.randint(0, 2, (16, 6), device=device).float() * 2 - 1
    eager_loss = model(x, y, labels)
    eager_grads = torch.autograd.grad(eager_loss, list(model.parameters()))
    compiled = torch.compile(model, fullgraph=True)
    loss = compiled(x, y, labels)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    torch.testing.assert_close(loss, eager_loss)
    for g, e in zip(grads, eager_grads, strict=True):
        torch.testing.assert_close(g, e)


def test_capability_switch_rejects_unknown():
    with pytest.raises(RuntimeError, match="unknown CPU capability"):
        losses_ext.set_cpu_capability("sse9")
