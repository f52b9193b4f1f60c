// CPU backend of SemiMarkov. log Z and the marginals run their own passes, whose inner work is a C x C block of
// edges per (position, segment length) for the vector kernels (vector_math.h); the other ops run the lattice passes
// of semi_markov_sweeps.h. One thread per sequence, sequences split across the thread pool, each thread's charts
// reused across calls.
//
// With alpha(p, c) the log-sum over the segmentations of 0..p that label p with c, and beta(p, c') over those of
// p..l-1 given label c' at p (semi_markov_sweeps.h's lattice):
//   alpha(p, c)  = logsumexp_{k, c'} alpha(p - k, c') + edges[p - k, k, c, c'],
//   beta(p, c')  = logsumexp_{k, c}  edges[p, k, c, c'] + beta(p + k, c),
//   mu[p, k, c, c'] = exp(alpha(p, c') + edges[p, k, c, c'] + beta(p + k, c) - log Z).
#include <cstring>

#include "latent_struct/semi_markov_sweeps.h"
#include "tree_ops.h"
#include "vector_math.h"

namespace ls {
namespace cpu {

LS_DEFINE_CPU_TREE_SENTENCE_OPS(semi_markov, semi_markov, T,
                                shape.length * shape.extent * shape.labels * shape.labels)

namespace {

/// One sequence's charts: alpha and beta [N][C], the log-sums of each segment length [K - 1][C], a C x C block.
template <typename T>
struct Charts {
  T* alpha;
  T* beta;
  T* spans;
  T* block;
  T* top;
  T* total;
  static int64_t size(const TreeShape& s) {
    const int64_t C = s.labels;
    return 2 * s.length * C + (s.extent - 1) * C + C * C + 2 * C;
  }
  Charts(T* w, const TreeShape& s) {
    const int64_t C = s.labels;
    alpha = w;
    beta = alpha + s.length * C;
    spans = beta + s.length * C;
    block = spans + (s.extent - 1) * C;
    top = block + C * C;
    total = top + C;
  }
};

/// out[c] = logsumexp over the first `count` rows r of values[r][c] (-inf when all are).
template <typename T>
void log_sum_exp_columns(const T* values, int64_t count, int64_t C, T* out) {
  for (int64_t c = 0; c < C; ++c) {
    T top = neg_inf<T>();
    for (int64_t r = 0; r < count; ++r) top = values[r * C + c] > top ? values[r * C + c] : top;
    if (top == neg_inf<T>()) {
      out[c] = top;
      continue;
    }
    T sum = 0;
    for (int64_t r = 0; r < count; ++r) sum += exp_of(values[r * C + c] - top);
    out[c] = top + log_of(sum);
  }
}

/// alpha over positions 0..l-1; returns log Z.
template <typename T>
T forward(const semi_markov::Lattice<T>& x, const Charts<T>& w) {
  const int64_t C = x.C, K = x.K;
  for (int64_t c = 0; c < C; ++c) w.alpha[c] = 0;
  for (int64_t p = 1; p < x.l; ++p) {
    const int64_t spans = p < K - 1 ? p : K - 1;
    for (int64_t k = 1; k <= spans; ++k) {
      const int64_t q = p - k;
      vec::log_sum_exp_rows(w.alpha + q * C, x.scores + x.part(q, k, 0, 0), C, C, w.spans + (k - 1) * C);
    }
    log_sum_exp_columns(w.spans, spans, C, w.alpha + p * C);
  }
  return vec::log_sum_exp(w.alpha + (x.l - 1) * C, C);
}

/// beta over positions l-1..0: for each segment length, the log-sums down the columns of the block edges + beta.
template <typename T>
void backward(const semi_markov::Lattice<T>& x, const Charts<T>& w) {
  const int64_t C = x.C, K = x.K;
  for (int64_t c = 0; c < C; ++c) w.beta[(x.l - 1) * C + c] = 0;
  for (int64_t p = x.l - 2; p >= 0; --p) {
    const int64_t spans = x.l - 1 - p < K - 1 ? x.l - 1 - p : K - 1;
    for (int64_t k = 1; k <= spans; ++k) {
      const T* edges = x.scores + x.part(p, k, 0, 0);
      const T* next = w.beta + (p + k) * C;
      for (int64_t c = 0; c < C; ++c) w.top[c] = neg_inf<T>();
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t d = 0; d < C; ++d) {
          const T v = edges[c * C + d] + next[c];
          w.block[c * C + d] = v;
          w.top[d] = v > w.top[d] ? v : w.top[d];
        }
      }
      for (int64_t d = 0; d < C; ++d) w.total[d] = w.top[d] == neg_inf<T>() ? T(0) : w.top[d];  // the shift
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t d = 0; d < C; ++d) w.block[c * C + d] -= w.total[d];
      }
      vec::exp(w.block, w.block, C * C);
      T* out = w.spans + (k - 1) * C;
      for (int64_t d = 0; d < C; ++d) out[d] = 0;
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t d = 0; d < C; ++d) out[d] += w.block[c * C + d];
      }
      for (int64_t d = 0; d < C; ++d) out[d] = w.top[d] == neg_inf<T>() ? w.top[d] : w.top[d] + log_of(out[d]);
    }
    log_sum_exp_columns(w.spans, spans, C, w.beta + p * C);
  }
}

template <typename T, typename Body>
void for_each_sequence(const TreeShape& shape, Body body) {
  for_each_item<T>(shape.batch, shape.length * shape.extent * shape.labels * shape.labels, Charts<T>::size(shape), 0,
                   [&](int64_t b, T* w, int32_t*) { body(b, Charts<T>(w, shape)); });
}

}  // namespace

template <typename T>
void semi_markov_log_partition(const TreePotentials<T>& p, TreeShape shape, T* log_z) {
  for_each_sequence<T>(shape, [&](int64_t b, const Charts<T>& w) {
    log_z[b] = forward(semi_markov::lattice_at(p, shape, b), w);
  });
}

template <typename T>
void semi_markov_marginals(const TreePotentials<T>& p, TreeShape shape, T* log_z, T* marginals) {
  for_each_sequence<T>(shape, [&](int64_t b, const Charts<T>& w) {
    const semi_markov::Lattice<T> x = semi_markov::lattice_at(p, shape, b);
    const int64_t C = x.C, K = x.K;
    T* mu = marginals + b * x.part_count();
    std::memset(mu, 0, static_cast<std::size_t>(x.part_count()) * sizeof(T));
    const T z = forward(x, w);
    log_z[b] = z;
    if (z == neg_inf<T>()) return;
    backward(x, w);
    for (int64_t q = 0; q + 1 < x.l; ++q) {
      const T* from = w.alpha + q * C;
      for (int64_t k = 1; k < K && q + k < x.l; ++k) {
        const T* edges = x.scores + x.part(q, k, 0, 0);
        T* out = mu + x.part(q, k, 0, 0);
        for (int64_t c = 0; c < C; ++c) {
          const T to = w.beta[(q + k) * C + c] - z;
          for (int64_t d = 0; d < C; ++d) out[c * C + d] = from[d] + edges[c * C + d] + to;
        }
        vec::exp(out, out, C * C);
      }
    }
  });
}

template <typename T>
void semi_markov_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed, T* log_z,
                        int32_t* decoded, T* parts) {
  for_each_sentence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    semi_markov::sample_op(VectorTeams(), potentials, shape, b, samples, seed, workspace, log_z, decoded, parts);
  });
}

LS_DEFINE_CPU_LATTICE_TOPK(semi_markov, semi_markov)

LS_INSTANTIATE_TREE_KERNELS(semi_markov, float)
LS_INSTANTIATE_TREE_KERNELS(semi_markov, double)
LS_INSTANTIATE_TOPK_KERNELS(semi_markov, float)
LS_INSTANTIATE_TOPK_KERNELS(semi_markov, double)

}  // namespace cpu
}  // namespace ls
