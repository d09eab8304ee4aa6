// SPDX-License-Identifier: Apache-2.0
// Math<V> for ATen's SIMD vectors, so the loss structs of loss_math.h run on at::vec::Vectorized.
// This header is compiled once per CPU capability (see cpu/elementwise_core.h); transcendental
// functions come from SLEEF through at::vec (1 ulp on AVX2 and AVX-512, the C library's
// functions lane by lane on the baseline build).
#pragma once

#include <ATen/cpu/vec/vec.h>

#include "../loss_math.h"

namespace losses_ext {

template <typename T>
struct Math<at::vec::Vectorized<T>> {
  using V = at::vec::Vectorized<T>;
  using Mask = V;  // all-ones lanes where true
  static V select(const V& m, const V& a, const V& b) { return V::blendv(b, a, m); }
  static V gt(const V& a, const V& b) { return a > b; }
  static V ge(const V& a, const V& b) { return a >= b; }
  static V lt(const V& a, const V& b) { return a < b; }
  static V eq(const V& a, const V& b) { return a == b; }
  static V ne(const V& a, const V& b) { return a != b; }
  static V land(const V& a, const V& b) { return a & b; }
  static V lor(const V& a, const V& b) { return a | b; }
  static V relu(const V& v) { return at::vec::maximum(v, V(T(0))); }  // propagates NaN
  static V exp(const V& v) { return v.exp(); }
  // expm1(v) = (u - 1) * v / log(u) with u = e^v (exact where u == 1; u itself where u - 1
  // rounds to u or -1): a few ulp, and measured faster than SLEEF's expm1 on AVX-512.
  static V expm1(const V& v) {
    const V one(T(1));
    V u = v.exp();
    V um1 = u - one;
    V log_u = u.log();
    V safe = V::blendv(log_u, one, log_u == V(T(0)));
    V r = um1 * (v / safe);
    r = V::blendv(r, um1, (um1 == u) | (um1 == V(T(-1))));
    return V::blendv(r, v, u == one);
  }
  static V log(const V& v) { return v.log(); }
  // log1p(v) = log(u) * v / (u - 1) with u = 1 + v (exact where u == 1): a few ulp, like
  // SLEEF's log1p, at the cost of a log and a division, where SLEEF's log1p measured several
  // times slower than its log on AVX-512 (benchmarks/). Valid for v >= -1 and NaN.
  static V log1p(const V& v) {
    const V one(T(1));
    V u = v + one;
    V um1 = u - one;
    V safe = V::blendv(um1, one, um1 == V(T(0)));
    return V::blendv(u.log() * (v / safe), v, um1 == V(T(0)));
  }
  static V pow(const V& v, const V& e) { return v.pow(e); }
  static V abs(const V& v) { return v.abs(); }
};

}  // namespace losses_ext
