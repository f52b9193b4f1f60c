// CPU backend: the log-sum-exp family over rows (logsumexp, softmax, entropy, log-probabilities, argmax).
#include <algorithm>
#include <cmath>
#include <limits>

#include "latent_struct/categorical.h"
#include "parallel.h"
#include "vector_math.h"

namespace ls {
namespace cpu {
namespace {

/// sum_k exp(x[k] - shift), the exps by the vector kernels (into `out` when given, else a chunk on the stack) and
/// their sum accumulated in float64 over four interleaved partial sums.
template <typename T>
double exp_sum(const T* x, T shift, T* out, int64_t cols) {
  constexpr int64_t kChunk = 1024;
  T chunk[kChunk];
  double partial[4] = {0, 0, 0, 0};
  for (int64_t first = 0; first < cols; first += kChunk) {
    const int64_t n = std::min(kChunk, cols - first);
    T* e = out ? out + first : chunk;
    vec::exp_shifted_sum(x + first, shift, e, n);
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
      for (int lane = 0; lane < 4; ++lane) partial[lane] += e[k + lane];
    }
    for (; k < n; ++k) partial[0] += e[k];
  }
  return (partial[0] + partial[1]) + (partial[2] + partial[3]);
}

/// log sum exp of one row, with the max shift; the sum is accumulated in float64.
template <typename T>
double row_logsumexp(const T* x, int64_t cols) {
  const T shift = vec::max(x, cols);
  return static_cast<double>(shift) + std::log(exp_sum(x, shift, static_cast<T*>(nullptr), cols));
}

void for_rows(RowShape shape, const std::function<void(int64_t)>& row) {
  parallel_for(shape.rows, rows_grain(shape.cols), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) row(b);
  });
}

}  // namespace

template <typename T>
int64_t find_invalid_scores(const T* scores, RowShape shape) {
  for (int64_t b = 0; b < shape.rows; ++b) {
    const T* x = scores + b * shape.cols;
    bool any_finite = false;
    for (int64_t k = 0; k < shape.cols; ++k) {
      if (std::isnan(x[k]) || x[k] == std::numeric_limits<T>::infinity()) return b * shape.cols + k;
      any_finite = any_finite || std::isfinite(x[k]);
    }
    if (!any_finite) return b * shape.cols;
  }
  return -1;
}

template <typename T>
int64_t find_nonfinite(const T* values, int64_t count, bool allow_negative_infinity) {
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i]) && !(allow_negative_infinity && values[i] < 0)) return i;
  }
  return -1;
}

template <typename T>
void logsumexp(const T* scores, T* log_partition, RowShape shape) {
  for_rows(shape, [&](int64_t b) {
    log_partition[b] = static_cast<T>(row_logsumexp(scores + b * shape.cols, shape.cols));
  });
}

template <typename T>
void softmax(const T* scores, T* probs, RowShape shape) {
  for_rows(shape, [&](int64_t b) {
    const T* x = scores + b * shape.cols;
    T* p = probs + b * shape.cols;
    const T shift = vec::max(x, shape.cols);
    const double sum = exp_sum(x, shift, p, shape.cols);
    vec::scale(p, static_cast<T>(1.0 / sum), shape.cols);
  });
}

template <typename T>
void logsumexp_backward(const T* scores, const T* grad, T* out, RowShape shape) {
  softmax(scores, out, shape);
  for_rows(shape, [&](int64_t b) {
    T* o = out + b * shape.cols;
    for (int64_t k = 0; k < shape.cols; ++k) o[k] *= grad[b];
  });
}

template <typename T>
void entropy(const T* scores, T* out, RowShape shape) {
  for_rows(shape, [&](int64_t b) {
    const T* x = scores + b * shape.cols;
    const double log_z = row_logsumexp(x, shape.cols);
    double h = 0;
    for (int64_t k = 0; k < shape.cols; ++k) {
      if (x[k] == -std::numeric_limits<T>::infinity()) continue;
      const double surprisal = log_z - static_cast<double>(x[k]);
      h += std::exp(-surprisal) * surprisal;
    }
    out[b] = static_cast<T>(h);
  });
}

template <typename T>
void log_prob(const T* scores, const int32_t* index, T* out, RowShape shape, int64_t samples) {
  for_rows(shape, [&](int64_t b) {
    const T* x = scores + b * shape.cols;
    const double log_z = row_logsumexp(x, shape.cols);
    for (int64_t s = 0; s < samples; ++s) {
      out[s * shape.rows + b] = static_cast<T>(static_cast<double>(x[index[s * shape.rows + b]]) - log_z);
    }
  });
}

template <typename T>
void argmax(const T* scores, int32_t* index, RowShape shape) {
  for_rows(shape, [&](int64_t b) {
    const T* x = scores + b * shape.cols;
    int64_t best = 0;
    for (int64_t k = 1; k < shape.cols; ++k) best = x[k] > x[best] ? k : best;
    index[b] = static_cast<int32_t>(best);
  });
}

template <typename T>
void one_hot(const int32_t* index, T* out, int64_t count, int64_t cols) {
  parallel_for(count, rows_grain(cols), [&](int64_t begin, int64_t end) {
    std::fill(out + begin * cols, out + end * cols, T(0));
    for (int64_t i = begin; i < end; ++i) out[i * cols + index[i]] = T(1);
  });
}

LS_INSTANTIATE_SOFTMAX_FAMILY(float)
LS_INSTANTIATE_SOFTMAX_FAMILY(double)

}  // namespace cpu
}  // namespace ls
