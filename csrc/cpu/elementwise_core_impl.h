// SPDX-License-Identifier: Apache-2.0
// Chunk kernels of the element-wise losses for one CPU capability. Included by exactly one source
// file per capability, which first defines CPU_CAPABILITY (DEFAULT, AVX2 or AVX512) and the
// matching CPU_CAPABILITY_<name> macro that at::vec reads; setup.py compiles that file with the
// capability's -m flags. Everything here lives in a namespace named after the capability and
// computes on at::vec::Vectorized, whose types are capability-specific too, so the three builds
// share no symbol that could be compiled for the wrong instruction set.
#pragma once

#include <ATen/cpu/vec/vec.h>

#include <limits>

#include "../loss_math.h"
#include "elementwise_core.h"
#include "vec_math.h"

namespace losses_ext::cpu::CPU_CAPABILITY {

template <typename Loss, typename T, bool kWeight, bool kDx, bool kDy>
ChunkResult chunk_kernel_impl(const Loss& loss, const ChunkArgs<T>& a) {
  using V = at::vec::Vectorized<T>;
  using M = Math<V>;
  constexpr int64_t kLanes = V::size();
  const V zero(T(0)), one(T(1)), scale(a.grad_scale);
  V acc = zero, bad = zero;
  // One step handles `count` lanes at offset i; a short last step loads zeros into the unused
  // lanes (loadu with a count) and masks them out of the sums.
  auto step = [&](int64_t i, int64_t count) {
    V x = V::loadu(a.x + i, count), y = V::loadu(a.y + i, count);
    V pw = (Loss::kUsesPosWeight && a.pw) ? V::loadu(a.pw + i, count) : one;
    V l, dx, dy;
    loss(x, y, pw, l, dx, dy);
    if constexpr (kWeight) {
      V w = V::loadu(a.weight + i, count);
      l = l * w;
      dx = dx * w;
      dy = dy * w;
    }
    if constexpr (Loss::kChecksInput) {
      V invalid = M::select(loss.valid(x), zero, one);
      bad = bad + (count == kLanes ? invalid : V::set(zero, invalid, count));
    }
    if (a.loss) l.store(a.loss + i, count);
    acc = acc + (count == kLanes ? l : V::set(zero, l, count));
    if constexpr (kDx) (dx * scale).store(a.dx + i, count);
    if constexpr (kDy) (dy * scale).store(a.dy + i, count);
  };
  int64_t i = 0;
  for (; i + kLanes <= a.n; i += kLanes) step(i, kLanes);
  if (i < a.n) step(i, a.n - i);

  // Fixed-order lane sums: the result depends only on the data, never on threading.
  T lanes[kLanes], bad_lanes[kLanes];
  acc.store(lanes);
  bad.store(bad_lanes);
  double sum = 0;
  bool invalid = false;
  for (int64_t k = 0; k < kLanes; ++k) {
    sum += static_cast<double>(lanes[k]);
    invalid = invalid || bad_lanes[k] != T(0);
  }
  return {sum, invalid};
}

template <typename Loss, typename T>
ChunkFn<Loss, T> chunk_kernel(bool has_weight, bool need_dx, bool need_dy) {
  // A target-only gradient is rare (an input that needs no gradient); it uses the dx+dy kernel
  // with a scratch dx, see elementwise.cpp.
  if (has_weight) {
    if (need_dy) return &chunk_kernel_impl<Loss, T, true, true, true>;
    if (need_dx) return &chunk_kernel_impl<Loss, T, true, true, false>;
    return &chunk_kernel_impl<Loss, T, true, false, false>;
  }
  if (need_dy) return &chunk_kernel_impl<Loss, T, false, true, true>;
  if (need_dx) return &chunk_kernel_impl<Loss, T, false, true, false>;
  return &chunk_kernel_impl<Loss, T, false, false, false>;
}

// Cross-entropy row primitives (see RowKernels). Full vectors, then one masked tail step.
template <typename T, typename F>
void for_each_vector(int64_t n, F f) {
  using V = at::vec::Vectorized<T>;
  int64_t i = 0;
  for (; i + V::size() <= n; i += V::size()) f(i, V::size());
  if (i < n) f(i, n - i);
}

template <typename T>
T row_max(const T* x, int64_t n) {
  using V = at::vec::Vectorized<T>;
  V m(-std::numeric_limits<T>::infinity());
  for_each_vector<T>(n, [&](int64_t i, int64_t count) {
    V v = V::loadu(x + i, count);
    if (count < V::size()) v = V::set(V(-std::numeric_limits<T>::infinity()), v, count);
    m = at::vec::maximum(m, v);  // propagates NaN
  });
  T lanes[V::size()];
  m.store(lanes);
  T best = lanes[0];
  for (int64_t k = 1; k < V::size(); ++k) best = (lanes[k] != lanes[k] || lanes[k] > best) ? lanes[k] : best;
  return best;
}

template <typename T>
double row_exp_sum(const T* x, T m, T* e, int64_t n) {
  using V = at::vec::Vectorized<T>;
  V acc(T(0));
  const V vm(m);
  for_each_vector<T>(n, [&](int64_t i, int64_t count) {
    V v = (V::loadu(x + i, count) - vm).exp();
    if (e) v.store(e + i, count);
    acc = acc + (count == V::size() ? v : V::set(V(T(0)), v, count));
  });
  T lanes[V::size()];
  acc.store(lanes);
  double sum = 0;
  for (int64_t k = 0; k < V::size(); ++k) sum += lanes[k];
  return sum;
}

template <typename T>
void row_weighted_sums(const T* x, T m, const T* w, const T* y, T c1, T c0, int64_t n,
                       double* sum_wq, double* sum_wq_dx) {
  using V = at::vec::Vectorized<T>;
  V acc_q(T(0)), acc_qx(T(0));
  const V vc1(c1), vc0(c0), zero(T(0)), vm(m);
  for_each_vector<T>(n, [&](int64_t i, int64_t count) {
    V q = y ? vc1 * V::loadu(y + i, count) + vc0 : vc0;
    if (w) q = q * V::loadu(w + i, count);
    if (count < V::size()) q = V::set(zero, q, count);
    acc_q = acc_q + q;
    // xmul: a zero weight times an infinite logit contributes 0.
    V qx = q * (V::loadu(x + i, count) - vm);
    acc_qx = acc_qx + V::blendv(qx, zero, q == zero);
  });
  T lq[V::size()], lqx[V::size()];
  acc_q.store(lq);
  acc_qx.store(lqx);
  double a = 0, b = 0;
  for (int64_t k = 0; k < V::size(); ++k) {
    a += lq[k];
    b += lqx[k];
  }
  *sum_wq = a;
  *sum_wq_dx = b;
}

template <typename T>
void row_grad(const T* e, const T* x, const T* w, const T* y, T c1, T c0, T a, T b, T m,
              T log_sum, T* out, T* dy, int64_t n) {
  using V = at::vec::Vectorized<T>;
  const V va(a), vb(b), vc1(c1), vc0(c0), vm(m), vlog_sum(log_sum);
  for_each_vector<T>(n, [&](int64_t i, int64_t count) {
    V q = y ? vc1 * V::loadu(y + i, count) + vc0 : vc0;
    V wv = w ? V::loadu(w + i, count) : V(T(1));
    (va * V::loadu(e + i, count) - vb * wv * q).store(out + i, count);
    if (dy) (-(vb * wv * vc1) * ((V::loadu(x + i, count) - vm) - vlog_sum)).store(dy + i, count);
  });
}

template <typename T>
RowKernels<T> row_kernels() {
  return {&row_max<T>, &row_exp_sum<T>, &row_weighted_sums<T>, &row_grad<T>};
}
template RowKernels<float> row_kernels<float>();
template RowKernels<double> row_kernels<double>();

#define LOSSES_EXT_INSTANTIATE_CHUNK_KERNEL(LOSS)                                          \
  template ChunkFn<LOSS<float>, float> chunk_kernel<LOSS<float>, float>(bool, bool, bool); \
  template ChunkFn<LOSS<double>, double> chunk_kernel<LOSS<double>, double>(bool, bool, bool);
LOSSES_EXT_FOR_EACH_ELEMENTWISE_LOSS(LOSSES_EXT_INSTANTIATE_CHUNK_KERNEL)
#undef LOSSES_EXT_INSTANTIATE_CHUNK_KERNEL

}  // namespace losses_ext::cpu::CPU_CAPABILITY
