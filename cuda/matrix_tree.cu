// CUDA backend of the Matrix-Tree structure: the elimination passes of matrix_tree_sweeps.h with a 256-thread
// block per sentence (the (i, j) entries of a step across the threads, one __syncthreads() per step), in
// double whatever the input dtype; the MAP tree by Chu-Liu-Edmonds on one thread of the sentence's block, and the
// k best trees (arborescence_kbest.h: Lawler's partition, serial) on one thread too, the block clearing the outputs.
// Workspaces come from the stream-ordered pool.
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/chu_liu_edmonds.h"
#include "latent_struct/matrix_tree_sweeps.h"
#include "latent_struct/tree.h"
#include "tree_teams.cuh"

namespace ls {
namespace cuda {

LS_DEFINE_CUDA_TREE_OPS(matrix_tree, matrix_tree, double)

namespace {
LS_TREE_SENTENCE_KERNEL(matrix_tree, sample_kernel, sample_op,
                        (TreePotentials<T> p, TreeShape shape, int64_t samples, uint64_t seed, double* workspace,
                         T* log_z, int32_t* decoded, T* parts),
                        p, shape, b, samples, seed, own, log_z, decoded, parts)
}  // namespace

template <typename T>
void matrix_tree_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                        int32_t* decoded, T* parts) {
  const Scratch workspace(workspace_bytes<T>(shape));
  launch_per_sentence(shape.batch, "matrix_tree_sample", sample_kernel<T>, potentials, shape, samples, seed,
                      workspace.as<double>(), log_z, decoded, parts);
}

namespace {
template <typename T>
__global__ void topk_kernel(TreePotentials<T> p, TreeShape shape, int64_t k, double* workspace, int32_t* indices,
                            int32_t* decoded, T* scores, T* parts) {
  const BlockTeams g;
  const int64_t b = blockIdx.x;
  matrix_tree::topk_op(g, p, shape, b, k, workspace + b * matrix_tree::topk_workspace_size(shape, k),
                       indices + b * matrix_tree::topk_index_workspace_size(shape, k), decoded, scores, parts);
}
}  // namespace

template <typename T>
void matrix_tree_topk(const TreePotentials<T>& potentials, TreeShape shape, int64_t k, int32_t* decoded, T* scores,
                      T* parts) {
  const Scratch workspace(static_cast<std::size_t>(shape.batch * matrix_tree::topk_workspace_size(shape, k)) *
                          sizeof(double));
  const Scratch indices(static_cast<std::size_t>(shape.batch * matrix_tree::topk_index_workspace_size(shape, k)) *
                        sizeof(int32_t));
  launch_per_sentence(shape.batch, "matrix_tree_topk", topk_kernel<T>, potentials, shape, k, workspace.as<double>(),
                      indices.as<int32_t>(), decoded, scores, parts);
}

LS_INSTANTIATE_TREE_KERNELS(matrix_tree, float)
LS_INSTANTIATE_TREE_KERNELS(matrix_tree, double)
LS_INSTANTIATE_TOPK_KERNELS(matrix_tree, float)
LS_INSTANTIATE_TOPK_KERNELS(matrix_tree, double)

}  // namespace cuda
}  // namespace ls
