// CUDA backend: the log-sum-exp family over rows (logsumexp, softmax, entropy, log-probabilities, argmax).
// One warp or block per row (cuda_common.cuh); the max and the scaled sum are reduced together in one pass
// over the row (the "online softmax" recurrence), so softmax reads its input twice and writes once.
#include <cuda_runtime.h>

#include <cmath>
#include <limits>

#include "cuda_common.cuh"
#include "latent_struct/categorical.h"

namespace ls {
namespace cuda {
namespace {

template <typename T>
using MaxSum = Pair<T, T>;

/// Merges two (max, sum exp(x - max)) summaries.
struct MaxSumOp {
  template <typename T>
  __device__ MaxSum<T> operator()(MaxSum<T> a, MaxSum<T> b) const {
    const T top = a.first > b.first ? a.first : b.first;
    if (top == -INFINITY) return {top, T(0)};
    return {top, a.second * exp(a.first - top) + b.second * exp(b.first - top)};
  }
};

/// (max, sum exp(x - max)) of the row x, reduced over the group.
template <int GROUP, typename T>
__device__ MaxSum<T> row_max_sum(const RowGroup<GROUP>& group, const T* x, int64_t cols) {
  MaxSum<T> local{-INFINITY, T(0)};
  for (int64_t k = group.lane; k < cols; k += GROUP) local = MaxSumOp()(local, MaxSum<T>{x[k], T(1)});
  return group.reduce(local, MaxSumOp());
}

template <int GROUP, typename T>
__device__ T row_logsumexp(const RowGroup<GROUP>& group, const T* x, int64_t cols) {
  const MaxSum<T> summary = row_max_sum(group, x, cols);
  return summary.first + log(summary.second);
}

/// Flags of find_invalid_kernel's row scan, OR-reduced over the group.
enum RowFlags : int { kRowHasFinite = 1, kRowHasInvalid = 2 };
struct OrOp {
  __device__ int operator()(int a, int b) const { return a | b; }
};

/// The CPU backend's first_invalid for each row: its first NaN or +inf if it has one, else its first element when
/// no entry is finite. Every lane reports its own first NaN / +inf (atomicMin keeps the row's, and across rows the
/// first row's: a row's indices all lie below the next row's); the no-finite-entry fallback is reported only when
/// no lane of the row saw a NaN or +inf (a lane stops at its first one, so its finite flag may be incomplete then,
/// but it is not used).
template <int GROUP, typename T>
__global__ void find_invalid_kernel(const T* scores, int64_t rows, int64_t cols, unsigned long long* first_bad) {
  const RowGroup<GROUP> group;
  if (group.row >= rows) return;
  const T* x = scores + group.row * cols;
  int flags = 0;
  for (int64_t k = group.lane; k < cols; k += GROUP) {
    if (isnan(x[k]) || x[k] == INFINITY) {
      atomicMin(first_bad, static_cast<unsigned long long>(group.row * cols + k));
      flags |= kRowHasInvalid;
      break;
    }
    if (isfinite(x[k])) flags |= kRowHasFinite;
  }
  flags = group.reduce(flags, OrOp());
  if (group.lane == 0 && flags == 0) atomicMin(first_bad, static_cast<unsigned long long>(group.row * cols));
}

template <typename T>
__global__ void find_nonfinite_kernel(const T* values, int64_t count, bool allow_negative_infinity,
                                      unsigned long long* first_bad) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    if (!isfinite(values[i]) && !(allow_negative_infinity && values[i] < 0)) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

template <int GROUP, typename T>
__global__ void logsumexp_kernel(const T* scores, T* out, int64_t rows, int64_t cols) {
  const RowGroup<GROUP> group;
  if (group.row >= rows) return;
  const T value = row_logsumexp(group, scores + group.row * cols, cols);
  if (group.lane == 0) out[group.row] = value;
}

/// out = scale_b * softmax(x_b); scale = nullptr means 1 (softmax), else the per-row gradient (logsumexp backward).
template <int GROUP, typename T>
__global__ void softmax_kernel(const T* scores, const T* scale, T* out, int64_t rows, int64_t cols) {
  const RowGroup<GROUP> group;
  if (group.row >= rows) return;
  const T* x = scores + group.row * cols;
  T* p = out + group.row * cols;
  const MaxSum<T> summary = row_max_sum(group, x, cols);
  const T factor = (scale == nullptr ? T(1) : scale[group.row]) / summary.second;
  for (int64_t k = group.lane; k < cols; k += GROUP) p[k] = exp(x[k] - summary.first) * factor;
}

template <int GROUP, typename T>
__global__ void entropy_kernel(const T* scores, T* out, int64_t rows, int64_t cols) {
  const RowGroup<GROUP> group;
  if (group.row >= rows) return;
  const T* x = scores + group.row * cols;
  const T log_z = row_logsumexp(group, x, cols);
  T local = 0;
  for (int64_t k = group.lane; k < cols; k += GROUP) {
    if (x[k] == -INFINITY) continue;
    const T surprisal = log_z - x[k];
    local += exp(-surprisal) * surprisal;
  }
  const T h = group.reduce(local, SumOp());
  if (group.lane == 0) out[group.row] = h;
}

template <int GROUP, typename T>
__global__ void log_prob_kernel(const T* scores, const int32_t* index, T* out, int64_t rows, int64_t cols,
                                int64_t samples) {
  const RowGroup<GROUP> group;
  if (group.row >= rows) return;
  const T* x = scores + group.row * cols;
  const T log_z = row_logsumexp(group, x, cols);
  for (int64_t s = group.lane; s < samples; s += GROUP) out[s * rows + group.row] = x[index[s * rows + group.row]] - log_z;
}

template <int GROUP, typename T>
__global__ void argmax_kernel(const T* scores, int32_t* index, int64_t rows, int64_t cols) {
  const RowGroup<GROUP> group;
  if (group.row >= rows) return;
  const T* x = scores + group.row * cols;
  Pair<T, long long> best{-INFINITY, -1};
  for (int64_t k = group.lane; k < cols; k += GROUP) best = ArgmaxOp()(best, Pair<T, long long>{x[k], k});
  best = group.reduce(best, ArgmaxOp());
  if (group.lane == 0) index[group.row] = static_cast<int32_t>(best.second);
}

template <typename T>
__global__ void one_hot_kernel(const int32_t* index, T* out, int64_t count, int64_t cols) {
  const int64_t total = count * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = (i % cols) == index[i / cols] ? T(1) : T(0);
  }
}

}  // namespace

unsigned elementwise_blocks(int64_t count) {
  const int64_t blocks = (count + kBlockThreads - 1) / kBlockThreads;
  return static_cast<unsigned>(blocks < 65535 * 32 ? (blocks > 0 ? blocks : 1) : 65535 * 32);
}

/// Runs launch(first_bad) with a device flag initialized to "none" and returns the flag (-1 for none).
template <typename Launch>
int64_t first_flagged(Launch launch) {
  unsigned long long* first_bad = static_cast<unsigned long long*>(allocate(sizeof(unsigned long long)));
  const unsigned long long none = ~0ull;
  try {
    copy_to_device(first_bad, &none, sizeof(none));
    launch(first_bad);
    unsigned long long result = none;
    copy_to_host(&result, first_bad, sizeof(result));
    release(first_bad);
    return result == none ? -1 : static_cast<int64_t>(result);
  } catch (...) {
    release(first_bad);
    throw;
  }
}

template <typename T>
int64_t find_invalid_scores(const T* scores, RowShape shape) {
  return first_flagged([&](unsigned long long* first_bad) {
    LS_LAUNCH_ROWS(find_invalid_kernel, shape.rows, shape.cols, scores, shape.rows, shape.cols, first_bad);
  });
}

template <typename T>
int64_t find_nonfinite(const T* values, int64_t count, bool allow_negative_infinity) {
  return first_flagged([&](unsigned long long* first_bad) {
    if (count <= 0) return;
    launch("find_nonfinite_kernel", find_nonfinite_kernel<T>, elementwise_blocks(count), kBlockThreads, values, count,
           allow_negative_infinity, first_bad);
  });
}

template <typename T>
void logsumexp(const T* scores, T* log_partition, RowShape shape) {
  LS_LAUNCH_ROWS(logsumexp_kernel, shape.rows, shape.cols, scores, log_partition, shape.rows, shape.cols);
}

template <typename T>
void softmax(const T* scores, T* probs, RowShape shape) {
  LS_LAUNCH_ROWS(softmax_kernel, shape.rows, shape.cols, scores, static_cast<const T*>(nullptr), probs, shape.rows,
                 shape.cols);
}

template <typename T>
void logsumexp_backward(const T* scores, const T* grad, T* out, RowShape shape) {
  LS_LAUNCH_ROWS(softmax_kernel, shape.rows, shape.cols, scores, grad, out, shape.rows, shape.cols);
}

template <typename T>
void entropy(const T* scores, T* out, RowShape shape) {
  LS_LAUNCH_ROWS(entropy_kernel, shape.rows, shape.cols, scores, out, shape.rows, shape.cols);
}

template <typename T>
void log_prob(const T* scores, const int32_t* index, T* out, RowShape shape, int64_t samples) {
  LS_LAUNCH_ROWS(log_prob_kernel, shape.rows, shape.cols, scores, index, out, shape.rows, shape.cols, samples);
}

template <typename T>
void argmax(const T* scores, int32_t* index, RowShape shape) {
  LS_LAUNCH_ROWS(argmax_kernel, shape.rows, shape.cols, scores, index, shape.rows, shape.cols);
}

template <typename T>
void one_hot(const int32_t* index, T* out, int64_t count, int64_t cols) {
  if (count * cols == 0) return;
  launch("one_hot_kernel", one_hot_kernel<T>, elementwise_blocks(count * cols), kBlockThreads, index, out, count, cols);
}

LS_INSTANTIATE_SOFTMAX_FAMILY(float)
LS_INSTANTIATE_SOFTMAX_FAMILY(double)

}  // namespace cuda
}  // namespace ls
