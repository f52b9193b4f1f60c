// CPU backend of SparseMAP for the tree structures and linear chains: the active-set solver of sparsemap.h, one
// thread per instance, instances split across the thread pool, the structure's own argmax as the MAP oracle
// (tree_oracles.h, chain_oracle.h).
#include "latent_struct/chain_oracle.h"
#include "latent_struct/sparsemap.h"
#include "latent_struct/tree.h"
#include "latent_struct/tree_oracles.h"
#include "workspace.h"

namespace ls {
namespace cpu {
namespace {

template <typename Kind, typename T>
void solve_all(const typename Kind::template Potentials<T>& p, const typename Kind::Shape& shape, const SparseMapOptions& o, T* marginals, int32_t* support,
               double* weights, int32_t* sizes, int32_t* iterations, int32_t* converged) {
  const sparsemap::Layout<Kind> l(shape, o.max_active);
  const int64_t N = shape.length;
  for_each_item<double>(shape.batch, 4 * N * N * N, l.doubles, l.ints, [&](int64_t b, double* w, int32_t* iw) {
    sparsemap::solve_op<Kind, T>(tree::SerialTeams(), p, shape, b, o, w, iw, marginals, support, weights, sizes,
                              iterations, converged);
  });
}

template <typename Kind, typename T>
void backward_all(const typename Kind::template Potentials<T>& p, const typename Kind::Shape& shape, int64_t max_active, const int32_t* support,
                  const int32_t* sizes, const T* grad, T* out) {
  const sparsemap::Layout<Kind> l(shape, max_active);
  for_each_item<double>(shape.batch, l.D + max_active * max_active * max_active, l.doubles, l.ints,
                        [&](int64_t b, double* w, int32_t* iw) {
                          sparsemap::backward_op<Kind, T>(tree::SerialTeams(), p, shape, b, max_active, support, sizes,
                                                       grad, w, iw, out);
                        });
}

}  // namespace

LS_DEFINE_SPARSEMAP(cky, CkyKind, TreePotentials, TreeShape)
LS_DEFINE_SPARSEMAP(eisner, EisnerKind, TreePotentials, TreeShape)
LS_DEFINE_SPARSEMAP(matrix_tree, MatrixTreeKind, TreePotentials, TreeShape)
LS_DEFINE_SPARSEMAP(semi_markov, SemiMarkovKind, TreePotentials, TreeShape)
LS_DEFINE_SPARSEMAP(alignment, AlignmentKind, TreePotentials, TreeShape)
LS_DEFINE_SPARSEMAP(chain, ChainKind, ChainPotentials, ChainShape)

}  // namespace cpu
}  // namespace ls
