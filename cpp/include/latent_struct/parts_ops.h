// The elementwise and per-instance reductions the estimators do over parts (lib/estimators/parts.ts): per-instance
// linear combinations, dot products over z != 0, masks, slices of stacked parts and one-hot parts from flat
// positions. Parts are viewed as [B, stride] (the leading batch dimension, the rest flat). One declaration, two
// backends: cpp/cpu/parts_ops.cc (threaded over the batch) and cuda/parts_ops.cu.
//
// Where the values live: tensors (inputs[], x, y, mask, from, out) live with the backend (host memory for cpu::,
// device memory for cuda::); the small per-instance arguments (`coefs`, `dots`, `positions`) are always host arrays,
// so a device step moves only O(B) scalars (and, for parts_one_hot, the positions it is given) across.
#pragma once
#include <cstdint>

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
  /* out (count entries) = 0 except out[positions[i]] = 1 (positions: host, each in [0, count)). */               \
  template <typename T>                                                                                           \
  void parts_one_hot(const int32_t* positions, int64_t positions_count, int64_t count, T* out);

#define LS_INSTANTIATE_PARTS_FAMILY(T)                                                          \
  template void parts_combine<T>(const T* const*, const double*, int64_t, int64_t, int64_t, T*); \
  template void parts_dot<T>(const T*, const T*, int64_t, int64_t, double*);                     \
  template void parts_finite<T>(const T*, int64_t, T*);                                          \
  template void parts_masked<T>(const T*, const T*, int64_t, T*);                                \
  template void parts_copy<T>(const T*, int64_t, T*);                                            \
  template void parts_one_hot<T>(const int32_t*, int64_t, int64_t, T*);

namespace ls {
namespace cpu {
LS_DECLARE_PARTS_KERNELS
}  // namespace cpu
namespace cuda {
LS_DECLARE_PARTS_KERNELS
}  // namespace cuda
}  // namespace ls
