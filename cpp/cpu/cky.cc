// CPU backend of CKY: the passes of cky_sweeps.h; log Z and the marginals run up to 16 sentences side by side in
// the lanes of one thread's charts (cky::lanes_*), the other ops one thread per sentence; tasks are split across the
// thread pool and each thread's charts are reused across calls.
#include "latent_struct/cky_sweeps.h"
#include "tree_ops.h"

namespace ls {
namespace cpu {

void lanes_log_sum_exp_of_sums(const VectorTeams&, const float* a, const float* b, int64_t n, int64_t lanes, float*,
                               float*, float* out) {
  vec::log_sum_exp_of_sums_lanes(a, b, n, lanes, out);
}
void lanes_log_sum_exp_of_sums(const VectorTeams&, const double* a, const double* b, int64_t n, int64_t lanes, double*,
                               double*, double* out) {
  vec::log_sum_exp_of_sums_lanes(a, b, n, lanes, out);
}

LS_DEFINE_CPU_TREE_LANE_OPS(cky, cky,
                            shape.length * shape.length * shape.length / 6 + shape.length * shape.length * shape.labels)

template <typename T>
void cky_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                int32_t* decoded, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    cky::sample_op(VectorTeams(), potentials, shape, b, samples, seed, workspace, log_z, decoded, parts);
  });
}

LS_DEFINE_CPU_LATTICE_TOPK(cky, cky)

LS_INSTANTIATE_TREE_KERNELS(cky, float)
LS_INSTANTIATE_TREE_KERNELS(cky, double)
LS_INSTANTIATE_TOPK_KERNELS(cky, float)
LS_INSTANTIATE_TOPK_KERNELS(cky, double)

}  // namespace cpu
}  // namespace ls
