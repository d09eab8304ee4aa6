// SPDX-License-Identifier: Apache-2.0
#include "cpu_capability.h"

#include <c10/util/Exception.h>

#include <atomic>
#include <cstdlib>

namespace losses_ext::cpu {
namespace {

constexpr int kUnset = -1;
std::atomic<int> g_capability{kUnset};

Capability parse(const std::string& name) {
  if (name == "default") return Capability::kDefault;
  if (name == "avx2") return Capability::kAVX2;
  if (name == "avx512") return Capability::kAVX512;
  TORCH_CHECK(false, "losses_ext: unknown CPU capability '", name,
              "' (expected 'default', 'avx2' or 'avx512')");
}

}  // namespace

Capability best_capability() {
#ifdef LOSSES_EXT_X86_CAPABILITIES
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("fma")) {
    return Capability::kAVX512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c")) {
    return Capability::kAVX2;
  }
#endif
  return Capability::kDefault;
}

std::string capability_name(Capability c) {
  switch (c) {
    case Capability::kAVX512:
      return "avx512";
    case Capability::kAVX2:
      return "avx2";
    default:
      return "default";
  }
}

void set_capability(const std::string& name) {
  Capability wanted = parse(name);
  TORCH_CHECK(static_cast<int>(wanted) <= static_cast<int>(best_capability()),
              "losses_ext: CPU capability '", name, "' is not supported here (best: '",
              capability_name(best_capability()), "')");
  g_capability.store(static_cast<int>(wanted));
}

Capability current_capability() {
  int c = g_capability.load(std::memory_order_relaxed);
  if (c != kUnset) return static_cast<Capability>(c);
  Capability chosen = best_capability();
  // Like PyTorch, ATEN_CPU_CAPABILITY may lower (never raise) the choice.
  if (const char* env = std::getenv("ATEN_CPU_CAPABILITY")) {
    std::string name(env);
    if (name == "default" || name == "avx2" || name == "avx512") {
      Capability asked = parse(name);
      if (static_cast<int>(asked) < static_cast<int>(chosen)) chosen = asked;
    }
  }
  g_capability.store(static_cast<int>(chosen));
  return chosen;
}

}  // namespace losses_ext::cpu
