// vector_math's kernels for AVX-512F (64-byte vectors), chosen at run time when the CPU has it.
#include <cstdint>

#include "vector_math_dispatch.h"

#ifdef LS_VEC_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx2,fma")
#endif
#include <immintrin.h>
#define LS_VEC_BYTES 64
#define LS_VEC_ISA avx512
#define LS_VEC_ISA_NAME "avx512"
#include "vector_math_kernels.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
