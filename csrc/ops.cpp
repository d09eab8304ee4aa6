// SPDX-License-Identifier: Apache-2.0
// Every schema of the losses_ext operator library. Each fused op returns
// (loss, grad_input, grad_target): the loss per element for reduction 0 (none), else a 0-dim
// tensor, and the gradients of the loss with respect to input and target as if grad_output were
// 1 (already divided for 'mean' and 'batchmean'). A gradient that was not asked for comes back
// as an empty tensor of shape (0,). Implementations are registered per dispatch key next to
// their kernels; the fake (meta) kernels live in losses_ext/_ops.py.
#include <torch/library.h>

TORCH_LIBRARY(losses_ext, m) {
  m.def(
      "bce_with_logits(Tensor input, Tensor target, Tensor? weight, Tensor? pos_weight, "
      "int reduction, bool grad_input, bool grad_target) -> (Tensor, Tensor, Tensor)");
  m.def(
      "bce(Tensor input, Tensor target, Tensor? weight, int reduction, bool grad_input, "
      "bool grad_target) -> (Tensor, Tensor, Tensor)");
  m.def(
      "sigmoid_focal(Tensor input, Tensor target, float alpha, float gamma, int reduction, "
      "bool grad_input, bool grad_target) -> (Tensor, Tensor, Tensor)");
  m.def(
      "log_cosh(Tensor input, Tensor target, int reduction, bool grad_input, bool grad_target) "
      "-> (Tensor, Tensor, Tensor)");
  m.def(
      "kl_div(Tensor input, Tensor target, bool log_target, int reduction, bool grad_input, "
      "bool grad_target) -> (Tensor, Tensor, Tensor)");
  m.def(
      "mse(Tensor input, Tensor target, int reduction, bool grad_input, bool grad_target) -> "
      "(Tensor, Tensor, Tensor)");
  m.def(
      "hinge_embedding(Tensor input, Tensor target, float margin, int reduction, "
      "bool grad_input, bool grad_target) -> (Tensor, Tensor, Tensor)");
  m.def(
      "hinge(Tensor input, Tensor target, float margin, int reduction, bool grad_input, "
      "bool grad_target) -> (Tensor, Tensor, Tensor)");
  // Softmax cross-entropy over (N, C, S) logits (any strides): class-index targets (N, S) int64
  // or probability targets (N, C, S) of the input's dtype; loss (N, S) for reduction 0. Only
  // probability targets have a gradient.
  m.def(
      "cross_entropy(Tensor input, Tensor target, Tensor? weight, int ignore_index, "
      "float label_smoothing, int reduction, bool grad_input, bool grad_target) -> "
      "(Tensor, Tensor, Tensor)");
  // grad *= scale for a one-element scale, in place; the backward of the fused losses uses it
  // to apply a scalar grad_output. The CUDA kernel reads scale on the device and returns at
  // once when it is exactly 1, without a host synchronisation.
  m.def("scale_grad_(Tensor(a!) grad, Tensor scale) -> ()");
}
