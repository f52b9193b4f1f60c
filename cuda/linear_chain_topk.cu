// CUDA backend of the linear chain's k best labellings (linear_chain_topk.h): a block per sequence, a thread per
// label of each position (the block is C threads rounded up to a warp, at most 256); the lists of two positions
// and every position's back pointers come from the stream-ordered pool. Only the labels and scores are written.
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/linear_chain_topk.h"

namespace ls {
namespace cuda {
namespace {

/// The block's threads, as many as the launch gave.
struct LabelThreads {
  LS_HOST_DEVICE int64_t rank() const {
#ifdef __CUDA_ARCH__
    return threadIdx.x;
#else
    return 0;
#endif
  }
  LS_HOST_DEVICE int64_t size() const {
#ifdef __CUDA_ARCH__
    return blockDim.x;
#else
    return 1;
#endif
  }
  LS_HOST_DEVICE void sync() const {
#ifdef __CUDA_ARCH__
    __syncthreads();
#endif
  }
};

template <typename T>
__global__ void chain_topk_kernel(ChainPotentials<T> p, ChainShape shape, int64_t k, T* workspace, int32_t* pointers,
                                  int32_t* labels, T* scores) {
  const int64_t b = blockIdx.x;
  chain::topk_op(LabelThreads(), p, shape, b, k, workspace + b * chain::topk_workspace_size(shape, k),
                 pointers + b * chain::topk_index_workspace_size(shape, k), labels, scores);
}

}  // namespace

template <typename T>
void chain_topk(const ChainPotentials<T>& potentials, ChainShape shape, int64_t k, int32_t* labels, T* scores) {
  if (shape.batch <= 0) return;
  const Scratch workspace(static_cast<std::size_t>(shape.batch * chain::topk_workspace_size(shape, k)) * sizeof(T));
  const Scratch pointers(static_cast<std::size_t>(shape.batch * chain::topk_index_workspace_size(shape, k)) *
                         sizeof(int32_t));
  const int64_t warps = (shape.labels + 31) / 32;
  const unsigned threads = static_cast<unsigned>(warps >= 8 ? 256 : 32 * warps);
  launch("chain_topk", chain_topk_kernel<T>, static_cast<unsigned>(shape.batch), threads, potentials, shape, k,
         workspace.as<T>(), pointers.as<int32_t>(), labels, scores);
}

LS_INSTANTIATE_CHAIN_TOPK(float)
LS_INSTANTIATE_CHAIN_TOPK(double)

}  // namespace cuda
}  // namespace ls
