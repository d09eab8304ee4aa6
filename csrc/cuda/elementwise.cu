// SPDX-License-Identifier: Apache-2.0
// CUDA driver of the fused element-wise losses. The per-element math is loss_math.h, the same
// code the CPU kernels run, instantiated here with scalar float / double.
//
// Work split. The flat input is cut into tiles of kTile elements (a size fixed at compile time,
// independent of the GPU); thread blocks walk the tiles grid-stride, the grid sized from the SM
// count. Each thread loads kVec elements at a time with one 128-bit load where the pointers
// allow (a scalar loop handles the tail and unaligned operands). Each tile's loss sum is
// reduced in the block (warp shuffles, then shared memory) and written to partials[tile]; a
// second kernel adds the partials in a fixed order. No atomics: the same bits on every run and
// on every GPU. 'mean' and 'batchmean' fold 1 / divisor into the gradient in the same pass.
//
// No host synchronisation anywhere: launches go to the current stream, so the ops can be
// captured in a CUDA graph. binary_cross_entropy's range check cannot raise without a
// synchronisation; out-of-range inputs give NaN there (the CPU backend raises).
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cstdint>
#include <limits>
#include <type_traits>

#include "../elementwise_ops.h"
#include "../loss_math.h"
#include "../reduction.h"
#include "block_reduce.cuh"

namespace losses_ext::cuda {
namespace {

using at::Tensor;

constexpr int kUnroll = 2;  // 128-bit loads in flight per thread and operand

template <typename scalar_t>
constexpr int vec_size() {
  return 16 / sizeof(scalar_t);  // elements per 128-bit load
}

template <typename scalar_t>
constexpr int64_t tile_size() {
  return int64_t(kThreads) * kUnroll * vec_size<scalar_t>();
}

template <typename scalar_t, int kVec>
struct alignas(16) Pack {
  scalar_t v[kVec];
};

template <typename scalar_t>
struct Operands {
  const scalar_t* x;
  const scalar_t* y;
  const scalar_t* weight;  // nullable
  const scalar_t* pw;      // nullable
  scalar_t* loss;          // per-element loss ('none'), else nullptr
  scalar_t* dx;            // nullable
  scalar_t* dy;            // nullable
};

// One element: loss and gradients in acc_t, weighted, gradients scaled, stored.
template <typename Loss, typename acc_t, typename scalar_t>
__device__ __forceinline__ acc_t apply(const Loss& loss, scalar_t xs, scalar_t ys, scalar_t ws,
                                       scalar_t pws, bool has_w, acc_t grad_scale,
                                       scalar_t* loss_out, scalar_t* dx_out, scalar_t* dy_out) {
  acc_t x = static_cast<acc_t>(xs), y = static_cast<acc_t>(ys);
  acc_t pw = static_cast<acc_t>(pws);
  acc_t l, dx, dy;
  loss(x, y, pw, l, dx, dy);
  if (has_w) {
    acc_t w = static_cast<acc_t>(ws);
    l *= w;
    dx *= w;
    dy *= w;
  }
  if constexpr (Loss::kChecksInput) {
    if (!loss.valid(x)) {
      l = dx = std::numeric_limits<acc_t>::quiet_NaN();
    }
  }
  if (loss_out) *loss_out = static_cast<scalar_t>(l);
  if (dx_out) *dx_out = static_cast<scalar_t>(dx * grad_scale);
  if (dy_out) *dy_out = static_cast<scalar_t>(dy * grad_scale);
  return l;
}

template <typename Loss, typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    elementwise_fwd_kernel(Loss loss, Operands<scalar_t> op, acc_t* partials, int64_t n,
                           int64_t n_tiles, acc_t grad_scale, bool vectorized) {
  constexpr int kVec = vec_size<scalar_t>();
  constexpr int64_t kTile = tile_size<scalar_t>();
  using P = Pack<scalar_t, kVec>;
  const bool has_w = op.weight != nullptr;
  const scalar_t one(1);
  for (int64_t tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
    acc_t sum = 0;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i0 = tile * kTile + (int64_t(u) * kThreads + threadIdx.x) * kVec;
      if (vectorized && i0 + kVec <= n) {
        P x = *reinterpret_cast<const P*>(op.x + i0);
        P y = *reinterpret_cast<const P*>(op.y + i0);
        P w, pw, l, dx, dy;
        if (has_w) w = *reinterpret_cast<const P*>(op.weight + i0);
        if (op.pw) pw = *reinterpret_cast<const P*>(op.pw + i0);
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          sum += apply<Loss, acc_t>(loss, x.v[k], y.v[k], has_w ? w.v[k] : one,
                                    op.pw ? pw.v[k] : one, has_w, grad_scale, &l.v[k], &dx.v[k],
                                    &dy.v[k]);
        }
        if (op.loss) *reinterpret_cast<P*>(op.loss + i0) = l;
        if (op.dx) *reinterpret_cast<P*>(op.dx + i0) = dx;
        if (op.dy) *reinterpret_cast<P*>(op.dy + i0) = dy;
      } else {
        for (int64_t i = i0; i < i0 + kVec && i < n; ++i) {
          sum += apply<Loss, acc_t>(loss, op.x[i], op.y[i], has_w ? op.weight[i] : one,
                                    op.pw ? op.pw[i] : one, has_w, grad_scale,
                                    op.loss ? op.loss + i : nullptr, op.dx ? op.dx + i : nullptr,
                                    op.dy ? op.dy + i : nullptr);
        }
      }
    }
    acc_t total = block_sum(sum);
    if (threadIdx.x == 0 && partials) partials[tile] = total;
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

struct CudaDriver {
template <template <typename> class LossT, typename MakeLoss>
static Grads run(const char* name, MakeLoss make_loss, const Tensor& input, const Tensor& target,
                 const std::optional<Tensor>& weight, const std::optional<Tensor>& pos_weight,
                 int64_t reduction, bool need_dx, bool need_dy) {
  check_elementwise_args<LossT>(name, input, target, weight, pos_weight, reduction, need_dy);
  TORCH_CHECK(input.is_cuda(), name, ": expected CUDA tensors, got ", input.device());
  const c10::cuda::CUDAGuard guard(input.device());

  const Tensor x = input.contiguous(), y = target.contiguous();
  const Tensor w = weight ? weight->contiguous() : Tensor();
  const Tensor pw = pos_weight ? pos_weight->contiguous() : Tensor();
  const int64_t n = x.numel();
  const bool reduce = reduction != kReductionNone;
  Tensor loss = reduce ? at::empty({}, x.options()) : at::empty(x.sizes(), x.options());
  Tensor dx = at::empty(need_dx ? x.sizes() : at::IntArrayRef{0}, x.options());
  Tensor dy = at::empty(need_dy ? x.sizes() : at::IntArrayRef{0}, x.options());
  const double divisor = reduction_divisor(reduction, input);
  const double grad_scale = reduction_grad_scale(reduction, input);
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(),
                                  "losses_ext_elementwise_cuda", [&] {
    using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    const int64_t n_tiles = (n + tile_size<scalar_t>() - 1) / tile_size<scalar_t>();
    Tensor partials = at::empty({reduce ? std::max<int64_t>(n_tiles, 1) : 0},
                                x.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
    auto ptr = [](const Tensor& t) { return t.defined() ? t.data_ptr<scalar_t>() : nullptr; };
    Operands<scalar_t> op{ptr(x),
                          ptr(y),
                          ptr(w),
                          ptr(pw),
                          reduce ? nullptr : loss.data_ptr<scalar_t>(),
                          need_dx ? dx.data_ptr<scalar_t>() : nullptr,
                          need_dy ? dy.data_ptr<scalar_t>() : nullptr};
    bool vectorized = aligned16(op.x) && aligned16(op.y) && (!op.weight || aligned16(op.weight)) &&
                      (!op.pw || aligned16(op.pw)) && (!op.loss || aligned16(op.loss)) &&
                      (!op.dx || aligned16(op.dx)) && (!op.dy || aligned16(op.dy));
    acc_t* partial_ptr = reduce ? partials.data_ptr<acc_t>() : nullptr;
    if (n > 0) {
      elementwise_fwd_kernel<<<grid_size(n_tiles), kThreads, 0, stream>>>(
          make_loss(acc_t{}), op, partial_ptr, n, n_tiles, acc_t(grad_scale), vectorized);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    if (reduce) {
      if (n == 0) partials.zero_();
      sum_partials_kernel<scalar_t, acc_t><<<1, kThreads, 0, stream>>>(
          partial_ptr, std::max<int64_t>(n_tiles, 1), loss.data_ptr<scalar_t>(),
          acc_t(reduction == kReductionSum ? 1.0 : divisor), nullptr);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  return {loss, dx, dy};
}
};

// grad *= scale for a one-element scale, read on the device: when it is exactly 1 (a plain
// loss.backward()) every block returns at once, so the common case costs no pass over grad.
template <typename scalar_t>
__global__ void scale_grad_kernel(scalar_t* grad, const scalar_t* scale, int64_t n) {
  const float s = static_cast<float>(*scale);
  if (s == 1.0f) return;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    grad[i] = static_cast<scalar_t>(grad[i] * *scale);
  }
}

void scale_grad_cuda(Tensor& grad, const Tensor& scale) {
  TORCH_CHECK(scale.numel() == 1 && scale.device() == grad.device() &&
                  scale.scalar_type() == grad.scalar_type() && grad.is_contiguous(),
              "scale_grad_: expected a contiguous grad and a one-element scale of its dtype "
              "and device");
  const c10::cuda::CUDAGuard guard(grad.device());
  const int64_t n = grad.numel();
  if (n == 0) return;
  const int64_t blocks = grid_size((n + kThreads - 1) / kThreads);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(),
                                  "losses_ext_scale_grad_cuda", [&] {
    scale_grad_kernel<<<blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        grad.data_ptr<scalar_t>(), scale.data_ptr<scalar_t>(), n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace

int64_t grid_size(int64_t work) {
  int device = 0, sms = 0;
  C10_CUDA_CHECK(cudaGetDevice(&device));
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return std::max<int64_t>(1, std::min<int64_t>(work, int64_t(sms) * 8));
}

TORCH_LIBRARY_IMPL(losses_ext, CUDA, m) {
  register_elementwise_ops<CudaDriver>(m);
  m.impl("scale_grad_", &scale_grad_cuda);
}

}  // namespace losses_ext::cuda
