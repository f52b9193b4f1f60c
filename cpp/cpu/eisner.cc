// CPU backend of Eisner: the passes of eisner_sweeps.h; log Z and the marginals run up to 16 sentences side by side
// in the lanes of one thread's charts (eisner::lanes_*), the other ops one thread per sentence; tasks are split across
// the thread pool and each thread's charts are reused across calls.
#include "latent_struct/eisner_sweeps.h"
#include "tree_ops.h"

namespace ls {
namespace cpu {

LS_DEFINE_CPU_TREE_LANE_OPS(eisner, eisner, 4 * shape.length * shape.length * shape.length / 6 + shape.length * shape.length)

template <typename T>
void eisner_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                   int32_t* decoded, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t* indices) {
    eisner::sample_op(VectorTeams(), potentials, shape, b, samples, seed, workspace, indices, log_z, decoded,
                      parts);
  });
}

LS_DEFINE_CPU_LATTICE_TOPK(eisner, eisner)

LS_INSTANTIATE_TREE_KERNELS(eisner, float)
LS_INSTANTIATE_TREE_KERNELS(eisner, double)
LS_INSTANTIATE_TOPK_KERNELS(eisner, float)
LS_INSTANTIATE_TOPK_KERNELS(eisner, double)

}  // namespace cpu
}  // namespace ls
