// SPDX-License-Identifier: Apache-2.0
// Allocation of the CPU ops' outputs (the loss per element and the gradients).
//
// A large fresh tensor costs more in first-touch page faults than the fused kernel spends
// computing it: glibc serves allocations of 32 MiB and more with a new mmap every time, and the
// kernel then faults in and zeroes each 4 KiB page on first write. Measured on a 2-core machine:
// writing a fresh 64 MiB tensor took 22 ms, writing one that was already mapped 5 ms. Such
// outputs are therefore advised for transparent huge pages (MADV_HUGEPAGE) before they are
// written, so each fault maps 2 MiB at once (6.5 ms for the same write). Where transparent huge
// pages are disabled the advice has no effect, and nothing else changes: the memory still comes
// from, and returns to, PyTorch's CPU allocator. LOSSES_EXT_HUGE_PAGES=0 turns it off.
//
// One environment where it can cost time: a virtual machine whose guest reports freed memory to
// the host (Linux free page reporting). Freed huge pages form the large free blocks that get
// reported, the host discards them, and the next use faults on the host. On such a machine a
// run of calls can take several times longer until the set of pages in use settles.
#pragma once

#include <ATen/ATen.h>

namespace losses_ext::cpu {

// Outputs at least this large are advised (glibc's largest dynamic mmap threshold: anything
// smaller may be reused from the heap, already mapped).
constexpr int64_t kHugePageAdviceBytes = int64_t{32} << 20;

// at::empty(sizes, options), advised for huge pages when it is large.
at::Tensor empty_output(at::IntArrayRef sizes, const at::TensorOptions& options);

}  // namespace losses_ext::cpu
