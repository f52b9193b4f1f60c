// CPU backend of CKY: the passes of cky_sweeps.h; log Z and the marginals run up to 16 sentences side by side in
// the lanes of one thread's charts (cky::lanes_*), the other ops one thread per sentence; tasks are split across the
// thread pool and each thread's charts are reused across calls.
#include "latent_struct/cky_sweeps.h"
#include "tree_ops.h"

namespace ls {
namespace cpu {

namespace {
/// The body of lanes_log_sum_exp_of_sums with `lanes` known at compile time (kLanes > 0) or not (kLanes = 0).
template <int64_t kLanes, typename T>
__attribute__((always_inline)) inline void log_sum_exp_down(const T* a, const T* b, int64_t n, int64_t lanes,
                                                            T* terms, T* top, T* out) {
  const int64_t K = kLanes > 0 ? kLanes : lanes;
  for (int64_t l = 0; l < K; ++l) top[l] = neg_inf<T>();
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t l = 0; l < K; ++l) {
      const T v = a[k * K + l] + b[k * K + l];
      terms[k * K + l] = v;
      top[l] = v > top[l] ? v : top[l];
    }
  }
  for (int64_t l = 0; l < K; ++l) out[l] = top[l] == neg_inf<T>() ? T(0) : top[l];  // the shift
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t l = 0; l < K; ++l) terms[k * K + l] -= out[l];
  }
  vec::exp_shifted_sum(terms, T(0), terms, n * K);
  for (int64_t l = 0; l < K; ++l) out[l] = 0;
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t l = 0; l < K; ++l) out[l] += terms[k * K + l];
  }
  vec::log(out, out, K);
  for (int64_t l = 0; l < K; ++l) out[l] = top[l] == neg_inf<T>() ? top[l] : top[l] + out[l];
}

template <typename T>
__attribute__((always_inline)) inline void log_sum_exp_down(const T* a, const T* b, int64_t n, int64_t lanes,
                                                            T* terms, T* top, T* out) {
  if (lanes == cky::kLanes) {
    log_sum_exp_down<cky::kLanes>(a, b, n, lanes, terms, top, out);
  } else {
    log_sum_exp_down<0>(a, b, n, lanes, terms, top, out);
  }
}
}  // namespace

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define LS_LANE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LS_LANE_CLONES
#endif

LS_LANE_CLONES void lanes_log_sum_exp_of_sums(const VectorTeams&, const float* a, const float* b, int64_t n,
                                              int64_t lanes, float* terms, float* top, float* out) {
  log_sum_exp_down(a, b, n, lanes, terms, top, out);
}
LS_LANE_CLONES void lanes_log_sum_exp_of_sums(const VectorTeams&, const double* a, const double* b, int64_t n,
                                              int64_t lanes, double* terms, double* top, double* out) {
  log_sum_exp_down(a, b, n, lanes, terms, top, out);
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

LS_INSTANTIATE_TREE_KERNELS(cky, float)
LS_INSTANTIATE_TREE_KERNELS(cky, double)

}  // namespace cpu
}  // namespace ls
