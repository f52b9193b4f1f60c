// Log-space arithmetic shared by the structures' sweeps on both backends: -inf, exp/log per dtype, and the
// inverse-CDF draw that every exact sampler uses.
#pragma once
#include <math.h>

#include <cstdint>

#include "latent_struct/common.h"

namespace ls {

template <typename T>
LS_HOST_DEVICE inline T neg_inf() {
  return -static_cast<T>(INFINITY);
}
LS_HOST_DEVICE inline float exp_of(float x) { return expf(x); }
LS_HOST_DEVICE inline double exp_of(double x) { return exp(x); }
LS_HOST_DEVICE inline float log_of(float x) { return logf(x); }
LS_HOST_DEVICE inline double log_of(double x) { return log(x); }

/// Inverse-CDF draw of one of `count` outcomes with unnormalized log-weights log_weight(c) (shifted so that
/// exp does not overflow): the first c whose cumulative weight exceeds u * total (the last positive one on
/// round-off); -1 when every weight is zero.
template <typename T, typename F>
LS_HOST_DEVICE int32_t draw(int64_t count, double u, F log_weight) {
  T total = 0;
  for (int64_t c = 0; c < count; ++c) total += exp_of(log_weight(c));
  const T target = static_cast<T>(u) * total;
  T cumulative = 0;
  int32_t chosen = -1;
  for (int64_t c = 0; c < count; ++c) {
    const T w = exp_of(log_weight(c));
    if (!(w > 0)) continue;
    cumulative += w;
    chosen = static_cast<int32_t>(c);
    if (cumulative > target) break;
  }
  return chosen;
}

// ---- Row reductions over one thread's contiguous values. Written plainly here for every backend; the CPU
// backend's groups overload them with vectorized ones (cpp/cpu/vector_rows.h), found by argument-dependent lookup
// on the group, so a sweep calls row_max(g, ...) unqualified.

/// The largest of n values (-inf for n = 0; NaNs skipped).
template <typename Group, typename T>
LS_HOST_DEVICE T row_max(const Group&, const T* in, int64_t n) {
  T top = neg_inf<T>();
  for (int64_t k = 0; k < n; ++k) top = in[k] > top ? in[k] : top;
  return top;
}
/// out[k] = a[k] + b[k]; returns the largest.
template <typename Group, typename T>
LS_HOST_DEVICE T row_add_max(const Group&, const T* a, const T* b, T* out, int64_t n) {
  T top = neg_inf<T>();
  for (int64_t k = 0; k < n; ++k) {
    out[k] = a[k] + b[k];
    top = out[k] > top ? out[k] : top;
  }
  return top;
}
/// out[k] = exp(in[k] - shift) (in may equal out); returns the sum.
template <typename Group, typename T>
LS_HOST_DEVICE T row_exp_shifted_sum(const Group&, const T* in, T shift, T* out, int64_t n) {
  T total = 0;
  for (int64_t k = 0; k < n; ++k) {
    out[k] = exp_of(in[k] - shift);
    total += out[k];
  }
  return total;
}
/// log sum_k exp(in[k]): -inf when every value is -inf.
template <typename Group, typename T>
LS_HOST_DEVICE T row_log_sum_exp(const Group& g, const T* in, int64_t n) {
  const T top = row_max(g, in, n);
  if (top == neg_inf<T>()) return top;
  T total = 0;
  for (int64_t k = 0; k < n; ++k) total += exp_of(in[k] - top);
  return top + log_of(total);
}
/// log sum_k exp(a[k] + b[k]): -inf when every sum is -inf.
template <typename Group, typename T>
LS_HOST_DEVICE T row_log_sum_exp_of_sums(const Group&, const T* a, const T* b, int64_t n) {
  T top = neg_inf<T>();
  for (int64_t k = 0; k < n; ++k) top = a[k] + b[k] > top ? a[k] + b[k] : top;
  if (top == neg_inf<T>()) return top;
  T total = 0;
  for (int64_t k = 0; k < n; ++k) total += exp_of(a[k] + b[k] - top);
  return top + log_of(total);
}
/// out[k] *= factor.
template <typename Group, typename T>
LS_HOST_DEVICE void row_scale(const Group&, T* out, T factor, int64_t n) {
  for (int64_t k = 0; k < n; ++k) out[k] *= factor;
}

// ---- The same over the rows of a rows x cols row-major matrix m and a vector v of cols values. Each thread of the
// group takes the rows r = rank, rank + size, ...; the CPU overloads take every row (their group is one thread).

/// out[r] = log sum_c exp(v[c] + m[r][c]) (-inf when every sum is -inf).
template <typename Group, typename T>
LS_HOST_DEVICE void rows_log_sum_exp_of_sums(const Group& g, const T* v, const T* m, int64_t rows, int64_t cols, T* out) {
  for (int64_t r = g.rank(); r < rows; r += g.size()) out[r] = row_log_sum_exp_of_sums(g, v, m + r * cols, cols);
}
/// m_out[r][c] = exp(v[c] + m[r][c] - top[r]), top[r] = max_c v[c] + m[r][c], total[r] = sum_c m_out[r][c]; a row
/// whose sums are all -inf gets zeros, top -inf and total 0. m may equal m_out.
template <typename Group, typename T>
LS_HOST_DEVICE void rows_exp_of_sums(const Group& g, const T* v, const T* m, int64_t rows, int64_t cols, T* m_out, T* top,
                                     T* total) {
  for (int64_t r = g.rank(); r < rows; r += g.size()) {
    T* row = m_out + r * cols;
    top[r] = row_add_max(g, v, m + r * cols, row, cols);
    if (top[r] == neg_inf<T>()) {
      for (int64_t c = 0; c < cols; ++c) row[c] = 0;
      total[r] = 0;
    } else {
      total[r] = row_exp_shifted_sum(g, row, top[r], row, cols);
    }
  }
}
/// m[r][c] *= factor[r] (each thread its rows), then, after the group syncs, sums[c] = sum_r m[r][c] (each thread its
/// columns c = rank, rank + size, ...). The caller syncs before reading sums of other threads' columns.
template <typename Group, typename T>
LS_HOST_DEVICE void rows_scale_sum_columns(const Group& g, T* m, const T* factor, int64_t rows, int64_t cols, T* sums) {
  for (int64_t r = g.rank(); r < rows; r += g.size()) row_scale(g, m + r * cols, factor[r], cols);
  g.sync();
  for (int64_t c = g.rank(); c < cols; c += g.size()) {
    T sum = 0;
    for (int64_t r = 0; r < rows; ++r) sum += m[r * cols + c];
    sums[c] = sum;
  }
}

}  // namespace ls
