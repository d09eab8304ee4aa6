// SPDX-License-Identifier: Apache-2.0
// The element-wise chunk kernels for the DEFAULT CPU capability; see elementwise_core_impl.h.
// Compiled with the project's ordinary flags: it runs on any x86-64 (or other) CPU.
#define CPU_CAPABILITY DEFAULT
#define CPU_CAPABILITY_DEFAULT
#include "elementwise_core_impl.h"
