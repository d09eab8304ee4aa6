// SPDX-License-Identifier: Apache-2.0
// Argument checks of the cross_entropy op, shared by the CPU and CUDA implementations.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <optional>

#include "reduction.h"

namespace losses_ext {

// Checks (N, C, S) logits against (N, S) int64 or (N, C, S) probability targets, the weight,
// the smoothing and the reduction; returns whether the targets are probabilities.
inline bool check_cross_entropy_args(const at::Tensor& input, const at::Tensor& target,
                                     const std::optional<at::Tensor>& weight,
                                     double label_smoothing, int64_t reduction, bool need_dy) {
  const char* name = "cross_entropy";
  TORCH_CHECK(input.dim() == 3, name, ": expected input of shape (N, C, S), got ", input.sizes());
  TORCH_CHECK(at::isFloatingType(input.scalar_type()), name,
              ": input must be a floating-point tensor, got ", input.scalar_type());
  TORCH_CHECK(target.device() == input.device(), name, ": target is on ", target.device(),
              " but input is on ", input.device());
  const bool prob = at::isFloatingType(target.scalar_type());
  const int64_t N = input.size(0), C = input.size(1), S = input.size(2);
  if (prob) {
    TORCH_CHECK(target.sizes() == input.sizes() && target.scalar_type() == input.scalar_type(),
                name, ": probability targets must have the input's shape and dtype");
  } else {
    TORCH_CHECK(target.scalar_type() == at::kLong, name,
                ": class-index targets must be int64, got ", target.scalar_type());
    TORCH_CHECK(target.dim() == 2 && target.size(0) == N && target.size(1) == S, name,
                ": expected class-index target of shape (N, S) = (", N, ", ", S, "), got ",
                target.sizes());
  }
  TORCH_CHECK(!need_dy || prob, name, ": class-index targets have no gradient");
  TORCH_CHECK(reduction >= kReductionNone && reduction <= kReductionSum, name,
              ": unknown reduction code ", reduction);
  TORCH_CHECK(label_smoothing >= 0 && label_smoothing <= 1, name,
              ": label_smoothing must be in [0, 1], got ", label_smoothing);
  if (weight) {
    TORCH_CHECK(weight->dim() == 1 && weight->size(0) == C && weight->device() == input.device(),
                name, ": weight must be a (C,) = (", C, ",) tensor on the input's device");
  }
  TORCH_CHECK(C > 0 || N * S == 0, name, ": input has no classes");
  return prob;
}

}  // namespace losses_ext
