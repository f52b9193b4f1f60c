// The vectorized row reductions of the CPU backend's groups: LS_CPU_VECTOR_ROWS(Group) overloads, for one group type,
// the reductions of log_math.h that the sweeps call (row_max, row_exp_shifted_sum, row_log_sum_exp and the rows_*
// kernels, which on the CPU replace the plain ones built from the other row_*) with cpp/cpu/vector_math.h's
// kernels. The overloads are plain functions taking exactly that group, so they beat the generic templates, and
// live in the group's namespace, where a sweep's unqualified row_max(g, ...) finds them.
#pragma once
#include <cstdint>

#include "latent_struct/log_math.h"
#include "vector_math.h"

#define LS_CPU_VECTOR_ROWS_FOR(Group, T)                                                                          \
  inline T row_max(const Group&, const T* in, int64_t n) { return ::ls::cpu::vec::max(in, n); }                  \
  inline T row_exp_shifted_sum(const Group&, const T* in, T shift, T* out, int64_t n) {                         \
    return ::ls::cpu::vec::exp_shifted_sum(in, shift, out, n);                                                   \
  }                                                                                                              \
  inline T row_log_sum_exp(const Group&, const T* in, int64_t n) { return ::ls::cpu::vec::log_sum_exp(in, n); } \
  inline void rows_log_sum_exp_of_sums(const Group&, const T* v, const T* m, int64_t rows, int64_t cols, T* out) { \
    ::ls::cpu::vec::log_sum_exp_rows(v, m, rows, cols, out);                                                     \
  }                                                                                                              \
  inline void rows_exp_of_sums(const Group&, const T* v, const T* m, int64_t rows, int64_t cols, T* m_out, T* top, \
                               T* total) {                                                                       \
    ::ls::cpu::vec::exp_rows(v, m, rows, cols, m_out, top, total);                                               \
  }                                                                                                              \
  inline void rows_scale_sum_columns(const Group&, T* m, const T* factor, int64_t rows, int64_t cols, T* sums) { \
    ::ls::cpu::vec::scale_rows_sum_columns(m, factor, rows, cols, sums);                                         \
  }

/// Overloads the row reductions for `Group`; use in the namespace that declares Group.
#define LS_CPU_VECTOR_ROWS(Group)        \
  LS_CPU_VECTOR_ROWS_FOR(Group, float)  \
  LS_CPU_VECTOR_ROWS_FOR(Group, double)
