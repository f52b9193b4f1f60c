// CPU backend of SemiMarkov: the lattice passes of semi_markov_sweeps.h, one thread per instance walking the nodes in
// order, instances split across the thread pool, each thread's charts reused across calls.
#include "latent_struct/semi_markov_sweeps.h"
#include "tree_ops.h"

namespace ls {
namespace cpu {

LS_DEFINE_CPU_TREE_OPS(semi_markov, semi_markov, T, shape.length * shape.extent * shape.labels * shape.labels)

template <typename T>
void semi_markov_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                 int32_t* decoded, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    semi_markov::sample_op(VectorTeams(), potentials, shape, b, samples, seed, workspace, log_z, decoded, parts);
  });
}

LS_INSTANTIATE_TREE_KERNELS(semi_markov, float)
LS_INSTANTIATE_TREE_KERNELS(semi_markov, double)

}  // namespace cpu
}  // namespace ls
