// SPDX-License-Identifier: Apache-2.0
// Fused softmax cross-entropy on the CPU: loss and d loss / d logits in one call, without storing
// the (rows, C) log-probabilities.
//
// Math (per row, C classes, label smoothing eps, class weights w (1 when absent)):
//   lse = log sum_c exp(x_c);  -log p_c = lse - x_c
//   class index t:  l = (1 - eps) w_t (lse - x_t) + eps / C * sum_c w_c (lse - x_c)
//                   dl/dx_j = p_j ((1 - eps) w_t + eps / C * sum_c w_c) - (1 - eps) w_t [j == t]
//                             - eps / C * w_j
//   probabilities y: with q_c = (1 - eps) y_c + eps / C,
//                   l = sum_c w_c q_c (lse - x_c);  dl/dx_j = p_j sum_c w_c q_c - w_j q_j;
//                   dl/dy_j = -(1 - eps) w_j log p_j
// Reductions follow torch.nn.functional.cross_entropy: 'mean' divides by the summed weight w_t of
// the rows whose target is not ignore_index (the row count without weights; N for probability
// targets), so all-ignored gives 0 / 0 = NaN and a zero gradient; 'sum' adds; 'none' gives the
// per-row loss, 0 on ignored rows.
//
// Numerics. Each row takes three sweeps over data that is in cache after the first: the max m;
// e_j = exp(x_j - m), summed in double and kept in the gradient buffer; and the gradient
// (a e_j - b w_j q_j). One exponential per element, and never an overflow. Every loss term is
// formed relative to m, as (m - x) + log(sum): with logits of 3e7 a float lse = m + log 2 would
// round the log 2 away. fp16/bf16 rows are widened to float in a per-thread buffer, as are
// rows whose class dimension is strided; contiguous float/double rows are used in place.
//
// The 'mean' divisor depends on the targets, so a first cheap pass over the targets computes it
// (and rejects out-of-range class indices) before the main pass scales the gradient by it.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "../cross_entropy_checks.h"
#include "../reduction.h"
#include "cpu_capability.h"
#include "elementwise_core.h"

namespace losses_ext::cpu {
namespace {

using at::Tensor;
using Grads = std::tuple<Tensor, Tensor, Tensor>;

constexpr int64_t kRowsPerBlock = 16;  // fixed: block sums never depend on the thread count

// c * v, exactly 0 where c == 0 (a row whose logits are all -inf has log_sum = -inf).
inline double xmul(double c, double v) { return c == 0 ? 0.0 : c * v; }

template <typename T>
RowKernels<T> pick_row_kernels() {
  switch (current_capability()) {
#ifdef LOSSES_EXT_X86_CAPABILITIES
    case Capability::kAVX512:
      return AVX512::row_kernels<T>();
    case Capability::kAVX2:
      return AVX2::row_kernels<T>();
#endif
    default:
      return DEFAULT::row_kernels<T>();
  }
}

// Sum over rows of the 'mean' divisor; checks class indices.
double index_target_divisor(const Tensor& target, const Tensor& weight, int64_t n_classes,
                            int64_t ignore_index) {
  const Tensor t = target.contiguous();
  const int64_t* tp = t.data_ptr<int64_t>();
  const Tensor w = weight.defined() ? weight.to(at::kDouble).contiguous() : Tensor();
  const double* wp = w.defined() ? w.data_ptr<double>() : nullptr;
  double total = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t c = tp[i];
    if (c == ignore_index) continue;
    TORCH_CHECK(c >= 0 && c < n_classes, "cross_entropy: target ", c, " is out of bounds for ",
                n_classes, " classes (and is not ignore_index ", ignore_index, ")");
    total += wp ? wp[c] : 1.0;
  }
  return total;
}

Grads cross_entropy_cpu(const Tensor& input, const Tensor& target,
                        const std::optional<Tensor>& weight_opt, int64_t ignore_index,
                        double label_smoothing, int64_t reduction, bool need_dx, bool need_dy) {
  const char* name = "cross_entropy";
  TORCH_CHECK(input.device().is_cpu(), name, ": expected CPU tensors, got ", input.device());
  const bool prob_target = check_cross_entropy_args(input, target, weight_opt, label_smoothing,
                                                    reduction, need_dy);
  const int64_t N = input.size(0), C = input.size(1), S = input.size(2);
  const Tensor weight = weight_opt ? *weight_opt : Tensor();
  const int64_t rows = N * S;
  const bool reduce = reduction != kReductionNone;
  Tensor loss = reduce ? at::empty({}, input.options()) : at::empty({N, S}, input.options());
  Tensor dx = at::empty(need_dx ? input.sizes() : at::IntArrayRef{0}, input.options());
  Tensor dy = at::empty(need_dy ? input.sizes() : at::IntArrayRef{0}, input.options());
  double divisor = 1.0;
  if (reduction == kReductionMean) {
    divisor = prob_target ? static_cast<double>(rows)
                          : index_target_divisor(target, weight, C, ignore_index);
  } else if (!prob_target) {
    index_target_divisor(target, weight, C, ignore_index);  // still reject bad indices
  }
  const double grad_scale = reduction == kReductionMean ? 1.0 / divisor : 1.0;
  const double eps = label_smoothing;

  const int64_t n_blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  std::vector<double> block_sums(n_blocks, 0.0);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(),
                                  "losses_ext_cross_entropy_cpu", [&] {
    using T = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    const RowKernels<T> k = pick_row_kernels<T>();
    const Tensor w_t = weight.defined() ? weight.to(c10::CppTypeToScalarType<T>::value).contiguous()
                                        : Tensor();
    const T* w = w_t.defined() ? w_t.data_ptr<T>() : nullptr;
    const double w_sum = w ? w_t.sum().item<double>() : static_cast<double>(C);
    const scalar_t* xp = input.data_ptr<scalar_t>();
    const int64_t sxn = input.stride(0), sxc = input.stride(1), sxs = input.stride(2);
    const scalar_t* yp = prob_target ? target.data_ptr<scalar_t>() : nullptr;
    const int64_t* tp = prob_target ? nullptr : target.data_ptr<int64_t>();
    const int64_t sy0 = target.stride(0), sy1 = target.stride(1);
    const int64_t sy2 = prob_target ? target.stride(2) : 0;
    scalar_t* lp = reduce ? nullptr : loss.data_ptr<scalar_t>();
    scalar_t* gp = need_dx ? dx.data_ptr<scalar_t>() : nullptr;
    scalar_t* dyp = need_dy ? dy.data_ptr<scalar_t>() : nullptr;
    // Rows used in place: float/double logits with a unit class stride and, for the outputs,
    // S == 1 (the gradient is contiguous (N, C, S)).
    constexpr bool kNative = std::is_same_v<scalar_t, T>;

    at::parallel_for(0, n_blocks, 1, [&](int64_t first, int64_t last) {
      std::vector<T> x_buf(C), y_buf(prob_target ? C : 0), e_buf(C), dy_buf(need_dy ? C : 0);
      for (int64_t b = first; b < last; ++b) {
        double block_sum = 0;
        for (int64_t r = b * kRowsPerBlock; r < std::min(rows, (b + 1) * kRowsPerBlock); ++r) {
          const int64_t n = r / S, s = r % S;
          const scalar_t* xr = xp + n * sxn + s * sxs;
          int64_t t = -1;
          if (!prob_target) {
            t = tp[n * sy0 + s * sy1];
            if (t == ignore_index) {
              if (lp) lp[r] = scalar_t(0);
              if (gp)
                for (int64_t c = 0; c < C; ++c) gp[(n * C + c) * S + s] = scalar_t(0);
              continue;
            }
          }
          // The row as contiguous T.
          const T* x;
          if constexpr (kNative) {
            if (sxc == 1) {
              x = reinterpret_cast<const T*>(xr);
            } else {
              for (int64_t c = 0; c < C; ++c) x_buf[c] = static_cast<T>(xr[c * sxc]);
              x = x_buf.data();
            }
          } else {
            for (int64_t c = 0; c < C; ++c) x_buf[c] = static_cast<T>(xr[c * sxc]);
            x = x_buf.data();
          }
          const T* y = nullptr;
          if (prob_target) {
            const scalar_t* yr = yp + n * sy0 + s * sy2;
            for (int64_t c = 0; c < C; ++c) y_buf[c] = static_cast<T>(yr[c * sy1]);
            y = y_buf.data();
          }
          const bool direct_out = kNative && S == 1;
          T* e = direct_out && gp ? reinterpret_cast<T*>(gp + n * C) : e_buf.data();

          const T m = k.max(x, C);
          // An all -inf row has no finite maximum; shifting by 0 keeps exp finite (sum 0).
          const T shift = std::isfinite(m) ? m : T(0);
          const double sum = k.exp_sum(x, shift, gp ? e : nullptr, C);
          const double log_sum = std::log(sum);  // lse = shift + log_sum, kept apart
          double row_loss, a;
          T c1, c0;
          if (prob_target) {
            c1 = T(1 - eps);
            c0 = T(eps / C);
            double sum_wq, sum_wq_dx;
            k.weighted_sums(x, shift, w, y, c1, c0, C, &sum_wq, &sum_wq_dx);
            row_loss = xmul(sum_wq, log_sum) - sum_wq_dx;  // sum w q (lse - x)
            a = sum_wq;
          } else {
            const double w_t_val = w ? static_cast<double>(w[t]) : 1.0;
            // A zero coefficient (eps = 1, or w_t = 0) contributes 0 even at x_t = -inf.
            const double coef_t = (1 - eps) * w_t_val;
            row_loss = coef_t == 0 ? 0.0
                                   : coef_t * ((static_cast<double>(shift) -
                                                static_cast<double>(x[t])) + log_sum);
            if (eps > 0) {
              double sum_w, sum_w_dx;
              k.weighted_sums(x, shift, w, nullptr, T(0), T(1), C, &sum_w, &sum_w_dx);
              row_loss += eps / C * (xmul(sum_w, log_sum) - sum_w_dx);
            }
            a = (1 - eps) * w_t_val + eps * w_sum / C;
            c1 = T(0);
            c0 = T(eps / C);
          }
          if (lp) lp[r] = static_cast<scalar_t>(row_loss);
          block_sum += row_loss;
          if (gp) {
            T* dyr = need_dy ? (direct_out ? reinterpret_cast<T*>(dyp + n * C) : dy_buf.data())
                             : nullptr;
            k.grad(e, x, w, y, c1, c0, T(a / sum * grad_scale), T(grad_scale), shift, T(log_sum),
                   e, dyr, C);
            if (!prob_target) {
              const double w_t_val = w ? static_cast<double>(w[t]) : 1.0;
              e[t] -= static_cast<T>((1 - eps) * w_t_val * grad_scale);
            }
            if (!direct_out) {
              for (int64_t c = 0; c < C; ++c) {
                gp[(n * C + c) * S + s] = static_cast<scalar_t>(e[c]);
                if (dyr) dyp[(n * C + c) * S + s] = static_cast<scalar_t>(dyr[c]);
              }
            }
          }
        }
        block_sums[b] = block_sum;
      }
    });
  });
  if (reduce) {
    double total = 0;
    for (double s : block_sums) total += s;
    loss.fill_(reduction == kReductionSum ? total : total / divisor);
  }
  return {loss, dx, dy};
}

}  // namespace

TORCH_LIBRARY_IMPL(losses_ext, CPU, m) { m.impl("cross_entropy", &cross_entropy_cpu); }

}  // namespace losses_ext::cpu
