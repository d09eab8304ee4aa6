// SPDX-License-Identifier: Apache-2.0
// CPU driver of the fused element-wise losses: checks, memory layout, dtype conversion, blocking,
// threading and the deterministic reduction. It knows nothing of any particular loss; the math
// comes from loss_math.h through the chunk kernels of elementwise_core.h.
//
// Reduction protocol. The flat input is cut into blocks of kBlock elements, a size independent of
// the thread count. Each block sums its chunk results in double; the block sums are then added in
// index order. The loss is therefore bit-identical on every run and for any number of threads.
// 'mean' and 'batchmean' fold 1 / divisor into the gradient in the same pass.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <atomic>
#include <type_traits>
#include <vector>

#include "../elementwise_ops.h"
#include "../loss_math.h"
#include "../reduction.h"
#include "cpu_capability.h"
#include "elementwise_core.h"

namespace losses_ext::cpu {
namespace {

using at::Tensor;

constexpr int64_t kChunksPerBlock = 16;
constexpr int64_t kBlock = kChunk * kChunksPerBlock;

template <typename Loss, typename T>
ChunkFn<Loss, T> pick_chunk_kernel(bool has_weight, bool need_dx, bool need_dy) {
  switch (current_capability()) {
#ifdef LOSSES_EXT_X86_CAPABILITIES
    case Capability::kAVX512:
      return AVX512::chunk_kernel<Loss, T>(has_weight, need_dx, need_dy);
    case Capability::kAVX2:
      return AVX2::chunk_kernel<Loss, T>(has_weight, need_dx, need_dy);
#endif
    default:
      return DEFAULT::chunk_kernel<Loss, T>(has_weight, need_dx, need_dy);
  }
}

// Pointers into the contiguous operands, in the storage type.
template <typename scalar_t>
struct Operands {
  const scalar_t *x, *y, *weight, *pw;
  scalar_t *loss, *dx, *dy;
};

// Runs fn over elements [begin, begin + n) of the operands, n <= kChunk. float and double are
// passed straight through; fp16 and bf16 are widened to float in stack buffers and the outputs
// narrowed back, so the math always runs in float or double.
template <typename scalar_t, typename T, typename Loss>
ChunkResult run_chunk(ChunkFn<Loss, T> fn, const Loss& loss, const Operands<scalar_t>& op,
                      int64_t begin, int64_t n, T grad_scale) {
  if constexpr (std::is_same_v<scalar_t, T>) {
    auto at = [begin](auto* p) { return p ? p + begin : nullptr; };
    return fn(loss, {at(op.x), at(op.y), at(op.weight), at(op.pw), at(op.loss), at(op.dx),
                     at(op.dy), n, grad_scale});
  } else {
    T x[kChunk], y[kChunk], w[kChunk], pw[kChunk], l[kChunk], dx[kChunk], dy[kChunk];
    auto widen = [&](const scalar_t* src, T* dst) -> const T* {
      if (!src) return nullptr;
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(src[begin + i]);
      return dst;
    };
    ChunkArgs<T> args{widen(op.x, x), widen(op.y, y), widen(op.weight, w), widen(op.pw, pw),
                      op.loss ? l : nullptr, op.dx ? dx : nullptr, op.dy ? dy : nullptr, n,
                      grad_scale};
    ChunkResult r = fn(loss, args);
    auto narrow = [&](const T* src, scalar_t* dst) {
      if (!dst) return;
      for (int64_t i = 0; i < n; ++i) dst[begin + i] = static_cast<scalar_t>(src[i]);
    };
    narrow(l, op.loss);
    narrow(dx, op.dx);
    narrow(dy, op.dy);
    return r;
  }
}

// The generic fused forward: loss (per element or reduced) and the gradients asked for.
struct CpuDriver {
template <template <typename> class LossT, typename MakeLoss>
static Grads run(const char* name, MakeLoss make_loss, const Tensor& input,
                 const Tensor& target, const std::optional<Tensor>& weight,
                 const std::optional<Tensor>& pos_weight, int64_t reduction, bool need_dx,
                 bool need_dy) {
  check_elementwise_args<LossT>(name, input, target, weight, pos_weight, reduction, need_dy);
  TORCH_CHECK(input.device().is_cpu(), name, ": expected CPU tensors, got ", input.device());

  const Tensor x = input.contiguous(), y = target.contiguous();
  const Tensor w = weight ? weight->contiguous() : Tensor();
  const Tensor pw = pos_weight ? pos_weight->contiguous() : Tensor();
  const int64_t numel = x.numel();
  const bool reduce = reduction != kReductionNone;
  Tensor loss = reduce ? at::empty({}, x.options()) : at::empty_like(x);
  // A target-only gradient still runs the dx+dy kernel; dx then goes to a buffer we drop.
  Tensor dx = (need_dx || need_dy) ? at::empty_like(x) : at::empty({0}, x.options());
  Tensor dy = need_dy ? at::empty_like(x) : at::empty({0}, x.options());
  const double divisor = reduction_divisor(reduction, input);
  const double grad_scale = reduction_grad_scale(reduction, input);

  const int64_t n_blocks = (numel + kBlock - 1) / kBlock;
  std::vector<double> block_sums(n_blocks, 0.0);
  std::atomic<bool> invalid{false};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "losses_ext_elementwise_cpu", [&] {
    using T = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    const auto loss_fn = make_loss(T{});
    const auto kernel =
        pick_chunk_kernel<LossT<T>, T>(w.defined(), need_dx || need_dy, need_dy);
    auto ptr = [](const Tensor& t) { return t.defined() ? t.data_ptr<scalar_t>() : nullptr; };
    const Operands<scalar_t> ops{ptr(x),
                                 ptr(y),
                                 ptr(w),
                                 ptr(pw),
                                 reduce ? nullptr : loss.data_ptr<scalar_t>(),
                                 (need_dx || need_dy) ? dx.data_ptr<scalar_t>() : nullptr,
                                 need_dy ? dy.data_ptr<scalar_t>() : nullptr};
    at::parallel_for(0, n_blocks, 1, [&](int64_t first, int64_t last) {
      for (int64_t b = first; b < last; ++b) {
        double sum = 0;
        const int64_t end = std::min(numel, (b + 1) * kBlock);
        for (int64_t begin = b * kBlock; begin < end; begin += kChunk) {
          ChunkResult r = run_chunk<scalar_t, T>(kernel, loss_fn, ops, begin,
                                                 std::min(kChunk, end - begin), T(grad_scale));
          sum += r.loss_sum;
          if (r.invalid) invalid.store(true, std::memory_order_relaxed);
        }
        block_sums[b] = sum;
      }
    });
  });
  if constexpr (LossT<float>::kChecksInput) {
    TORCH_CHECK(!invalid.load(), name, ": ", LossT<float>::kInvalidInput);
  }
  if (reduce) {
    double total = 0;
    for (double s : block_sums) total += s;
    loss.fill_(reduction == kReductionSum ? total : total / divisor);
  }
  if (!need_dx) dx = at::empty({0}, x.options());
  return {loss, dx, dy};
}
};

void scale_grad_cpu(Tensor& grad, const Tensor& scale) {
  TORCH_CHECK(scale.numel() == 1 && scale.device() == grad.device() &&
                  scale.scalar_type() == grad.scalar_type(),
              "scale_grad_: expected a one-element scale of grad's dtype and device");
  if (scale.item<double>() != 1.0) grad.mul_(scale);  // a host read is free on the CPU
}

}  // namespace

TORCH_LIBRARY_IMPL(losses_ext, CPU, m) {
  register_elementwise_ops<CpuDriver>(m);
  m.impl("scale_grad_", &scale_grad_cpu);
}

}  // namespace losses_ext::cpu
