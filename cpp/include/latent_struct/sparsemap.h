// SparseMAP (Niculae, Martins, Blondel & Cardie 2018) for the tree structures, written once for both backends
// over a group of threads (CPU: one thread per instance; CUDA: a block per instance, MAP oracles on the device):
//
//   mu* = argmax_{mu in M} eta . mu - 1/2 |mu|^2,   M = conv{ z : z the one-hot parts of a structure },
//
// the Euclidean projection of the scores onto the marginal polytope. Wolfe's (1976) active-set method with a MAP
// oracle, as in Niculae et al. §3: keep a small set I of structures and weights alpha on the simplex; a major
// iteration asks the oracle for z* = argmax_z (eta - mu) . z, stops when the Frank-Wolfe duality gap
// (eta - mu) . (z* - mu) is below the tolerance, and otherwise adds z* to I; minor iterations solve the KKT system
// of the QP restricted to the affine hull of I,
//   [G 1; 1^T 0] [beta; tau] = [M_I^T eta; 1],   G = M_I^T M_I (G_ij = parts z_i and z_j share),
// and move alpha toward beta until beta >= 0, dropping the structure whose weight reaches 0 (ratio test).
// The bordered matrix [G 1; 1^T 0] is invertible exactly when the structures of I are affinely independent (M_I x =
// 0 with 1^T x = 0 only for x = 0), which the method keeps; G itself may be singular when structures have different
// numbers of parts (paths of an alignment, segmentations), and nothing here inverts it alone.
//
// Backward (Niculae et al., Prop. 1): on the support, dmu/deta = M_I Z M_I^T with Z = S - S 1 1^T S / (1^T S 1),
// S = G^{-1} (Z is the upper-left block of the bordered matrix's inverse, which exists when G does not);
// symmetric, so the vector-Jacobian product is M_I Z M_I^T g.
//
// Dense linear algebra on the active set (at most K = max_active structures) runs on rank 0 in double.
#pragma once
#include <math.h>

#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/inside_outside.h"
#include "latent_struct/log_math.h"
#include "latent_struct/sparsemap_api.h"

namespace ls {
namespace sparsemap {

using Options = SparseMapOptions;

// A structure plugs in as a Kind (tree_oracles.h): its Potentials<T> and Shape types; parts(shape), the parts of
// one instance (D); max_parts(shape), the parts of one structure; decoded_size(shape); scores(p, shape, b), the
// instance's dense scores; length(p, shape, b); oracle_workspace / oracle_index_workspace(shape); oracle(g, p,
// shape, b, scores, ...), its argmax on the instance with other scores (in double), writing the decoded form and
// the score; parts_of(decoded, shape, n, out), the parts of a decoded structure.

/// Where one instance's solver state lives: `doubles` and `ints` from the caller's workspace.
template <typename Kind>
struct Layout {
  int64_t D, K, L, decoded;  // parts per instance, active-set capacity, parts per structure, decoded size
  int64_t doubles, ints;     // workspace sizes
  // Offsets into the double workspace.
  int64_t modified, mu, dense_parts, gram, linear, alpha, beta, kkt, state, oracle;
  // Offsets into the int workspace.
  int64_t vertex_parts, vertex_counts, vertex_decoded, candidate, oracle_ints;

  LS_HOST_DEVICE Layout(const typename Kind::Shape& shape, int64_t max_active) {
    D = Kind::parts(shape);
    K = max_active;
    L = Kind::max_parts(shape);
    decoded = Kind::decoded_size(shape);
    modified = 0;
    mu = modified + D;
    dense_parts = mu + D;
    gram = dense_parts + D;
    linear = gram + K * K;
    alpha = linear + K;
    beta = alpha + K;
    kkt = beta + K + 1;
    state = kkt + (K + 1) * (K + 2);
    oracle = state + 8;
    doubles = oracle + Kind::oracle_workspace(shape);
    vertex_parts = 0;
    vertex_counts = vertex_parts + (K + 1) * L;
    vertex_decoded = vertex_counts + K + 1;
    candidate = vertex_decoded + (K + 1) * decoded;
    oracle_ints = candidate + decoded;
    ints = oracle_ints + Kind::oracle_index_workspace(shape);
  }
};

/// Solves the bordered system [G 1; 1^T 0] [x; tau] = [rhs; last] for the k structures of the active set (G with
/// row stride K), by Gaussian elimination with partial pivoting on the (k+1) x (k+2) augmented matrix `a`.
/// x = S (rhs - tau 1) with tau fixed by 1^T x = last (S = G^{-1}): last = 1 gives the affine minimizer of the
/// forward pass, last = 0 the Z rhs of the backward one. False when the system is singular to round-off.
LS_HOST_DEVICE inline bool solve_bordered(const double* gram, int64_t K, int64_t k, const double* rhs, double last,
                                          double* a, double* x) {
  const int64_t m = k + 1, stride = k + 2;
  double scale = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      const double v = i < k && j < k ? gram[i * K + j] : (i == k && j == k ? 0.0 : 1.0);
      a[i * stride + j] = v;
      scale = fabs(v) > scale ? fabs(v) : scale;
    }
    a[i * stride + m] = i < k ? rhs[i] : last;
  }
  for (int64_t col = 0; col < m; ++col) {
    int64_t pivot = col;
    for (int64_t i = col + 1; i < m; ++i) {
      if (fabs(a[i * stride + col]) > fabs(a[pivot * stride + col])) pivot = i;
    }
    if (!(fabs(a[pivot * stride + col]) > 1e-12 * scale)) return false;
    if (pivot != col) {
      for (int64_t j = col; j <= m; ++j) {
        const double t = a[col * stride + j];
        a[col * stride + j] = a[pivot * stride + j];
        a[pivot * stride + j] = t;
      }
    }
    for (int64_t i = col + 1; i < m; ++i) {
      const double f = a[i * stride + col] / a[col * stride + col];
      if (f == 0) continue;
      for (int64_t j = col; j <= m; ++j) a[i * stride + j] -= f * a[col * stride + j];
    }
  }
  // Back substitution into the last column: it ends holding [x; tau].
  for (int64_t i = m - 1; i >= 0; --i) {
    double v = a[i * stride + m];
    for (int64_t j = i + 1; j < m; ++j) v -= a[i * stride + j] * a[j * stride + m];
    a[i * stride + m] = v / a[i * stride + i];
  }
  for (int64_t i = 0; i < k; ++i) x[i] = a[i * stride + m];
  return true;
}

/// Sorts a short list of part indices (insertion sort: a structure has at most 2N - 1 parts).
LS_HOST_DEVICE inline void sort_parts(int32_t* parts, int64_t count) {
  for (int64_t i = 1; i < count; ++i) {
    const int32_t v = parts[i];
    int64_t j = i - 1;
    while (j >= 0 && parts[j] > v) {
      parts[j + 1] = parts[j];
      --j;
    }
    parts[j + 1] = v;
  }
}

/// Parts two sorted lists share.
LS_HOST_DEVICE inline int64_t shared_parts(const int32_t* a, int64_t na, const int32_t* b, int64_t nb) {
  int64_t i = 0, j = 0, count = 0;
  while (i < na && j < nb) {
    if (a[i] == b[j]) {
      ++count;
      ++i;
      ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return count;
}

/// Removes structure r from the active set (k structures): the rows/columns of G, c, alpha and the vertex lists.
template <typename Kind>
LS_HOST_DEVICE void remove_structure(const Layout<Kind>& l, double* w, int32_t* iw, int64_t k, int64_t r) {
  double* gram = w + l.gram;
  for (int64_t i = r; i + 1 < k; ++i) {
    for (int64_t j = 0; j < k; ++j) gram[i * l.K + j] = gram[(i + 1) * l.K + j];
  }
  for (int64_t j = r; j + 1 < k; ++j) {
    for (int64_t i = 0; i + 1 < k; ++i) gram[i * l.K + j] = gram[i * l.K + j + 1];
  }
  for (int64_t i = r; i + 1 < k; ++i) {
    w[l.linear + i] = w[l.linear + i + 1];
    w[l.alpha + i] = w[l.alpha + i + 1];
    iw[l.vertex_counts + i] = iw[l.vertex_counts + i + 1];
    for (int64_t q = 0; q < l.L; ++q) iw[l.vertex_parts + i * l.L + q] = iw[l.vertex_parts + (i + 1) * l.L + q];
    for (int64_t q = 0; q < l.decoded; ++q) {
      iw[l.vertex_decoded + i * l.decoded + q] = iw[l.vertex_decoded + (i + 1) * l.decoded + q];
    }
  }
}

/// The state slots of the solver (doubles, exact small integers).
enum StateSlot { kActive = 0, kStatus = 1 };
enum Status { kRunning = 0, kConverged = 1, kStalled = 2 };

/// mu = sum_i alpha_i z_i into w + l.mu (zeros elsewhere).
template <typename Kind, typename Group>
LS_HOST_DEVICE void accumulate_mu(const Group& g, const Layout<Kind>& l, double* w, const int32_t* iw) {
  for (int64_t e = g.rank(); e < l.D; e += g.size()) w[l.mu + e] = 0;
  g.sync();
  if (g.rank() == 0) {
    const int64_t k = static_cast<int64_t>(w[l.state + kActive]);
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t q = 0; q < iw[l.vertex_counts + i]; ++q) w[l.mu + iw[l.vertex_parts + i * l.L + q]] += w[l.alpha + i];
    }
  }
  g.sync();
}

/// One instance: the solution's marginals (T, zero outside the instance), support (decoded forms, -1 rows past
/// the support size), weights, support size, major iterations and whether the gap reached the tolerance.
template <typename Kind, typename T, typename Group>
LS_HOST_DEVICE void solve_op(const Group& g, const typename Kind::template Potentials<T>& p,
                             const typename Kind::Shape& shape, int64_t b, const Options& o, double* w, int32_t* iw,
                             T* marginals, int32_t* support, double* weights, int32_t* sizes, int32_t* iterations,
                             int32_t* converged) {
  const Layout<Kind> l(shape, o.max_active);
  const T* eta = Kind::scores(p, shape, b);
  const int64_t n = Kind::length(p, shape, b);
  int32_t* candidate = iw + l.candidate;
  double oracle_score = 0;
  auto oracle = [&]() {
    g.sync();
    Kind::oracle(g, p, shape, b, w + l.modified, w + l.oracle, iw + l.oracle_ints, candidate, &oracle_score,
                 w + l.dense_parts);
    g.sync();
  };
  for (int64_t e = g.rank(); e < l.D; e += g.size()) w[l.modified + e] = static_cast<double>(eta[e]);
  oracle();
  if (g.rank() == 0) {
    const int64_t count = Kind::parts_of(candidate, shape, n, iw + l.vertex_parts);
    sort_parts(iw + l.vertex_parts, count);
    iw[l.vertex_counts] = static_cast<int32_t>(count);
    for (int64_t q2 = 0; q2 < l.decoded; ++q2) iw[l.vertex_decoded + q2] = candidate[q2];
    double c = 0;
    for (int64_t i = 0; i < count; ++i) c += static_cast<double>(eta[iw[l.vertex_parts + i]]);
    w[l.gram] = static_cast<double>(count);
    w[l.linear] = c;
    w[l.alpha] = 1;
    const bool found = oracle_score != neg_inf<double>();  // else no structure: size 0, and the binding raises
    w[l.state + kActive] = found ? 1 : 0;
    w[l.state + kStatus] = found ? kRunning : kStalled;
  }
  g.sync();
  int64_t iteration = 0;
  while (w[l.state + kStatus] == kRunning && iteration < o.max_iterations) {
    ++iteration;
    accumulate_mu(g, l, w, iw);
    for (int64_t e = g.rank(); e < l.D; e += g.size()) w[l.modified + e] = static_cast<double>(eta[e]) - w[l.mu + e];
    oracle();
    if (g.rank() == 0) {
      int64_t k = static_cast<int64_t>(w[l.state + kActive]);
      int32_t* fresh = iw + l.vertex_parts + k * l.L;  // slot k (the spare when k = K)
      const int64_t count = Kind::parts_of(candidate, shape, n, fresh);
      sort_parts(fresh, count);
      // The Frank-Wolfe gap (eta - mu) . (z* - mu).
      double gap = 0;
      for (int64_t i = 0; i < count; ++i) gap += w[l.modified + fresh[i]];
      for (int64_t e = 0; e < l.D; ++e) {
        if (w[l.mu + e] > 0) gap -= w[l.mu + e] * w[l.modified + e];
      }
      bool known = false;
      for (int64_t i = 0; i < k && !known; ++i) {
        known = iw[l.vertex_counts + i] == count &&
                shared_parts(iw + l.vertex_parts + i * l.L, count, fresh, count) == count;
      }
      if (gap <= o.tolerance) {
        w[l.state + kStatus] = kConverged;
      } else if (known || k == l.K) {
        w[l.state + kStatus] = kStalled;  // round-off, or the active set is full
      } else {
        double* gram = w + l.gram;
        double c = 0;
        for (int64_t i = 0; i < count; ++i) c += static_cast<double>(eta[fresh[i]]);
        for (int64_t i = 0; i < k; ++i) {
          const double shared =
              static_cast<double>(shared_parts(iw + l.vertex_parts + i * l.L, iw[l.vertex_counts + i], fresh, count));
          gram[i * l.K + k] = shared;
          gram[k * l.K + i] = shared;
        }
        gram[k * l.K + k] = static_cast<double>(count);
        w[l.linear + k] = c;
        w[l.alpha + k] = 0;
        iw[l.vertex_counts + k] = static_cast<int32_t>(count);
        for (int64_t q2 = 0; q2 < l.decoded; ++q2) iw[l.vertex_decoded + k * l.decoded + q2] = candidate[q2];
        ++k;
        // Minor iterations: toward the affine minimizer beta, dropping structures whose weight reaches 0.
        for (;;) {
          double* alpha = w + l.alpha;
          double* beta = w + l.beta;
          if (!solve_bordered(gram, l.K, k, w + l.linear, 1.0, w + l.kkt, beta)) {
            remove_structure(l, w, iw, k, k - 1);  // affinely dependent on I to round-off
            --k;
            w[l.state + kStatus] = kStalled;
            break;
          }
          bool positive = true;
          for (int64_t i = 0; i < k; ++i) positive = positive && beta[i] > 0;
          if (positive) {
            for (int64_t i = 0; i < k; ++i) alpha[i] = beta[i];
            break;
          }
          double theta = 1;
          int64_t leaving = -1;
          for (int64_t i = 0; i < k; ++i) {
            if (beta[i] > 0 || alpha[i] - beta[i] <= 0) continue;
            const double t = alpha[i] / (alpha[i] - beta[i]);
            if (leaving < 0 || t < theta) {
              theta = t;
              leaving = i;
            }
          }
          for (int64_t i = 0; i < k; ++i) alpha[i] += theta * (beta[i] - alpha[i]);
          if (leaving >= 0) alpha[leaving] = 0;
          for (int64_t i = k - 1; i >= 0; --i) {
            if (alpha[i] <= 0) {
              remove_structure(l, w, iw, k, i);
              --k;
            }
          }
        }
      }
      w[l.state + kActive] = static_cast<double>(k);
    }
    g.sync();
  }
  accumulate_mu(g, l, w, iw);
  T* out = marginals + b * l.D;
  for (int64_t e = g.rank(); e < l.D; e += g.size()) out[e] = static_cast<T>(w[l.mu + e]);
  if (g.rank() != 0) return;
  const int64_t k = static_cast<int64_t>(w[l.state + kActive]);
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += w[l.alpha + i];
  for (int64_t i = 0; i < l.K; ++i) {
    weights[b * l.K + i] = i < k ? w[l.alpha + i] / total : 0.0;
    for (int64_t q2 = 0; q2 < l.decoded; ++q2) {
      support[(b * l.K + i) * l.decoded + q2] = i < k ? iw[l.vertex_decoded + i * l.decoded + q2] : -1;
    }
  }
  sizes[b] = static_cast<int32_t>(k);
  iterations[b] = static_cast<int32_t>(iteration);
  converged[b] = w[l.state + kStatus] == kConverged ? 1 : 0;
}

/// The VJP M_I Z M_I^T g of instance b, its support given as decoded forms [K, decoded] with `size` rows.
template <typename Kind, typename T, typename Group>
LS_HOST_DEVICE void backward_op(const Group& g, const typename Kind::template Potentials<T>& p,
                                const typename Kind::Shape& shape, int64_t b, int64_t max_active, const int32_t* support,
                                const int32_t* sizes, const T* grad, double* w, int32_t* iw, T* out) {
  const Layout<Kind> l(shape, max_active);
  const int64_t n = Kind::length(p, shape, b);
  const int64_t k = sizes[b];
  T* own = out + b * l.D;
  for (int64_t e = g.rank(); e < l.D; e += g.size()) w[l.mu + e] = 0;
  g.sync();
  if (g.rank() == 0 && k > 0) {
    double* gram = w + l.gram;
    const int32_t* counts = iw + l.vertex_counts;
    for (int64_t i = 0; i < k; ++i) {
      int32_t* parts = iw + l.vertex_parts + i * l.L;
      iw[l.vertex_counts + i] = static_cast<int32_t>(Kind::parts_of(support + (b * l.K + i) * l.decoded, shape, n, parts));
      sort_parts(parts, counts[i]);
    }
    // S = G^{-1} column by column (the KKT solver's elimination on [G | e_j]), then Z v with v = M_I^T g.
    double* v = w + l.linear;
    for (int64_t i = 0; i < k; ++i) {
      double s = 0;
      for (int64_t q2 = 0; q2 < counts[i]; ++q2) s += static_cast<double>(grad[b * l.D + iw[l.vertex_parts + i * l.L + q2]]);
      v[i] = s;
      for (int64_t j = 0; j < k; ++j) {
        gram[i * l.K + j] = static_cast<double>(
            shared_parts(iw + l.vertex_parts + i * l.L, counts[i], iw + l.vertex_parts + j * l.L, counts[j]));
      }
    }
    // Z v is the beta of the KKT system with right-hand side [v; 0]: beta = S v - S 1 (1^T S v) / (1^T S 1).
    double* beta = w + l.beta;
    if (solve_bordered(gram, l.K, k, v, 0.0, w + l.kkt, beta)) {
      for (int64_t i = 0; i < k; ++i) {
        for (int64_t q2 = 0; q2 < counts[i]; ++q2) w[l.mu + iw[l.vertex_parts + i * l.L + q2]] += beta[i];
      }
    }
  }
  g.sync();
  for (int64_t e = g.rank(); e < l.D; e += g.size()) own[e] = static_cast<T>(w[l.mu + e]);
}

}  // namespace sparsemap
}  // namespace ls

// Defines prefix_sparsemap and prefix_sparsemap_backward (sparsemap_api.h) of the including backend from its own
// solve_all<Kind, T> and backward_all<Kind, T>, with their instantiations.
#define LS_DEFINE_SPARSEMAP(prefix, Kind, Potentials, Shape)                                                         \
  template <typename T>                                                                                            \
  void prefix##_sparsemap(const Potentials<T>& p, Shape shape, const SparseMapOptions& o, T* marginals,             \
                          int32_t* support, double* weights, int32_t* sizes, int32_t* iterations, int32_t* converged) { \
    solve_all<sparsemap::Kind, T>(p, shape, o, marginals, support, weights, sizes, iterations, converged);         \
  }                                                                                                                \
  template <typename T>                                                                                            \
  void prefix##_sparsemap_backward(const Potentials<T>& p, Shape shape, int64_t max_active, const int32_t* support, \
                                   const int32_t* sizes, const T* grad, T* out) {                                  \
    backward_all<sparsemap::Kind, T>(p, shape, max_active, support, sizes, grad, out);                             \
  }                                                                                                                \
  LS_INSTANTIATE_SPARSEMAP(prefix, Potentials, Shape, float)                                                       \
  LS_INSTANTIATE_SPARSEMAP(prefix, Potentials, Shape, double)
