// The CUDA group of the tree passes (inside_outside.h): one 256-thread block per sentence, a warp per team,
// lanes over split points. Team reductions end in lane 0 and are broadcast from there, so every lane sees the
// bit-identical value and data-dependent control flow stays uniform within a team.
#pragma once
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/inside_outside.h"

namespace ls {
namespace cuda {

struct BlockTeams {
  static constexpr int kThreads = 256;
  __device__ int64_t lane() const { return threadIdx.x & 31; }
  __device__ int64_t lanes() const { return 32; }
  __device__ int64_t team() const { return threadIdx.x >> 5; }
  __device__ int64_t teams() const { return kThreads / 32; }
  __device__ int64_t rank() const { return threadIdx.x; }
  __device__ int64_t size() const { return kThreads; }
  __device__ void sync() const { __syncthreads(); }
  __device__ void sync_team() const { __syncwarp(); }
  template <typename T>
  __device__ T sum(T v) const {
    for (int offset = 16; offset > 0; offset >>= 1) v += shfl_down(v, offset);
    return shfl_lane0(v);
  }
  template <typename T>
  __device__ T max(T v) const {
    for (int offset = 16; offset > 0; offset >>= 1) {
      const T other = shfl_down(v, offset);
      v = other > v ? other : v;
    }
    return shfl_lane0(v);
  }
  template <typename T>
  __device__ tree::Best<T> argmax(tree::Best<T> v) const {
    for (int offset = 16; offset > 0; offset >>= 1) {
      const tree::Best<T> other{shfl_down(v.value, offset), static_cast<int64_t>(shfl_down(static_cast<long long>(v.index), offset))};
      v = tree::better(v, other);
    }
    return tree::Best<T>{shfl_lane0(v.value), static_cast<int64_t>(shfl_lane0(static_cast<long long>(v.index)))};
  }
};

/// Launches kernel<<<batch, 256>>>(args...), a block per sentence.
template <typename Kernel, typename... Args>
void launch_per_sentence(int64_t batch, const char* name, Kernel kernel, Args... args) {
  if (batch <= 0) return;
  kernel<<<static_cast<unsigned>(batch), BlockTeams::kThreads, 0, stream()>>>(args...);
  check_launch(name);
}

}  // namespace cuda
}  // namespace ls

// A kernel running ns::op(BlockTeams, ...) on the block's sentence b with its workspace slice.
#define LS_TREE_SENTENCE_KERNEL(ns, kernel, op, params, ...)      \
  template <typename T>                                           \
  __global__ void kernel params {                                 \
    const ::ls::cuda::BlockTeams g;                               \
    const int64_t b = blockIdx.x;                                 \
    T* own = workspace + b * ns::workspace_size(shape);           \
    ns::op(g, __VA_ARGS__);                                       \
  }
