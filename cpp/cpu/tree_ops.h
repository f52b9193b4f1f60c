// The CPU wrappers every tree structure shares (tree.h): each op runs its sentence op on one thread per
// sentence, sentences split across the thread pool, with per-thread workspaces reused across calls.
#pragma once
#include "latent_struct/inside_outside.h"
#include "latent_struct/tree.h"
#include "workspace.h"

// Defines for_each_sentence<T>(shape, body(b, workspace, index workspace)) and prefix_log_partition, _marginals,
// _marginals_backward, _entropy and _argmax from the sentence ops of namespace `ns`, whose workspaces hold
// elements of type W (T, or double) and whose work per sentence is about `work` (an expression of shape). The
// including file defines prefix_sample (its arguments differ per structure) and instantiates.
#define LS_DEFINE_CPU_TREE_OPS(prefix, ns, W, work)                                                               \
  namespace {                                                                                                    \
  template <typename T, typename Body>                                                                           \
  void for_each_sentence(const TreeShape& shape, Body body) {                                                    \
    for_each_item<W>(shape.batch, (work), ns::workspace_size(shape), ns::index_workspace_size(shape), body);     \
  }                                                                                                              \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_log_partition(const TreePotentials<T>& p, TreeShape shape, T* log_z) {                          \
    for_each_sentence<T>(shape, [&](int64_t b, W* w, int32_t*) {                                                 \
      ns::log_partition_op(tree::SerialTeams(), p, shape, b, w, log_z);                                          \
    });                                                                                                          \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_marginals(const TreePotentials<T>& p, TreeShape shape, T* log_z, T* marginals) {                \
    for_each_sentence<T>(shape, [&](int64_t b, W* w, int32_t*) {                                                 \
      ns::marginals_op(tree::SerialTeams(), p, shape, b, w, log_z, marginals);                                   \
    });                                                                                                          \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_marginals_backward(const TreePotentials<T>& p, const T* grad, TreeShape shape, T* log_z, T* out) { \
    for_each_sentence<T>(shape, [&](int64_t b, W* w, int32_t*) {                                                 \
      ns::marginals_backward_op(tree::SerialTeams(), p, grad, shape, b, w, log_z, out);                          \
    });                                                                                                          \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_entropy(const TreePotentials<T>& p, TreeShape shape, T* log_z, T* entropy) {                    \
    for_each_sentence<T>(shape, [&](int64_t b, W* w, int32_t*) {                                                 \
      ns::entropy_op(tree::SerialTeams(), p, shape, b, w, log_z, entropy);                                       \
    });                                                                                                          \
  }                                                                                                              \
  template <typename T>                                                                                          \
  void prefix##_argmax(const TreePotentials<T>& p, TreeShape shape, int32_t* decoded, T* score, T* parts) {     \
    for_each_sentence<T>(shape, [&](int64_t b, W* w, int32_t* indices) {                                         \
      ns::argmax_op(tree::SerialTeams(), p, shape, b, w, indices, decoded, score, parts);                        \
    });                                                                                                          \
  }
