// SPDX-License-Identifier: Apache-2.0
// The element-wise chunk kernels for the AVX2 CPU capability; see elementwise_core_impl.h.
// setup.py compiles this file alone with the instruction-set flags that AVX2 needs.
#ifndef __AVX2__
#error "core_avx2.cpp must be compiled with the AVX2 instruction-set flags (see setup.py)"
#endif
#define CPU_CAPABILITY AVX2
#define CPU_CAPABILITY_AVX2
#include "elementwise_core_impl.h"
