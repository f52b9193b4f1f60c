// CUDA backend of SparseMAP for the tree structures and linear chains: the active-set solver of sparsemap.h with a
// 256-thread block per instance; the MAP oracle (the structure's argmax) runs on the block, the dense algebra on the
// active set on its first thread. One launch solves the whole batch; workspaces come from the stream-ordered pool.
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "latent_struct/chain_oracle.h"
#include "latent_struct/sparsemap.h"
#include "latent_struct/tree.h"
#include "latent_struct/tree_oracles.h"
#include "tree_teams.cuh"

namespace ls {
namespace cuda {
namespace {

template <typename Kind, typename T>
__global__ void solve_kernel(typename Kind::template Potentials<T> p, typename Kind::Shape shape, SparseMapOptions o, double* workspace, int32_t* ints,
                             T* marginals, int32_t* support, double* weights, int32_t* sizes, int32_t* iterations,
                             int32_t* converged) {
  const BlockTeams g;
  const int64_t b = blockIdx.x;
  const sparsemap::Layout<Kind> l(shape, o.max_active);
  sparsemap::solve_op<Kind, T>(g, p, shape, b, o, workspace + b * l.doubles, ints + b * l.ints, marginals, support,
                            weights, sizes, iterations, converged);
}

template <typename Kind, typename T>
__global__ void backward_kernel(typename Kind::template Potentials<T> p, typename Kind::Shape shape, int64_t max_active, const int32_t* support,
                                const int32_t* sizes, const T* grad, double* workspace, int32_t* ints, T* out) {
  const BlockTeams g;
  const int64_t b = blockIdx.x;
  const sparsemap::Layout<Kind> l(shape, max_active);
  sparsemap::backward_op<Kind, T>(g, p, shape, b, max_active, support, sizes, grad, workspace + b * l.doubles,
                               ints + b * l.ints, out);
}

template <typename Kind, typename T>
void solve_all(const typename Kind::template Potentials<T>& p, const typename Kind::Shape& shape, const SparseMapOptions& o, T* marginals, int32_t* support,
               double* weights, int32_t* sizes, int32_t* iterations, int32_t* converged) {
  const sparsemap::Layout<Kind> l(shape, o.max_active);
  const Scratch workspace(static_cast<std::size_t>(shape.batch * l.doubles) * sizeof(double));
  const Scratch ints(static_cast<std::size_t>(shape.batch * l.ints) * sizeof(int32_t));
  launch_per_sentence(shape.batch, "sparsemap", solve_kernel<Kind, T>, p, shape, o, workspace.as<double>(),
                      ints.as<int32_t>(), marginals, support, weights, sizes, iterations, converged);
}

template <typename Kind, typename T>
void backward_all(const typename Kind::template Potentials<T>& p, const typename Kind::Shape& shape, int64_t max_active, const int32_t* support,
                  const int32_t* sizes, const T* grad, T* out) {
  const sparsemap::Layout<Kind> l(shape, max_active);
  const Scratch workspace(static_cast<std::size_t>(shape.batch * l.doubles) * sizeof(double));
  const Scratch ints(static_cast<std::size_t>(shape.batch * l.ints) * sizeof(int32_t));
  launch_per_sentence(shape.batch, "sparsemap_backward", backward_kernel<Kind, T>, p, shape, max_active, support, sizes,
                      grad, workspace.as<double>(), ints.as<int32_t>(), out);
}

}  // namespace

LS_DEFINE_SPARSEMAP(cky, CkyKind, TreePotentials, TreeShape)
LS_DEFINE_SPARSEMAP(eisner, EisnerKind, TreePotentials, TreeShape)
LS_DEFINE_SPARSEMAP(matrix_tree, MatrixTreeKind, TreePotentials, TreeShape)
LS_DEFINE_SPARSEMAP(semi_markov, SemiMarkovKind, TreePotentials, TreeShape)
LS_DEFINE_SPARSEMAP(alignment, AlignmentKind, TreePotentials, TreeShape)
LS_DEFINE_SPARSEMAP(chain, ChainKind, ChainPotentials, ChainShape)

}  // namespace cuda
}  // namespace ls
