// SPDX-License-Identifier: Apache-2.0
// The capability-independent interface of the CPU element-wise kernels.
//
// A chunk kernel processes up to kChunk contiguous elements in the compute type T (float, or
// double for float64 inputs): it evaluates a loss struct of loss_math.h on every element, stores
// the per-element loss and the gradients it is asked for, and returns the chunk's loss sum. One
// set of chunk kernels is compiled per CPU capability (core_default.cpp, core_avx2.cpp,
// core_avx512.cpp, each with its own -m flags); elementwise.cpp picks the set at run time.
#pragma once

#include <cstdint>

namespace losses_ext::cpu {

// Elements per chunk kernel call; also the size of the fp16/bf16 conversion scratch buffers.
constexpr int64_t kChunk = 1024;

template <typename T>
struct ChunkArgs {
  const T* x;       // (n,) input
  const T* y;       // (n,) target
  const T* weight;  // (n,) element weight, or nullptr
  const T* pw;      // (n,) pos_weight, or nullptr (read only by losses with kUsesPosWeight)
  T* loss;          // (n,) per-element loss, or nullptr when reducing
  T* dx;            // (n,) d loss / d input, times grad_scale, or nullptr
  T* dy;            // (n,) d loss / d target, times grad_scale, or nullptr
  int64_t n;
  T grad_scale;     // 1, or 1 / divisor for 'mean' and 'batchmean'
};

struct ChunkResult {
  double loss_sum;  // sum of the chunk's (weighted) losses
  bool invalid;     // some element failed Loss::valid()
};

template <typename Loss, typename T>
using ChunkFn = ChunkResult (*)(const Loss&, const ChunkArgs<T>&);

// Row primitives of the softmax cross-entropy (cpu/cross_entropy.cpp), on contiguous rows of
// n elements in the compute type T.
template <typename T>
struct RowKernels {
  // max_j x_j (NaN if any x_j is NaN).
  T (*max)(const T* x, int64_t n);
  // sum_j exp(x_j - m) in double; when e is set, also e_j = exp(x_j - m).
  double (*exp_sum)(const T* x, T m, T* e, int64_t n);
  // With q_j = c1 * y_j + c0 (y may be null) and w_j = 1 where w is null:
  // returns (sum_j w_j q_j, sum_j w_j q_j (x_j - m)), in double. Relative to the row maximum m,
  // so huge logits lose nothing to cancellation.
  void (*weighted_sums)(const T* x, T m, const T* w, const T* y, T c1, T c0, int64_t n,
                        double* sum_wq, double* sum_wq_dx);
  // out_j = a * e_j - b * w_j q_j with q_j as above (in place when out == e), and, when dy is
  // set, dy_j = -b * w_j * c1 * ((x_j - m) - log_sum), the target gradient of a probability
  // target (log p_j = x_j - m - log sum_c exp(x_c - m)).
  void (*grad)(const T* e, const T* x, const T* w, const T* y, T c1, T c0, T a, T b, T m,
               T log_sum, T* out, T* dy, int64_t n);
};

// Chunk kernel for one loss and compute type, specialised for the pointers that are set: a
// weight, and which gradients are written; and the cross-entropy row kernels.
#define LOSSES_EXT_DECLARE_CAPABILITY(CAP)                                     \
  namespace CAP {                                                              \
  template <typename Loss, typename T>                                         \
  ChunkFn<Loss, T> chunk_kernel(bool has_weight, bool need_dx, bool need_dy); \
  template <typename T>                                                        \
  RowKernels<T> row_kernels();                                                 \
  }

LOSSES_EXT_DECLARE_CAPABILITY(DEFAULT)
LOSSES_EXT_DECLARE_CAPABILITY(AVX2)
LOSSES_EXT_DECLARE_CAPABILITY(AVX512)

}  // namespace losses_ext::cpu
