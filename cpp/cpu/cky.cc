// CPU backend of CKY: the passes of cky_sweeps.h, one thread per sentence, sentences split across the thread
// pool; each thread's charts are reused across calls.
#include "latent_struct/cky_sweeps.h"
#include "tree_ops.h"

namespace ls {
namespace cpu {

LS_DEFINE_CPU_TREE_OPS(cky, cky, T,
                       shape.length * shape.length * shape.length / 6 + shape.length * shape.length * shape.labels)

template <typename T>
void cky_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                int32_t* decoded, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    cky::sample_op(tree::SerialTeams(), potentials, shape, b, samples, seed, workspace, log_z, decoded, parts);
  });
}

LS_INSTANTIATE_TREE_KERNELS(cky, float)
LS_INSTANTIATE_TREE_KERNELS(cky, double)

}  // namespace cpu
}  // namespace ls
