// CUDA backend of SentCFG: the passes of cfg_sweeps.h with a 256-thread block per sentence, width-batched: every
// phase of a span width spreads its items (accumulator rows (start, X), contractions (start, A), child cells
// (start, label)) across the block's threads, one __syncthreads() between phases. Every op runs in one launch;
// charts live in a workspace from the stream-ordered pool.
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/cfg_sweeps.h"
#include "latent_struct/tree.h"
#include "tree_teams.cuh"

namespace ls {
namespace cuda {

LS_DEFINE_CUDA_TREE_OPS(cfg, cfg, T)

namespace {
LS_TREE_SENTENCE_KERNEL(cfg, sample_kernel, sample_op,
                        (TreePotentials<T> p, TreeShape shape, int64_t samples, uint64_t seed, T* workspace, T* log_z,
                         int32_t* decoded, T* parts),
                        p, shape, b, samples, seed, own, log_z, decoded, parts)

/// The k best trees (cfg::topk_op): a block per sentence, a thread (and a candidate heap) per item of a width.
template <typename T>
__global__ void topk_kernel(TreePotentials<T> p, TreeShape shape, int64_t k, int64_t heaps, T* workspace,
                            int32_t* indices, int32_t* decoded, T* scores, T* parts) {
  const BlockTeams g;
  const int64_t b = blockIdx.x;
  cfg::topk_op(g, p, shape, b, k, heaps, workspace + b * cfg::topk_workspace_size(shape, k, heaps),
               indices + b * cfg::topk_index_workspace_size(shape, k, heaps), decoded, scores, parts);
}
}  // namespace

template <typename T>
void cfg_topk(const TreePotentials<T>& potentials, TreeShape shape, int64_t k, int32_t* decoded, T* scores, T* parts) {
  const int64_t heaps = cfg::topk_heaps(shape, BlockTeams::kThreads);
  const Scratch workspace(static_cast<std::size_t>(shape.batch * cfg::topk_workspace_size(shape, k, heaps)) * sizeof(T));
  const Scratch indices(static_cast<std::size_t>(shape.batch * cfg::topk_index_workspace_size(shape, k, heaps)) *
                        sizeof(int32_t));
  launch_per_sentence(shape.batch, "cfg_topk", topk_kernel<T>, potentials, shape, k, heaps, workspace.as<T>(),
                      indices.as<int32_t>(), decoded, scores, parts);
}

template <typename T>
void cfg_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                int32_t* decoded, T* parts) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sentence(shape.batch, "cfg_sample", sample_kernel<T>, potentials, shape, samples, seed, workspace.as<T>(),
                      log_z, decoded, parts);
}

LS_INSTANTIATE_TREE_KERNELS(cfg, float)
LS_INSTANTIATE_TREE_KERNELS(cfg, double)
LS_INSTANTIATE_TOPK_KERNELS(cfg, float)
LS_INSTANTIATE_TOPK_KERNELS(cfg, double)

}  // namespace cuda
}  // namespace ls
