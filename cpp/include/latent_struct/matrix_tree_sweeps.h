// Non-projective dependency trees by the Matrix-Tree theorem, written once for both backends over a group of
// threads (CPU: one thread, tree::SerialTeams; CUDA: a block, a warp per team). Rows go to teams and their
// entries to lanes, columns to threads; serial sections (pivots, O(n) per step) run on rank 0.
//
// Z = det of the Laplacian L of the sentence's graph (Tutte 1948; Koo et al. 2007, Smith & Smith 2007): with
// arc weights A[h][m] = exp(s[h][m]) and root weights r[m] = exp(s[m][m]), L[m][m] = r[m] + sum_h A[h][m] and
// L[h][m] = -A[h][m]. The determinant is computed by Gaussian elimination in the subtraction-free form of
// Grassmann, Taksar & Heyman (1985): eliminating node k leaves the Laplacian of a smaller graph whose weights are
//   A'[i][j] = A[i][j] + A[i][k] A[k][j] / P_k,   r'[j] = r[j] + r[k] A[k][j] / P_k,   P_k = r[k] + sum_i A[i][k]
// (sums over the nodes not yet eliminated), and det L = prod_k P_k. Every quantity is a sum of non-negative
// terms — no cancellation, so log Z is exact for any scores, including ±1e3 where the best head of every word
// closes a cycle (the case where LU on shifted weights cancels catastrophically). Two paths compute it: the
// linear one on the weights (multiply-adds) while their range allows, checked at every step, and the log one
// (log-sum-exp per entry) otherwise; both on scores shifted per modifier.
//
// Single root: Z_1 = d/dt det(L_0 + t diag(r)) at t = 0, L_0 the Laplacian without root arcs; elimination
// gives the same recurrences with r[k] left out of P_k (except for the last node, whose pivot is r), since the
// root weights only enter linearly. log Z = sum_k log P_k in both cases.
//
// Marginals are the reverse-mode derivative of that elimination. Working with the adjoints abar = dlogZ/dA of
// the (linear) weights, the adjoint of a weight not eliminated at step k passes through unchanged, and only
// the pivot row and column of step k receive theirs:
//   abar[k][j] = C_j / P_k,  C_j = sum_i abar[i][j] A[i][k] + rbar[j] r[k]
//   A[i][k] abar[i][k] = beta_i + pi_i (1 - q),  beta_i = A[i][k] B_i / P_k,  B_i = sum_j abar[i][j] A[k][j],
//   pi_i = A[i][k] / P_k,  q = sum_i beta_i + beta_root
// (the root row likewise, with r[k] for A[i][k]; pi_root = 0 when r[k] is not in P_k). These need only the
// values frozen at step k — the final contents of the eliminated matrix — so the reverse pass uses O(N^2)
// memory. The adjoints are stored as they are (linear path) or as logs (log path); the products beta, pi and
// the marginals mu = A abar are bounded by small multiples of 1, so round-off stays absolute and small.
// Tangents (forward mode through both passes) give the Hessian-vector product mu' along g.
//
// Exact samples: heads are drawn word by word from the marginals of the sentence conditioned on the heads
// drawn so far (a drawn arc h -> m forbids every other arc into m), read off the inverse of the Laplacian kept up
// to date by rank-one updates, O(n^3) per sample; the elimination redraws a word where that inverse fails its
// check (see sample_op).
//
// On the CPU (one thread per sentence) the linear path has single-thread versions of its passes with contiguous,
// vectorizable inner loops (the *_serial functions); they compute the same quantities in another order.
#pragma once
#include <math.h>

#include <cstdint>
#include <type_traits>

#include "latent_struct/arborescence_kbest.h"
#include "latent_struct/chu_liu_edmonds.h"
#include "latent_struct/common.h"
#include "latent_struct/inside_outside.h"
#include "latent_struct/log_math.h"
#include "latent_struct/philox.h"
#include "latent_struct/tree.h"

namespace ls {
namespace matrix_tree {

/// log(e^a + e^b), exact when either is -inf.
LS_HOST_DEVICE inline double log_add(double a, double b) {
  const double top = a > b ? a : b;
  if (top == neg_inf<double>()) return top;
  return top + log1p(exp(-fabs(a - b)));
}

/// One sentence: its scores [N, N] (root on the diagonal) and length n.
template <typename T>
struct Sentence {
  const T* scores;
  int64_t N;
  int64_t n;
  bool single_root;
};

template <typename T>
LS_HOST_DEVICE Sentence<T> sentence_at(const TreePotentials<T>& p, const TreeShape& shape, int64_t b) {
  const int64_t N = shape.length;
  return Sentence<T>{p.scores + b * N * N, N, p.lengths ? static_cast<int64_t>(p.lengths[b]) : N, p.single_root};
}

/// Doubles of workspace per sentence, for every op (the argmax's Chu-Liu-Edmonds included).
LS_HOST_DEVICE inline int64_t workspace_size(const TreeShape& shape) {
  const int64_t N = shape.length, passes = 5 * N * N + 9 * N + 4, argmax = arborescence::arborescence_work_size(N);
  return passes > argmax ? passes : argmax;
}
/// Ints of index workspace per sentence (the argmax's).
LS_HOST_DEVICE inline int64_t index_workspace_size(const TreeShape& shape) {
  return arborescence::arborescence_iwork_size(shape.length);
}

/// The workspace of one sentence: [N][N] matrices with stride N, the root on the diagonal.
struct Work {
  double* weight;       // log weights, eliminated in place: entry (i, j) ends frozen at the step of i or j
  double* adjoint;      // log abar
  double* tangent;      // d log weight (Hessian-vector products)
  double* adjoint_tan;  // d log abar
  double* conditioned;  // the sampler's scores, arcs ruled out by earlier draws set to -inf
  double* pivot;        // log P_k per step
  double* pivot_tan;    // d log P_k
  double* order;        // the node eliminated at each step (small integers stored exactly)
  double* row;          // log B_i (by position of i in the order)
  double* row_tan;
  double* col;          // log C_j
  double* col_tan;
  double* shift;        // c_m, the per-modifier shift of the scores
  double* position;     // linear path: the row of the (permuted) matrix holding each node
  double* shared;       // [4]: path (1: linear, 0: log), q, dq, status
};

LS_HOST_DEVICE inline Work work_of(double* w, int64_t N) {
  Work k;
  k.weight = w;
  k.adjoint = w + N * N;
  k.tangent = w + 2 * N * N;
  k.adjoint_tan = w + 3 * N * N;
  k.conditioned = w + 4 * N * N;
  double* v = w + 5 * N * N;
  k.pivot = v;
  k.pivot_tan = v + N;
  k.order = v + 2 * N;
  k.row = v + 3 * N;
  k.row_tan = v + 4 * N;
  k.col = v + 5 * N;
  k.col_tan = v + 6 * N;
  k.shift = v + 7 * N;
  k.position = v + 8 * N;
  k.shared = v + 9 * N;
  return k;
}

/// Copies the sentence's n x n scores (as doubles) into `to` (w.weight), shifted per modifier: column m loses
/// c_m = max_h s[h][m] (every tree has one arc into each word, so log Z loses sum_m c_m and the distribution is
/// unchanged — KERNELS.md). Keeps the log-space values near 0, where their absolute precision is best. With
/// `direction`, copies the tangent direction into w.tangent too.
template <typename T, typename Group>
LS_HOST_DEVICE void load(const Group& g, const T* from, int64_t N, int64_t n, const Work& w, double* to,
                         const T* direction) {
  for (int64_t m = g.rank(); m < n; m += g.size()) {
    double top = neg_inf<double>();
    for (int64_t h = 0; h < n; ++h) {
      const double v = static_cast<double>(from[h * N + m]);
      top = v > top ? v : top;
    }
    w.shift[m] = top == neg_inf<double>() ? 0.0 : top;
  }
  g.sync();
  for (int64_t e = g.rank(); e < n * n; e += g.size()) {
    const int64_t i = e / n, j = e % n;
    to[i * N + j] = static_cast<double>(from[i * N + j]) - w.shift[j];
    if (direction) w.tangent[i * N + j] = static_cast<double>(direction[i * N + j]);
  }
}

/// sum_m c_m of the last load().
LS_HOST_DEVICE inline double total_shift(const Work& w, int64_t n) {
  double total = 0;
  for (int64_t m = 0; m < n; ++m) total += w.shift[m];
  return total;
}

/// log P of eliminating node p at step k, the nodes order[k..n) remaining (p among them).
LS_HOST_DEVICE inline double pivot_of(const Work& w, int64_t N, int64_t n, bool single_root, int64_t k, int64_t p) {
  const double root = w.weight[p * N + p];
  if (k == n - 1) return root;
  double top = single_root ? neg_inf<double>() : root;
  for (int64_t u = k; u < n; ++u) {
    const int64_t i = static_cast<int64_t>(w.order[u]);
    if (i != p && w.weight[i * N + p] > top) top = w.weight[i * N + p];
  }
  if (top == neg_inf<double>()) return top;
  double sum = single_root ? 0.0 : exp(root - top);
  for (int64_t u = k; u < n; ++u) {
    const int64_t i = static_cast<int64_t>(w.order[u]);
    if (i != p) sum += exp(w.weight[i * N + p] - top);
  }
  return top + log(sum);
}

/// The elimination: log Z (-inf when the sentence has no tree of finite score), the frozen weights in
/// w.weight, the order and pivots; with `tangents`, their tangents in w.tangent / w.pivot_tan. The weights
/// (and tangents) must be loaded.
template <typename Group>
LS_HOST_DEVICE double eliminate(const Group& g, const Work& w, int64_t N, int64_t n, bool single_root, bool tangents) {
  if (g.rank() == 0) {
    for (int64_t u = 0; u < n; ++u) w.order[u] = static_cast<double>(u);
    w.shared[3] = 0;
  }
  g.sync();
  for (int64_t k = 0; k < n; ++k) {
    if (g.rank() == 0) {
      // The next node in order, or the first later one with a non-zero pivot (any order gives det L).
      double P = neg_inf<double>();
      for (int64_t u = k; u < n && P == neg_inf<double>(); ++u) {
        const int64_t p = static_cast<int64_t>(w.order[u]);
        P = pivot_of(w, N, n, single_root, k, p);
        if (P != neg_inf<double>() && u != k) {
          w.order[u] = w.order[k];
          w.order[k] = static_cast<double>(p);
        }
      }
      w.pivot[k] = P;
      if (P == neg_inf<double>()) w.shared[3] = 1;
      if (tangents && P != neg_inf<double>()) {
        const int64_t p = static_cast<int64_t>(w.order[k]);
        const bool root_in_pivot = !single_root || k == n - 1;
        double t = root_in_pivot ? exp(w.weight[p * N + p] - P) * w.tangent[p * N + p] : 0.0;
        for (int64_t u = k + 1; u < n; ++u) {
          const int64_t i = static_cast<int64_t>(w.order[u]);
          const double a = w.weight[i * N + p];
          if (a != neg_inf<double>()) t += exp(a - P) * w.tangent[i * N + p];
        }
        w.pivot_tan[k] = t;
      }
    }
    g.sync();
    if (w.shared[3] != 0) return neg_inf<double>();
    const int64_t p = static_cast<int64_t>(w.order[k]);
    const double P = w.pivot[k];
    const double tP = tangents ? w.pivot_tan[k] : 0.0;
    const int64_t r = n - k - 1;
    for (int64_t e = g.rank(); e < r * r; e += g.size()) {
      const int64_t i = static_cast<int64_t>(w.order[k + 1 + e / r]);
      const int64_t j = static_cast<int64_t>(w.order[k + 1 + e % r]);
      const int64_t from = i == j ? p * N + p : i * N + p;  // the root row uses r[k] where arcs use A[i][k]
      const double v = w.weight[from] + w.weight[p * N + j] - P;
      if (v == neg_inf<double>()) continue;
      const double before = w.weight[i * N + j];
      const double after = log_add(before, v);
      w.weight[i * N + j] = after;
      if (tangents) {
        const double share = exp(v - after);
        const double tv = w.tangent[from] + w.tangent[p * N + j] - tP;
        w.tangent[i * N + j] = before == neg_inf<double>() ? tv : (1 - share) * w.tangent[i * N + j] + share * tv;
      }
    }
    g.sync();
  }
  double log_z = 0;
  for (int64_t k = 0; k < n; ++k) log_z += w.pivot[k];
  return log_z;
}

/// log sum_k exp(term(k)) over k in [0, count) with its tangent sum_k softmax_k dterm(k); -inf (tangent 0)
/// when every term is -inf.
template <typename Term>
LS_HOST_DEVICE void log_sum(int64_t count, Term term, bool tangents, double& value, double& tangent) {
  double top = neg_inf<double>();
  for (int64_t c = 0; c < count; ++c) {
    double t, d;
    term(c, t, d);
    if (t > top) top = t;
  }
  value = top;
  tangent = 0;
  if (top == neg_inf<double>()) return;
  double sum = 0, weighted = 0;
  for (int64_t c = 0; c < count; ++c) {
    double t, d;
    term(c, t, d);
    if (t == neg_inf<double>()) continue;
    const double e = exp(t - top);
    sum += e;
    if (tangents) weighted += e * d;
  }
  value = top + log(sum);
  tangent = tangents ? weighted / sum : 0.0;
}

/// log(x) - offset for x >= 0 (-inf for x <= 0 or offset = -inf), with the tangent dx / x - doffset.
LS_HOST_DEVICE inline void log_ratio(double x, double dx, double offset, double doffset, double& value, double& tangent) {
  if (!(x > 0) || offset == neg_inf<double>()) {
    value = neg_inf<double>();
    tangent = 0;
    return;
  }
  value = log(x) - offset;
  tangent = dx / x - doffset;
}

/// The reverse pass after eliminate(): w.adjoint[h][m] = log dlogZ/dA[h][m] (root on the diagonal), and
/// with `tangents` its tangent in w.adjoint_tan.
template <typename Group>
LS_HOST_DEVICE void reverse(const Group& g, const Work& w, int64_t N, int64_t n, bool single_root, bool tangents) {
  for (int64_t k = n - 1; k >= 0; --k) {
    const int64_t p = static_cast<int64_t>(w.order[k]);
    const double P = w.pivot[k];
    const double tP = tangents ? w.pivot_tan[k] : 0.0;
    const int64_t r = n - k - 1;
    auto node = [&](int64_t u) { return static_cast<int64_t>(w.order[k + 1 + u]); };
    // B_i over the rows, B_root in slot r; C_j over the columns.
    for (int64_t u = g.rank(); u <= r; u += g.size()) {
      const int64_t i = u < r ? node(u) : -1;
      log_sum(
          r,
          [&](int64_t v, double& t, double& d) {
            const int64_t j = node(v);
            const int64_t at = i < 0 ? j * N + j : i * N + j;
            if (j == i) {
              t = neg_inf<double>();
              d = 0;
              return;
            }
            t = w.adjoint[at] + w.weight[p * N + j];
            d = tangents ? w.adjoint_tan[at] + w.tangent[p * N + j] : 0.0;
          },
          tangents, w.row[u], w.row_tan[u]);
    }
    for (int64_t v = g.rank(); v < r; v += g.size()) {
      const int64_t j = node(v);
      log_sum(
          r,
          [&](int64_t u, double& t, double& d) {
            const int64_t i = node(u);
            const int64_t from = i == j ? p * N + p : i * N + p;
            t = w.adjoint[i * N + j] + w.weight[from];
            d = tangents ? w.adjoint_tan[i * N + j] + w.tangent[from] : 0.0;
          },
          tangents, w.col[v], w.col_tan[v]);
    }
    g.sync();
    if (g.rank() == 0) {
      double q = 0, dq = 0;
      for (int64_t u = 0; u <= r; ++u) {
        const int64_t from = u < r ? node(u) * N + p : p * N + p;
        const double a = w.weight[from];
        if (a == neg_inf<double>() || w.row[u] == neg_inf<double>()) continue;
        const double beta = exp(a - P + w.row[u]);
        q += beta;
        if (tangents) dq += beta * (w.tangent[from] - tP + w.row_tan[u]);
      }
      w.shared[1] = q;
      w.shared[2] = dq;
    }
    g.sync();
    const double q = w.shared[1], dq = w.shared[2];
    const bool root_in_pivot = !single_root || k == n - 1;
    // Rows 0..r-1: the arcs i -> p; slot r: the root arc of p; then the columns p -> j.
    for (int64_t e = g.rank(); e < 2 * r + 1; e += g.size()) {
      if (e < r || e == r) {
        const int64_t from = e < r ? node(e) * N + p : p * N + p;
        const double a = w.weight[from];
        const double da = tangents ? w.tangent[from] : 0.0;
        double beta = 0, dbeta = 0, pi = 0, dpi = 0;
        if (a != neg_inf<double>()) {
          if (w.row[e] != neg_inf<double>()) {
            beta = exp(a - P + w.row[e]);
            dbeta = beta * (da - tP + w.row_tan[e]);
          }
          if (e < r || root_in_pivot) {
            pi = exp(a - P);
            dpi = pi * (da - tP);
          }
        }
        const double gain = beta + pi * (1 - q);
        const double dgain = dbeta + dpi * (1 - q) - pi * dq;
        log_ratio(gain, dgain, a, da, w.adjoint[from], w.adjoint_tan[from]);
      } else {
        const int64_t v = e - r - 1;
        const int64_t j = node(v);
        w.adjoint[p * N + j] = w.col[v] == neg_inf<double>() ? neg_inf<double>() : w.col[v] - P;
        w.adjoint_tan[p * N + j] = w.col[v] == neg_inf<double>() ? 0.0 : w.col_tan[v] - tP;
      }
    }
    g.sync();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The linear path: the same elimination and reverse pass on the weights themselves (exp of the shifted scores)
// rather than their logs — multiply-adds instead of exp/log per entry. Still subtraction-free, so just as
// accurate, as long as no product underflows: every step checks the range of its factors, and the log path
// takes over when a sentence's weights span more than ~1e250 (scores ~575 apart in a column, or products of
// such). The matrix is permuted physically (pivot swaps move rows and columns), so the inner loops are
// contiguous: position p holds node order[p].

constexpr double kLinearTiny = 1e-250;
constexpr double kLinearHuge = 1e250;

/// The CPU's group: one thread (tree::SerialTeams or a type derived from it), for which the passes below have
/// contiguous single-thread versions.
template <typename Group>
constexpr bool is_serial = std::is_base_of<tree::SerialTeams, Group>::value;

// The single-thread kernels are compiled for AVX-512 and AVX2+FMA besides the baseline and chosen at load time
// (GCC's function multiversioning, which needs glibc's ifunc; elsewhere the baseline only): a prebuilt binary
// assumes no more than SSE2.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(__CUDACC__)
#define LS_MATRIX_TREE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LS_MATRIX_TREE_CLONES
#endif

/// After load(): weights exp(log weight) and tangents dW = W d in place; false when a weight is out of range.
template <typename Group>
LS_HOST_DEVICE bool to_linear(const Group& g, const Work& w, int64_t N, int64_t n, bool tangents) {
  if (g.rank() == 0) w.shared[3] = 0;
  g.sync();
  const double floor = log(kLinearTiny);
  for (int64_t e = g.rank(); e < n * n; e += g.size()) {
    const int64_t at = (e / n) * N + e % n;
    const double v = w.weight[at];
    if (v != neg_inf<double>() && v < floor) w.shared[3] = 1;
    const double x = v == neg_inf<double>() ? 0.0 : exp(v);
    w.weight[at] = x;
    if (tangents) w.tangent[at] = x == 0 ? 0.0 : x * w.tangent[at];
  }
  for (int64_t u = g.rank(); u < n; u += g.size()) {
    w.order[u] = static_cast<double>(u);
    w.position[u] = static_cast<double>(u);
  }
  g.sync();
  const bool in_range = w.shared[3] == 0;
  g.sync();  // every thread has read the status before rank 0 may write it again
  return in_range;
}

/// Swaps rows and columns k and u of an [N][N] matrix (positions in the linear path).
LS_HOST_DEVICE inline void swap_positions(double* m, int64_t N, int64_t n, int64_t k, int64_t u) {
  for (int64_t j = 0; j < n; ++j) {
    const double t = m[k * N + j];
    m[k * N + j] = m[u * N + j];
    m[u * N + j] = t;
  }
  for (int64_t i = 0; i < n; ++i) {
    const double t = m[i * N + k];
    m[i * N + k] = m[i * N + u];
    m[i * N + u] = t;
  }
}

/// Linear pivot of position k, positions k..n) remaining.
LS_HOST_DEVICE inline double linear_pivot(const Work& w, int64_t N, int64_t n, bool single_root, int64_t k) {
  if (k == n - 1) return w.weight[k * N + k];
  double P = single_root ? 0.0 : w.weight[k * N + k];
  for (int64_t u = k + 1; u < n; ++u) P += w.weight[u * N + k];
  return P;
}

/// Rank 0's part of step k: picks a pivot (swapping a later position in when this one's is zero), checks the
/// range of the step's factors, and stores P and dP. Status: 0 fine, 1 out of range (use the log path), 2 no
/// tree (every remaining pivot is zero).
LS_HOST_DEVICE inline void linear_step_setup(const Work& w, int64_t N, int64_t n, bool single_root, int64_t k,
                                             bool tangents) {
  double P = linear_pivot(w, N, n, single_root, k);
  for (int64_t u = k + 1; u < n && !(P > 0); ++u) {
    swap_positions(w.weight, N, n, k, u);
    if (tangents) swap_positions(w.tangent, N, n, k, u);
    const double t = w.order[k];
    w.order[k] = w.order[u];
    w.order[u] = t;
    w.position[static_cast<int64_t>(w.order[k])] = static_cast<double>(k);
    w.position[static_cast<int64_t>(w.order[u])] = static_cast<double>(u);
    P = linear_pivot(w, N, n, single_root, k);
  }
  if (!(P > 0)) {
    w.shared[3] = 2;
    return;
  }
  w.pivot[k] = P;
  // Factors W[u][k] / P and W[k][k] / P times row k: the smallest non-zero product must stay normal. (Division
  // by P > 0 is monotonic: the extremes of the factors are those of the weights, divided once.)
  const double root = w.weight[k * N + k];
  double a_min = root > 0 ? root : kLinearHuge * P, a_max = root;
  double r_min = kLinearHuge, r_max = 0, dP = 0;
  const bool root_in_pivot = !single_root || k == n - 1;
  if (tangents && root_in_pivot) dP += w.tangent[k * N + k];
  for (int64_t u = k + 1; u < n; ++u) {
    const double a = w.weight[u * N + k];
    if (a > 0 && a < a_min) a_min = a;
    if (a > a_max) a_max = a;
    const double r = w.weight[k * N + u];
    if (r > 0 && r < r_min) r_min = r;
    if (r > r_max) r_max = r;
    if (tangents) dP += w.tangent[u * N + k];
  }
  w.pivot_tan[k] = dP;
  const double f_min = a_min / P, f_max = a_max / P;
  if (f_min * r_min < kLinearTiny || f_max * r_max > kLinearHuge) w.shared[3] = 1;
}

/// eliminate_linear on one CPU thread without tangents: the same steps, each row's update one contiguous loop.
LS_MATRIX_TREE_CLONES
inline double eliminate_linear_serial(const Work& w, int64_t N, int64_t n, bool single_root) {
  for (int64_t k = 0; k < n; ++k) {
    linear_step_setup(w, N, n, single_root, k, false);
    if (w.shared[3] != 0) return neg_inf<double>();
    const double P = w.pivot[k];
    const double* __restrict__ pivot_row = w.weight + k * N;
    const double f_root = pivot_row[k] / P;
    for (int64_t u = k + 1; u < n; ++u) {
      double* __restrict__ row = w.weight + u * N;
      const double f = row[k] / P;
      const double root = row[u];
      for (int64_t v = k + 1; v < n; ++v) row[v] += f * pivot_row[v];
      row[u] = root + f_root * pivot_row[u];
    }
  }
  double log_z = 0;
  for (int64_t k = 0; k < n; ++k) log_z += log(w.pivot[k]);
  return log_z;
}

/// The linear elimination: log of the shifted Z; status in w.shared[3] (see linear_step_setup).
template <typename Group>
LS_HOST_DEVICE double eliminate_linear(const Group& g, const Work& w, int64_t N, int64_t n, bool single_root,
                                       bool tangents) {
  if constexpr (is_serial<Group>) {
    if (!tangents) return eliminate_linear_serial(w, N, n, single_root);
  }
  for (int64_t k = 0; k < n; ++k) {
    if (g.rank() == 0) linear_step_setup(w, N, n, single_root, k, tangents);
    g.sync();
    if (w.shared[3] != 0) return neg_inf<double>();
    const double P = w.pivot[k], dP = w.pivot_tan[k];
    const double* pivot_row = w.weight + k * N;
    const double* pivot_row_tan = w.tangent + k * N;
    const double f_root = pivot_row[k] / P;
    const double df_root = tangents ? (pivot_row_tan[k] - f_root * dP) / P : 0.0;
    // Row u gains (W[u][k] / P) row k, except its diagonal (root weight), which gains (W[k][k] / P) W[k][u]:
    // the lanes update the whole row, then lane 0 sets the diagonal from its value before the step.
    for (int64_t u = k + 1 + g.team(); u < n; u += g.teams()) {
      double* row = w.weight + u * N;
      double* row_tan = w.tangent + u * N;
      const double f = row[k] / P;
      const double df = tangents ? (row_tan[k] - f * dP) / P : 0.0;
      const double root = row[u];
      const double root_tan = tangents ? row_tan[u] : 0.0;
      g.sync_team();
      for (int64_t v = k + 1 + g.lane(); v < n; v += g.lanes()) row[v] += f * pivot_row[v];
      if (tangents) {
        for (int64_t v = k + 1 + g.lane(); v < n; v += g.lanes()) row_tan[v] += df * pivot_row[v] + f * pivot_row_tan[v];
      }
      g.sync_team();
      if (g.lane() == 0) {
        row[u] = root + f_root * pivot_row[u];
        if (tangents) row_tan[u] = root_tan + df_root * pivot_row[u] + f_root * pivot_row_tan[u];
      }
    }
    g.sync();
  }
  double log_z = 0;
  for (int64_t k = 0; k < n; ++k) log_z += log(w.pivot[k]);
  return log_z;
}

/// linear_column_sums on one CPU thread, row by row (contiguous).
inline void linear_column_sums_serial(const Work& w, int64_t N, int64_t n, int64_t k, bool tangents) {
  const double root = w.weight[k * N + k], root_tan = tangents ? w.tangent[k * N + k] : 0.0;
  for (int64_t v = k + 1; v < n; ++v) w.col[v] = w.col_tan[v] = 0;
  for (int64_t u = k + 1; u < n; ++u) {
    const double* a = w.adjoint + u * N;
    const double* da = w.adjoint_tan + u * N;
    const double f = w.weight[u * N + k];
    const double df = tangents ? w.tangent[u * N + k] : 0.0;
    for (int64_t v = k + 1; v < u; ++v) w.col[v] += a[v] * f;
    for (int64_t v = u + 1; v < n; ++v) w.col[v] += a[v] * f;
    w.col[u] += a[u] * root;  // the diagonal (root weight) pairs with W[k][k]
    if (tangents) {
      for (int64_t v = k + 1; v < u; ++v) w.col_tan[v] += da[v] * f + a[v] * df;
      for (int64_t v = u + 1; v < n; ++v) w.col_tan[v] += da[v] * f + a[v] * df;
      w.col_tan[u] += da[u] * root + a[u] * root_tan;
    }
  }
}

/// reverse_linear on one CPU thread without tangents: the same quantities as the generic pass, in a layout
/// without reductions. abar is kept twice, as it is (w.adjoint) and transposed (w.adjoint_tan), both with a zero
/// diagonal while the root adjoints wait in w.col_tan; then at step k, over the positions t > k,
///   B[u] = sum_t W[k][t] abar^T[t][u],   C[v] = sum_t W[t][k] abar[t][v] + rbar[v] W[k][k]
/// are two contiguous multiply-adds per entry (vectorized), and the diagonal needs no special case.
LS_MATRIX_TREE_CLONES
inline void reverse_linear_serial(const Work& w, int64_t N, int64_t n, bool single_root) {
  double* __restrict__ root_adjoint = w.col_tan;
  double* __restrict__ B = w.row;
  double* __restrict__ C = w.col;
  double* __restrict__ pivot_col = w.row_tan;
  for (int64_t k = n - 1; k >= 0; --k) {
    const double P = w.pivot[k];
    const double* __restrict__ pivot_row = w.weight + k * N;
    const double root = pivot_row[k];
    for (int64_t v = k + 1; v < n; ++v) {
      B[v] = 0;
      C[v] = 0;
      pivot_col[v] = w.weight[v * N + k];
    }
    for (int64_t t = k + 1; t < n; ++t) {
      const double* __restrict__ a = w.adjoint + t * N;
      const double* __restrict__ a_transposed = w.adjoint_tan + t * N;
      const double p = pivot_row[t], f = pivot_col[t];
      for (int64_t v = k + 1; v < n; ++v) {
        B[v] += p * a_transposed[v];
        C[v] += f * a[v];
      }
    }
    double b_root = 0;
    for (int64_t v = k + 1; v < n; ++v) {
      b_root += root_adjoint[v] * pivot_row[v];
      C[v] += root_adjoint[v] * root;  // the diagonal (root weight) pairs with W[k][k]
    }
    double Q = root * b_root;
    for (int64_t u = k + 1; u < n; ++u) Q += pivot_col[u] * B[u];
    const double q = Q / P;
    const bool root_in_pivot = !single_root || k == n - 1;
    for (int64_t u = k + 1; u < n; ++u) {
      double value = (B[u] + (1 - q)) / P;
      value = value > 0 ? value : 0.0;  // >= 0 exactly; round-off only
      w.adjoint[u * N + k] = value;
      w.adjoint_tan[k * N + u] = value;
      value = C[u] / P;
      value = value > 0 ? value : 0.0;
      w.adjoint[k * N + u] = value;
      w.adjoint_tan[u * N + k] = value;
    }
    const double root_value = (b_root + (root_in_pivot ? 1 - q : 0.0)) / P;
    root_adjoint[k] = root_value > 0 ? root_value : 0.0;
    w.adjoint[k * N + k] = 0;
    w.adjoint_tan[k * N + k] = 0;
  }
  for (int64_t k = 0; k < n; ++k) w.adjoint[k * N + k] = root_adjoint[k];
}

/// Column sums C_v = sum_u abar[u][v] W[u][k] (u != v) + abar[v][v] W[k][k] over positions u, v > k, and their
/// tangents: a thread per column (coalesced on the GPU).
template <typename Group>
LS_HOST_DEVICE void linear_column_sums(const Group& g, const Work& w, int64_t N, int64_t n, int64_t k, bool tangents) {
  if constexpr (std::is_base_of<tree::SerialTeams, Group>::value) {
    linear_column_sums_serial(w, N, n, k, tangents);
    return;
  }
  for (int64_t v = k + 1 + g.rank(); v < n; v += g.size()) {
    double c = 0, dc = 0;
    for (int64_t u = k + 1; u < n; ++u) {
      const int64_t from = u == v ? k * N + k : u * N + k;
      c += w.adjoint[u * N + v] * w.weight[from];
      if (tangents) dc += w.adjoint_tan[u * N + v] * w.weight[from] + w.adjoint[u * N + v] * w.tangent[from];
    }
    w.col[v] = c;
    w.col_tan[v] = dc;
  }
}

/// The linear reverse pass after eliminate_linear(): w.adjoint[p][q] = dlogZ/dW[p][q] over positions (the root
/// weight on the diagonal), and its tangent in w.adjoint_tan. B of the root row is kept in w.row[k].
template <typename Group>
LS_HOST_DEVICE void reverse_linear(const Group& g, const Work& w, int64_t N, int64_t n, bool single_root,
                                   bool tangents) {
  if constexpr (std::is_base_of<tree::SerialTeams, Group>::value) {
    if (!tangents) {
      reverse_linear_serial(w, N, n, single_root);
      return;
    }
  }
  for (int64_t k = n - 1; k >= 0; --k) {
    const double P = w.pivot[k], dP = tangents ? w.pivot_tan[k] : 0.0;
    const double* pivot_row = w.weight + k * N;
    const double* pivot_row_tan = w.tangent + k * N;
    // B_u = sum_v abar[u][v] W[k][v] (v != u) for u > k; B_root = sum_v abar[v][v] W[k][v] in slot k.
    for (int64_t u = k + g.team(); u < n; u += g.teams()) {
      double b = 0, db = 0;
      for (int64_t v = k + 1 + g.lane(); v < n; v += g.lanes()) {
        if (v == u) continue;
        const int64_t at = u == k ? v * N + v : u * N + v;
        b += w.adjoint[at] * pivot_row[v];
        if (tangents) db += w.adjoint_tan[at] * pivot_row[v] + w.adjoint[at] * pivot_row_tan[v];
      }
      b = g.sum(b);
      db = g.sum(db);
      if (g.lane() == 0) {
        w.row[u] = b;
        w.row_tan[u] = db;
      }
    }
    linear_column_sums(g, w, N, n, k, tangents);
    g.sync();
    if (g.rank() == 0) {
      double Q = pivot_row[k] * w.row[k], dQ = 0;
      if (tangents) dQ = pivot_row_tan[k] * w.row[k] + pivot_row[k] * w.row_tan[k];
      for (int64_t u = k + 1; u < n; ++u) {
        Q += w.weight[u * N + k] * w.row[u];
        if (tangents) dQ += w.tangent[u * N + k] * w.row[u] + w.weight[u * N + k] * w.row_tan[u];
      }
      w.shared[1] = Q / P;
      w.shared[2] = tangents ? (dQ - Q / P * dP) / P : 0.0;
    }
    g.sync();
    const double q = w.shared[1], dq = w.shared[2];
    const bool root_in_pivot = !single_root || k == n - 1;
    const int64_t r = n - k - 1;
    // abar of the arcs u -> k (slots 0..r-1), of the root arc of k (slot r), of the arcs k -> v (the rest).
    for (int64_t e = g.rank(); e < 2 * r + 1; e += g.size()) {
      int64_t at;
      double value, tangent;
      if (e <= r) {
        const int64_t u = e < r ? k + 1 + e : k;
        const bool in_pivot = e < r || root_in_pivot;
        at = e < r ? u * N + k : k * N + k;
        value = (w.row[u] + (in_pivot ? 1 - q : 0.0)) / P;
        tangent = (w.row_tan[u] - (in_pivot ? dq : 0.0)) / P;
      } else {
        const int64_t v = k + 1 + (e - r - 1);
        at = k * N + v;
        value = w.col[v] / P;
        tangent = w.col_tan[v] / P;
      }
      value = value > 0 ? value : 0.0;  // >= 0 exactly; round-off only
      w.adjoint[at] = value;
      if (tangents) w.adjoint_tan[at] = tangent - value * dP / P;
    }
    g.sync();
  }
}

/// load() and to_linear() on one CPU thread without tangents, row by row: the column shifts as a running maximum
/// over the rows, then each row's shifted scores and their exps (the group's row_exp_shifted_sum: vectorized on
/// the CPU). The same weights as the generic pair, up to the exp's last bit; false when one is out of range.
template <typename T, typename Group>
bool load_linear_serial(const Group& g, const Sentence<T>& x, const Work& w) {
  const int64_t N = x.N, n = x.n;
  w.shared[3] = 0;  // the elimination's status
  for (int64_t m = 0; m < n; ++m) w.shift[m] = neg_inf<double>();
  for (int64_t h = 0; h < n; ++h) {
    const T* scores = x.scores + h * N;
    for (int64_t m = 0; m < n; ++m) {
      const double v = static_cast<double>(scores[m]);
      w.shift[m] = v > w.shift[m] ? v : w.shift[m];
    }
  }
  for (int64_t m = 0; m < n; ++m) w.shift[m] = w.shift[m] == neg_inf<double>() ? 0.0 : w.shift[m];
  const double floor = log(kLinearTiny);
  bool in_range = true;
  for (int64_t h = 0; h < n; ++h) {
    const T* scores = x.scores + h * N;
    double* row = w.weight + h * N;
    bool out_of_range = false;
    for (int64_t m = 0; m < n; ++m) {
      row[m] = static_cast<double>(scores[m]) - w.shift[m];
      out_of_range |= (row[m] < floor) & (row[m] != neg_inf<double>());
    }
    in_range = in_range && !out_of_range;
    if (h + 1 < n) {
      for (int64_t m = n; m < N; ++m) row[m] = neg_inf<double>();  // the gap to the next row: exp gives 0
    }
  }
  row_exp_shifted_sum(g, w.weight, 0.0, w.weight, (n - 1) * N + n);  // one call for the whole block
  for (int64_t u = 0; u < n; ++u) {
    w.order[u] = static_cast<double>(u);
    w.position[u] = static_cast<double>(u);
  }
  return in_range;
}

/// marginals_op's output on one CPU thread after the linear path: mu = abar W, W recomputed as the exps of the
/// shifted scores in one call (in w.tangent, unused without tangents).
template <typename T, typename Group>
void write_linear_marginals_serial(const Group& g, const Sentence<T>& x, const Work& w, T* out) {
  const int64_t N = x.N, n = x.n;
  for (int64_t h = 0; h < n; ++h) {
    const T* scores = x.scores + h * N;
    double* row = w.tangent + h * N;
    for (int64_t m = 0; m < n; ++m) row[m] = static_cast<double>(scores[m]) - w.shift[m];
    for (int64_t m = n; m < N; ++m) row[m] = neg_inf<double>();
  }
  row_exp_shifted_sum(g, w.tangent, 0.0, w.tangent, n * N);
  for (int64_t h = 0; h < N; ++h) {
    T* to = out + h * N;
    if (h >= n) {
      for (int64_t m = 0; m < N; ++m) to[m] = T(0);
      continue;
    }
    const double* weight = w.tangent + h * N;
    const double* adjoint = w.adjoint + static_cast<int64_t>(w.position[h]) * N;
    for (int64_t m = 0; m < n; ++m) to[m] = static_cast<T>(adjoint[static_cast<int64_t>(w.position[m])] * weight[m]);
    for (int64_t m = n; m < N; ++m) to[m] = T(0);
  }
}

/// log Z of the shifted scores loaded in w.weight (and w.tangent): the linear path when the weights' range
/// allows, the log path otherwise; with `reverse_pass`, also the adjoints (and their tangents). Records the
/// path taken in w.shared[0] (1: linear) for marginal() and marginal_tangent().
template <typename T, typename Group>
LS_HOST_DEVICE double run_passes(const Group& g, const Sentence<T>& x, const Work& w, const T* direction,
                                 bool reverse_pass) {
  const bool tangents = direction != nullptr;
  bool in_range;
  if constexpr (is_serial<Group>) {
    if (!tangents) {
      in_range = load_linear_serial(g, x, w);
    } else {
      load<T>(g, x.scores, x.N, x.n, w, w.weight, direction);
      in_range = to_linear(g, w, x.N, x.n, tangents);
    }
  } else {
    load<T>(g, x.scores, x.N, x.n, w, w.weight, direction);
    g.sync();
    in_range = to_linear(g, w, x.N, x.n, tangents);
  }
  if (in_range) {
    const double z = eliminate_linear(g, w, x.N, x.n, x.single_root, tangents);
    const double status = w.shared[3];
    if (status == 2) return neg_inf<double>();
    if (status == 0) {
      if (reverse_pass) reverse_linear(g, w, x.N, x.n, x.single_root, tangents);
      if (g.rank() == 0) w.shared[0] = 1;
      g.sync();
      return z;
    }
  }
  g.sync();
  load<T>(g, x.scores, x.N, x.n, w, w.weight, direction);
  g.sync();
  const double z = eliminate(g, w, x.N, x.n, x.single_root, tangents);
  if (z != neg_inf<double>() && reverse_pass) reverse(g, w, x.N, x.n, x.single_root, tangents);
  if (g.rank() == 0) w.shared[0] = 0;
  g.sync();
  return z;
}

/// mu[h][m] after run_passes(): abar W on the linear path, exp(log abar + log W) on the log path (W the
/// shifted weight exp(s[h][m] - c_m)); 0 for a forbidden arc.
LS_HOST_DEVICE inline double marginal(const Work& w, int64_t N, int64_t h, int64_t m, double score) {
  if (score == neg_inf<double>()) return 0.0;
  const double log_weight = score - w.shift[m];
  if (w.shared[0] == 1) {
    const int64_t at = static_cast<int64_t>(w.position[h]) * N + static_cast<int64_t>(w.position[m]);
    return w.adjoint[at] * exp(log_weight);
  }
  const double a = w.adjoint[h * N + m];
  return a == neg_inf<double>() ? 0.0 : exp(a + log_weight);
}

/// dmu[h][m] along the direction d (its entry at (h, m) is `direction`), after run_passes() with tangents.
LS_HOST_DEVICE inline double marginal_tangent(const Work& w, int64_t N, int64_t h, int64_t m, double score,
                                              double direction) {
  const double mu = marginal(w, N, h, m, score);
  if (score == neg_inf<double>()) return 0.0;
  if (w.shared[0] == 1) {
    const int64_t at = static_cast<int64_t>(w.position[h]) * N + static_cast<int64_t>(w.position[m]);
    return w.adjoint_tan[at] * exp(score - w.shift[m]) + mu * direction;
  }
  return mu == 0 ? 0.0 : mu * (w.adjoint_tan[h * N + m] + direction);
}

/// Writes `value(i, j)` over the sentence's [N, N] block: zero outside its length.
template <typename T, typename Group, typename Value>
LS_HOST_DEVICE void write_block(const Group& g, T* out, int64_t N, int64_t n, Value value) {
  for (int64_t e = g.rank(); e < N * N; e += g.size()) {
    const int64_t i = e / N, j = e % N;
    out[e] = i < n && j < n ? static_cast<T>(value(i * N + j)) : T(0);
  }
}

template <typename T, typename Group>
LS_HOST_DEVICE void log_partition_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                                     double* workspace, T* log_z) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const Work w = work_of(workspace, x.N);
  const double z = run_passes<T>(g, x, w, nullptr, false);
  if (g.rank() == 0) log_z[b] = static_cast<T>(z + total_shift(w, x.n));
}

template <typename T, typename Group>
LS_HOST_DEVICE void marginals_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                                 double* workspace, T* log_z, T* marginals) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const Work w = work_of(workspace, x.N);
  const double z = run_passes<T>(g, x, w, nullptr, true);
  if (g.rank() == 0) log_z[b] = static_cast<T>(z + total_shift(w, x.n));
  if constexpr (is_serial<Group>) {
    if (z != neg_inf<double>() && w.shared[0] == 1) {
      write_linear_marginals_serial(g, x, w, marginals + b * x.N * x.N);
      return;
    }
  }
  write_block(g, marginals + b * x.N * x.N, x.N, x.n, [&](int64_t at) {
    return z == neg_inf<double>() ? 0.0 : marginal(w, x.N, at / x.N, at % x.N, static_cast<double>(x.scores[at]));
  });
}

template <typename T, typename Group>
LS_HOST_DEVICE void marginals_backward_op(const Group& g, const TreePotentials<T>& p, const T* grad,
                                          const TreeShape& shape, int64_t b, double* workspace, T* log_z, T* out) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const Work w = work_of(workspace, x.N);
  const T* direction = grad + b * x.N * x.N;
  const double z = run_passes<T>(g, x, w, direction, true);
  if (g.rank() == 0) log_z[b] = static_cast<T>(z + total_shift(w, x.n));
  write_block(g, out + b * x.N * x.N, x.N, x.n, [&](int64_t at) {
    if (z == neg_inf<double>()) return 0.0;
    return marginal_tangent(w, x.N, at / x.N, at % x.N, static_cast<double>(x.scores[at]),
                            static_cast<double>(direction[at]));
  });
}

template <typename T, typename Group>
LS_HOST_DEVICE void entropy_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                               double* workspace, T* log_z, T* entropy) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const Work w = work_of(workspace, x.N);
  const double z = run_passes<T>(g, x, w, nullptr, true);
  if (g.rank() != 0) return;
  log_z[b] = static_cast<T>(z + total_shift(w, x.n));
  // H = log Z - E[score], both of the shifted scores (small terms: less cancellation).
  double expected = 0;
  for (int64_t h = 0; h < x.n && z != neg_inf<double>(); ++h) {
    for (int64_t m = 0; m < x.n; ++m) {
      const double s = static_cast<double>(x.scores[h * x.N + m]);
      const double mu = marginal(w, x.N, h, m, s);
      if (mu > 0) expected += mu * (s - w.shift[m]);
    }
  }
  entropy[b] = z == neg_inf<double>() ? T(0) : static_cast<T>(z - expected > 0 ? z - expected : 0.0);
}

/// The MAP tree of sentence b by Chu-Liu-Edmonds on rank 0: heads [B, N], score [B], one-hot parts [B, N, N].
template <typename T, typename Group>
LS_HOST_DEVICE void argmax_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                              double* workspace, int32_t* index_workspace, int32_t* decoded, T* score, T* parts) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const int64_t N = x.N;
  T* own_parts = parts + b * N * N;
  int32_t* heads = decoded + b * N;
  for (int64_t e = g.rank(); e < N * N; e += g.size()) own_parts[e] = T(0);
  g.sync();
  if (g.rank() != 0) return;
  const double best = static_cast<double>(arborescence::max_arborescence<T>(x.scores, N, x.n, x.single_root, workspace, index_workspace, heads));
  score[b] = static_cast<T>(best);
  for (int64_t m = 0; m < N; ++m) {
    if (m >= x.n) {
      heads[m] = -1;
    } else if (best != neg_inf<double>()) {
      own_parts[heads[m] * N + m] = T(1);
    }
  }
}

/// Doubles and ints of topk workspace per sentence (arborescence_kbest.h).
LS_HOST_DEVICE inline int64_t topk_workspace_size(const TreeShape& shape, int64_t k) {
  return arborescence::kbest_work_size(shape.length, k);
}
LS_HOST_DEVICE inline int64_t topk_index_workspace_size(const TreeShape& shape, int64_t k) {
  return arborescence::kbest_iwork_size(shape.length, k);
}

/// The k best trees of sentence b (arborescence_kbest.h), serial on rank 0 (the group clears the outputs): tree j
/// at heads decoded[j, b], scores[j, b], one-hot parts[j, b]; -inf, -1 and zeros past the last tree of finite score.
template <typename T, typename Group>
LS_HOST_DEVICE void topk_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b, int64_t k,
                            double* workspace, int32_t* index_workspace, int32_t* decoded, T* scores, T* parts) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const int64_t N = x.N, B = shape.batch;
  for (int64_t j = 0; j < k; ++j) {
    T* own_parts = parts + (j * B + b) * N * N;
    int32_t* heads = decoded + (j * B + b) * N;
    for (int64_t e = g.rank(); e < N * N; e += g.size()) own_parts[e] = T(0);
    for (int64_t m = g.rank(); m < N; m += g.size()) heads[m] = -1;
    if (g.rank() == 0) scores[j * B + b] = neg_inf<T>();
  }
  g.sync();
  if (g.rank() != 0) return;
  arborescence::k_best_arborescences<T>(
      x.scores, N, x.n, x.single_root, k, workspace, index_workspace,
      [&](int64_t j, const int32_t* tree, double score) {
        const int64_t r = j * B + b;
        scores[r] = static_cast<T>(score);
        for (int64_t m = 0; m < x.n; ++m) {
          decoded[r * N + m] = tree[m];
          parts[r * N * N + tree[m] * N + m] = T(1);
        }
      });
}

// ---------------------------------------------------------------------------------------------------------------
// Sampling in O(n^3) per tree (Colbourn, Myrvold & Neufeld 1996; Zmigrod, Vieira & Cotterell 2021, "Efficient
// Sampling of Dependency Structures", TACL): heads are drawn word by word from the marginals conditioned on the
// heads drawn so far, read off the inverse M of the (multi-root) Laplacian L,
//   mu(h -> m) = A[h][m] (M[m][m] - M[m][h]),   mu(root -> m) = r[m] M[m][m],
// and the choice h -> m replaces column m of L by e_m - e_h (e_m for the root; the column's scale is free), a
// rank-one change: M' = M - x y^T / d with x = M (new - old column) = M[:, m] - M[:, h] - e_m, y = M[m, :] and
// d = 1 + x[m] = mu(h -> m) / A[h][m] (Sherman & Morrison 1950): O(n^2) per word. Single root: the root's child
// c is drawn first from the exact marginals of the elimination; given it, the other words have no root arc and
// c has only its root arc, a multi-root Laplacian, inverted once per sample (Gauss-Jordan: L is column-diagonally
// dominant, so no pivoting is needed).
//
// M carries the cancellation the elimination avoids: every conditional column is checked (its marginals must
// sum to 1 — row m of M L = I — and none be negative, to 1e-9) and a chosen arc must not be improbable (where the
// update would amplify round-off); when a check fails (peaked scores: best heads closing a cycle at large
// scores, where L is near-singular, or weights beyond the linear range), the rest of the sample is drawn by the
// elimination of the conditioned scores, exact for any scores but O(n^3) per word.

/// The root's-child draws of single-root samples use this stream (counter: the sample row).
constexpr uint64_t kMatrixTreeRootStream = kMatrixTreeSampleStream + 1;
constexpr double kSampleTolerance = 1e-9;
constexpr double kSampleSmallestChoice = 1e-6;

/// Column m's weights exp(s[h][m] - c) over the allowed heads (the root with `root`), c their largest score;
/// -inf when none is allowed.
template <typename T>
LS_HOST_DEVICE double column_shift(const Sentence<T>& x, int64_t m, bool root) {
  double top = neg_inf<double>();
  for (int64_t h = 0; h < x.n; ++h) {
    if (h == m && !root) continue;
    const double v = static_cast<double>(x.scores[h * x.N + m]);
    top = v > top ? v : top;
  }
  return top;
}

/// Linear weight of arc h -> m (the root arc for h = m) under column m's shift; 0 for a forbidden arc.
template <typename T>
LS_HOST_DEVICE double column_weight(const Sentence<T>& x, int64_t h, int64_t m, double shift, bool root) {
  if (h == m && !root) return 0.0;
  const double s = static_cast<double>(x.scores[h * x.N + m]);
  return s == neg_inf<double>() ? 0.0 : exp(s - shift);
}

/// M = L^-1 of the multi-root Laplacian of the sentence's weights, in place in `m` ([N][N], rows heads, columns
/// modifiers), with root arcs allowed into every word (root_child < 0) or into root_child only, which then has no
/// other head. Gauss-Jordan without pivoting (L is column-diagonally dominant); its rows below the pivot hold the
/// Schur complements, the Laplacians of the graphs with the earlier words eliminated, so each pivot is taken
/// subtraction-free as in eliminate(): the reduced root weight (kept in w.pivot_tan) plus the column's arc weights
/// (Grassmann, Taksar & Heyman 1985), not as the diagonal entry, which cancels. False when a pivot is not
/// positive (no tree, or round-off).
template <typename T, typename Group>
LS_HOST_DEVICE bool invert_laplacian(const Group& g, const Sentence<T>& x, const Work& w, double* m,
                                     int64_t root_child) {
  const int64_t N = x.N, n = x.n;
  double* root_weight = w.pivot_tan;
  for (int64_t j = g.rank(); j < n; j += g.size()) {
    if (j == root_child) {  // the root's child: its root arc only, of weight 1
      for (int64_t i = 0; i < n; ++i) m[i * N + j] = i == j ? 1.0 : 0.0;
      root_weight[j] = 1;
      continue;
    }
    const bool root = root_child < 0;
    const double shift = column_shift(x, j, root);
    double diagonal = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double a = column_weight(x, i, j, shift, root);
      m[i * N + j] = i == j ? 0.0 : -a;
      diagonal += a;
    }
    m[j * N + j] = diagonal;
    root_weight[j] = column_weight(x, j, j, shift, root);
  }
  g.sync();
  for (int64_t k = 0; k < n; ++k) {
    double* pivot_row = m + k * N;
    if (g.rank() == 0) {
      double P = root_weight[k];
      for (int64_t i = k + 1; i < n; ++i) P -= m[i * N + k];  // entries <= 0: a sum of weights
      w.shared[1] = P;
    }
    g.sync();
    const double p = w.shared[1];
    if (!(p > 0) || !(p < kLinearHuge)) return false;  // the same on every thread
    const double inverse = 1 / p;
    // r'[j] = r[j] + r[k] A[k][j] / P_k for the words after k (eliminate()'s recurrence), row k not yet scaled.
    for (int64_t j = k + 1 + g.rank(); j < n; j += g.size()) root_weight[j] -= root_weight[k] * pivot_row[j] * inverse;
    g.sync();
    for (int64_t j = g.rank(); j < n; j += g.size()) pivot_row[j] = j == k ? inverse : pivot_row[j] * inverse;
    g.sync();
    for (int64_t i = g.team(); i < n; i += g.teams()) {
      if (i == k) continue;
      double* row = m + i * N;
      const double f = row[k];
      g.sync_team();
      for (int64_t j = g.lane(); j < n; j += g.lanes()) {
        if (j != k) row[j] -= f * pivot_row[j];
      }
      g.sync_team();
      if (g.lane() == 0) row[k] = -f * inverse;
    }
    g.sync();
  }
  return true;
}

/// Rank 0: the conditional head of word m from M (scaled weights of column m as in invert_laplacian), drawn with
/// u; -1 when the column fails its check or the choice is too improbable. Stores d = mu / A of the choice in
/// w.shared[1].
template <typename T>
LS_HOST_DEVICE int32_t draw_from_inverse(const Sentence<T>& x, const Work& w, const double* M, int64_t m, bool root,
                                         double u) {
  const int64_t N = x.N, n = x.n;
  const double shift = column_shift(x, m, root);
  const double diagonal = M[m * N + m];
  double total = 0, lowest = 0;
  for (int64_t h = 0; h < n; ++h) {
    const double a = column_weight(x, h, m, shift, root);
    const double mu = a == 0 ? 0.0 : a * (h == m ? diagonal : diagonal - M[m * N + h]);
    total += mu;
    lowest = mu < lowest ? mu : lowest;
  }
  if (!(fabs(total - 1) <= kSampleTolerance) || lowest < -kSampleTolerance) return -1;
  const double target = u * total;
  double cumulative = 0, chosen_mu = 0;
  int32_t chosen = -1;
  for (int64_t h = 0; h < n; ++h) {
    const double a = column_weight(x, h, m, shift, root);
    const double mu = a == 0 ? 0.0 : a * (h == m ? diagonal : diagonal - M[m * N + h]);
    if (!(mu > 0)) continue;
    cumulative += mu;
    chosen = static_cast<int32_t>(h);
    chosen_mu = mu;
    if (cumulative > target) break;
  }
  if (chosen < 0 || chosen_mu < kSampleSmallestChoice) return -1;
  w.shared[1] = chosen == m ? diagonal : diagonal - M[m * N + chosen];
  return chosen;
}

/// M after column m of L becomes e_m - e_h (e_m for h = m): the Sherman-Morrison update, d in w.shared[1].
template <typename Group>
LS_HOST_DEVICE void condition_inverse(const Group& g, const Work& w, double* M, int64_t N, int64_t n, int64_t m,
                                      int64_t h) {
  double* x = w.row;
  double* y = w.col;
  for (int64_t j = g.rank(); j < n; j += g.size()) {
    x[j] = M[j * N + m] - (h == m ? 0.0 : M[j * N + h]) - (j == m ? 1.0 : 0.0);
    y[j] = M[m * N + j];
  }
  g.sync();
  const double d = w.shared[1];
  for (int64_t i = g.team(); i < n; i += g.teams()) {
    const double f = x[i] / d;
    double* row = M + i * N;
    for (int64_t j = g.lane(); j < n; j += g.lanes()) row[j] -= f * y[j];
  }
  g.sync();
}

/// k exact samples of sentence b (see above). Heads [S, B, N] (h, or m for the root; -1 past the length),
/// one-hot parts [S, B, N, N].
template <typename T, typename Group>
LS_HOST_DEVICE void sample_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                              int64_t samples, uint64_t seed, double* workspace, T* log_z, int32_t* decoded, T* parts) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const int64_t N = x.N, n = x.n, B = shape.batch;
  const Work w = work_of(workspace, N);
  // The exact marginals give log Z and (single root) the distribution of the root's child, kept in w.tangent;
  // with any number of roots w.tangent keeps the inverse M of the sentence's Laplacian for every sample.
  const double z = run_passes<T>(g, x, w, nullptr, x.single_root);
  if (g.rank() == 0) log_z[b] = static_cast<T>(z + total_shift(w, n));
  double* const initial = w.tangent;
  double* const M = w.adjoint_tan;
  bool have_initial = false;
  if (z != neg_inf<double>()) {
    if (x.single_root) {
      for (int64_t m = g.rank(); m < n; m += g.size()) {
        initial[m] = marginal(w, N, m, m, static_cast<double>(x.scores[m * N + m]));
      }
      g.sync();
    } else {
      have_initial = invert_laplacian(g, x, w, initial, -1);
      g.sync();
    }
  }
  const Sentence<double> conditioned{w.conditioned, N, n, x.single_root};
  for (int64_t s = 0; s < samples; ++s) {
    const int64_t row = s * B + b;
    int32_t* heads = decoded + row * N;
    for (int64_t e = g.rank(); e < N * N; e += g.size()) parts[row * N * N + e] = T(0);
    for (int64_t m = g.rank(); m < N; m += g.size()) heads[m] = -1;
    if (z == neg_inf<double>()) continue;  // no tree: the binding raises an error
    for (int64_t e = g.rank(); e < n * n; e += g.size()) {
      w.conditioned[(e / n) * N + e % n] = static_cast<double>(x.scores[(e / n) * N + e % n]);
    }
    int64_t root_child = -1;
    if (x.single_root) {
      g.sync();
      if (g.rank() == 0) {
        const double u = philox_uniform(seed, kMatrixTreeRootStream, static_cast<uint64_t>(row));
        int32_t c = draw<double>(n, u, [&](int64_t m) { return initial[m] > 0 ? log(initial[m]) : neg_inf<double>(); });
        if (c < 0) c = 0;  // unreachable for a sentence with a tree
        for (int64_t h = 0; h < n; ++h) {
          if (h != c) w.conditioned[h * N + c] = neg_inf<double>();
        }
        heads[c] = c;
        parts[row * N * N + c * N + c] = T(1);
        w.shared[2] = static_cast<double>(c);
      }
      g.sync();
      root_child = static_cast<int64_t>(w.shared[2]);
      g.sync();
    }
    // The inverse of this sample's Laplacian: the sentence's (any roots), or inverted given the root's child.
    bool exact = x.single_root ? !invert_laplacian(g, x, w, M, root_child) : !have_initial;
    if (!x.single_root && have_initial) {
      for (int64_t e = g.rank(); e < n * N; e += g.size()) M[e] = initial[e];
    }
    g.sync();
    for (int64_t m = 0; m < n; ++m) {
      if (m == root_child) continue;
      const double u = philox_uniform(seed, kMatrixTreeSampleStream, static_cast<uint64_t>(row * N + m));
      if (!exact) {
        if (g.rank() == 0) {
          w.shared[2] = draw_from_inverse(x, w, M, m, !x.single_root, u);
        }
        g.sync();
        const int64_t h = static_cast<int64_t>(w.shared[2]);
        g.sync();
        if (h >= 0) {
          condition_inverse(g, w, M, N, n, m, h);
          if (g.rank() == 0) {
            for (int64_t c = 0; c < n; ++c) {
              if (c != h) w.conditioned[c * N + m] = neg_inf<double>();
            }
            heads[m] = static_cast<int32_t>(h);
            parts[row * N * N + h * N + m] = T(1);
          }
          g.sync();
          continue;
        }
        exact = true;  // M failed its check: the rest of this sample by elimination
      }
      run_passes<double>(g, conditioned, w, nullptr, true);
      if (g.rank() == 0) {
        int32_t h = draw<double>(n, u, [&](int64_t c) {
          const double mu = marginal(w, N, c, m, w.conditioned[c * N + m]);
          return mu > 0 ? log(mu) : neg_inf<double>();
        });
        if (h < 0) h = static_cast<int32_t>(m);  // unreachable for a sentence with a tree
        for (int64_t c = 0; c < n; ++c) {
          if (c != h) w.conditioned[c * N + m] = neg_inf<double>();
        }
        heads[m] = h;
        parts[row * N * N + h * N + m] = T(1);
      }
      g.sync();
    }
  }
}

}  // namespace matrix_tree
}  // namespace ls
