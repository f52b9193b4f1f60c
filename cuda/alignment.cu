// CUDA backend of Alignment: the lattice passes of alignment_sweeps.h with a 256-thread block per instance
// (tree_teams.cuh), a thread per node of each layer and one __syncthreads() between layers. Every op runs in one
// launch; charts live in a workspace from the stream-ordered pool.
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/alignment_sweeps.h"
#include "latent_struct/tree.h"
#include "tree_teams.cuh"

namespace ls {
namespace cuda {

LS_DEFINE_CUDA_TREE_OPS(alignment, alignment, T)

namespace {
LS_TREE_SENTENCE_KERNEL(alignment, sample_kernel, sample_op,
                        (TreePotentials<T> p, TreeShape shape, int64_t samples, uint64_t seed, T* workspace, T* log_z,
                         int32_t* decoded, T* parts),
                        p, shape, b, samples, seed, own, log_z, decoded, parts)
}  // namespace

template <typename T>
void alignment_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                 int32_t* decoded, T* parts) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sentence(shape.batch, "alignment_sample", sample_kernel<T>, potentials, shape, samples, seed,
                      workspace.as<T>(), log_z, decoded, parts);
}

LS_DEFINE_CUDA_LATTICE_TOPK(alignment, alignment)

LS_INSTANTIATE_TREE_KERNELS(alignment, float)
LS_INSTANTIATE_TREE_KERNELS(alignment, double)
LS_INSTANTIATE_TOPK_KERNELS(alignment, float)
LS_INSTANTIATE_TOPK_KERNELS(alignment, double)

}  // namespace cuda
}  // namespace ls
