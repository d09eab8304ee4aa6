// SPDX-License-Identifier: Apache-2.0
// The element-wise ops, written once for every backend: argument checks, and for each op the
// loss struct of loss_math.h with its parameters. A backend supplies a Driver with
//
//   template <template <typename> class LossT, typename MakeLoss>
//   static Grads run(const char* name, MakeLoss make_loss, const Tensor& input,
//                    const Tensor& target, const std::optional<Tensor>& weight,
//                    const std::optional<Tensor>& pos_weight, int64_t reduction,
//                    bool need_dx, bool need_dy);
//
// (make_loss(T{}) builds the loss struct for compute type T) and registers
// ElementwiseOps<Driver> for its dispatch key with register_elementwise_ops().
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <optional>
#include <tuple>

#include "loss_math.h"
#include "reduction.h"

namespace losses_ext {

using Grads = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

inline void check_operand(const char* name, const char* what, const at::Tensor& t,
                          const at::Tensor& input) {
  TORCH_CHECK(t.device() == input.device(), name, ": ", what, " is on ", t.device(),
              " but input is on ", input.device());
  TORCH_CHECK(t.scalar_type() == input.scalar_type(), name, ": ", what, " has dtype ",
              t.scalar_type(), " but input has dtype ", input.scalar_type());
  TORCH_CHECK(t.sizes() == input.sizes(), name, ": ", what, " has shape ", t.sizes(),
              " but input has shape ", input.sizes(),
              " (the Python API broadcasts before calling this op)");
}

// The checks every backend makes before running loss LossT.
template <template <typename> class LossT>
void check_elementwise_args(const char* name, const at::Tensor& input, const at::Tensor& target,
                            const std::optional<at::Tensor>& weight,
                            const std::optional<at::Tensor>& pos_weight, int64_t reduction,
                            bool need_dy) {
  TORCH_CHECK(at::isFloatingType(input.scalar_type()), name,
              ": input must be a floating-point tensor, got ", input.scalar_type());
  check_operand(name, "target", target, input);
  if (weight) check_operand(name, "weight", *weight, input);
  if (pos_weight) check_operand(name, "pos_weight", *pos_weight, input);
  check_reduction(name, reduction);
  TORCH_CHECK(!need_dy || LossT<float>::kHasTargetGrad, name,
              ": the target is a label and has no gradient");
}

template <typename Driver>
struct ElementwiseOps {
  using Tensor = at::Tensor;
  using OptTensor = std::optional<Tensor>;

  static Grads bce_with_logits(const Tensor& input, const Tensor& target, const OptTensor& weight,
                               const OptTensor& pos_weight, int64_t reduction, bool grad_input,
                               bool grad_target) {
    return Driver::template run<BceWithLogits>(
        "binary_cross_entropy_with_logits", [](auto t) { return BceWithLogits<decltype(t)>{}; },
        input, target, weight, pos_weight, reduction, grad_input, grad_target);
  }

  static Grads bce(const Tensor& input, const Tensor& target, const OptTensor& weight,
                   int64_t reduction, bool grad_input, bool grad_target) {
    return Driver::template run<Bce>(
        "binary_cross_entropy", [](auto t) { return Bce<decltype(t)>{}; }, input, target, weight,
        std::nullopt, reduction, grad_input, grad_target);
  }

  static Grads sigmoid_focal(const Tensor& input, const Tensor& target, double alpha,
                             double gamma, int64_t reduction, bool grad_input, bool grad_target) {
    TORCH_CHECK(gamma >= 0, "sigmoid_focal_loss: gamma must be >= 0, got ", gamma);
    return Driver::template run<SigmoidFocal>(
        "sigmoid_focal_loss",
        [=](auto t) {
          using T = decltype(t);
          return SigmoidFocal<T>{T(alpha), T(gamma), alpha >= 0};
        },
        input, target, std::nullopt, std::nullopt, reduction, grad_input, grad_target);
  }

  static Grads log_cosh(const Tensor& input, const Tensor& target, int64_t reduction,
                        bool grad_input, bool grad_target) {
    return Driver::template run<LogCosh>(
        "log_cosh_loss", [](auto t) { return LogCosh<decltype(t)>{}; }, input, target,
        std::nullopt, std::nullopt, reduction, grad_input, grad_target);
  }

  static Grads kl_div(const Tensor& input, const Tensor& target, bool log_target,
                      int64_t reduction, bool grad_input, bool grad_target) {
    return Driver::template run<KlDiv>(
        "kl_div", [=](auto t) { return KlDiv<decltype(t)>{log_target}; }, input, target,
        std::nullopt, std::nullopt, reduction, grad_input, grad_target);
  }

  static Grads mse(const Tensor& input, const Tensor& target, int64_t reduction, bool grad_input,
                   bool grad_target) {
    return Driver::template run<Mse>(
        "mse_loss", [](auto t) { return Mse<decltype(t)>{}; }, input, target, std::nullopt,
        std::nullopt, reduction, grad_input, grad_target);
  }

  static Grads hinge_embedding(const Tensor& input, const Tensor& target, double margin,
                               int64_t reduction, bool grad_input, bool grad_target) {
    return Driver::template run<HingeEmbedding>(
        "hinge_embedding_loss",
        [=](auto t) { return HingeEmbedding<decltype(t)>{decltype(t)(margin)}; }, input, target,
        std::nullopt, std::nullopt, reduction, grad_input, grad_target);
  }

  static Grads hinge(const Tensor& input, const Tensor& target, double margin, int64_t reduction,
                     bool grad_input, bool grad_target) {
    return Driver::template run<Hinge>(
        "hinge_loss", [=](auto t) { return Hinge<decltype(t)>{decltype(t)(margin)}; }, input,
        target, std::nullopt, std::nullopt, reduction, grad_input, grad_target);
  }
};

template <typename Driver>
void register_elementwise_ops(torch::Library& m) {
  using Ops = ElementwiseOps<Driver>;
  m.impl("bce_with_logits", &Ops::bce_with_logits);
  m.impl("bce", &Ops::bce);
  m.impl("sigmoid_focal", &Ops::sigmoid_focal);
  m.impl("log_cosh", &Ops::log_cosh);
  m.impl("kl_div", &Ops::kl_div);
  m.impl("mse", &Ops::mse);
  m.impl("hinge_embedding", &Ops::hinge_embedding);
  m.impl("hinge", &Ops::hinge);
}

}  // namespace losses_ext
