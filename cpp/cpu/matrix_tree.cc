// CPU backend of the Matrix-Tree structure (non-projective dependency trees): the elimination passes of
// matrix_tree_sweeps.h in double (their single-thread versions, with the vectorized row exps of VectorTeams), one
// thread per sentence, sentences split across the thread pool; the MAP tree by Chu-Liu-Edmonds
// (chu_liu_edmonds.h), the k best trees by Lawler's partition over it (arborescence_kbest.h). Workspaces are per
// thread and reused across calls.
#include "latent_struct/matrix_tree_sweeps.h"
#include "tree_ops.h"

namespace ls {
namespace cpu {

LS_DEFINE_CPU_TREE_OPS(matrix_tree, matrix_tree, double, shape.length * shape.length * shape.length)

template <typename T>
void matrix_tree_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                        int32_t* decoded, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, double* workspace, int32_t*) {
    matrix_tree::sample_op(VectorTeams(), potentials, shape, b, samples, seed, workspace, log_z, decoded, parts);
  });
}

template <typename T>
void matrix_tree_topk(const TreePotentials<T>& potentials, TreeShape shape, int64_t k, int32_t* decoded, T* scores,
                      T* parts) {
  const int64_t N = shape.length;
  for_each_item<double>(shape.batch, k * N * N * N, matrix_tree::topk_workspace_size(shape, k),
                        matrix_tree::topk_index_workspace_size(shape, k), [&](int64_t b, double* w, int32_t* indices) {
                          matrix_tree::topk_op(VectorTeams(), potentials, shape, b, k, w, indices, decoded, scores,
                                               parts);
                        });
}

LS_INSTANTIATE_TREE_KERNELS(matrix_tree, float)
LS_INSTANTIATE_TREE_KERNELS(matrix_tree, double)
LS_INSTANTIATE_TOPK_KERNELS(matrix_tree, float)
LS_INSTANTIATE_TOPK_KERNELS(matrix_tree, double)

}  // namespace cpu
}  // namespace ls
