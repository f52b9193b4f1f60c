// The table of vector_math.h's kernels that each instruction set's translation unit fills in, and the tables
// vector_math.cc chooses from.
#pragma once
#include <cstdint>

namespace ls {
namespace cpu {
namespace vec {

struct Kernels {
  const char* name;
  void (*exp_float)(const float*, float*, int64_t);
  void (*exp_double)(const double*, double*, int64_t);
  void (*log_float)(const float*, float*, int64_t);
  void (*log_double)(const double*, double*, int64_t);
  float (*max_float)(const float*, int64_t);
  double (*max_double)(const double*, int64_t);
  float (*exp_shifted_sum_float)(const float*, float, float*, int64_t);
  double (*exp_shifted_sum_double)(const double*, double, double*, int64_t);
  float (*log_sum_exp_float)(const float*, int64_t);
  double (*log_sum_exp_double)(const double*, int64_t);
  void (*scale_float)(float*, float, int64_t);
  void (*scale_double)(double*, double, int64_t);
  void (*log_sum_exp_rows_float)(const float*, const float*, int64_t, int64_t, float*);
  void (*log_sum_exp_rows_double)(const double*, const double*, int64_t, int64_t, double*);
  void (*exp_rows_float)(const float*, const float*, int64_t, int64_t, float*, float*, float*);
  void (*exp_rows_double)(const double*, const double*, int64_t, int64_t, double*, double*, double*);
  void (*scale_rows_sum_columns_float)(float*, const float*, int64_t, int64_t, float*);
  void (*scale_rows_sum_columns_double)(double*, const double*, int64_t, int64_t, double*);
  void (*log_sum_exp_of_sums_lanes_float)(const float*, const float*, int64_t, int64_t, float*);
  void (*log_sum_exp_of_sums_lanes_double)(const double*, const double*, int64_t, int64_t, double*);
  void (*log_sum_exp_terms_float)(const float* const*, const float* const*, int64_t, int64_t, float*);
  void (*log_sum_exp_terms_double)(const double* const*, const double* const*, int64_t, int64_t, double*);
  void (*max_terms_float)(const float* const*, const float* const*, int64_t, int64_t, float*);
  void (*max_terms_double)(const double* const*, const double* const*, int64_t, int64_t, double*);
  void (*exp_of_sums_float)(const float*, const float*, const float*, float, int64_t, float*);
  void (*exp_of_sums_double)(const double*, const double*, const double*, double, int64_t, double*);
  void (*add_rows_float)(const float*, int64_t, const float*, int64_t, int64_t, int64_t, float*);
  void (*add_rows_double)(const double*, int64_t, const double*, int64_t, int64_t, int64_t, double*);
};

#if defined(__x86_64__) || defined(_M_X64)
#define LS_VEC_X86 1
namespace avx512 {
extern const Kernels kernels;
}
namespace avx2 {
extern const Kernels kernels;
}
#endif
namespace baseline {
extern const Kernels kernels;
}

/// The kernels of an instruction set by name ("avx512", "avx2", "baseline"), or nullptr when this CPU or build
/// lacks it (the tests compare every available set against libm).
const Kernels* kernels_named(const char* name);

}  // namespace vec
}  // namespace cpu
}  // namespace ls
