// CPU backend of Eisner: the passes of eisner_sweeps.h, one thread per sentence, sentences split across the thread
// pool; each thread's charts are reused across calls.
#include "latent_struct/eisner_sweeps.h"
#include "latent_struct/tree.h"
#include "workspace.h"

namespace ls {
namespace cpu {
namespace {

/// Runs body(b, workspace, index workspace) for every sentence, in parallel over the batch.
template <typename T, typename Body>
void for_each_sentence(const TreeShape& shape, Body body) {
  const int64_t N = shape.length;
  for_each_item<T>(shape.batch, 4 * N * N * N / 6 + N * N, eisner::workspace_size(shape),
                   eisner::index_workspace_size(shape), body);
}

}  // namespace

template <typename T>
void eisner_log_partition(const TreePotentials<T>& potentials, TreeShape shape, T* log_z) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    eisner::log_partition_op(tree::SerialTeams(), potentials, shape, b, workspace, log_z);
  });
}

template <typename T>
void eisner_marginals(const TreePotentials<T>& potentials, TreeShape shape, T* log_z, T* marginals) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    eisner::marginals_op(tree::SerialTeams(), potentials, shape, b, workspace, log_z, marginals);
  });
}

template <typename T>
void eisner_marginals_backward(const TreePotentials<T>& potentials, const T* grad, TreeShape shape, T* log_z, T* out) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    eisner::marginals_backward_op(tree::SerialTeams(), potentials, grad, shape, b, workspace, log_z, out);
  });
}

template <typename T>
void eisner_entropy(const TreePotentials<T>& potentials, TreeShape shape, T* log_z, T* entropy) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    eisner::entropy_op(tree::SerialTeams(), potentials, shape, b, workspace, log_z, entropy);
  });
}

template <typename T>
void eisner_argmax(const TreePotentials<T>& potentials, TreeShape shape, int32_t* decoded, T* score, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t* indices) {
    eisner::argmax_op(tree::SerialTeams(), potentials, shape, b, workspace, indices, decoded, score, parts);
  });
}

template <typename T>
void eisner_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                int32_t* decoded, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t* indices) {
    eisner::sample_op(tree::SerialTeams(), potentials, shape, b, samples, seed, workspace, indices, log_z, decoded,
                      parts);
  });
}

LS_INSTANTIATE_TREE_KERNELS(eisner, float)
LS_INSTANTIATE_TREE_KERNELS(eisner, double)

}  // namespace cpu
}  // namespace ls
