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
namespace {

LS_TREE_SENTENCE_KERNEL(cky, log_partition_kernel, log_partition_op,
                        (TreePotentials<T> p, TreeShape shape, T* workspace, T* log_z), p, shape, b, own, log_z)
LS_TREE_SENTENCE_KERNEL(cky, marginals_kernel, marginals_op,
                        (TreePotentials<T> p, TreeShape shape, T* workspace, T* log_z, T* marginals), p, shape, b, own,
                        log_z, marginals)
LS_TREE_SENTENCE_KERNEL(cky, marginals_backward_kernel, marginals_backward_op,
                        (TreePotentials<T> p, const T* grad, TreeShape shape, T* workspace, T* log_z, T* out), p, grad,
                        shape, b, own, log_z, out)
LS_TREE_SENTENCE_KERNEL(cky, entropy_kernel, entropy_op,
                        (TreePotentials<T> p, TreeShape shape, T* workspace, T* log_z, T* entropy), p, shape, b, own,
                        log_z, entropy)
LS_TREE_SENTENCE_KERNEL(cky, argmax_kernel, argmax_op,
                        (TreePotentials<T> p, TreeShape shape, T* workspace, int32_t* indices, int32_t* decoded,
                         T* score, T* parts),
                        p, shape, b, own, indices + b * cky::index_workspace_size(shape), decoded, score, parts)
LS_TREE_SENTENCE_KERNEL(cky, sample_kernel, sample_op,
                        (TreePotentials<T> p, TreeShape shape, int64_t samples, uint64_t seed, T* workspace, T* log_z,
                         int32_t* decoded, T* parts),
                        p, shape, b, samples, seed, own, log_z, decoded, parts)

template <typename T>
std::size_t workspace_bytes(const TreeShape& shape) {
  return static_cast<std::size_t>(shape.batch * cky::workspace_size(shape)) * sizeof(T);
}

}  // namespace

template <typename T>
void cky_log_partition(const TreePotentials<T>& potentials, TreeShape shape, T* log_z) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sentence(shape.batch, "cky_log_partition", log_partition_kernel<T>, potentials, shape, workspace.as<T>(),
                      log_z);
}

template <typename T>
void cky_marginals(const TreePotentials<T>& potentials, TreeShape shape, T* log_z, T* marginals) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sentence(shape.batch, "cky_marginals", marginals_kernel<T>, potentials, shape, workspace.as<T>(), log_z,
                      marginals);
}

template <typename T>
void cky_marginals_backward(const TreePotentials<T>& potentials, const T* grad, TreeShape shape, T* log_z, T* out) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sentence(shape.batch, "cky_marginals_backward", marginals_backward_kernel<T>, potentials, grad, shape,
                      workspace.as<T>(), log_z, out);
}

template <typename T>
void cky_entropy(const TreePotentials<T>& potentials, TreeShape shape, T* log_z, T* entropy) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sentence(shape.batch, "cky_entropy", entropy_kernel<T>, potentials, shape, workspace.as<T>(), log_z,
                      entropy);
}

template <typename T>
void cky_argmax(const TreePotentials<T>& potentials, TreeShape shape, int32_t* decoded, T* score, T* parts) {
  const Scratch workspace(workspace_bytes<T>(shape));
  const Scratch indices(static_cast<std::size_t>(shape.batch * cky::index_workspace_size(shape)) * sizeof(int32_t));
  launch_per_sentence(shape.batch, "cky_argmax", argmax_kernel<T>, potentials, shape, workspace.as<T>(),
                      indices.as<int32_t>(), decoded, score, parts);
}

template <typename T>
void cky_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                int32_t* decoded, T* parts) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sentence(shape.batch, "cky_sample", sample_kernel<T>, potentials, shape, samples, seed, workspace.as<T>(),
                      log_z, decoded, parts);
}

LS_INSTANTIATE_TREE_KERNELS(cky, float)
LS_INSTANTIATE_TREE_KERNELS(cky, double)

}  // namespace cuda
}  // namespace ls
