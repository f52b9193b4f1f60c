// CPU backend of the linear chain's k best labellings (linear_chain_topk.h): one thread per sequence, sequences
// split across the thread pool; each thread's lists and back pointers are its reused workspace.
#include "latent_struct/inside_outside.h"
#include "latent_struct/linear_chain_topk.h"

#include "workspace.h"

namespace ls {
namespace cpu {

template <typename T>
void chain_topk(const ChainPotentials<T>& potentials, ChainShape shape, int64_t k, int32_t* labels, T* scores) {
  const int64_t work = shape.length * shape.labels * shape.labels * k;
  for_each_item<T>(shape.batch, work, chain::topk_workspace_size(shape, k), chain::topk_index_workspace_size(shape, k),
                   [&](int64_t b, T* w, int32_t* pointers) {
                     chain::topk_op(tree::SerialTeams(), potentials, shape, b, k, w, pointers, labels, scores);
                   });
}

LS_INSTANTIATE_CHAIN_TOPK(float)
LS_INSTANTIATE_CHAIN_TOPK(double)

}  // namespace cpu
}  // namespace ls
