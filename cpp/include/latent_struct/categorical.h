// The categorical building blocks over a batch of rows [B, K], one declaration for both backends:
// ls::cpu (cpp/cpu/*.cc) and ls::cuda (cuda/*.cu) implement exactly these signatures. CUDA versions take
// device pointers, enqueue on the library's stream and do not synchronize.
#pragma once
#include <cstdint>

#include "latent_struct/common.h"

#define LS_DECLARE_CATEGORICAL_KERNELS                                                                       \
  /* Index of the first invalid score (NaN or +inf) or of the first element of a row with no finite */      \
  /* score; -1 when every row is valid. */                                                                   \
  template <typename T>                                                                                      \
  int64_t find_invalid_scores(const T* scores, RowShape shape);                                              \
  /* Index of the first NaN or infinite value, -1 when all are finite (gradients, probabilities); with     \
     allow_negative_infinity, -inf is accepted (potentials of structures, where it masks parts). */          \
  template <typename T>                                                                                      \
  int64_t find_nonfinite(const T* values, int64_t count, bool allow_negative_infinity);                      \
  /* logZ_b = log sum_k exp(x_bk), out [B]. */                                                               \
  template <typename T>                                                                                      \
  void logsumexp(const T* scores, T* log_partition, RowShape shape);                                         \
  /* out_bk = g_b softmax(x_b)_k. */                                                                          \
  template <typename T>                                                                                      \
  void logsumexp_backward(const T* scores, const T* grad, T* out, RowShape shape);                           \
  template <typename T>                                                                                      \
  void softmax(const T* scores, T* probs, RowShape shape);                                                   \
  /* H_b = logZ_b - sum_k p_bk x_bk (0 log 0 = 0, so -inf scores contribute nothing). */                     \
  template <typename T>                                                                                      \
  void entropy(const T* scores, T* out, RowShape shape);                                                     \
  /* out[s, b] = x_b[index[s, b]] - logZ_b for `samples` index rows of length B. */                          \
  template <typename T>                                                                                      \
  void log_prob(const T* scores, const int32_t* index, T* out, RowShape shape, int64_t samples);             \
  /* First index of the maximum of each row, [B]. */                                                          \
  template <typename T>                                                                                      \
  void argmax(const T* scores, int32_t* index, RowShape shape);                                              \
  /* out[i, :] = one-hot of index[i] over `cols` classes, for `count` indices. */                             \
  template <typename T>                                                                                      \
  void one_hot(const int32_t* index, T* out, int64_t count, int64_t cols);                                   \
  /* sparsemax (Martins & Astudillo 2016): Euclidean projection onto the simplex. */                          \
  template <typename T>                                                                                      \
  void sparsemax(const T* scores, T* probs, RowShape shape);                                                 \
  /* 1.5-entmax (Peters et al. 2019), exact threshold. */                                                     \
  template <typename T>                                                                                      \
  void entmax15(const T* scores, T* probs, RowShape shape);                                                  \
  /* alpha-entmax for alpha > 1 by bisection on the threshold, to machine precision, then renormalized. */   \
  template <typename T>                                                                                      \
  void entmax_bisect(const T* scores, T* probs, RowShape shape, double alpha);                               \
  /* Vector-Jacobian product of alpha-entmax given its output p (alpha = 1 softmax, 2 sparsemax):            \
     with s = p^(2-alpha) on the support, out = scale * (s g - s (s.g) / sum s) (Peters et al. 2019, 3.3). */ \
  template <typename T>                                                                                      \
  void entmax_backward(const T* probs, const T* grad, T* out, RowShape shape, double alpha, double scale);   \
  /* Standard Gumbel noise: out[i] = G(seed, stream, i) for i < count. */                                    \
  template <typename T>                                                                                      \
  void gumbel(T* out, int64_t count, uint64_t seed, uint64_t stream);                                        \
  /* Perturb-and-MAP: index[s, b] = argmax_k x_bk + noise_scale * G(seed, 0, (s B + b) K + k). With          \
     noise_scale = 1 this is an exact sample of softmax(x_b) (the Gumbel-max trick). */                       \
  template <typename T>                                                                                      \
  void gumbel_max(const T* scores, int32_t* index, RowShape shape, int64_t samples, uint64_t seed,            \
                  double noise_scale);                                                                       \
  /* Gumbel-softmax (Jang et al. 2017): softmax((x + G) / temperature) with G as in gumbel_max, s = 0. */    \
  template <typename T>                                                                                      \
  void gumbel_softmax(const T* scores, T* probs, RowShape shape, double temperature, uint64_t seed);         \
  /* Perturbed scores of any structure: out[i] = scale (x[i] + noise_scale G(seed, stream, i)); -inf stays. */ \
  template <typename T>                                                                                      \
  void gumbel_perturb(const T* scores, T* out, int64_t count, uint64_t seed, uint64_t stream, double noise_scale, \
                      double scale);

// Explicit instantiations for float and double, one macro per implementation file, shared by both backends
// (use inside namespace ls::cpu or ls::cuda).
#define LS_INSTANTIATE_SOFTMAX_FAMILY(T)                                                 \
  template int64_t find_invalid_scores<T>(const T*, RowShape);                           \
  template int64_t find_nonfinite<T>(const T*, int64_t, bool);                           \
  template void logsumexp<T>(const T*, T*, RowShape);                                    \
  template void logsumexp_backward<T>(const T*, const T*, T*, RowShape);                 \
  template void softmax<T>(const T*, T*, RowShape);                                      \
  template void entropy<T>(const T*, T*, RowShape);                                      \
  template void log_prob<T>(const T*, const int32_t*, T*, RowShape, int64_t);            \
  template void argmax<T>(const T*, int32_t*, RowShape);                                 \
  template void one_hot<T>(const int32_t*, T*, int64_t, int64_t);
#define LS_INSTANTIATE_ENTMAX_FAMILY(T)                                              \
  template void sparsemax<T>(const T*, T*, RowShape);                                \
  template void entmax15<T>(const T*, T*, RowShape);                                 \
  template void entmax_bisect<T>(const T*, T*, RowShape, double);                    \
  template void entmax_backward<T>(const T*, const T*, T*, RowShape, double, double);
#define LS_INSTANTIATE_GUMBEL_FAMILY(T)                                                  \
  template void gumbel<T>(T*, int64_t, uint64_t, uint64_t);                              \
  template void gumbel_max<T>(const T*, int32_t*, RowShape, int64_t, uint64_t, double);  \
  template void gumbel_softmax<T>(const T*, T*, RowShape, double, uint64_t);            \
  template void gumbel_perturb<T>(const T*, T*, int64_t, uint64_t, uint64_t, double, double);

namespace ls {
namespace cpu {
LS_DECLARE_CATEGORICAL_KERNELS
}
namespace cuda {
LS_DECLARE_CATEGORICAL_KERNELS
}
}  // namespace ls
