// The SparseMAP entry points every structure's backends implement (sparsemap.h is the solver): settings, and
// declaration / instantiation macros over a structure's potentials and shape types.
//
// prefix_sparsemap: marginals in the layout of the structure's parts; support [B, K, decoded size] (-1 rows past
// each support's size), weights [B, K], sizes [B] (0: no structure of finite score), iterations [B], converged
// [B] (0/1). prefix_sparsemap_backward takes a support in that form and returns (dmu/dscores)^T grad.
#pragma once
#include <cstdint>

namespace ls {

/// SparseMAP solver settings.
struct SparseMapOptions {
  int64_t max_iterations;  // major iterations (MAP oracle calls after the first)
  double tolerance;        // on the Frank-Wolfe duality gap
  int64_t max_active;      // K: the most structures in the active set
};

}  // namespace ls

#define LS_DECLARE_SPARSEMAP(prefix, Potentials, Shape)                                                          \
  template <typename T>                                                                                        \
  void prefix##_sparsemap(const Potentials<T>& potentials, Shape shape, const SparseMapOptions& options,          \
                          T* marginals, int32_t* support, double* weights, int32_t* sizes, int32_t* iterations,   \
                          int32_t* converged);                                                                 \
  template <typename T>                                                                                        \
  void prefix##_sparsemap_backward(const Potentials<T>& potentials, Shape shape, int64_t max_active,              \
                                   const int32_t* support, const int32_t* sizes, const T* grad, T* out);

#define LS_INSTANTIATE_SPARSEMAP(prefix, Potentials, Shape, T)                                                      \
  template void prefix##_sparsemap<T>(const Potentials<T>&, Shape, const SparseMapOptions&, T*, int32_t*, double*, \
                                      int32_t*, int32_t*, int32_t*);                                              \
  template void prefix##_sparsemap_backward<T>(const Potentials<T>&, Shape, int64_t, const int32_t*,             \
                                               const int32_t*, const T*, T*);
