// SPDX-License-Identifier: Apache-2.0
// Fused softmax cross-entropy on CUDA: one thread block per row (grid-stride over rows), the
// same math as csrc/cpu/cross_entropy.cpp (see there):
//   sweep 1: each thread keeps an online maximum and sum of exponentials over its columns, and
//            the weighted sums sum w q and sum w q (x - m) relative to its running maximum;
//            the block combines them (fixed order) into m, sum, and the row loss.
//   sweep 2: the gradient p_j A - B_j, already scaled for the reduction.
// The (rows, C) log-probabilities are never stored. For 'mean' over class-index targets the
// divisor (summed w_t of the rows that are not ignore_index) depends on the targets: a small
// kernel writes each row's weight and the ordered partial-sum kernel adds them on the device, so
// the gradient is scaled without a host synchronisation. A class index outside [0, C) that is not
// ignore_index cannot raise without a synchronisation: its row gives NaN, and nothing is read out
// of bounds.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cmath>
#include <limits>
#include <type_traits>

#include "../cross_entropy_checks.h"
#include "../reduction.h"
#include "block_reduce.cuh"

namespace losses_ext::cuda {
namespace {

using at::Tensor;
using Grads = std::tuple<Tensor, Tensor, Tensor>;

struct RowLayout {
  int64_t S, C;
  int64_t sx_n, sx_c, sx_s;  // logits strides
  int64_t st_n, st_c, st_s;  // target strides (st_c for probability targets only)
};

template <typename acc_t>
__global__ void row_weight_kernel(const int64_t* target, const acc_t* weight, acc_t* out,
                                  int64_t rows, RowLayout L, int64_t ignore_index) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = target[(r / L.S) * L.st_n + (r % L.S) * L.st_s];
    const bool valid = t >= 0 && t < L.C;
    out[r] = t == ignore_index ? acc_t(0) : (weight && valid ? weight[t] : acc_t(1));
  }
}

template <typename scalar_t, typename acc_t, bool kProb>
__global__ void __launch_bounds__(kThreads)
    cross_entropy_kernel(const scalar_t* x, const int64_t* index_target,
                         const scalar_t* prob_target, const acc_t* weight, acc_t* row_loss, scalar_t* dx, scalar_t* dy, const acc_t* divisor_ptr,
                         acc_t static_scale, int64_t rows, RowLayout L, int64_t ignore_index,
                         acc_t eps) {
  constexpr acc_t kNegInf = -std::numeric_limits<acc_t>::infinity();
  const acc_t smooth = eps / acc_t(L.C);
  const acc_t scale = divisor_ptr ? acc_t(1) / *divisor_ptr : static_scale;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t n = r / L.S, s = r % L.S;
    const scalar_t* xr = x + n * L.sx_n + s * L.sx_s;
    const scalar_t* yr = kProb ? prob_target + n * L.st_n + s * L.st_s : nullptr;
    int64_t t = 0;
    bool ignored = false, bad = false;
    if constexpr (!kProb) {
      t = index_target[n * L.st_n + s * L.st_s];
      ignored = t == ignore_index;
      bad = !ignored && (t < 0 || t >= L.C);
      if (t < 0 || t >= L.C) t = 0;  // never read out of bounds
    }

    // Sweep 1, per thread: online max / sum of exp, weighted sums relative to the running max.
    acc_t m = kNegInf, sum = 0, wq = 0, wq_dx = 0;
    for (int64_t c = threadIdx.x; c < L.C; c += kThreads) {
      const acc_t v = static_cast<acc_t>(xr[c * L.sx_c]);
      acc_t q = kProb ? (acc_t(1) - eps) * static_cast<acc_t>(yr[c * L.st_c]) + smooth : acc_t(1);
      if (weight) q *= weight[c];
      if (v > m) {  // a new maximum: rescale what was summed so far
        if (m != kNegInf) {
          sum *= exp(m - v);
          wq_dx += wq * (m - v);
        }
        m = v;
      }
      if (v != kNegInf) sum += exp(v - m);
      // A -inf logit with q > 0 makes the sum -inf (not -inf - -inf = NaN while m is -inf).
      if (q != acc_t(0)) wq_dx += v == kNegInf ? kNegInf : q * (v - m);
      wq += q;
    }
    // Combine the threads: shift every thread's sums to the row maximum M.
    const acc_t M = block_max_all(m);
    const acc_t shift = (m == kNegInf) ? acc_t(0) : m - M;
    const acc_t total = block_sum_all(m == kNegInf ? acc_t(0) : sum * exp(shift));
    const acc_t total_wq = block_sum_all(wq);
    const acc_t total_wq_dx = block_sum_all(wq_dx + (wq != acc_t(0) ? wq * shift : acc_t(0)));
    const acc_t log_sum = log(total);

    acc_t loss, a, w_t = 0;
    if constexpr (kProb) {
      // sum w q (lse - x); a row whose logits are all -inf has log_sum = -inf.
      loss = (total_wq == acc_t(0) ? acc_t(0) : total_wq * log_sum) - total_wq_dx;
      a = total_wq;
    } else {
      w_t = weight ? weight[t] : acc_t(1);
      const acc_t x_t = static_cast<acc_t>(xr[t * L.sx_c]);
      const acc_t coef_t = (acc_t(1) - eps) * w_t;  // 0 contributes 0 even at x_t = -inf
      loss = coef_t == acc_t(0) ? acc_t(0) : coef_t * ((M - x_t) + log_sum);
      // For class-index targets q = w: total_wq is sum_c w_c.
      if (eps > acc_t(0)) {
        loss += smooth * ((total_wq == acc_t(0) ? acc_t(0) : total_wq * log_sum) - total_wq_dx);
      }
      a = (acc_t(1) - eps) * w_t + smooth * total_wq;
      if (ignored) loss = 0;
      if (bad) loss = std::numeric_limits<acc_t>::quiet_NaN();
    }
    if (threadIdx.x == 0) row_loss[r] = loss;

    // Sweep 2: the gradient, into contiguous (N, C, S).
    if (dx) {
      const acc_t coef = a / total * scale;
      for (int64_t c = threadIdx.x; c < L.C; c += kThreads) {
        const acc_t v = static_cast<acc_t>(xr[c * L.sx_c]);
        const acc_t e = exp(v - M);
        const acc_t w = weight ? weight[c] : acc_t(1);
        acc_t g;
        const int64_t out = (n * L.C + c) * L.S + s;
        if constexpr (kProb) {
          const acc_t y = static_cast<acc_t>(yr[c * L.st_c]);
          g = coef * e - scale * w * ((acc_t(1) - eps) * y + smooth);
          if (dy) dy[out] = static_cast<scalar_t>(-scale * w * (acc_t(1) - eps) * ((v - M) - log_sum));
        } else {
          g = coef * e - scale * (w * smooth + (c == t ? (acc_t(1) - eps) * w_t : acc_t(0)));
          if (ignored) g = 0;
          if (bad) g = std::numeric_limits<acc_t>::quiet_NaN();
        }
        dx[out] = static_cast<scalar_t>(g);
      }
    }
    __syncthreads();  // the block reductions' shared memory is reused by the next row
  }
}

Grads cross_entropy_cuda(const Tensor& input, const Tensor& target,
                         const std::optional<Tensor>& weight_opt, int64_t ignore_index,
                         double label_smoothing, int64_t reduction, bool need_dx, bool need_dy) {
  const char* name = "cross_entropy";
  TORCH_CHECK(input.is_cuda(), name, ": expected CUDA tensors, got ", input.device());
  const bool prob = check_cross_entropy_args(input, target, weight_opt, label_smoothing,
                                             reduction, need_dy);
  const int64_t N = input.size(0), C = input.size(1), S = input.size(2);
  const c10::cuda::CUDAGuard guard(input.device());
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int64_t rows = N * S;
  const bool reduce = reduction != kReductionNone;
  const bool mean = reduction == kReductionMean;
  Tensor loss = reduce ? at::empty({}, input.options()) : at::empty({N, S}, input.options());
  Tensor dx = at::empty(need_dx ? input.sizes() : at::IntArrayRef{0}, input.options());
  Tensor dy = at::empty(need_dy ? input.sizes() : at::IntArrayRef{0}, input.options());
  RowLayout L{S, C, input.stride(0), input.stride(1), input.stride(2), target.stride(0),
              prob ? target.stride(1) : 0, prob ? target.stride(2) : target.stride(1)};

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(),
                                  "losses_ext_cross_entropy_cuda", [&] {
    using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    const auto acc_type = c10::CppTypeToScalarType<acc_t>::value;
    const Tensor w = weight_opt ? weight_opt->to(acc_type).contiguous() : Tensor();
    const acc_t* wp = w.defined() ? w.data_ptr<acc_t>() : nullptr;
    Tensor row_loss = at::empty({std::max<int64_t>(rows, 1)}, input.options().dtype(acc_type));
    Tensor divisor = at::empty({}, input.options().dtype(acc_type));
    const bool by_weight = mean && !prob;
    if (by_weight) {
      Tensor row_weight = at::empty({std::max<int64_t>(rows, 1)}, row_loss.options());
      if (rows > 0) {
        row_weight_kernel<acc_t><<<grid_size((rows + kThreads - 1) / kThreads), kThreads, 0,
                                   stream>>>(target.data_ptr<int64_t>(), wp,
                                             row_weight.data_ptr<acc_t>(), rows, L, ignore_index);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      }
      sum_partials_kernel<acc_t, acc_t><<<1, kThreads, 0, stream>>>(
          row_weight.data_ptr<acc_t>(), rows, divisor.data_ptr<acc_t>(), acc_t(1), nullptr);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    const double static_divisor = mean ? static_cast<double>(rows) : 1.0;
    if (rows > 0) {
      auto launch = [&](auto prob_tag) {
        constexpr bool kProb = decltype(prob_tag)::value;
        cross_entropy_kernel<scalar_t, acc_t, kProb><<<grid_size(rows), kThreads, 0, stream>>>(
            input.data_ptr<scalar_t>(), kProb ? nullptr : target.data_ptr<int64_t>(),
            kProb ? target.data_ptr<scalar_t>() : nullptr, wp,
            row_loss.data_ptr<acc_t>(), need_dx ? dx.data_ptr<scalar_t>() : nullptr,
            need_dy ? dy.data_ptr<scalar_t>() : nullptr,
            by_weight ? divisor.data_ptr<acc_t>() : nullptr, acc_t(1.0 / static_divisor), rows,
            L, ignore_index, acc_t(label_smoothing));
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      };
      if (prob) {
        launch(std::true_type{});
      } else {
        launch(std::false_type{});
      }
    }
    if (reduce) {
      if (rows == 0) row_loss.zero_();
      sum_partials_kernel<scalar_t, acc_t><<<1, kThreads, 0, stream>>>(
          row_loss.data_ptr<acc_t>(), std::max<int64_t>(rows, 1), loss.data_ptr<scalar_t>(),
          acc_t(static_divisor), by_weight ? divisor.data_ptr<acc_t>() : nullptr);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    } else if (rows > 0) {
      loss.copy_(row_loss.view({N, S}));
    }
  });
  return {loss, dx, dy};
}

}  // namespace

TORCH_LIBRARY_IMPL(losses_ext, CUDA, m) { m.impl("cross_entropy", &cross_entropy_cuda); }

}  // namespace losses_ext::cuda
