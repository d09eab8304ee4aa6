// SPDX-License-Identifier: Apache-2.0
// Which instruction set the CPU kernels use. Chosen once from the running CPU, or from the
// ATEN_CPU_CAPABILITY environment variable that also steers PyTorch's own kernels ('default',
// 'avx2', 'avx512'); tests switch it with set_capability().
#pragma once

#include <string>

namespace losses_ext::cpu {

enum class Capability { kDefault = 0, kAVX2 = 1, kAVX512 = 2 };

Capability current_capability();
// The best capability this CPU and this build support.
Capability best_capability();
std::string capability_name(Capability c);
// Selects a capability by name; raises for an unknown name or one the CPU or build lacks.
void set_capability(const std::string& name);

}  // namespace losses_ext::cpu
