// CPU backend of the Matrix-Tree structure (non-projective dependency trees): the elimination passes of
// matrix_tree_sweeps.h, one thread per sentence, sentences split across the thread pool; the MAP tree by
// Chu-Liu-Edmonds (chu_liu_edmonds.h). Workspaces are per thread and reused across calls.
#include <algorithm>

#include "latent_struct/chu_liu_edmonds.h"
#include "latent_struct/inside_outside.h"
#include "latent_struct/matrix_tree_sweeps.h"
#include "latent_struct/tree.h"
#include "workspace.h"

namespace ls {
namespace cpu {
namespace {

/// Runs body(b, workspace, index workspace) for every sentence, in parallel over the batch.
template <typename Body>
void for_each_sentence(const TreeShape& shape, Body body) {
  const int64_t N = shape.length;
  const int64_t workspace = std::max(matrix_tree::workspace_size(shape), arborescence::arborescence_work_size(N));
  for_each_item<double>(shape.batch, N * N * N, workspace, arborescence::arborescence_iwork_size(N), body);
}

}  // namespace

template <typename T>
void matrix_tree_log_partition(const TreePotentials<T>& potentials, TreeShape shape, T* log_z) {
  for_each_sentence(shape, [&](int64_t b, double* workspace, int32_t*) {
    matrix_tree::log_partition_op(tree::SerialTeams(), potentials, shape, b, workspace, log_z);
  });
}

template <typename T>
void matrix_tree_marginals(const TreePotentials<T>& potentials, TreeShape shape, T* log_z, T* marginals) {
  for_each_sentence(shape, [&](int64_t b, double* workspace, int32_t*) {
    matrix_tree::marginals_op(tree::SerialTeams(), potentials, shape, b, workspace, log_z, marginals);
  });
}

template <typename T>
void matrix_tree_marginals_backward(const TreePotentials<T>& potentials, const T* grad, TreeShape shape, T* log_z,
                                    T* out) {
  for_each_sentence(shape, [&](int64_t b, double* workspace, int32_t*) {
    matrix_tree::marginals_backward_op(tree::SerialTeams(), potentials, grad, shape, b, workspace, log_z, out);
  });
}

template <typename T>
void matrix_tree_entropy(const TreePotentials<T>& potentials, TreeShape shape, T* log_z, T* entropy) {
  for_each_sentence(shape, [&](int64_t b, double* workspace, int32_t*) {
    matrix_tree::entropy_op(tree::SerialTeams(), potentials, shape, b, workspace, log_z, entropy);
  });
}

template <typename T>
void matrix_tree_argmax(const TreePotentials<T>& potentials, TreeShape shape, int32_t* decoded, T* score, T* parts) {
  for_each_sentence(shape, [&](int64_t b, double* workspace, int32_t* indices) {
    matrix_tree::argmax_op(tree::SerialTeams(), potentials, shape, b, workspace, indices, decoded, score, parts);
  });
}

template <typename T>
void matrix_tree_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                        int32_t* decoded, T* parts) {
  for_each_sentence(shape, [&](int64_t b, double* workspace, int32_t*) {
    matrix_tree::sample_op(tree::SerialTeams(), potentials, shape, b, samples, seed, workspace, log_z, decoded, parts);
  });
}

LS_INSTANTIATE_TREE_KERNELS(matrix_tree, float)
LS_INSTANTIATE_TREE_KERNELS(matrix_tree, double)

}  // namespace cpu
}  // namespace ls
