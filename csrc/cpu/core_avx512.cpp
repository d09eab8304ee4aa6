// SPDX-License-Identifier: Apache-2.0
// The element-wise chunk kernels for the AVX512 CPU capability; see elementwise_core_impl.h.
// setup.py compiles this file alone with the instruction-set flags that AVX512 needs.
#ifndef __AVX512F__
#error "core_avx512.cpp must be compiled with the AVX512 instruction-set flags (see setup.py)"
#endif
#define CPU_CAPABILITY AVX512
#define CPU_CAPABILITY_AVX512
#include "elementwise_core_impl.h"
