// The CUDA group of the tree passes (inside_outside.h): one 256-thread block per sentence, a warp per team,
// lanes over split points. Team reductions end in lane 0 and are broadcast from there, so every lane sees the
// bit-identical value and data-dependent control flow stays uniform within a team.
#pragma once
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/inside_outside.h"

namespace ls {
namespace cuda {

struct BlockTeams {
  static constexpr int kThreads = 256;
  __device__ int64_t lane() const { return threadIdx.x & 31; }
  __device__ int64_t lanes() const { return 32; }
  __device__ int64_t team() const { return threadIdx.x >> 5; }
  __device__ int64_t teams() const { return kThreads / 32; }
  __device__ int64_t rank() const { return threadIdx.x; }
  __device__ int64_t size() const { return kThreads; }
  __device__ void sync() const { __syncthreads(); }
  __device__ void sync_team() const { __syncwarp(); }
  template <typename T>
  __device__ T sum(T v) const {
    for (int offset = 16; offset > 0; offset >>= 1) v += shfl_down(v, offset);
    return shfl_lane0(v);
  }
  template <typename T>
  __device__ T max(T v) const {
    for (int offset = 16; offset > 0; offset >>= 1) {
      const T other = shfl_down(v, offset);
      v = other > v ? other : v;
    }
    return shfl_lane0(v);
  }
  template <typename T>
  __device__ tree::Best<T> argmax(tree::Best<T> v) const {
    for (int offset = 16; offset > 0; offset >>= 1) {
      const tree::Best<T> other{shfl_down(v.value, offset), static_cast<int64_t>(shfl_down(static_cast<long long>(v.index), offset))};
      v = tree::better(v, other);
    }
    return tree::Best<T>{shfl_lane0(v.value), static_cast<int64_t>(shfl_lane0(static_cast<long long>(v.index)))};
  }
};

/// Launches kernel(args...) with a 256-thread block per sentence.
template <typename Kernel, typename... Args>
void launch_per_sentence(int64_t batch, const char* name, Kernel kernel, Args... args) {
  if (batch <= 0) return;
  launch(name, kernel, static_cast<unsigned>(batch), BlockTeams::kThreads, args...);
}

}  // namespace cuda
}  // namespace ls

// A kernel running ns::op(BlockTeams, ...) on the block's sentence b with its workspace slice (`workspace`, of
// ns::workspace_size(shape) elements per sentence, is a parameter).
#define LS_TREE_SENTENCE_KERNEL(ns, kernel, op, params, ...)      \
  template <typename T>                                           \
  __global__ void kernel params {                                 \
    const ::ls::cuda::BlockTeams g;                               \
    const int64_t b = blockIdx.x;                                 \
    auto* own = workspace + b * ns::workspace_size(shape);        \
    ns::op(g, __VA_ARGS__);                                       \
  }

// Defines the kernels and launches of prefix_log_partition, _marginals, _marginals_backward, _entropy and _argmax
// (tree.h) from the sentence ops of namespace `ns`, a block per sentence, whose workspaces hold elements of type
// W (T, or double), and workspace_bytes<T>(shape) for the including file's prefix_sample (whose arguments differ
// per structure).
#define LS_DEFINE_CUDA_TREE_OPS(prefix, ns, W)                                                                     \
  namespace {                                                                                                      \
  LS_TREE_SENTENCE_KERNEL(ns, log_partition_kernel, log_partition_op,                                              \
                          (TreePotentials<T> p, TreeShape shape, W* workspace, T* log_z), p, shape, b, own, log_z) \
  LS_TREE_SENTENCE_KERNEL(ns, marginals_kernel, marginals_op,                                                      \
                          (TreePotentials<T> p, TreeShape shape, W* workspace, T* log_z, T* marginals), p, shape, b, \
                          own, log_z, marginals)                                                                   \
  LS_TREE_SENTENCE_KERNEL(ns, marginals_backward_kernel, marginals_backward_op,                                    \
                          (TreePotentials<T> p, const T* grad, TreeShape shape, W* workspace, T* log_z, T* out), p, \
                          grad, shape, b, own, log_z, out)                                                         \
  LS_TREE_SENTENCE_KERNEL(ns, entropy_kernel, entropy_op,                                                          \
                          (TreePotentials<T> p, TreeShape shape, W* workspace, T* log_z, T* entropy), p, shape, b, \
                          own, log_z, entropy)                                                                     \
  LS_TREE_SENTENCE_KERNEL(ns, argmax_kernel, argmax_op,                                                            \
                          (TreePotentials<T> p, TreeShape shape, W* workspace, int32_t* indices, int32_t* decoded, \
                           T* score, T* parts),                                                                    \
                          p, shape, b, own, indices + b * ns::index_workspace_size(shape), decoded, score, parts)  \
  template <typename T>                                                                                            \
  std::size_t workspace_bytes(const TreeShape& shape) {                                                            \
    return static_cast<std::size_t>(shape.batch * ns::workspace_size(shape)) * sizeof(W);                          \
  }                                                                                                                \
  }                                                                                                                \
  template <typename T>                                                                                            \
  void prefix##_log_partition(const TreePotentials<T>& p, TreeShape shape, T* log_z) {                            \
    const Scratch workspace(workspace_bytes<T>(shape));                                                            \
    launch_per_sentence(shape.batch, #prefix "_log_partition", log_partition_kernel<T>, p, shape,                  \
                        workspace.as<W>(), log_z);                                                                 \
  }                                                                                                                \
  template <typename T>                                                                                            \
  void prefix##_marginals(const TreePotentials<T>& p, TreeShape shape, T* log_z, T* marginals) {                  \
    const Scratch workspace(workspace_bytes<T>(shape));                                                            \
    launch_per_sentence(shape.batch, #prefix "_marginals", marginals_kernel<T>, p, shape, workspace.as<W>(),       \
                        log_z, marginals);                                                                         \
  }                                                                                                                \
  template <typename T>                                                                                            \
  void prefix##_marginals_backward(const TreePotentials<T>& p, const T* grad, TreeShape shape, T* log_z, T* out) { \
    const Scratch workspace(workspace_bytes<T>(shape));                                                            \
    launch_per_sentence(shape.batch, #prefix "_marginals_backward", marginals_backward_kernel<T>, p, grad, shape,  \
                        workspace.as<W>(), log_z, out);                                                            \
  }                                                                                                                \
  template <typename T>                                                                                            \
  void prefix##_entropy(const TreePotentials<T>& p, TreeShape shape, T* log_z, T* entropy) {                      \
    const Scratch workspace(workspace_bytes<T>(shape));                                                            \
    launch_per_sentence(shape.batch, #prefix "_entropy", entropy_kernel<T>, p, shape, workspace.as<W>(), log_z,    \
                        entropy);                                                                                  \
  }                                                                                                                \
  template <typename T>                                                                                            \
  void prefix##_argmax(const TreePotentials<T>& p, TreeShape shape, int32_t* decoded, T* score, T* parts) {       \
    const Scratch workspace(workspace_bytes<T>(shape));                                                            \
    const Scratch indices(static_cast<std::size_t>(shape.batch * ns::index_workspace_size(shape)) * sizeof(int32_t)); \
    launch_per_sentence(shape.batch, #prefix "_argmax", argmax_kernel<T>, p, shape, workspace.as<W>(),             \
                        indices.as<int32_t>(), decoded, score, parts);                                             \
  }

// prefix_topk (tree.h) from the k-best sentence op of namespace `ns` (lattice_sweeps.h's topk_op: a thread per node
// of each layer; CKY's and Eisner's over hypergraph_kbest.h: a thread per item of each width): a block per sentence,
// ns::topk_workspace_size(shape, k) values and ns::topk_index_workspace_size(shape, k) indices per sentence from
// the stream-ordered pool.
#define LS_DEFINE_CUDA_LATTICE_TOPK(prefix, ns)                                                                   \
  namespace {                                                                                                      \
  template <typename T>                                                                                            \
  __global__ void prefix##_topk_kernel(TreePotentials<T> p, TreeShape shape, int64_t k, T* workspace,             \
                                       int32_t* indices, int32_t* decoded, T* scores, T* parts) {                 \
    const ::ls::cuda::BlockTeams g;                                                                                \
    const int64_t b = blockIdx.x;                                                                                  \
    ns::topk_op(g, p, shape, b, k, workspace + b * ns::topk_workspace_size(shape, k),                             \
                indices + b * ns::topk_index_workspace_size(shape, k), decoded, scores, parts);                   \
  }                                                                                                                \
  }                                                                                                                \
  template <typename T>                                                                                            \
  void prefix##_topk(const TreePotentials<T>& p, TreeShape shape, int64_t k, int32_t* decoded, T* scores,         \
                     T* parts) {                                                                                   \
    const Scratch workspace(static_cast<std::size_t>(shape.batch * ns::topk_workspace_size(shape, k)) * sizeof(T)); \
    const Scratch indices(static_cast<std::size_t>(shape.batch * ns::topk_index_workspace_size(shape, k)) *        \
                          sizeof(int32_t));                                                                        \
    launch_per_sentence(shape.batch, #prefix "_topk", prefix##_topk_kernel<T>, p, shape, k, workspace.as<T>(),     \
                        indices.as<int32_t>(), decoded, scores, parts);                                            \
  }
