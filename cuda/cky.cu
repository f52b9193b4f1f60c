// CUDA backend of CKY: the passes of cky_sweeps.h with a 256-thread block per sentence (tree_teams.cuh): the
// spans of one width across the warps, the split points of a span across the lanes, one __syncthreads()
// between widths. Every op runs in one launch; charts live in a workspace from the stream-ordered pool.
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/cky_sweeps.h"
#include "latent_struct/tree.h"
#include "tree_teams.cuh"

namespace ls {
namespace cuda {

LS_DEFINE_CUDA_TREE_OPS(cky, cky, T)

namespace {
LS_TREE_SENTENCE_KERNEL(cky, sample_kernel, sample_op,
                        (TreePotentials<T> p, TreeShape shape, int64_t samples, uint64_t seed, T* workspace, T* log_z,
                         int32_t* decoded, T* parts),
                        p, shape, b, samples, seed, own, log_z, decoded, parts)
}  // namespace

template <typename T>
void cky_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                int32_t* decoded, T* parts) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sentence(shape.batch, "cky_sample", sample_kernel<T>, potentials, shape, samples, seed, workspace.as<T>(),
                      log_z, decoded, parts);
}

LS_DEFINE_CUDA_LATTICE_TOPK(cky, cky)

LS_INSTANTIATE_TREE_KERNELS(cky, float)
LS_INSTANTIATE_TREE_KERNELS(cky, double)
LS_INSTANTIATE_TOPK_KERNELS(cky, float)
LS_INSTANTIATE_TOPK_KERNELS(cky, double)

}  // namespace cuda
}  // namespace ls
