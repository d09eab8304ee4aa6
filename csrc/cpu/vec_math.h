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
  static V expm1(const V& v) { return v.expm1(); }
  static V log(const V& v) { return v.log(); }
  static V log1p(const V& v) { return v.log1p(); }
  static V pow(const V& v, const V& e) { return v.pow(e); }
  static V abs(const V& v) { return v.abs(); }
};

}  // namespace losses_ext
