// The CPU wrappers every tree structure shares (tree.h): each op runs its sentence op on one thread per
// sentence, sentences split across the thread pool, with per-thread workspaces reused across calls.
#pragma once
#include "latent_struct/inside_outside.h"
#include "latent_struct/tree.h"
#include "vector_rows.h"
#include "workspace.h"

namespace ls {
namespace cpu {
/// The CPU group of the tree passes: one thread, one team of one lane (tree::SerialTeams), with the vectorized row
/// reductions (vector_rows.h). A type of its own, so that the CUDA and emulated builds, which instantiate the same
/// sweeps with tree::SerialTeams elsewhere, keep the plain ones.
struct VectorTeams : tree::SerialTeams {};
LS_CPU_VECTOR_ROWS(VectorTeams)

/// ls::lanes_log_sum_exp_of_sums (inside_outside.h) for the CPU group: vec::log_sum_exp_of_sums_lanes, a vector of
/// lanes at a time (it needs no scratch: terms and top are unused). Defined in cky.cc.
void lanes_log_sum_exp_of_sums(const VectorTeams&, const float* a, const float* b, int64_t n, int64_t lanes,
                               float* terms, float* top, float* out);
void lanes_log_sum_exp_of_sums(const VectorTeams&, const double* a, const double* b, int64_t n, int64_t lanes,
                               double* terms, double* top, double* out);
}  // namespace cpu
}  // namespace ls

// Defines for_each_sentence<T>(shape, body(b, workspace, index workspace)) and prefix_marginals_backward, _entropy
// and _argmax from the sentence ops of namespace `ns`, whose workspaces hold elements of type W (T, or double) and
// whose work per sentence is about `work` (an expression of shape).
#define LS_DEFINE_CPU_TREE_SENTENCE_OPS(prefix, ns, W, work)                                                      \
  namespace {                                                                                                    \
  template <typename T, typename Body>                                                                           \
  void for_each_sentence(const TreeShape& shape, Body body) {                                                    \
    for_each_item<W>(shape.batch, (work), ns::workspace_size(shape), ns::index_workspace_size(shape), body);     \
  }                                                                                                              \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_marginals_backward(const TreePotentials<T>& p, const T* grad, TreeShape shape, T* log_z, T* out) { \
    for_each_sentence<T>(shape, [&](int64_t b, W* w, int32_t*) {                                                 \
      ns::marginals_backward_op(VectorTeams(), p, grad, shape, b, w, log_z, out);                                \
    });                                                                                                          \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_entropy(const TreePotentials<T>& p, TreeShape shape, T* log_z, T* entropy) {                    \
    for_each_sentence<T>(shape, [&](int64_t b, W* w, int32_t*) {                                                 \
      ns::entropy_op(VectorTeams(), p, shape, b, w, log_z, entropy);                                             \
    });                                                                                                          \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_argmax(const TreePotentials<T>& p, TreeShape shape, int32_t* decoded, T* score, T* parts) {     \
    for_each_sentence<T>(shape, [&](int64_t b, W* w, int32_t* indices) {                                         \
      ns::argmax_op(VectorTeams(), p, shape, b, w, indices, decoded, score, parts);                              \
    });                                                                                                          \
  }

// LS_DEFINE_CPU_TREE_SENTENCE_OPS, and prefix_log_partition and _marginals from the sentence ops as well. The
// including file defines prefix_sample (its arguments differ per structure) and instantiates.
#define LS_DEFINE_CPU_TREE_OPS(prefix, ns, W, work)                                                               \
  LS_DEFINE_CPU_TREE_SENTENCE_OPS(prefix, ns, W, work)                                                           \
  template <typename T>                                                                                          \
  void prefix##_log_partition(const TreePotentials<T>& p, TreeShape shape, T* log_z) {                          \
    for_each_sentence<T>(shape, [&](int64_t b, W* w, int32_t*) {                                                 \
      ns::log_partition_op(VectorTeams(), p, shape, b, w, log_z);                                                \
    });                                                                                                          \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_marginals(const TreePotentials<T>& p, TreeShape shape, T* log_z, T* marginals) {                \
    for_each_sentence<T>(shape, [&](int64_t b, W* w, int32_t*) {                                                 \
      ns::marginals_op(VectorTeams(), p, shape, b, w, log_z, marginals);                                         \
    });                                                                                                          \
  }

// LS_DEFINE_CPU_TREE_SENTENCE_OPS, and prefix_log_partition and _marginals from the lane-batched group ops of `ns`
// (ns::lane_count(shape) sentences side by side per task: ns::lanes_log_partition_op, lanes_marginals_op, with
// ns::lanes_workspace_size(shape) elements of T each).
#define LS_DEFINE_CPU_TREE_LANE_OPS(prefix, ns, work)                                                             \
  LS_DEFINE_CPU_TREE_SENTENCE_OPS(prefix, ns, T, work)                                                           \
  namespace {                                                                                                    \
  template <typename T, typename Body>                                                                           \
  void for_each_group(const TreeShape& shape, Body body) {                                                       \
    const int64_t lanes = ns::lane_count(shape);                                                                 \
    if (lanes == 0) return;                                                                                      \
    for_each_item<T>((shape.batch + lanes - 1) / lanes, lanes * (work), ns::lanes_workspace_size(shape), 0, body); \
  }                                                                                                              \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_log_partition(const TreePotentials<T>& p, TreeShape shape, T* log_z) {                          \
    for_each_group<T>(shape, [&](int64_t group, T* w, int32_t*) {                                                \
      ns::lanes_log_partition_op(VectorTeams(), p, shape, group, w, log_z);                                      \
    });                                                                                                          \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_marginals(const TreePotentials<T>& p, TreeShape shape, T* log_z, T* marginals) {                \
    for_each_group<T>(shape, [&](int64_t group, T* w, int32_t*) {                                                \
      ns::lanes_marginals_op(VectorTeams(), p, shape, group, w, log_z, marginals);                               \
    });                                                                                                          \
  }

// prefix_topk (tree.h) from the k-best sentence op of namespace `ns` (lattice_sweeps.h's topk_op, or CKY's and
// Eisner's over hypergraph_kbest.h), one thread per sentence, sentences split across the thread pool, with
// ns::topk_workspace_size(shape, k) values and ns::topk_index_workspace_size(shape, k) indices per thread.
#define LS_DEFINE_CPU_LATTICE_TOPK(prefix, ns)                                                                   \
  template <typename T>                                                                                          \
  void prefix##_topk(const TreePotentials<T>& p, TreeShape shape, int64_t k, int32_t* decoded, T* scores,       \
                     T* parts) {                                                                                 \
    for_each_item<T>(shape.batch, k * ns::topk_workspace_size(shape, k), ns::topk_workspace_size(shape, k),      \
                     ns::topk_index_workspace_size(shape, k), [&](int64_t b, T* w, int32_t* indices) {           \
                       ns::topk_op(VectorTeams(), p, shape, b, k, w, indices, decoded, scores, parts);           \
                     });                                                                                         \
  }
