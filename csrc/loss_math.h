// SPDX-License-Identifier: Apache-2.0
// Per-element math of every element-wise loss, written once.
//
// Each loss is a struct whose call operator maps one element (input x, target y, and for
// binary_cross_entropy_with_logits the pos_weight pw) to its loss and both partial derivatives.
// The operator is a template over the value type V, which is either a scalar (float, double; host
// or device code) or a SIMD vector (at::vec::Vectorized<T>, CPU only). All arithmetic goes
// through Math<V>, specialised for scalars below and for SIMD vectors in cpu/vec_math.h, so the
// CPU kernels, the CUDA kernels and the scalar tails run exactly the same formulas.
//
// Conventions shared by all losses:
//   - A term whose coefficient is exactly 0 contributes 0 even when its other factor is infinite
//     (the limit), so finite losses never turn into NaN through 0 * inf. See xmul().
//   - NaN inputs propagate to NaN outputs; helpers that clamp (relu, the log-cosh cap) are
//     written so that a NaN operand is not replaced by the clamp value.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define LX_HD __host__ __device__ __forceinline__
#else
#define LX_HD inline
#endif

namespace losses_ext {

// Math<V>: the primitive operations the losses use. Masks are bool for scalars and all-ones
// lanes for SIMD vectors.
template <typename V>
struct Math;

template <typename T, typename Impl>
struct ScalarMathBase {
  using Mask = bool;
  LX_HD static T select(bool m, T a, T b) { return m ? a : b; }
  LX_HD static bool gt(T a, T b) { return a > b; }
  LX_HD static bool ge(T a, T b) { return a >= b; }
  LX_HD static bool lt(T a, T b) { return a < b; }
  LX_HD static bool eq(T a, T b) { return a == b; }
  LX_HD static bool ne(T a, T b) { return a != b; }
  LX_HD static bool land(bool a, bool b) { return a && b; }
  LX_HD static bool lor(bool a, bool b) { return a || b; }
  // max(v, 0) that keeps NaN (fmax would return 0 for a NaN v).
  LX_HD static T relu(T v) { return v != v ? v : (v > T(0) ? v : T(0)); }
};

template <>
struct Math<float> : ScalarMathBase<float, Math<float>> {
  LX_HD static float exp(float v) { return ::expf(v); }
  LX_HD static float expm1(float v) { return ::expm1f(v); }
  LX_HD static float log(float v) { return ::logf(v); }
  LX_HD static float log1p(float v) { return ::log1pf(v); }
  LX_HD static float pow(float v, float e) { return ::powf(v, e); }
  LX_HD static float abs(float v) { return ::fabsf(v); }
};

template <>
struct Math<double> : ScalarMathBase<double, Math<double>> {
  LX_HD static double exp(double v) { return ::exp(v); }
  LX_HD static double expm1(double v) { return ::expm1(v); }
  LX_HD static double log(double v) { return ::log(v); }
  LX_HD static double log1p(double v) { return ::log1p(v); }
  LX_HD static double pow(double v, double e) { return ::pow(v, e); }
  LX_HD static double abs(double v) { return ::fabs(v); }
};

// c * v, but exactly 0 where c == 0 (the limit convention above).
template <typename V>
LX_HD V xmul(V c, V v) {
  using M = Math<V>;
  return M::select(M::eq(c, V(0)), V(0), c * v);
}

// The pieces of the logistic function that the sigmoid losses share, from one exp(-|x|):
//   softplus(x)  = max(x, 0) + log1p(exp(-|x|))
//   softplus(-x) = max(-x, 0) + log1p(exp(-|x|))
//   sigmoid(x), sigmoid(-x) = 1 / (1 + e) or e / (1 + e), whichever side x is on.
// Both sigmoids are formed directly (not as 1 - the other), so a saturated logit still gives an
// accurate small value instead of 0.
template <typename V>
struct SigmoidParts {
  V sp_pos, sp_neg, s_pos, s_neg;
  LX_HD explicit SigmoidParts(V x) {
    using M = Math<V>;
    V e = M::exp(-M::abs(x));
    V l1p = M::log1p(e);
    sp_pos = M::relu(x) + l1p;
    sp_neg = M::relu(-x) + l1p;
    V inv = V(1) / (V(1) + e);
    auto nonneg = M::ge(x, V(0));
    s_pos = M::select(nonneg, inv, e * inv);
    s_neg = M::select(nonneg, e * inv, inv);
  }
};

// Every loss struct has:
//   kUsesPosWeight   whether the call reads pw (otherwise pw is an unused 1)
//   kChecksInput     whether valid() must hold for every element (else the op raises, with
//                    kInvalidInput as the message)
//   kHasTargetGrad   whether the target is differentiable (labels are not)
//   operator()(x, y, pw, loss, dx, dy): loss and d loss / d x, d loss / d y for one element.

// binary_cross_entropy_with_logits:
//   l  = pw * y * softplus(-x) + (1 - y) * softplus(x)
//   dl/dx = (1 - y) * sigmoid(x) - pw * y * sigmoid(-x)
//   dl/dy = pw * softplus(-x) - softplus(x)
// pw only scales the positive term, so no exp(-x) of a very negative logit can overflow.
template <typename T>
struct BceWithLogits {
  static constexpr bool kHasTargetGrad = true;
  static constexpr bool kUsesPosWeight = true;
  static constexpr bool kChecksInput = false;
  template <typename V>
  LX_HD void operator()(V x, V y, V pw, V& l, V& dx, V& dy) const {
    SigmoidParts<V> p(x);
    V pos = pw * y, neg = V(1) - y;
    l = xmul(pos, p.sp_neg) + xmul(neg, p.sp_pos);
    dx = neg * p.s_pos - pos * p.s_neg;
    dy = pw * p.sp_neg - p.sp_pos;
  }
};

// binary_cross_entropy on probabilities, torch.nn.functional's definition:
//   l = -(y * max(log x, -100) + (1 - y) * max(log(1 - x), -100))
//   dl/dx = (x - y) / max(x * (1 - x), 1e-12)
//   dl/dy = max(log(1 - x), -100) - max(log x, -100)
// The -100 floor keeps l finite at x = 0 or 1; the 1e-12 floor does the same for the gradient.
// Both constants are PyTorch's, so results match eager. Inputs outside [0, 1] (or NaN) are an
// error, as in eager.
template <typename T>
struct Bce {
  static constexpr bool kHasTargetGrad = true;
  static constexpr bool kUsesPosWeight = false;
  static constexpr bool kChecksInput = true;
  static constexpr const char* kInvalidInput = "all elements of input should be between 0 and 1";
  template <typename V>
  LX_HD typename Math<V>::Mask valid(V x) const {
    using M = Math<V>;
    return M::land(M::ge(x, V(0)), M::ge(V(1), x));
  }
  template <typename V>
  LX_HD void operator()(V x, V y, V, V& l, V& dx, V& dy) const {
    using M = Math<V>;
    V floor_log = V(-100);
    V log_x = M::log(x), log_1mx = M::log1p(-x);
    log_x = M::select(M::lt(log_x, floor_log), floor_log, log_x);
    log_1mx = M::select(M::lt(log_1mx, floor_log), floor_log, log_1mx);
    l = -(y * log_x + (V(1) - y) * log_1mx);
    V denom = x * (V(1) - x);
    denom = M::select(M::lt(denom, V(T(1e-12))), V(T(1e-12)), denom);
    dx = (x - y) / denom;
    dy = log_1mx - log_x;
  }
};

// sigmoid_focal_loss, torchvision's definition (Lin et al., 2017, arXiv:1708.02002):
//   ce = binary_cross_entropy_with_logits(x, y);  m = 1 - p_t = s(x) (1 - y) + s(-x) y
//   l  = a_t * ce * m^gamma,  a_t = alpha y + (1 - alpha)(1 - y), or 1 when alpha < 0
//   dl/dx = a_t [(s(x) - y) m^g + g ce m^(g-1) s(x) s(-x) (1 - 2y)]
//   dl/dy = (2 alpha - 1) ce m^g + a_t [-x m^g + g ce m^(g-1) (s(-x) - s(x))]
// m^(g-1) is infinite for g < 1 at a saturated logit (m = 0), where its factor ce is 0 too.
// We form g (ce / m) m^g instead: ce / m stays bounded (ce ~ m as m -> 0) and the term is taken
// as its limit 0 when m == 0, so a fractional gamma never yields NaN or inf.
template <typename T>
struct SigmoidFocal {
  static constexpr bool kHasTargetGrad = true;
  static constexpr bool kUsesPosWeight = false;
  static constexpr bool kChecksInput = false;
  T alpha, gamma;
  bool use_alpha;
  template <typename V>
  LX_HD void operator()(V x, V y, V, V& l, V& dx, V& dy) const {
    using M = Math<V>;
    SigmoidParts<V> p(x);
    V one_minus_y = V(1) - y;
    V ce = xmul(y, p.sp_neg) + xmul(one_minus_y, p.sp_pos);
    V m = p.s_pos * one_minus_y + p.s_neg * y;
    V g = V(gamma);
    // Integer gammas (2 is the default) avoid pow, the costliest call here.
    V mg = gamma == T(0) ? V(1) : gamma == T(1) ? m : gamma == T(2) ? m * m : M::pow(m, g);
    // g * ce * m^(g-1), with its m == 0 limit of 0.
    auto m_pos = M::gt(m, V(0));
    V ce_over_m = ce / M::select(m_pos, m, V(1));
    V chain = M::select(m_pos, g * ce_over_m * mg, V(0));
    V a_t = use_alpha ? V(alpha) * y + V(T(1) - alpha) * one_minus_y : V(1);
    V ce_mg = xmul(mg, ce);
    l = a_t * ce_mg;
    // xmul: at x = -inf the chain term is inf * 0 (ce is infinite, s(x) s(-x) is 0); its limit is 0.
    dx = a_t * ((p.s_pos - y) * mg + xmul(p.s_pos * p.s_neg, chain) * (V(1) - V(2) * y));
    dy = a_t * (xmul(mg, -x) + chain * (p.s_neg - p.s_pos));
    if (use_alpha) dy = dy + V(T(2) * alpha - T(1)) * ce_mg;
  }
};

// log_cosh_loss: l = log(cosh(d)), d = x - y;  dl/dx = tanh(d) = -dl/dy.
// With t = expm1(|d|): sinh|d| = t (2 + t) / (2 (1 + t)) and cosh^2 = 1 + sinh^2, so
//   log cosh d = log1p(sinh^2 d) / 2,   tanh|d| = t (2 + t) / ((1 + t)^2 + 1).
// Both are free of cancellation for small |d| (l ~ d^2 / 2 keeps full relative precision). For
// |d| > kCap, exp(-2|d|) is below the rounding of either precision and log cosh d = |d| - log 2
// exactly, which also avoids the overflow of cosh (fp32 near |d| = 89, fp16 near 11).
template <typename T>
struct LogCosh {
  static constexpr bool kHasTargetGrad = true;
  static constexpr bool kUsesPosWeight = false;
  static constexpr bool kChecksInput = false;
  static constexpr T kCap = T(20);
  template <typename V>
  LX_HD void operator()(V x, V y, V, V& l, V& dx, V& dy) const {
    using M = Math<V>;
    V d = x - y;
    V a = M::abs(d);
    auto big = M::gt(a, V(kCap));
    V t = M::expm1(M::select(big, V(kCap), a));  // NaN stays NaN: NaN > cap is false
    V one_t = V(1) + t;
    V sinh = t * (V(2) + t) / (V(2) * one_t);
    l = M::select(big, a - V(T(0.693147180559945309417232121458176568)),
                  V(T(0.5)) * M::log1p(sinh * sinh));
    V th = t * (V(2) + t) / (one_t * one_t + V(1));
    dx = M::select(M::lt(d, V(0)), -th, th);
    dy = -dx;
  }
};

// kl_div, torch.nn.functional's pointwise term:
//   log_target=False: l = y (log y - x), 0 where y == 0;  dl/dx = -y;  dl/dy = log y + 1 - x
//   log_target=True:  l = e^y (y - x);                    dl/dx = -e^y; dl/dy = e^y (y - x + 1)
// A zero (or e^y == 0) target contributes exactly 0 even against x = -inf, the limit. A negative
// target with log_target=False gives NaN, as the logarithm does.
template <typename T>
struct KlDiv {
  static constexpr bool kHasTargetGrad = true;
  static constexpr bool kUsesPosWeight = false;
  static constexpr bool kChecksInput = false;
  bool log_target;
  template <typename V>
  LX_HD void operator()(V x, V y, V, V& l, V& dx, V& dy) const {
    using M = Math<V>;
    if (log_target) {
      V ey = M::exp(y);
      l = xmul(ey, y - x);
      dx = -ey;
      dy = xmul(ey, y - x + V(1));
    } else {
      V log_y = M::log(y);
      l = xmul(y, log_y - x);
      dx = -y;
      dy = log_y + V(1) - x;
    }
  }
};

// mse_loss: l = (x - y)^2;  dl/dx = 2 (x - y) = -dl/dy.
template <typename T>
struct Mse {
  static constexpr bool kHasTargetGrad = true;
  static constexpr bool kUsesPosWeight = false;
  static constexpr bool kChecksInput = false;
  template <typename V>
  LX_HD void operator()(V x, V y, V, V& l, V& dx, V& dy) const {
    V d = x - y;
    l = d * d;
    dx = V(2) * d;
    dy = -dx;
  }
};

// hinge_embedding_loss, torch.nn.functional's definition, which applies each term unless the
// target equals the other label (so a target that is neither 1 nor -1 gets both):
//   l = [y != 1] max(0, margin - x) + [y != -1] x
// The target is a label: it gets no gradient.
template <typename T>
struct HingeEmbedding {
  static constexpr bool kHasTargetGrad = false;
  static constexpr bool kUsesPosWeight = false;
  static constexpr bool kChecksInput = false;
  T margin;
  template <typename V>
  LX_HD void operator()(V x, V y, V, V& l, V& dx, V& dy) const {
    using M = Math<V>;
    V slack = V(margin) - x;
    auto not_pos = M::ne(y, V(1)), not_neg = M::ne(y, V(-1));
    l = M::select(not_pos, M::relu(slack), V(0)) + M::select(not_neg, x, V(0));
    dx = M::select(M::land(not_pos, M::gt(slack, V(0))), V(-1), V(0)) +
         M::select(not_neg, V(1), V(0));
    dy = V(0);
  }
};

// hinge_loss (SVM): l = max(0, margin - y x) for labels y in {-1, +1};
// dl/dx = -y where margin - y x > 0, else 0. The target is a label: it gets no gradient.
template <typename T>
struct Hinge {
  static constexpr bool kHasTargetGrad = false;
  static constexpr bool kUsesPosWeight = false;
  static constexpr bool kChecksInput = false;
  T margin;
  template <typename V>
  LX_HD void operator()(V x, V y, V, V& l, V& dx, V& dy) const {
    using M = Math<V>;
    V slack = V(margin) - y * x;
    l = M::relu(slack);
    dx = M::select(M::gt(slack, V(0)), -y, V(0));
    dy = V(0);
  }
};

// Every element-wise loss, for code that must name them all (explicit instantiation).
#define LOSSES_EXT_FOR_EACH_ELEMENTWISE_LOSS(X) \
  X(BceWithLogits)                              \
  X(Bce)                                        \
  X(SigmoidFocal)                               \
  X(LogCosh)                                    \
  X(KlDiv)                                      \
  X(Mse)                                        \
  X(HingeEmbedding)                             \
  X(Hinge)

}  // namespace losses_ext
