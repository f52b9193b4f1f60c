// The elementwise and per-instance reductions the estimators do over parts (lib/estimators/parts.ts): per-instance
// linear combinations, dot products over z != 0, masks, slices of stacked parts and one-hot parts from flat
// positions. Parts are viewed as [B, stride] (the leading batch dimension, the rest flat). One declaration, two
// backends: cpp/cpu/parts_ops.cc (threaded over the batch) and cuda/parts_ops.cu.
//
// Where the values live: tensors (inputs[], x, y, mask, from, out) live with the backend (host memory for cpu::,
// device memory for cuda::); the small per-instance arguments (`coefs`, `dots`, `positions`) are always host arrays,
// so a device step moves only O(B) scalars (and, for parts_one_hot, the positions it is given) across.
#pragma once
#include <cmath>
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/philox.h"

#define LS_DECLARE_PARTS_KERNELS                                                                                  \
  /* out[b, q] = sum_t coefs[t * batch + b] * inputs[t][b, q], accumulated in double; a term whose coefficient */ \
  /* is 0 for instance b is skipped there (so its -inf entries do not matter). `inputs` is a host array of     */ \
  /* `terms` pointers to the backend's memory. */                                                                 \
  template <typename T>                                                                                           \
  void parts_combine(const T* const* inputs, const double* coefs, int64_t terms, int64_t batch, int64_t stride,  \
                     T* out);                                                                                     \
  /* dots[b] = sum over q with x[b, q] != 0 of x[b, q] * y[b, q], in double (dots: host, [batch]). */              \
  template <typename T>                                                                                           \
  void parts_dot(const T* x, const T* y, int64_t batch, int64_t stride, double* dots);                            \
  /* out = x with -inf entries replaced by 0. */                                                                  \
  template <typename T>                                                                                           \
  void parts_finite(const T* x, int64_t count, T* out);                                                           \
  /* out = x, with -inf wherever mask is -inf. */                                                                 \
  template <typename T>                                                                                           \
  void parts_masked(const T* x, const T* mask, int64_t count, T* out);                                            \
  /* out[i] = from[i] for i < count (a slice of stacked parts; device to device on CUDA). */                      \
  template <typename T>                                                                                           \
  void parts_copy(const T* from, int64_t count, T* out);                                                          \
  /* out[r * out_stride + out_offset + q] = from[r * from_stride + from_offset + q] for r < rows, q < width: one  */ \
  /* column block of row-major rows into another (packing SentCFG's terms | rules | roots rows, and back). */       \
  template <typename T>                                                                                           \
  void parts_copy_block(const T* from, int64_t from_stride, int64_t from_offset, int64_t rows, int64_t width,      \
                        int64_t out_stride, int64_t out_offset, T* out);                                          \
  /* out (count entries) = 0 except out[positions[i]] = 1 (positions: host, each in [0, count)). */               \
  template <typename T>                                                                                           \
  void parts_one_hot(const int32_t* positions, int64_t positions_count, int64_t count, T* out);                    \
  /* out[r, q] = from[q] for r < copies (a shared tensor repeated per instance). */                              \
  template <typename T>                                                                                           \
  void parts_tile(const T* from, int64_t count, int64_t copies, T* out);                                          \
  /* out[q] = sum_r x[r, q] over rows r < rows, in double (a shared tensor's gradient summed over instances). */  \
  template <typename T>                                                                                           \
  void parts_sum_rows(const T* x, int64_t rows, int64_t count, T* out);                                           \
  /* out[j, i] = sum_r x[r, i, j] (x [rows, p, q], out [q, p]), in double: a shared matrix's gradient summed     */ \
  /* over instances and transposed. */                                                                            \
  template <typename T>                                                                                           \
  void parts_sum_rows_transposed(const T* x, int64_t rows, int64_t p, int64_t q, T* out);                         \
  /* out[g, w] = sum over m in [offsets[g], offsets[g + 1]) of x[members[m], w], in double, members in order   */ \
  /* (x viewed as [rows, width]; offsets [groups + 1] and members are host arrays): a deterministic scatter-add.  */ \
  template <typename T>                                                                                           \
  void parts_gather_sum(const T* x, int64_t width, const int32_t* offsets, int64_t groups, const int32_t* members, \
                        int64_t member_count, T* out);                                                            \
  /* REBAR's Gumbel pair of categorical scores [B, K] (rebar_pair_row below), row by row. */                     \
  template <typename T>                                                                                           \
  void rebar_pair(const T* scores, int64_t batch, int64_t classes, uint64_t seed, T* perturbed, T* conditional);   \
  /* The VJP of the conditional draw at fixed noise (rebar_pair_backward_row below). */                          \
  template <typename T>                                                                                           \
  void rebar_pair_backward(const T* scores, const T* grad, int64_t batch, int64_t classes, uint64_t seed, T* out);

#define LS_INSTANTIATE_PARTS_FAMILY(T)                                                          \
  template void parts_combine<T>(const T* const*, const double*, int64_t, int64_t, int64_t, T*); \
  template void parts_dot<T>(const T*, const T*, int64_t, int64_t, double*);                     \
  template void parts_finite<T>(const T*, int64_t, T*);                                          \
  template void parts_masked<T>(const T*, const T*, int64_t, T*);                                \
  template void parts_copy<T>(const T*, int64_t, T*);                                            \
  template void parts_copy_block<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, T*); \
  template void parts_one_hot<T>(const int32_t*, int64_t, int64_t, T*);                          \
  template void parts_tile<T>(const T*, int64_t, int64_t, T*);                                   \
  template void parts_sum_rows<T>(const T*, int64_t, int64_t, T*);                               \
  template void parts_sum_rows_transposed<T>(const T*, int64_t, int64_t, int64_t, T*);           \
  template void parts_gather_sum<T>(const T*, int64_t, const int32_t*, int64_t, const int32_t*, int64_t, T*); \
  template void rebar_pair<T>(const T*, int64_t, int64_t, uint64_t, T*, T*);                     \
  template void rebar_pair_backward<T>(const T*, const T*, int64_t, int64_t, uint64_t, T*);

namespace ls {

/// log(exp(a) + exp(b)) without overflow (−inf when both are).
LS_HOST_DEVICE inline double rebar_log_add_exp(double a, double b) {
  const double top = a > b ? a : b;
  if (top == -INFINITY) return -INFINITY;
  return top + log1p(exp((a < b ? a : b) - top));
}

/// What both halves of REBAR's pair share for row b: the Gumbel-max class k of θ + G (first maximum; G the noise
/// of stream 0, element b·K + i), max θ, Σ exp(θ − max) and ũ_k = logsumexp(θ) + G'_k (G' the noise of stream 1).
struct RebarRow {
  int64_t chosen;
  double top, total, maximum;
};

template <typename T>
LS_HOST_DEVICE inline RebarRow rebar_row(const T* theta, int64_t K, uint64_t seed, uint64_t offset) {
  RebarRow r{0, -INFINITY, 0, 0};
  double best = -INFINITY;
  for (int64_t i = 0; i < K; ++i) {
    const double u = static_cast<double>(theta[i]) + philox_gumbel(seed, 0, offset + static_cast<uint64_t>(i));
    if (i == 0 || u > best) {
      r.chosen = i;
      best = u;
    }
    r.top = static_cast<double>(theta[i]) > r.top ? static_cast<double>(theta[i]) : r.top;
  }
  for (int64_t i = 0; i < K; ++i) r.total += exp(static_cast<double>(theta[i]) - r.top);
  r.maximum = r.top + log(r.total) + philox_gumbel(seed, 1, offset + static_cast<uint64_t>(r.chosen));
  return r;
}

/// u = θ + G and ũ ~ p(u | argmax u = k) (Tucker et al. 2017, App. C): ũ_k = logsumexp(θ) + G'_k and, for i ≠ k,
/// ũ_i = −log(exp(−(θ_i + G'_i)) + exp(−ũ_k)), a Gumbel truncated below ũ_k.
template <typename T>
LS_HOST_DEVICE inline void rebar_pair_row(const T* theta, int64_t K, uint64_t seed, uint64_t offset, T* perturbed,
                                          T* conditional) {
  const RebarRow r = rebar_row(theta, K, seed, offset);
  for (int64_t i = 0; i < K; ++i) {
    const double t = static_cast<double>(theta[i]);
    perturbed[i] = static_cast<T>(t + philox_gumbel(seed, 0, offset + static_cast<uint64_t>(i)));
    const double free = t + philox_gumbel(seed, 1, offset + static_cast<uint64_t>(i));
    conditional[i] = static_cast<T>(i == r.chosen ? r.maximum : -rebar_log_add_exp(-free, -r.maximum));
  }
}

/// (∂ũ/∂θ)ᵀ grad at fixed noise: dũ_k/dθ_j = p_j and, for i ≠ k, dũ_i/dθ_j = a_i δ_ij + (1 − a_i) p_j with
/// a_i = σ(ũ_k − θ_i − G'_i), p = softmax(θ); so out_j = [j ≠ k] a_j g_j + p_j (g_k + Σ_{i ≠ k} (1 − a_i) g_i).
template <typename T>
LS_HOST_DEVICE inline void rebar_pair_backward_row(const T* theta, const T* grad, int64_t K, uint64_t seed,
                                                   uint64_t offset, T* out) {
  const RebarRow r = rebar_row(theta, K, seed, offset);
  double shared = static_cast<double>(grad[r.chosen]);
  for (int64_t i = 0; i < K; ++i) {
    const double t = static_cast<double>(theta[i]);
    if (i == r.chosen || t == -INFINITY) continue;
    const double a = 1 / (1 + exp(t + philox_gumbel(seed, 1, offset + static_cast<uint64_t>(i)) - r.maximum));
    shared += static_cast<double>(grad[i]) * (1 - a);
  }
  for (int64_t j = 0; j < K; ++j) {
    const double t = static_cast<double>(theta[j]);
    double value = exp(t - r.top) / r.total * shared;
    if (j != r.chosen && t != -INFINITY) {
      const double a = 1 / (1 + exp(t + philox_gumbel(seed, 1, offset + static_cast<uint64_t>(j)) - r.maximum));
      value = static_cast<double>(grad[j]) * a + value;
    }
    out[j] = static_cast<T>(value);
  }
}

namespace cpu {
LS_DECLARE_PARTS_KERNELS
}  // namespace cpu
namespace cuda {
LS_DECLARE_PARTS_KERNELS
}  // namespace cuda
}  // namespace ls
