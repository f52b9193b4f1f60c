// CPU backend of the estimators' parts arithmetic (latent_struct/parts_ops.h), threaded over the batch. Each
// instance's sums run in the same order as the plain loops they replace (terms in order, entries in order, in
// double), so results match them bit for bit.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "latent_struct/parts_ops.h"
#include "parallel.h"

namespace ls {
namespace cpu {

template <typename T>
void parts_combine(const T* const* inputs, const double* coefs, int64_t terms, int64_t batch, int64_t stride, T* out) {
  parallel_for(batch, rows_grain(stride), [&](int64_t begin, int64_t end) {
    std::vector<double> sum(static_cast<size_t>(stride));
    for (int64_t b = begin; b < end; ++b) {
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int64_t t = 0; t < terms; ++t) {
        const double c = coefs[t * batch + b];
        if (c == 0) continue;
        const T* x = inputs[t] + b * stride;
        for (int64_t q = 0; q < stride; ++q) sum[q] += c * static_cast<double>(x[q]);
      }
      T* o = out + b * stride;
      for (int64_t q = 0; q < stride; ++q) o[q] = static_cast<T>(sum[q]);
    }
  });
}

template <typename T>
void parts_dot(const T* x, const T* y, int64_t batch, int64_t stride, double* dots) {
  parallel_for(batch, rows_grain(stride), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      double total = 0;
      for (int64_t q = b * stride; q < (b + 1) * stride; ++q) {
        if (x[q] != 0) total += static_cast<double>(x[q]) * static_cast<double>(y[q]);
      }
      dots[b] = total;
    }
  });
}

template <typename T>
void parts_finite(const T* x, int64_t count, T* out) {
  parallel_for(count, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = x[i] == -std::numeric_limits<T>::infinity() ? T(0) : x[i];
  });
}

template <typename T>
void parts_masked(const T* x, const T* mask, int64_t count, T* out) {
  const T minus_infinity = -std::numeric_limits<T>::infinity();
  parallel_for(count, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = mask[i] == minus_infinity ? minus_infinity : x[i];
  });
}

template <typename T>
void parts_copy_block(const T* from, int64_t from_stride, int64_t from_offset, int64_t rows, int64_t width,
                      int64_t out_stride, int64_t out_offset, T* out) {
  parallel_for(rows, rows_grain(width), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      std::copy(from + r * from_stride + from_offset, from + r * from_stride + from_offset + width,
                out + r * out_stride + out_offset);
    }
  });
}

template <typename T>
void parts_copy(const T* from, int64_t count, T* out) {
  parallel_for(count, 65536, [&](int64_t begin, int64_t end) { std::copy(from + begin, from + end, out + begin); });
}

template <typename T>
void parts_one_hot(const int32_t* positions, int64_t positions_count, int64_t count, T* out) {
  std::fill(out, out + count, T(0));
  for (int64_t i = 0; i < positions_count; ++i) out[positions[i]] = T(1);
}

template <typename T>
void parts_tile(const T* from, int64_t count, int64_t copies, T* out) {
  parallel_for(copies, rows_grain(count), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) std::copy(from, from + count, out + r * count);
  });
}

template <typename T>
void parts_sum_rows(const T* x, int64_t rows, int64_t count, T* out) {
  parallel_for(count, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t q = begin; q < end; ++q) {
      double total = 0;
      for (int64_t r = 0; r < rows; ++r) total += static_cast<double>(x[r * count + q]);
      out[q] = static_cast<T>(total);
    }
  });
}

template <typename T>
void parts_sum_rows_transposed(const T* x, int64_t rows, int64_t p, int64_t q, T* out) {
  parallel_for(q, 64, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      for (int64_t i = 0; i < p; ++i) {
        double total = 0;
        for (int64_t r = 0; r < rows; ++r) total += static_cast<double>(x[(r * p + i) * q + j]);
        out[j * p + i] = static_cast<T>(total);
      }
    }
  });
}

template <typename T>
void parts_gather_sum(const T* x, int64_t width, const int32_t* offsets, int64_t groups, const int32_t* members,
                      int64_t member_count, T* out) {
  (void)member_count;
  parallel_for(groups, rows_grain(width), [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) {
      for (int64_t w = 0; w < width; ++w) {
        double total = 0;
        for (int32_t m = offsets[g]; m < offsets[g + 1]; ++m) total += static_cast<double>(x[members[m] * width + w]);
        out[g * width + w] = static_cast<T>(total);
      }
    }
  });
}

template <typename T>
void rebar_pair(const T* scores, int64_t batch, int64_t classes, uint64_t seed, T* perturbed, T* conditional) {
  parallel_for(batch, rows_grain(classes), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      rebar_pair_row(scores + b * classes, classes, seed, static_cast<uint64_t>(b * classes), perturbed + b * classes,
                     conditional + b * classes);
    }
  });
}

template <typename T>
void rebar_pair_backward(const T* scores, const T* grad, int64_t batch, int64_t classes, uint64_t seed, T* out) {
  parallel_for(batch, rows_grain(classes), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      rebar_pair_backward_row(scores + b * classes, grad + b * classes, classes, seed,
                              static_cast<uint64_t>(b * classes), out + b * classes);
    }
  });
}

LS_INSTANTIATE_PARTS_FAMILY(float)
LS_INSTANTIATE_PARTS_FAMILY(double)

}  // namespace cpu
}  // namespace ls
