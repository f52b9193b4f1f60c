// CUDA backend of the linear-chain CRF: the sweeps of linear_chain_sweeps.h with one warp per sequence
// when C <= 32 (four sequences per 128-thread block) and one 256-thread block per sequence above, labels
// across the threads. Forward, backward and the marginals of a sequence run in one launch; alpha and the
// forward expectations live in a workspace from the stream-ordered pool (L1/L2-resident for one sequence).
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/linear_chain.h"
#include "latent_struct/linear_chain_sweeps.h"

namespace ls {
namespace cuda {
namespace {

/// A warp per sequence.
struct WarpGroup {
  static constexpr int kThreads = 128;
  static constexpr int kSequencesPerBlock = kThreads / 32;
  LS_HOST_DEVICE int64_t rank() const {
#ifdef __CUDA_ARCH__
    return threadIdx.x & 31;
#else
    return 0;
#endif
  }
  LS_HOST_DEVICE int64_t size() const { return 32; }
  LS_HOST_DEVICE void sync() const {
#ifdef __CUDA_ARCH__
    __syncwarp();
#endif
  }
  __device__ int64_t sequence() const {
    return static_cast<int64_t>(blockIdx.x) * kSequencesPerBlock + threadIdx.x / 32;
  }
};

/// A block per sequence.
struct BlockGroup {
  static constexpr int kThreads = 256;
  LS_HOST_DEVICE int64_t rank() const {
#ifdef __CUDA_ARCH__
    return threadIdx.x;
#else
    return 0;
#endif
  }
  LS_HOST_DEVICE int64_t size() const { return kThreads; }
  LS_HOST_DEVICE void sync() const {
#ifdef __CUDA_ARCH__
    __syncthreads();
#endif
  }
  __device__ int64_t sequence() const { return blockIdx.x; }
};

template <typename T>
std::size_t workspace_bytes(const ChainShape& shape) {
  return static_cast<std::size_t>(shape.batch * chain::workspace_size(shape)) * sizeof(T);
}

/// Launches Kernel<WarpGroup> or Kernel<BlockGroup> (chosen by C) over the batch.
template <typename WarpKernel, typename BlockKernel, typename... Args>
void launch_per_sequence(const ChainShape& shape, const char* name, WarpKernel warp_kernel, BlockKernel block_kernel,
                         Args... args) {
  if (shape.batch <= 0) return;
  if (shape.labels <= 32) {
    const auto blocks = static_cast<unsigned>((shape.batch + WarpGroup::kSequencesPerBlock - 1) / WarpGroup::kSequencesPerBlock);
    launch(name, warp_kernel, blocks, WarpGroup::kThreads, args...);
  } else {
    launch(name, block_kernel, static_cast<unsigned>(shape.batch), BlockGroup::kThreads, args...);
  }
}

// Each kernel runs one op of linear_chain_sweeps.h on the group's sequence.
#define LS_CHAIN_SEQUENCE_KERNEL(kernel, op, params, ...)                            \
  template <typename Group, typename T>                                             \
  __global__ void kernel params {                                                   \
    const Group g;                                                                  \
    const int64_t b = g.sequence();                                                 \
    if (b >= shape.batch) return;                                                   \
    chain::op(g, __VA_ARGS__);                                                      \
  }

LS_CHAIN_SEQUENCE_KERNEL(log_partition_kernel, log_partition_op,
                         (ChainPotentials<T> p, ChainShape shape, T* workspace, T* log_z),
                         p, shape, b, workspace + b * chain::workspace_size(shape), log_z)
LS_CHAIN_SEQUENCE_KERNEL(marginals_kernel, marginals_op,
                         (ChainPotentials<T> p, ChainShape shape, T* workspace, T* log_z, ChainParts<T> out),
                         p, shape, b, workspace + b * chain::workspace_size(shape), log_z, out)
LS_CHAIN_SEQUENCE_KERNEL(marginals_backward_kernel, marginals_backward_op,
                         (ChainPotentials<T> p, ChainPotentials<T> grad, ChainShape shape, T* workspace, T* log_z,
                          ChainParts<T> out),
                         p, grad, shape, b, workspace + b * chain::workspace_size(shape), log_z, out)
LS_CHAIN_SEQUENCE_KERNEL(entropy_kernel, entropy_op,
                         (ChainPotentials<T> p, ChainShape shape, T* workspace, T* log_z, T* entropy),
                         p, shape, b, workspace + b * chain::workspace_size(shape), log_z, entropy)
LS_CHAIN_SEQUENCE_KERNEL(viterbi_kernel, viterbi_op,
                         (ChainPotentials<T> p, ChainShape shape, T* workspace, int32_t* back, int32_t* labels,
                          T* score),
                         p, shape, b, workspace + b * chain::workspace_size(shape),
                         back + b * shape.length * shape.labels, labels, score)
LS_CHAIN_SEQUENCE_KERNEL(sample_kernel, sample_op,
                         (ChainPotentials<T> p, ChainShape shape, int64_t samples, uint64_t seed, T* workspace,
                          T* log_z, int32_t* labels),
                         p, shape, b, samples, seed, workspace + b * chain::workspace_size(shape), log_z, labels)
#undef LS_CHAIN_SEQUENCE_KERNEL

template <typename T>
__global__ void score_kernel(ChainPotentials<T> p, ChainShape shape, const int32_t* labels, int64_t rows,
                             const T* log_z, T* out) {
  for (int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; row < rows; row += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = row % shape.batch;
    const T score = chain::score_of(chain::chain_at(p, shape, b), labels + row * shape.length);
    out[row] = log_z ? score - log_z[b] : score;
  }
}

/// One thread per output element of each requested part tensor of S * B sequences.
template <typename T>
__global__ void parts_kernel(const int32_t* labels, const int32_t* lengths, ChainShape shape, int64_t rows,
                             ChainParts<T> out) {
  const int64_t N = shape.length, C = shape.labels;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  auto length_of = [&](int64_t row) -> int64_t { return lengths ? lengths[row % shape.batch] : N; };
  if (out.edges) {
    const int64_t per_row = (N - 1) * C * C;
    for (int64_t k = first; k < rows * per_row; k += stride) {
      const int64_t row = k / per_row, r = k % per_row;
      out.edges[k] = static_cast<T>(chain::edge_part(labels + row * N, length_of(row), r / (C * C), (r / C) % C, r % C));
    }
  }
  if (out.unary) {
    const int64_t per_row = N * C;
    for (int64_t k = first; k < rows * per_row; k += stride) {
      const int64_t row = k / per_row, r = k % per_row;
      out.unary[k] = static_cast<T>(chain::node_part(labels + row * N, length_of(row), r / C, r % C));
    }
  }
  if (out.transition) {
    const int64_t per_row = C * C;
    for (int64_t k = first; k < rows * per_row; k += stride) {
      const int64_t row = k / per_row, r = k % per_row;
      out.transition[k] = static_cast<T>(chain::transition_count(labels + row * N, length_of(row), r / C, r % C));
    }
  }
}

template <typename T>
__global__ void sum_over_batch_kernel(const T* in, T* out, int64_t batch, int64_t size) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < size; k += int64_t(gridDim.x) * blockDim.x) {
    T total = 0;
    for (int64_t b = 0; b < batch; ++b) total += in[b * size + k];
    out[k] = total;
  }
}

}  // namespace

template <typename T>
void chain_log_partition(const ChainPotentials<T>& potentials, ChainShape shape, T* log_z) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sequence(shape, "chain_log_partition", log_partition_kernel<WarpGroup, T>, log_partition_kernel<BlockGroup, T>,
                      potentials, shape, workspace.as<T>(), log_z);
}

template <typename T>
void chain_marginals(const ChainPotentials<T>& potentials, ChainShape shape, T* log_z, ChainParts<T> out) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sequence(shape, "chain_marginals", marginals_kernel<WarpGroup, T>, marginals_kernel<BlockGroup, T>,
                      potentials, shape, workspace.as<T>(), log_z, out);
}

template <typename T>
void chain_marginals_backward(const ChainPotentials<T>& potentials, const ChainPotentials<T>& grad, ChainShape shape,
                              T* log_z, ChainParts<T> out) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sequence(shape, "chain_marginals_backward", marginals_backward_kernel<WarpGroup, T>,
                      marginals_backward_kernel<BlockGroup, T>, potentials, grad, shape, workspace.as<T>(), log_z, out);
}

template <typename T>
void chain_entropy(const ChainPotentials<T>& potentials, ChainShape shape, T* log_z, T* entropy) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sequence(shape, "chain_entropy", entropy_kernel<WarpGroup, T>, entropy_kernel<BlockGroup, T>, potentials,
                      shape, workspace.as<T>(), log_z, entropy);
}

template <typename T>
void chain_viterbi(const ChainPotentials<T>& potentials, ChainShape shape, int32_t* labels, T* score) {
  const Scratch workspace(workspace_bytes<T>(shape));
  const Scratch back(static_cast<std::size_t>(shape.batch * shape.length * shape.labels) * sizeof(int32_t));
  launch_per_sequence(shape, "chain_viterbi", viterbi_kernel<WarpGroup, T>, viterbi_kernel<BlockGroup, T>, potentials,
                      shape, workspace.as<T>(), back.as<int32_t>(), labels, score);
}

template <typename T>
void chain_sample(const ChainPotentials<T>& potentials, ChainShape shape, int64_t samples, uint64_t seed, T* log_z,
                  int32_t* labels) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sequence(shape, "chain_sample", sample_kernel<WarpGroup, T>, sample_kernel<BlockGroup, T>, potentials,
                      shape, samples, seed, workspace.as<T>(), log_z, labels);
}

template <typename T>
void chain_score(const ChainPotentials<T>& potentials, ChainShape shape, const int32_t* labels, int64_t samples,
                 const T* log_z, T* out) {
  const int64_t rows = samples * shape.batch;
  if (rows <= 0) return;
  launch("chain_score", score_kernel<T>, elementwise_blocks(rows), kBlockThreads, potentials, shape, labels, rows, log_z,
         out);
}

template <typename T>
void chain_parts(const int32_t* labels, const int32_t* lengths, ChainShape shape, int64_t samples, ChainParts<T> out) {
  const int64_t rows = samples * shape.batch;
  if (rows <= 0) return;
  const int64_t largest = rows * (shape.length * shape.labels + shape.labels * shape.labels) * shape.labels;
  launch("chain_parts", parts_kernel<T>, elementwise_blocks(largest), kBlockThreads, labels, lengths, shape, rows, out);
}

template <typename T>
void sum_over_batch(const T* in, T* out, int64_t batch, int64_t size) {
  if (size <= 0) return;
  launch("sum_over_batch", sum_over_batch_kernel<T>, elementwise_blocks(size), kBlockThreads, in, out, batch, size);
}

LS_INSTANTIATE_LINEAR_CHAIN(float)
LS_INSTANTIATE_LINEAR_CHAIN(double)

}  // namespace cuda
}  // namespace ls
