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
// drawn so far (a drawn arc h -> m forbids every other arc into m), one elimination and one reverse pass per
// word: O(n^4) per sample.
#pragma once
#include <math.h>

#include <cstdint>

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
  // Factors W[u][k] / P and W[k][k] / P times row k: the smallest non-zero product must stay normal.
  double f_min = w.weight[k * N + k] > 0 ? w.weight[k * N + k] / P : kLinearHuge, f_max = w.weight[k * N + k] / P;
  double r_min = kLinearHuge, r_max = 0, dP = 0;
  const bool root_in_pivot = !single_root || k == n - 1;
  if (tangents && root_in_pivot) dP += w.tangent[k * N + k];
  for (int64_t u = k + 1; u < n; ++u) {
    const double f = w.weight[u * N + k] / P;
    if (f > 0 && f < f_min) f_min = f;
    if (f > f_max) f_max = f;
    const double r = w.weight[k * N + u];
    if (r > 0 && r < r_min) r_min = r;
    if (r > r_max) r_max = r;
    if (tangents) dP += w.tangent[u * N + k];
  }
  w.pivot_tan[k] = dP;
  if (f_min * r_min < kLinearTiny || f_max * r_max > kLinearHuge) w.shared[3] = 1;
}

/// The linear elimination: log of the shifted Z; status in w.shared[3] (see linear_step_setup).
template <typename Group>
LS_HOST_DEVICE double eliminate_linear(const Group& g, const Work& w, int64_t N, int64_t n, bool single_root,
                                       bool tangents) {
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

/// Column sums C_v = sum_u abar[u][v] W[u][k] (u != v) + abar[v][v] W[k][k] over positions u, v > k, and their
/// tangents: a thread per column (coalesced on the GPU).
template <typename Group>
LS_HOST_DEVICE void linear_column_sums(const Group& g, const Work& w, int64_t N, int64_t n, int64_t k, bool tangents) {
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

/// The same on one CPU thread, row by row (contiguous).
inline void linear_column_sums(const tree::SerialTeams&, const Work& w, int64_t N, int64_t n, int64_t k, bool tangents) {
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

/// The linear reverse pass after eliminate_linear(): w.adjoint[p][q] = dlogZ/dW[p][q] over positions (the root
/// weight on the diagonal), and its tangent in w.adjoint_tan. B of the root row is kept in w.row[k].
template <typename Group>
LS_HOST_DEVICE void reverse_linear(const Group& g, const Work& w, int64_t N, int64_t n, bool single_root,
                                   bool tangents) {
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

/// log Z of the shifted scores loaded in w.weight (and w.tangent): the linear path when the weights' range
/// allows, the log path otherwise; with `reverse_pass`, also the adjoints (and their tangents). Records the
/// path taken in w.shared[0] (1: linear) for marginal() and marginal_tangent().
template <typename T, typename Group>
LS_HOST_DEVICE double run_passes(const Group& g, const Sentence<T>& x, const Work& w, const T* direction,
                                 bool reverse_pass) {
  const bool tangents = direction != nullptr;
  load<T>(g, x.scores, x.N, x.n, w, w.weight, direction);
  g.sync();
  if (to_linear(g, w, x.N, x.n, tangents)) {
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

/// k exact samples of sentence b, word by word from the conditional marginals. Heads [S, B, N] (h, or m
/// for the root; -1 past the length), one-hot parts [S, B, N, N].
template <typename T, typename Group>
LS_HOST_DEVICE void sample_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                              int64_t samples, uint64_t seed, double* workspace, T* log_z, int32_t* decoded, T* parts) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const int64_t N = x.N, n = x.n, B = shape.batch;
  const Work w = work_of(workspace, N);
  const double z = run_passes<T>(g, x, w, nullptr, false);
  if (g.rank() == 0) log_z[b] = static_cast<T>(z + total_shift(w, n));
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
    g.sync();
    for (int64_t m = 0; m < n; ++m) {
      const double u = philox_uniform(seed, kMatrixTreeSampleStream, static_cast<uint64_t>(row * N + m));
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
