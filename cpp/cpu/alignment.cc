// CPU backend of Alignment: the lattice passes of alignment_sweeps.h, one thread per instance walking the nodes in
// order, instances split across the thread pool, each thread's charts reused across calls.
#include "latent_struct/alignment_sweeps.h"
#include "tree_ops.h"

namespace ls {
namespace cpu {

LS_DEFINE_CPU_TREE_OPS(alignment, alignment, T, shape.length * shape.extent * 4)

template <typename T>
void alignment_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                 int32_t* decoded, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    alignment::sample_op(VectorTeams(), potentials, shape, b, samples, seed, workspace, log_z, decoded, parts);
  });
}

LS_INSTANTIATE_TREE_KERNELS(alignment, float)
LS_INSTANTIATE_TREE_KERNELS(alignment, double)

}  // namespace cpu
}  // namespace ls
