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
}  // namespace

template <typename T>
void cfg_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                int32_t* decoded, T* parts) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sentence(shape.batch, "cfg_sample", sample_kernel<T>, potentials, shape, samples, seed, workspace.as<T>(),
                      log_z, decoded, parts);
}

LS_INSTANTIATE_TREE_KERNELS(cfg, float)
LS_INSTANTIATE_TREE_KERNELS(cfg, double)

}  // namespace cuda
}  // namespace ls
