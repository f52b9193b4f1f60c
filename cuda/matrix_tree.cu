// CUDA backend of the Matrix-Tree structure: the elimination passes of matrix_tree_sweeps.h with a 256-thread
// block per sentence (the (i, j) entries of a step across the threads, one __syncthreads() per step), in
// double whatever the input dtype; the MAP tree by Chu-Liu-Edmonds on one thread of the sentence's block.
// Workspaces come from the stream-ordered pool.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_common.cuh"
#include "latent_struct/chu_liu_edmonds.h"
#include "latent_struct/matrix_tree_sweeps.h"
#include "latent_struct/tree.h"
#include "tree_teams.cuh"

namespace ls {
namespace cuda {
namespace {

int64_t doubles_per_sentence(const TreeShape& shape) {
  return std::max(matrix_tree::workspace_size(shape), arborescence::arborescence_work_size(shape.length));
}

// A kernel running matrix_tree::op(BlockTeams, ...) on the block's sentence b with its double workspace.
#define LS_MATRIX_TREE_KERNEL(kernel, op, params, ...)                        \
  template <typename T>                                                       \
  __global__ void kernel params {                                             \
    const BlockTeams g;                                                       \
    const int64_t b = blockIdx.x;                                             \
    double* own = workspace + b * doubles_per_sentence_device(shape);         \
    matrix_tree::op(g, __VA_ARGS__);                                          \
  }

__device__ int64_t doubles_per_sentence_device(const TreeShape& shape) {
  const int64_t a = matrix_tree::workspace_size(shape), c = arborescence::arborescence_work_size(shape.length);
  return a > c ? a : c;
}

LS_MATRIX_TREE_KERNEL(log_partition_kernel, log_partition_op,
                      (TreePotentials<T> p, TreeShape shape, double* workspace, T* log_z), p, shape, b, own, log_z)
LS_MATRIX_TREE_KERNEL(marginals_kernel, marginals_op,
                      (TreePotentials<T> p, TreeShape shape, double* workspace, T* log_z, T* marginals), p, shape, b,
                      own, log_z, marginals)
LS_MATRIX_TREE_KERNEL(marginals_backward_kernel, marginals_backward_op,
                      (TreePotentials<T> p, const T* grad, TreeShape shape, double* workspace, T* log_z, T* out), p,
                      grad, shape, b, own, log_z, out)
LS_MATRIX_TREE_KERNEL(entropy_kernel, entropy_op,
                      (TreePotentials<T> p, TreeShape shape, double* workspace, T* log_z, T* entropy), p, shape, b,
                      own, log_z, entropy)
LS_MATRIX_TREE_KERNEL(argmax_kernel, argmax_op,
                      (TreePotentials<T> p, TreeShape shape, double* workspace, int32_t* indices, int32_t* decoded,
                       T* score, T* parts),
                      p, shape, b, own, indices + b * arborescence::arborescence_iwork_size(shape.length), decoded, score,
                      parts)
LS_MATRIX_TREE_KERNEL(sample_kernel, sample_op,
                      (TreePotentials<T> p, TreeShape shape, int64_t samples, uint64_t seed, double* workspace,
                       T* log_z, int32_t* decoded, T* parts),
                      p, shape, b, samples, seed, own, log_z, decoded, parts)

#undef LS_MATRIX_TREE_KERNEL

std::size_t workspace_bytes(const TreeShape& shape) {
  return static_cast<std::size_t>(shape.batch * doubles_per_sentence(shape)) * sizeof(double);
}

}  // namespace

template <typename T>
void matrix_tree_log_partition(const TreePotentials<T>& potentials, TreeShape shape, T* log_z) {
  const Scratch workspace(workspace_bytes(shape));
  launch_per_sentence(shape.batch, "matrix_tree_log_partition", log_partition_kernel<T>, potentials, shape,
                      workspace.as<double>(), log_z);
}

template <typename T>
void matrix_tree_marginals(const TreePotentials<T>& potentials, TreeShape shape, T* log_z, T* marginals) {
  const Scratch workspace(workspace_bytes(shape));
  launch_per_sentence(shape.batch, "matrix_tree_marginals", marginals_kernel<T>, potentials, shape,
                      workspace.as<double>(), log_z, marginals);
}

template <typename T>
void matrix_tree_marginals_backward(const TreePotentials<T>& potentials, const T* grad, TreeShape shape, T* log_z,
                                    T* out) {
  const Scratch workspace(workspace_bytes(shape));
  launch_per_sentence(shape.batch, "matrix_tree_marginals_backward", marginals_backward_kernel<T>, potentials, grad,
                      shape, workspace.as<double>(), log_z, out);
}

template <typename T>
void matrix_tree_entropy(const TreePotentials<T>& potentials, TreeShape shape, T* log_z, T* entropy) {
  const Scratch workspace(workspace_bytes(shape));
  launch_per_sentence(shape.batch, "matrix_tree_entropy", entropy_kernel<T>, potentials, shape, workspace.as<double>(),
                      log_z, entropy);
}

template <typename T>
void matrix_tree_argmax(const TreePotentials<T>& potentials, TreeShape shape, int32_t* decoded, T* score, T* parts) {
  const Scratch workspace(workspace_bytes(shape));
  const Scratch indices(static_cast<std::size_t>(shape.batch * arborescence::arborescence_iwork_size(shape.length)) *
                        sizeof(int32_t));
  launch_per_sentence(shape.batch, "matrix_tree_argmax", argmax_kernel<T>, potentials, shape, workspace.as<double>(),
                      indices.as<int32_t>(), decoded, score, parts);
}

template <typename T>
void matrix_tree_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                        int32_t* decoded, T* parts) {
  const Scratch workspace(workspace_bytes(shape));
  launch_per_sentence(shape.batch, "matrix_tree_sample", sample_kernel<T>, potentials, shape, samples, seed,
                      workspace.as<double>(), log_z, decoded, parts);
}

LS_INSTANTIATE_TREE_KERNELS(matrix_tree, float)
LS_INSTANTIATE_TREE_KERNELS(matrix_tree, double)

}  // namespace cuda
}  // namespace ls
