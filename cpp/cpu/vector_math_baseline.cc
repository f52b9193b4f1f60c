// vector_math's kernels for the architecture's baseline: 16-byte vectors (SSE2 on x86-64, NEON on arm64).
#include <cstdint>

#define LS_VEC_BYTES 16
#define LS_VEC_ISA baseline
#define LS_VEC_ISA_NAME "baseline"
#include "vector_math_kernels.h"
