// The k best classes of each row of a Categorical (its k highest-scoring structures), for both backends: ls::cpu
// (cpp/cpu/categorical_topk.cc) and ls::cuda (cuda/categorical_topk.cu) implement categorical_topk, a thread per
// row over the row routine below. Order: score descending, ties broken by the smaller class index first; -inf
// classes are never listed, so past the row's finite classes the index is -1, the score -inf and the one-hot row
// zero. O(k K) per row, no workspace.
#pragma once
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/log_math.h"

namespace ls {
namespace categorical {

/// Row `row` of scores [B, K]: index[j B + row], top[j B + row] and parts[(j B + row) K ...] for j < k; each slot
/// takes the best class after the previous slot's in the order (score descending, then index ascending).
template <typename T>
LS_HOST_DEVICE void topk_row(const T* scores, int64_t rows, int64_t cols, int64_t row, int64_t k, int32_t* index,
                             T* top, T* parts) {
  const T* x = scores + row * cols;
  T last = T(0);
  int64_t last_class = -1;
  for (int64_t j = 0; j < k; ++j) {
    int64_t best_class = -1;
    T best = neg_inf<T>();
    for (int64_t c = 0; c < cols; ++c) {
      const T v = x[c];
      if (v == neg_inf<T>()) continue;
      const bool after = last_class < 0 || v < last || (v == last && c > last_class);
      if (after && (best_class < 0 || v > best)) {
        best = v;
        best_class = c;
      }
    }
    const int64_t slot = j * rows + row;
    index[slot] = static_cast<int32_t>(best_class);
    top[slot] = best;
    T* one_hot = parts + slot * cols;
    for (int64_t c = 0; c < cols; ++c) one_hot[c] = c == best_class ? T(1) : T(0);
    if (best_class >= 0) {
      last = best;
      last_class = best_class;
    } else {
      last_class = cols;  // nothing after: the remaining slots stay empty
      last = neg_inf<T>();
    }
  }
}

}  // namespace categorical
}  // namespace ls

// index [k, B] (int32), top [k, B], parts [k, B, K]; see categorical::topk_row.
#define LS_DECLARE_CATEGORICAL_TOPK                                                                    \
  template <typename T>                                                                                \
  void categorical_topk(const T* scores, RowShape shape, int64_t k, int32_t* index, T* top, T* parts);

namespace ls {
namespace cpu {
LS_DECLARE_CATEGORICAL_TOPK
}  // namespace cpu
namespace cuda {
LS_DECLARE_CATEGORICAL_TOPK
}  // namespace cuda
}  // namespace ls
