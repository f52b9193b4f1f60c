// vector_math's kernels for AVX2 with FMA (32-byte vectors), chosen at run time when the CPU has them.
#include <cstdint>

#include "vector_math_dispatch.h"

#ifdef LS_VEC_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
#define LS_VEC_AVX2 1
#include <immintrin.h>
#define LS_VEC_BYTES 32
#define LS_VEC_ISA avx2
#define LS_VEC_ISA_NAME "avx2"
#include "vector_math_kernels.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
