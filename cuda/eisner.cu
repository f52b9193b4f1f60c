// CUDA backend of Eisner: the passes of eisner_sweeps.h with a 256-thread block per sentence (tree_teams.cuh): the
// items of one width across the warps, the split points of a span across the lanes, one __syncthreads()
// between widths. Every op runs in one launch; charts live in a workspace from the stream-ordered pool.
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/eisner_sweeps.h"
#include "latent_struct/tree.h"
#include "tree_teams.cuh"

namespace ls {
namespace cuda {

LS_DEFINE_CUDA_TREE_OPS(eisner, eisner, T)

namespace {
LS_TREE_SENTENCE_KERNEL(eisner, sample_kernel, sample_op,
                        (TreePotentials<T> p, TreeShape shape, int64_t samples, uint64_t seed, T* workspace,
                         int32_t* queues, int64_t queues_per_block, T* log_z, int32_t* decoded, T* parts),
                        p, shape, b, samples, seed, own, queues + b * queues_per_block, log_z, decoded, parts)
}  // namespace

template <typename T>
void eisner_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                int32_t* decoded, T* parts) {
  const Scratch workspace(workspace_bytes<T>(shape));
  // One decoding queue per thread that draws samples (thread rank < samples).
  const int64_t threads = samples < BlockTeams::kThreads ? samples : BlockTeams::kThreads;
  const int64_t queues_per_block = threads * 3 * eisner_queue_size(shape.length);
  const Scratch queues(static_cast<std::size_t>(shape.batch * queues_per_block) * sizeof(int32_t));
  launch_per_sentence(shape.batch, "eisner_sample", sample_kernel<T>, potentials, shape, samples, seed, workspace.as<T>(),
                      queues.as<int32_t>(), queues_per_block, log_z, decoded, parts);
}

LS_DEFINE_CUDA_LATTICE_TOPK(eisner, eisner)

LS_INSTANTIATE_TREE_KERNELS(eisner, float)
LS_INSTANTIATE_TREE_KERNELS(eisner, double)
LS_INSTANTIATE_TOPK_KERNELS(eisner, float)
LS_INSTANTIATE_TOPK_KERNELS(eisner, double)

}  // namespace cuda
}  // namespace ls
