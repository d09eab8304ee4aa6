// SPDX-License-Identifier: Apache-2.0
// Reduction codes shared by every op and backend. The first three are torch's own
// (at::Reduction::None/Mean/Sum); kl_div adds 'batchmean'.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

namespace losses_ext {

constexpr int64_t kReductionNone = 0;
constexpr int64_t kReductionMean = 1;
constexpr int64_t kReductionSum = 2;
constexpr int64_t kReductionBatchMean = 3;  // sum / input.size(0); sum for a 0-dim input

inline void check_reduction(const char* name, int64_t reduction) {
  TORCH_CHECK(reduction >= kReductionNone && reduction <= kReductionBatchMean, name,
              ": unknown reduction code ", reduction, " (0 none, 1 mean, 2 sum, 3 batchmean)");
}

// What the summed loss is divided by. An empty input gives 0, so 'mean' is 0 / 0 = NaN, as in
// PyTorch.
inline double reduction_divisor(int64_t reduction, const at::Tensor& input) {
  if (reduction == kReductionMean) return static_cast<double>(input.numel());
  if (reduction == kReductionBatchMean && input.dim() > 0) return static_cast<double>(input.size(0));
  return 1.0;
}

// The scale that 'mean' and 'batchmean' fold into the gradient (1 for 'none' and 'sum').
inline double reduction_grad_scale(int64_t reduction, const at::Tensor& input) {
  const bool divides = reduction == kReductionMean || reduction == kReductionBatchMean;
  return divides ? 1.0 / reduction_divisor(reduction, input) : 1.0;
}

}  // namespace losses_ext
