// SPDX-License-Identifier: Apache-2.0
// The Python module losses_ext._C. Importing it registers the ops (torch.ops.losses_ext.*); the
// functions below expose the CPU instruction-set choice to Python.
#include <torch/extension.h>

#include "cpu/cpu_capability.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  namespace cpu = losses_ext::cpu;
  m.def(
      "cpu_capability", [] { return cpu::capability_name(cpu::current_capability()); },
      "Instruction set the CPU kernels use now: 'default', 'avx2' or 'avx512'.");
  m.def(
      "best_cpu_capability", [] { return cpu::capability_name(cpu::best_capability()); },
      "Best instruction set this CPU and build support.");
  m.def("set_cpu_capability", &cpu::set_capability,
        "Use the kernels built for this instruction set ('default', 'avx2', 'avx512').");
}
