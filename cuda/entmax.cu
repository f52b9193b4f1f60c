// CUDA backend: sparsemax, 1.5-entmax and alpha-entmax, and their vector-Jacobian product.
// Sorting a row per group is awkward on the GPU, so the threshold tau is found by bisection on the
// monotone mass(tau) = sum_k ((alpha-1) x_k - tau)_+^(1/(alpha-1)) (Blondel et al. 2019, Peters et al. 2019)
// until the interval cannot shrink, which pins the support {k : x_k > tau}; sparsemax and 1.5-entmax then
// take the exact closed-form tau of that support, as the sort-based CPU version does.
#include <cuda_runtime.h>

#include <cmath>

#include "cuda_common.cuh"
#include "latent_struct/categorical.h"

namespace ls {
namespace cuda {
namespace {

enum class Kind { Sparsemax, Entmax15, General };

/// (max, count) of the finite scaled scores.
struct TopCount {
  __device__ Pair<double, long long> operator()(Pair<double, long long> a, Pair<double, long long> b) const {
    return {a.first > b.first ? a.first : b.first, a.second + b.second};
  }
};

struct PairSum {
  __device__ Pair<double, double> operator()(Pair<double, double> a, Pair<double, double> b) const {
    return {a.first + b.first, a.second + b.second};
  }
};

template <int GROUP, typename T>
__device__ double row_mass(const RowGroup<GROUP>& group, const T* x, int64_t cols, double alpha, double tau, Kind kind) {
  double local = 0;
  for (int64_t k = group.lane; k < cols; k += GROUP) {
    const double d = (alpha - 1) * static_cast<double>(x[k]) - tau;
    if (d > 0) local += kind == Kind::Sparsemax ? d : kind == Kind::Entmax15 ? d * d : pow(d, 1.0 / (alpha - 1));
  }
  return group.reduce(local, SumOp());
}

template <int GROUP, typename T>
__global__ void entmax_kernel(const T* scores, T* probs, int64_t rows, int64_t cols, double alpha, Kind kind) {
  const RowGroup<GROUP> group;
  if (group.row >= rows) return;
  const T* x = scores + group.row * cols;
  T* p = probs + group.row * cols;
  // The largest scaled score and the number of finite entries bound tau: mass(top - 1) >= 1 >= mass(hi).
  Pair<double, long long> local{-INFINITY, 0};
  for (int64_t k = group.lane; k < cols; k += GROUP) {
    if (!isfinite(x[k])) continue;
    const double v = (alpha - 1) * static_cast<double>(x[k]);
    local = {v > local.first ? v : local.first, local.second + 1};
  }
  const Pair<double, long long> top = group.reduce(local, TopCount());
  double lo = top.first - 1, hi = top.first - pow(1.0 / static_cast<double>(top.second), alpha - 1);
  for (int iteration = 0; iteration < 200; ++iteration) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (row_mass(group, x, cols, alpha, mid, kind) >= 1) lo = mid; else hi = mid;
  }
  double tau = lo, total = 1;
  if (kind == Kind::General) {
    total = row_mass(group, x, cols, alpha, tau, kind);
  } else {
    // Exact tau on the support S = {k : (alpha-1) x_k > lo}: sparsemax tau = (sum_S v - 1) / |S|;
    // 1.5-entmax (v = x/2) solves sum_S (v - tau)^2 = 1 for the root below the mean of v.
    double n = 0, sum = 0, sum_sq = 0;
    for (int64_t k = group.lane; k < cols; k += GROUP) {
      const double v = (alpha - 1) * static_cast<double>(x[k]) - top.first;
      if (v + top.first - lo > 0) {
        n += 1;
        sum += v;
        sum_sq += v * v;
      }
    }
    n = group.reduce(n, SumOp());
    sum = group.reduce(sum, SumOp());
    sum_sq = group.reduce(sum_sq, SumOp());
    if (kind == Kind::Sparsemax) {
      tau = top.first + (sum - 1) / n;
    } else {
      const double mean = sum / n, delta = (1 - (sum_sq - n * mean * mean)) / n;
      tau = top.first + mean - sqrt(delta > 0 ? delta : 0.0);
    }
  }
  for (int64_t k = group.lane; k < cols; k += GROUP) {
    const double d = (alpha - 1) * static_cast<double>(x[k]) - tau;
    double value = 0;
    if (d > 0) value = kind == Kind::Sparsemax ? d : kind == Kind::Entmax15 ? d * d : pow(d, 1.0 / (alpha - 1)) / total;
    p[k] = static_cast<T>(value);
  }
}

template <int GROUP, typename T>
__global__ void entmax_backward_kernel(const T* probs, const T* grad, T* out, int64_t rows, int64_t cols, double alpha,
                                       double scale) {
  const RowGroup<GROUP> group;
  if (group.row >= rows) return;
  const T* p = probs + group.row * cols;
  const T* g = grad + group.row * cols;
  T* o = out + group.row * cols;
  const double power = 2 - alpha;
  auto weight = [power](T pk) -> double {
    if (pk <= 0) return 0.0;
    return power == 0 ? 1.0 : power == 1 ? static_cast<double>(pk) : pow(static_cast<double>(pk), power);
  };
  Pair<double, double> local{0, 0};
  for (int64_t k = group.lane; k < cols; k += GROUP) {
    const double s = weight(p[k]);
    local = {local.first + s * static_cast<double>(g[k]), local.second + s};
  }
  const Pair<double, double> sums = group.reduce(local, PairSum());
  const double mean = sums.first / sums.second;
  for (int64_t k = group.lane; k < cols; k += GROUP) {
    o[k] = static_cast<T>(scale * weight(p[k]) * (static_cast<double>(g[k]) - mean));
  }
}

template <typename T>
void launch_entmax(const T* scores, T* probs, RowShape shape, double alpha, Kind kind) {
  LS_LAUNCH_ROWS(entmax_kernel, shape.rows, shape.cols, scores, probs, shape.rows, shape.cols, alpha, kind);
}

}  // namespace

template <typename T>
void sparsemax(const T* scores, T* probs, RowShape shape) {
  launch_entmax(scores, probs, shape, 2.0, Kind::Sparsemax);
}

template <typename T>
void entmax15(const T* scores, T* probs, RowShape shape) {
  launch_entmax(scores, probs, shape, 1.5, Kind::Entmax15);
}

template <typename T>
void entmax_bisect(const T* scores, T* probs, RowShape shape, double alpha) {
  if (alpha == 1.0) {
    softmax(scores, probs, shape);
    return;
  }
  launch_entmax(scores, probs, shape, alpha, Kind::General);
}

template <typename T>
void entmax_backward(const T* probs, const T* grad, T* out, RowShape shape, double alpha, double scale) {
  LS_LAUNCH_ROWS(entmax_backward_kernel, shape.rows, shape.cols, probs, grad, out, shape.rows, shape.cols, alpha, scale);
}

LS_INSTANTIATE_ENTMAX_FAMILY(float)
LS_INSTANTIATE_ENTMAX_FAMILY(double)

}  // namespace cuda
}  // namespace ls
