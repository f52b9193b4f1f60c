// Shared pieces of the CUDA backend: the library's stream, error checks, and row-group reductions.
//
// Row kernels map one *group* of threads to one row: a warp (GROUP = 32, 8 rows per 256-thread block)
// when rows are short, the whole block (GROUP = 256) when they are long. Reductions end in lane 0 and
// are broadcast from there, so every lane sees the bit-identical value (a butterfly reduction would give
// each lane a different summation order, and data-dependent loops could then diverge).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "latent_struct/common.h"
#include "latent_struct/device.h"

namespace ls {
namespace cuda {

cudaStream_t stream();
void check(cudaError_t error, const char* what);

constexpr int kBlockThreads = 256;

/// Grid size for a grid-stride elementwise kernel over `count` items.
unsigned elementwise_blocks(int64_t count);

/// Two values reduced together (online softmax: max and scaled sum; argmax: value and index).
template <typename A, typename B>
struct Pair {
  A first;
  B second;
};

__device__ inline float shfl_down(float v, int offset) { return __shfl_down_sync(0xffffffffu, v, offset); }
__device__ inline double shfl_down(double v, int offset) { return __shfl_down_sync(0xffffffffu, v, offset); }
__device__ inline int shfl_down(int v, int offset) { return __shfl_down_sync(0xffffffffu, v, offset); }
__device__ inline long long shfl_down(long long v, int offset) { return __shfl_down_sync(0xffffffffu, v, offset); }
template <typename A, typename B>
__device__ Pair<A, B> shfl_down(Pair<A, B> v, int offset) {
  return {shfl_down(v.first, offset), shfl_down(v.second, offset)};
}
__device__ inline float shfl_lane0(float v) { return __shfl_sync(0xffffffffu, v, 0); }
__device__ inline double shfl_lane0(double v) { return __shfl_sync(0xffffffffu, v, 0); }
__device__ inline int shfl_lane0(int v) { return __shfl_sync(0xffffffffu, v, 0); }
__device__ inline long long shfl_lane0(long long v) { return __shfl_sync(0xffffffffu, v, 0); }
template <typename A, typename B>
__device__ Pair<A, B> shfl_lane0(Pair<A, B> v) {
  return {shfl_lane0(v.first), shfl_lane0(v.second)};
}

template <int GROUP>
struct RowGroup {
  static_assert(GROUP == 32 || GROUP == kBlockThreads, "a group is a warp or the whole block");
  static constexpr int kRowsPerBlock = kBlockThreads / GROUP;
  int lane;     // 0..GROUP-1
  int64_t row;  // the row this group works on

  __device__ RowGroup()
      : lane(static_cast<int>(threadIdx.x) % GROUP),
        row(static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / GROUP) {}

  /// Reduces one value per lane with the associative `op`; every lane gets the result lane 0 computed.
  template <typename V, typename Op>
  __device__ V reduce(V value, Op op) const {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) value = op(value, shfl_down(value, offset));
    if constexpr (GROUP == 32) {
      return shfl_lane0(value);
    } else {
      __shared__ V scratch[kBlockThreads / 32];
      __syncthreads();  // earlier readers of scratch are done
      if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = value;
      __syncthreads();
      if (threadIdx.x == 0) {
        V total = scratch[0];
        for (int w = 1; w < kBlockThreads / 32; ++w) total = op(total, scratch[w]);
        scratch[0] = total;
      }
      __syncthreads();
      return scratch[0];
    }
  }
};

struct SumOp {
  template <typename V>
  __device__ V operator()(V a, V b) const { return a + b; }
};
struct MaxOp {
  template <typename V>
  __device__ V operator()(V a, V b) const { return a > b ? a : b; }
};

/// (value, index) reduction to the larger value, the smaller index on ties; index -1 means "none yet".
struct ArgmaxOp {
  template <typename V>
  __device__ Pair<V, long long> operator()(Pair<V, long long> a, Pair<V, long long> b) const {
    if (a.second < 0) return b;
    if (b.second < 0) return a;
    if (a.first > b.first || (a.first == b.first && a.second < b.second)) return a;
    return b;
  }
};

/// Blocks for `rows` rows at GROUP threads per row.
template <int GROUP>
inline unsigned blocks_for(int64_t rows) {
  return static_cast<unsigned>((rows + RowGroup<GROUP>::kRowsPerBlock - 1) / RowGroup<GROUP>::kRowsPerBlock);
}

/// Warp per row up to 1024 columns, block per row beyond.
inline bool use_block_per_row(int64_t cols) { return cols > 1024; }

/// Runs kernel<<<grid, block, 0, stream()>>>(args...) and raises its launch error under `name`. The CUDA
/// backend's only launch site: the emulated build (cuda/emulator/) runs the same kernel on the CPU here.
template <typename... Params, typename... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "a kernel launch passes every parameter");
#if LS_CUDA_EMULATED
  ::cuemu::launch(name, kernel, grid, block, 0, stream(), static_cast<Params>(std::forward<Args>(args))...);
#else
  kernel<<<grid, block, 0, stream()>>>(static_cast<Params>(std::forward<Args>(args))...);
#endif
  check_launch(name);
}

/// Launches kernel<GROUP, T> over `rows` rows with the group size chosen from `cols`.
#define LS_LAUNCH_ROWS(kernel, rows, cols, ...)                                                             \
  do {                                                                                                      \
    if ((rows) <= 0) break;                                                                                 \
    if (::ls::cuda::use_block_per_row(cols)) {                                                              \
      ::ls::cuda::launch(#kernel, kernel<256, T>, ::ls::cuda::blocks_for<256>(rows), ::ls::cuda::kBlockThreads, \
                         __VA_ARGS__);                                                                      \
    } else {                                                                                                \
      ::ls::cuda::launch(#kernel, kernel<32, T>, ::ls::cuda::blocks_for<32>(rows), ::ls::cuda::kBlockThreads, \
                         __VA_ARGS__);                                                                      \
    }                                                                                                       \
  } while (0)

/// Device memory from the pool for the duration of one call (freed in stream order).
class Scratch {
 public:
  explicit Scratch(std::size_t bytes) : pointer_(allocate(bytes)) {}
  ~Scratch() { release(pointer_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(pointer_); }

 private:
  void* pointer_;
};

}  // namespace cuda
}  // namespace ls
