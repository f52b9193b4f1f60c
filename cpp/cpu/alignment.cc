// CPU backend of Alignment: log Z, the marginals and the argmax by anti-diagonal wavefronts over vector kernels
// (alignment_wavefront.h); Cov(z) g, the entropy and the samples by the lattice passes of alignment_sweeps.h, one
// thread per instance walking the nodes in order. Instances are split across the thread pool, each thread's charts
// reused across calls.
#include <algorithm>

#include "alignment_wavefront.h"
#include "latent_struct/alignment_sweeps.h"
#include "tree_ops.h"

namespace ls {
namespace cpu {

namespace {
template <typename T, typename Body>
void for_each_sentence(const TreeShape& shape, Body body) {
  const int64_t workspace = std::max(alignment::workspace_size(shape), alignment_wavefront::workspace_size(shape));
  for_each_item<T>(shape.batch, shape.length * shape.extent * 4, workspace, alignment::index_workspace_size(shape),
                   body);
}
}  // namespace

template <typename T>
void alignment_log_partition(const TreePotentials<T>& p, TreeShape shape, T* log_z) {
  for_each_sentence<T>(shape, [&](int64_t b, T* w, int32_t*) {
    alignment_wavefront::log_partition(alignment_wavefront::grid_at(p, shape, b), w, log_z + b);
  });
}

template <typename T>
void alignment_marginals(const TreePotentials<T>& p, TreeShape shape, T* log_z, T* marginals) {
  const int64_t D = shape.length * shape.extent * alignment::kOps;
  for_each_sentence<T>(shape, [&](int64_t b, T* w, int32_t*) {
    alignment_wavefront::marginals(alignment_wavefront::grid_at(p, shape, b), w, log_z + b, marginals + b * D);
  });
}

template <typename T>
void alignment_argmax(const TreePotentials<T>& p, TreeShape shape, int32_t* decoded, T* score, T* parts) {
  const int64_t D = shape.length * shape.extent * alignment::kOps, width = alignment::decoded_size(shape);
  for_each_sentence<T>(shape, [&](int64_t b, T* w, int32_t*) {
    alignment_wavefront::argmax(alignment_wavefront::grid_at(p, shape, b), alignment::lattice_at(p, shape, b), w,
                                decoded + b * width, score + b, parts + b * D);
  });
}

template <typename T>
void alignment_marginals_backward(const TreePotentials<T>& p, const T* grad, TreeShape shape, T* log_z, T* out) {
  for_each_sentence<T>(shape, [&](int64_t b, T* w, int32_t*) {
    alignment::marginals_backward_op(VectorTeams(), p, grad, shape, b, w, log_z, out);
  });
}

template <typename T>
void alignment_entropy(const TreePotentials<T>& p, TreeShape shape, T* log_z, T* entropy) {
  for_each_sentence<T>(shape, [&](int64_t b, T* w, int32_t*) {
    alignment::entropy_op(VectorTeams(), p, shape, b, w, log_z, entropy);
  });
}

template <typename T>
void alignment_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                      int32_t* decoded, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    alignment::sample_op(VectorTeams(), potentials, shape, b, samples, seed, workspace, log_z, decoded, parts);
  });
}

LS_DEFINE_CPU_LATTICE_TOPK(alignment, alignment)

LS_INSTANTIATE_TREE_KERNELS(alignment, float)
LS_INSTANTIATE_TREE_KERNELS(alignment, double)
LS_INSTANTIATE_TOPK_KERNELS(alignment, float)
LS_INSTANTIATE_TOPK_KERNELS(alignment, double)

}  // namespace cpu
}  // namespace ls
