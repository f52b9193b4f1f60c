// CPU backend: sparse normalizers over rows — sparsemax (Martins & Astudillo 2016), 1.5-entmax and
// alpha-entmax (Peters, Niculae & Martins 2019) — and their common vector-Jacobian product.
// Thresholds are computed over the finite entries of a row only: -inf entries get probability 0.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "latent_struct/categorical.h"
#include "parallel.h"

namespace ls {
namespace cpu {
namespace {

/// Runs row(b, scratch) over all rows, with a scratch vector of `cols` doubles per chunk.
void for_rows_with_scratch(RowShape shape, const std::function<void(int64_t, std::vector<double>&)>& row) {
  parallel_for(shape.rows, rows_grain(shape.cols), [&](int64_t begin, int64_t end) {
    std::vector<double> scratch;
    scratch.reserve(static_cast<size_t>(shape.cols));
    for (int64_t b = begin; b < end; ++b) row(b, scratch);
  });
}

/// The finite entries of a row, times `scale`, sorted in decreasing order.
template <typename T>
void sorted_finite(const T* x, int64_t cols, double scale, std::vector<double>& out) {
  out.clear();
  for (int64_t k = 0; k < cols; ++k) {
    if (std::isfinite(x[k])) out.push_back(scale * static_cast<double>(x[k]));
  }
  std::sort(out.begin(), out.end(), std::greater<double>());
}

}  // namespace

template <typename T>
void sparsemax(const T* scores, T* probs, RowShape shape) {
  for_rows_with_scratch(shape, [&](int64_t b, std::vector<double>& sorted) {
    const T* x = scores + b * shape.cols;
    sorted_finite(x, shape.cols, 1.0, sorted);
    // Support size: the largest k with 1 + k z_(k) > sum_{j<=k} z_(j); tau = (sum_{j<=k} z_(j) - 1) / k.
    double cumulative = 0, tau = sorted[0] - 1;
    for (size_t k = 1; k <= sorted.size(); ++k) {
      cumulative += sorted[k - 1];
      if (1 + static_cast<double>(k) * sorted[k - 1] <= cumulative) break;  // the support is a prefix
      tau = (cumulative - 1) / static_cast<double>(k);
    }
    T* p = probs + b * shape.cols;
    for (int64_t k = 0; k < shape.cols; ++k) p[k] = static_cast<T>(std::max(static_cast<double>(x[k]) - tau, 0.0));
  });
}

template <typename T>
void entmax15(const T* scores, T* probs, RowShape shape) {
  for_rows_with_scratch(shape, [&](int64_t b, std::vector<double>& sorted) {
    const T* x = scores + b * shape.cols;
    // p = (x/2 - tau)_+^2 with sum p = 1. For a support of the k largest entries of z = x/2 - max(x/2),
    // tau_k = mean_k - sqrt(max(0, (1 - k (meansq_k - mean_k^2)) / k)); the support is the largest k with
    // tau_k <= z_(k) (Peters et al. 2019, Algorithm 2).
    sorted_finite(x, shape.cols, 0.5, sorted);
    const double shift = sorted[0];
    double sum = 0, sum_sq = 0, tau = -1;
    for (size_t k = 1; k <= sorted.size(); ++k) {
      const double z = sorted[k - 1] - shift;
      sum += z;
      sum_sq += z * z;
      const double n = static_cast<double>(k), mean = sum / n;
      const double delta = (1 - (sum_sq - n * mean * mean)) / n;
      const double tau_k = mean - std::sqrt(std::max(delta, 0.0));
      if (tau_k > z) break;  // the support is a prefix
      tau = tau_k;
    }
    T* p = probs + b * shape.cols;
    for (int64_t k = 0; k < shape.cols; ++k) {
      const double d = std::max(0.5 * static_cast<double>(x[k]) - shift - tau, 0.0);
      p[k] = static_cast<T>(d * d);
    }
  });
}

template <typename T>
void entmax_bisect(const T* scores, T* probs, RowShape shape, double alpha) {
  if (alpha == 1.0) {
    softmax(scores, probs, shape);
    return;
  }
  const double inverse_power = 1.0 / (alpha - 1.0);
  parallel_for(shape.rows, rows_grain(shape.cols), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const T* x = scores + b * shape.cols;
      T* p = probs + b * shape.cols;
      double top = -std::numeric_limits<double>::infinity();
      int64_t finite = 0;
      for (int64_t k = 0; k < shape.cols; ++k) {
        if (!std::isfinite(x[k])) continue;
        top = std::max(top, (alpha - 1) * static_cast<double>(x[k]));
        ++finite;
      }
      // p_k = ((alpha-1) x_k - tau)_+^(1/(alpha-1)); mass(tau) = sum p decreases in tau, mass(lo) >= 1 >= mass(hi).
      auto mass = [&](double tau) {
        double total = 0;
        for (int64_t k = 0; k < shape.cols; ++k) {
          const double d = (alpha - 1) * static_cast<double>(x[k]) - tau;
          if (d > 0) total += std::pow(d, inverse_power);
        }
        return total;
      };
      double lo = top - 1, hi = top - std::pow(1.0 / static_cast<double>(finite), alpha - 1);
      for (int iteration = 0; iteration < 200; ++iteration) {
        const double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        (mass(mid) >= 1 ? lo : hi) = mid;
      }
      double total = 0;
      for (int64_t k = 0; k < shape.cols; ++k) {
        const double d = (alpha - 1) * static_cast<double>(x[k]) - lo;
        const double value = d > 0 ? std::pow(d, inverse_power) : 0.0;
        total += value;
        p[k] = static_cast<T>(value);
      }
      for (int64_t k = 0; k < shape.cols; ++k) p[k] = static_cast<T>(static_cast<double>(p[k]) / total);
    }
  });
}

template <typename T>
void entmax_backward(const T* probs, const T* grad, T* out, RowShape shape, double alpha, double scale) {
  const double power = 2 - alpha;
  parallel_for(shape.rows, rows_grain(shape.cols), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const T* p = probs + b * shape.cols;
      const T* g = grad + b * shape.cols;
      T* o = out + b * shape.cols;
      auto weight = [&](T pk) -> double {
        if (pk <= 0) return 0.0;
        return power == 0 ? 1.0 : power == 1 ? static_cast<double>(pk) : std::pow(static_cast<double>(pk), power);
      };
      double dot = 0, total = 0;
      for (int64_t k = 0; k < shape.cols; ++k) {
        const double s = weight(p[k]);
        dot += s * static_cast<double>(g[k]);
        total += s;
      }
      const double mean = dot / total;
      for (int64_t k = 0; k < shape.cols; ++k) {
        o[k] = static_cast<T>(scale * weight(p[k]) * (static_cast<double>(g[k]) - mean));
      }
    }
  });
}

LS_INSTANTIATE_ENTMAX_FAMILY(float)
LS_INSTANTIATE_ENTMAX_FAMILY(double)

}  // namespace cpu
}  // namespace ls
