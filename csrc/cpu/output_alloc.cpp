// SPDX-License-Identifier: Apache-2.0
#include "output_alloc.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace losses_ext::cpu {
namespace {

// LOSSES_EXT_HUGE_PAGES=0 turns the advice off (read once, at the first large output).
bool huge_page_advice_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("LOSSES_EXT_HUGE_PAGES");
    return value == nullptr || std::strcmp(value, "0") != 0;
  }();
  return enabled;
}

}  // namespace

at::Tensor empty_output(at::IntArrayRef sizes, const at::TensorOptions& options) {
  at::Tensor out = at::empty(sizes, options);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const int64_t nbytes = static_cast<int64_t>(out.nbytes());
  if (nbytes >= kHugePageAdviceBytes && huge_page_advice_enabled()) {
    // Only whole 2 MiB pages inside the tensor's own bytes; the advice is a hint, and a kernel
    // that refuses it (EINVAL without THP support) leaves ordinary pages.
    constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
    const auto begin = reinterpret_cast<uintptr_t>(out.data_ptr());
    const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
    const uintptr_t last = (begin + static_cast<uintptr_t>(nbytes)) & ~(kHugePage - 1);
    if (last > first) {
      madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
    }
  }
#endif
  return out;
}

}  // namespace losses_ext::cpu
