// CPU backend of SentCFG: the passes of cfg_sweeps.h, one thread per sentence (its accumulator rows and
// contractions run over contiguous label rows), sentences split across the thread pool, charts reused across calls.
#include "latent_struct/cfg_sweeps.h"
#include "tree_ops.h"

namespace ls {
namespace cpu {

/// cfg::add_rows (cfg_sweeps.h) for the CPU group: vec::add_rows, vectors of outputs held in registers.
inline void add_rows(const VectorTeams&, const double* coefs, int64_t coef_stride, const double* rows, int64_t stride,
                     int64_t terms, int64_t n, double* out) {
  vec::add_rows(coefs, coef_stride, rows, stride, terms, n, out);
}

LS_DEFINE_CPU_TREE_OPS(cfg, cfg, T, cfg::work(shape))

template <typename T>
void cfg_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                int32_t* decoded, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    cfg::sample_op(VectorTeams(), potentials, shape, b, samples, seed, workspace, log_z, decoded, parts);
  });
}

/// The k best trees (cfg::topk_op), a thread per sentence with one candidate heap.
template <typename T>
void cfg_topk(const TreePotentials<T>& potentials, TreeShape shape, int64_t k, int32_t* decoded, T* scores, T* parts) {
  const int64_t heaps = cfg::topk_heaps(shape, 1);
  for_each_item<T>(shape.batch, k * cfg::topk_workspace_size(shape, k, heaps), cfg::topk_workspace_size(shape, k, heaps),
                   cfg::topk_index_workspace_size(shape, k, heaps), [&](int64_t b, T* workspace, int32_t* indices) {
                     cfg::topk_op(VectorTeams(), potentials, shape, b, k, heaps, workspace, indices, decoded, scores,
                                  parts);
                   });
}

LS_INSTANTIATE_TREE_KERNELS(cfg, float)
LS_INSTANTIATE_TREE_KERNELS(cfg, double)
LS_INSTANTIATE_TOPK_KERNELS(cfg, float)
LS_INSTANTIATE_TOPK_KERNELS(cfg, double)

}  // namespace cpu
}  // namespace ls
