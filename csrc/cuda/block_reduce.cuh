// SPDX-License-Identifier: Apache-2.0
// Deterministic block reductions and the ordered partial-sum kernel shared by the CUDA ops.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace losses_ext::cuda {

constexpr int kThreads = 256;

// Sum over the block; the result is valid in thread 0. Fixed shuffle and shared-memory order.
template <typename acc_t>
__device__ acc_t block_sum(acc_t v) {
  __shared__ acc_t warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffff, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  acc_t total = 0;
  if (threadIdx.x == 0) {
    for (int w = 0; w < kThreads / 32; ++w) total += warp_sums[w];
  }
  __syncthreads();  // warp_sums is reused by the next call
  return total;
}

// The same, with the result broadcast to every thread.
template <typename acc_t>
__device__ acc_t block_sum_all(acc_t v) {
  __shared__ acc_t result;
  acc_t total = block_sum(v);
  if (threadIdx.x == 0) result = total;
  __syncthreads();
  total = result;
  __syncthreads();
  return total;
}

// Maximum over the block, broadcast to every thread. NaN propagates.
template <typename acc_t>
__device__ acc_t block_max_all(acc_t v) {
  __shared__ acc_t warp_max[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) {
    acc_t o = __shfl_down_sync(0xffffffff, v, offset);
    v = (o != o || o > v) ? o : v;
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_max[warp] = v;
  __syncthreads();
  acc_t m = warp_max[0];
  for (int w = 1; w < kThreads / 32; ++w) m = (warp_max[w] != warp_max[w] || warp_max[w] > m) ? warp_max[w] : m;
  __syncthreads();
  return m;
}

// One block adds partials[0..n) in a fixed order and writes total / divisor (divisor read from
// divisor_ptr when it is set, so a divisor computed on the device needs no host round trip).
template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    sum_partials_kernel(const acc_t* partials, int64_t n_partials, scalar_t* out, acc_t divisor,
                        const acc_t* divisor_ptr) {
  acc_t sum = 0;
  for (int64_t i = threadIdx.x; i < n_partials; i += kThreads) sum += partials[i];
  acc_t total = block_sum(sum);
  if (threadIdx.x == 0) {
    *out = static_cast<scalar_t>(total / (divisor_ptr ? *divisor_ptr : divisor));
  }
}

// Grid size for a grid-stride launch over `work` units: a few resident blocks per SM. (ATen's
// device-properties helper needs the cuSPARSE/cuBLAS headers, which a minimal toolkit lacks; the
// attribute query is a host call without synchronisation.)
int64_t grid_size(int64_t work);

}  // namespace losses_ext::cuda
