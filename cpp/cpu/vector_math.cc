// Run-time choice of vector_math's kernels: the widest instruction set the CPU has, or a narrower one that
// LATENT_STRUCT_SIMD names.
#include "vector_math.h"

#include <cstdlib>
#include <cstring>

#include "vector_math_dispatch.h"

namespace ls {
namespace cpu {
namespace vec {

const Kernels* kernels_named(const char* name) {
#ifdef LS_VEC_X86
  __builtin_cpu_init();
  if (std::strcmp(name, "avx512") == 0) return __builtin_cpu_supports("avx512f") ? &avx512::kernels : nullptr;
  if (std::strcmp(name, "avx2") == 0) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &avx2::kernels : nullptr;
  }
#endif
  if (std::strcmp(name, "baseline") == 0) return &baseline::kernels;
  return nullptr;
}

namespace {

const Kernels& choose() {
  const char* wanted = std::getenv("LATENT_STRUCT_SIMD");
  if (wanted && *wanted) {
    if (const Kernels* k = kernels_named(wanted)) return *k;
  }
  static const char* const widest_first[] = {"avx512", "avx2"};
  for (const char* name : widest_first) {
    if (const Kernels* k = kernels_named(name)) return *k;
  }
  return baseline::kernels;
}

const Kernels& active() {
  static const Kernels& chosen = choose();
  return chosen;
}

}  // namespace

const char* isa() { return active().name; }

void exp(const float* in, float* out, int64_t n) { active().exp_float(in, out, n); }
void exp(const double* in, double* out, int64_t n) { active().exp_double(in, out, n); }
void log(const float* in, float* out, int64_t n) { active().log_float(in, out, n); }
void log(const double* in, double* out, int64_t n) { active().log_double(in, out, n); }
float max(const float* in, int64_t n) { return active().max_float(in, n); }
double max(const double* in, int64_t n) { return active().max_double(in, n); }
float exp_shifted_sum(const float* in, float shift, float* out, int64_t n) {
  return active().exp_shifted_sum_float(in, shift, out, n);
}
double exp_shifted_sum(const double* in, double shift, double* out, int64_t n) {
  return active().exp_shifted_sum_double(in, shift, out, n);
}
float log_sum_exp(const float* in, int64_t n) { return active().log_sum_exp_float(in, n); }
double log_sum_exp(const double* in, int64_t n) { return active().log_sum_exp_double(in, n); }
void scale(float* out, float factor, int64_t n) { active().scale_float(out, factor, n); }
void scale(double* out, double factor, int64_t n) { active().scale_double(out, factor, n); }
void log_sum_exp_rows(const float* v, const float* m, int64_t rows, int64_t cols, float* out) {
  active().log_sum_exp_rows_float(v, m, rows, cols, out);
}
void log_sum_exp_rows(const double* v, const double* m, int64_t rows, int64_t cols, double* out) {
  active().log_sum_exp_rows_double(v, m, rows, cols, out);
}
void exp_rows(const float* v, const float* m, int64_t rows, int64_t cols, float* m_out, float* top, float* total) {
  active().exp_rows_float(v, m, rows, cols, m_out, top, total);
}
void exp_rows(const double* v, const double* m, int64_t rows, int64_t cols, double* m_out, double* top, double* total) {
  active().exp_rows_double(v, m, rows, cols, m_out, top, total);
}
void scale_rows_sum_columns(float* m, const float* factor, int64_t rows, int64_t cols, float* sums) {
  active().scale_rows_sum_columns_float(m, factor, rows, cols, sums);
}
void scale_rows_sum_columns(double* m, const double* factor, int64_t rows, int64_t cols, double* sums) {
  active().scale_rows_sum_columns_double(m, factor, rows, cols, sums);
}
void log_sum_exp_of_sums_lanes(const float* a, const float* b, int64_t n, int64_t lanes, float* out) {
  active().log_sum_exp_of_sums_lanes_float(a, b, n, lanes, out);
}
void log_sum_exp_of_sums_lanes(const double* a, const double* b, int64_t n, int64_t lanes, double* out) {
  active().log_sum_exp_of_sums_lanes_double(a, b, n, lanes, out);
}
void log_sum_exp_terms(const float* const* a, const float* const* b, int64_t terms, int64_t n, float* out) {
  active().log_sum_exp_terms_float(a, b, terms, n, out);
}
void log_sum_exp_terms(const double* const* a, const double* const* b, int64_t terms, int64_t n, double* out) {
  active().log_sum_exp_terms_double(a, b, terms, n, out);
}
void max_terms(const float* const* a, const float* const* b, int64_t terms, int64_t n, float* out) {
  active().max_terms_float(a, b, terms, n, out);
}
void max_terms(const double* const* a, const double* const* b, int64_t terms, int64_t n, double* out) {
  active().max_terms_double(a, b, terms, n, out);
}
void exp_of_sums(const float* a, const float* b, const float* c, float shift, int64_t n, float* out) {
  active().exp_of_sums_float(a, b, c, shift, n, out);
}
void exp_of_sums(const double* a, const double* b, const double* c, double shift, int64_t n, double* out) {
  active().exp_of_sums_double(a, b, c, shift, n, out);
}
void add_rows(const float* coefs, int64_t coef_stride, const float* rows, int64_t stride, int64_t terms, int64_t n,
              float* out) {
  active().add_rows_float(coefs, coef_stride, rows, stride, terms, n, out);
}
void add_rows(const double* coefs, int64_t coef_stride, const double* rows, int64_t stride, int64_t terms, int64_t n,
              double* out) {
  active().add_rows_double(coefs, coef_stride, rows, stride, terms, n, out);
}

}  // namespace vec
}  // namespace cpu
}  // namespace ls
