// CUDA backend: Gumbel noise from Philox, Gumbel-max sampling / perturb-and-MAP (a group per sample row), and
// Gumbel-softmax. The noise, the perturbed scores x + tG and the Gumbel-max values are bit-identical to
// cpp/cpu/gumbel.cc: the same Philox uniforms, the same log (repro_log, not libdevice's) and the same float64
// operations, never contracted into FMAs (repro_add / repro_mul = __dadd_rn / __dmul_rn here,
// latent_struct/reproducible.h), rounded once to T at the end.
#include <cuda_runtime.h>

#include <cmath>

#include "cuda_common.cuh"
#include "latent_struct/categorical.h"
#include "latent_struct/philox.h"

namespace ls {
namespace cuda {
namespace {

template <typename T>
__global__ void gumbel_kernel(T* out, int64_t count, uint64_t seed, uint64_t stream_id) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = static_cast<T>(philox_gumbel(seed, stream_id, static_cast<uint64_t>(i)));
  }
}

template <typename T>
__global__ void gumbel_perturb_kernel(const T* scores, T* out, int64_t count, uint64_t seed, uint64_t stream_id,
                                      double noise_scale, double scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    const double noise =
        noise_scale == 0 ? 0.0 : repro_mul(noise_scale, philox_gumbel(seed, stream_id, static_cast<uint64_t>(i)));
    out[i] = static_cast<T>(repro_mul(scale, repro_add(static_cast<double>(scores[i]), noise)));
  }
}

template <int GROUP, typename T>
__global__ void gumbel_max_kernel(const T* scores, int32_t* index, int64_t rows, int64_t sample_rows, int64_t cols,
                                  uint64_t seed, double noise_scale) {
  const RowGroup<GROUP> group;
  if (group.row >= sample_rows) return;
  const T* x = scores + (group.row % rows) * cols;
  const uint64_t first = static_cast<uint64_t>(group.row * cols);
  Pair<double, long long> best{-INFINITY, -1};
  for (int64_t k = group.lane; k < cols; k += GROUP) {
    if (x[k] == -INFINITY) continue;
    const double value =
        repro_add(static_cast<double>(x[k]), repro_mul(noise_scale, philox_gumbel(seed, 0, first + k)));
    best = ArgmaxOp()(best, Pair<double, long long>{value, k});
  }
  best = group.reduce(best, ArgmaxOp());
  if (group.lane == 0) index[group.row] = static_cast<int32_t>(best.second);
}

template <int GROUP, typename T>
__global__ void gumbel_softmax_kernel(const T* scores, T* probs, int64_t rows, int64_t cols, double temperature,
                                      uint64_t seed) {
  const RowGroup<GROUP> group;
  if (group.row >= rows) return;
  const T* x = scores + group.row * cols;
  T* p = probs + group.row * cols;
  const uint64_t first = static_cast<uint64_t>(group.row * cols);
  double top = -INFINITY;
  for (int64_t k = group.lane; k < cols; k += GROUP) {
    // Bit-identical to the CPU's (x + G) / τ; the exp and the sum below agree to rounding only.
    const double g = philox_gumbel(seed, 0, first + k);
    p[k] = static_cast<T>(repro_div(repro_add(static_cast<double>(x[k]), g), temperature));
    top = fmax(top, static_cast<double>(p[k]));
  }
  top = group.reduce(top, MaxOp());
  double sum = 0;
  for (int64_t k = group.lane; k < cols; k += GROUP) {
    p[k] = static_cast<T>(exp(static_cast<double>(p[k]) - top));
    sum += static_cast<double>(p[k]);
  }
  sum = group.reduce(sum, SumOp());
  for (int64_t k = group.lane; k < cols; k += GROUP) p[k] = static_cast<T>(static_cast<double>(p[k]) / sum);
}

}  // namespace

template <typename T>
void gumbel(T* out, int64_t count, uint64_t seed, uint64_t stream_id) {
  if (count <= 0) return;
  launch("gumbel_kernel", gumbel_kernel<T>, elementwise_blocks(count), kBlockThreads, out, count, seed, stream_id);
}

template <typename T>
void gumbel_perturb(const T* scores, T* out, int64_t count, uint64_t seed, uint64_t stream_id, double noise_scale,
                    double scale) {
  if (count <= 0) return;
  launch("gumbel_perturb_kernel", gumbel_perturb_kernel<T>, elementwise_blocks(count), kBlockThreads, scores, out, count,
         seed, stream_id, noise_scale, scale);
}

template <typename T>
void gumbel_max(const T* scores, int32_t* index, RowShape shape, int64_t samples, uint64_t seed, double noise_scale) {
  const int64_t sample_rows = samples * shape.rows;
  LS_LAUNCH_ROWS(gumbel_max_kernel, sample_rows, shape.cols, scores, index, shape.rows, sample_rows, shape.cols,
                 seed, noise_scale);
}

template <typename T>
void gumbel_softmax(const T* scores, T* probs, RowShape shape, double temperature, uint64_t seed) {
  LS_LAUNCH_ROWS(gumbel_softmax_kernel, shape.rows, shape.cols, scores, probs, shape.rows, shape.cols, temperature,
                 seed);
}

LS_INSTANTIATE_GUMBEL_FAMILY(float)
LS_INSTANTIATE_GUMBEL_FAMILY(double)

}  // namespace cuda
}  // namespace ls
