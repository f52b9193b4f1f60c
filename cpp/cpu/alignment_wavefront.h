// The CPU's passes of Alignment for log Z, the marginals and the argmax: the lattice of alignment_sweeps.h (the same
// sums, terms and ties) swept an anti-diagonal at a time, so that each diagonal is one call of a vector kernel
// (vector_math.h: log_sum_exp_terms, max_terms, exp_of_sums) over contiguous rows.
//
// Strips: the rows are taken kStripRows at a time (a strip of R' rows and all m columns), and each strip is swept by
// its own anti-diagonals e = t + j (t = i - r0 the row in the strip): a diagonal then reads and writes R' rows of
// the scores and marginals (strided by 3 (M - 1)), which stay in the L1 cache and its TLB from one diagonal to the
// next, where the grid's own diagonals would touch n rows each. The row above the strip (alpha of row r0 - 1) and
// the row below it (beta of row r0 + R') are kept in a row `edge` of m + 2 values between strips.
//
// Charts are stored skewed, diagonal after diagonal, row t of diagonal e at row(chart, e)[t] for t from lo(e) - 1
// to hi(e) + 1: guards around the cells, so that the shifted rows of the neighbours (i, j - 1), (i - 1, j - 1),
// (i - 1, j) (forward) or (i, j + 1), (i + 1, j + 1), (i + 1, j) (backward) read -inf where a cell has none. Slot
// t = -1 of a diagonal with lo(e) = 0 holds the cell (r0 - 1, e + 1) of the row above (forward), and slot t = R' of
// one with hi(e) = R' - 1 the cell (r0 + R', e - R') below (backward), so that the strip's first and last rows read
// their neighbours outside the strip through the same shifted rows; the virtual diagonals -1 (forward) and R' + m - 1,
// R' + m (backward) carry the corners. The scores of a diagonal are gathered into rows first.
//
// log Z keeps three rolling diagonals (O(R' + m) memory); the marginals keep the alpha chart of every strip (n m
// cells and guards), then sweep the strips back, bottom up, with three rolling diagonals of beta and of the gathered
// scores, and write the marginals of each diagonal's in-edges as soon as its beta is known; the argmax keeps the
// Viterbi chart and walks back through lattice_sweeps.h's walk_back with its first-maximum rule. The other ops
// (Cov(z) g, entropy, samples) run the generic lattice passes.
#pragma once
#include <algorithm>
#include <cstdint>

#include "latent_struct/alignment_sweeps.h"
#include "vector_math.h"

namespace ls {
namespace cpu {
namespace alignment_wavefront {

using alignment::kOps;

/// Rows per strip (LS_ALIGNMENT_STRIP_ROWS: another height, for tests of many strips).
#ifndef LS_ALIGNMENT_STRIP_ROWS
#define LS_ALIGNMENT_STRIP_ROWS 128
#endif
constexpr int64_t kStripRows = LS_ALIGNMENT_STRIP_ROWS;
/// How far ahead along a row the gathers (and the backward pass's writes, behind) prefetch: 16 cells, 3 lines of floats.
constexpr int64_t kPrefetch = 16 * kOps;

/// The skewed chart of a strip: `rows` x m cells from row r0.
struct Strip {
  int64_t r0, rows, m;

  int64_t diagonals() const { return rows + m - 1; }
  int64_t lo(int64_t e) const { return e - m + 1 > 0 ? e - m + 1 : 0; }
  int64_t hi(int64_t e) const { return e < rows - 1 ? e : rows - 1; }
  /// Cells (t, j) with t + j < e.
  int64_t cells_before(int64_t e) const {
    const int64_t r = std::min(rows, e);
    if (r <= 0) return 0;
    const int64_t full = std::min(r, std::max<int64_t>(0, e - m + 1));  // rows t <= e - m: all m cells
    return full * m + (r - full) * e - (full + r - 1) * (r - full) / 2;
  }
  /// Diagonal e from cells_before(e) + 2 e: its cells and a guard on each side.
  int64_t chart_size() const { return cells_before(diagonals()) + 2 * diagonals(); }
  template <typename T>
  T* row(T* chart, int64_t e) const {
    return chart + cells_before(e) + 2 * e + 1 - lo(e);
  }
};

template <typename T>
struct Grid {
  const T* scores;  // this instance's [N, M, 3]
  int64_t N, M, n, m;
  bool local;

  int64_t strip_rows() const { return std::min(kStripRows, n); }
  int64_t strips() const { return (n + strip_rows() - 1) / strip_rows(); }
  Strip strip(int64_t k) const {
    const int64_t r0 = k * strip_rows();
    return Strip{r0, std::min(strip_rows(), n - r0), m};
  }
  /// The charts of the strips, one after another (all but the last of strip_rows() rows).
  int64_t strip_chart_size() const { return Strip{0, strip_rows(), m}.chart_size(); }
  int64_t chart_size() const { return (strips() - 1) * strip_chart_size() + strip(strips() - 1).chart_size(); }
  template <typename U>
  U* strip_chart(U* chart, int64_t k) const {
    return chart + k * strip_chart_size();
  }
  /// The entry of cell (i, j) in the charts.
  template <typename U>
  U& cell(U* chart, int64_t i, int64_t j) const {
    const int64_t k = i / strip_rows();
    const Strip s = strip(k);
    return s.row(strip_chart(chart, k), i - s.r0 + j)[i - s.r0];
  }
  /// The scores of strip diagonal e's cells into s_op[t] (rows lo..hi), -inf in the guards; with `below` (the
  /// backward pass), slot s.rows of a diagonal that reaches the strip's last row holds the cell (r0 + rows,
  /// e - rows) below the strip (-inf when there is none).
  void gather(const Strip& s, int64_t e, T* s0, T* s1, T* s2, bool below) const {
    const int64_t l = s.lo(e), h = s.hi(e);
    const int64_t stride = (M - 1) * kOps;
    const T* p = scores + ((s.r0 + l) * M + e - l) * kOps;
    const int64_t ahead = below ? -kPrefetch : kPrefetch;  // the backward pass goes right to left
    for (int64_t t = l; t <= h; ++t, p += stride) {
      __builtin_prefetch(p + ahead);  // the strip's rows are too many streams for the hardware's prefetcher
      s0[t] = p[0];
      s1[t] = p[1];
      s2[t] = p[2];
    }
    s0[l - 1] = s1[l - 1] = s2[l - 1] = neg_inf<T>();
    s0[h + 1] = s1[h + 1] = s2[h + 1] = neg_inf<T>();
    if (below && h == s.rows - 1) below_cell(s, e - s.rows, s0 + s.rows, s1 + s.rows, s2 + s.rows);
  }
  /// The scores of the cell (r0 + rows, j) below strip s into *s0, *s1, *s2 (-inf when there is none).
  void below_cell(const Strip& s, int64_t j, T* s0, T* s1, T* s2) const {
    const int64_t i = s.r0 + s.rows;
    if (i < n && j >= 0 && j < m) {
      const T* p = scores + (i * M + j) * kOps;
      *s0 = p[0];
      *s1 = p[1];
      *s2 = p[2];
    } else {
      *s0 = *s1 = *s2 = neg_inf<T>();
    }
  }
};

template <typename T>
Grid<T> grid_at(const TreePotentials<T>& p, const TreeShape& shape, int64_t b) {
  const int64_t N = shape.length, M = shape.extent;
  return Grid<T>{p.scores + b * N * M * kOps, N, M, p.lengths ? p.lengths[b] : N,
                 p.target_lengths ? p.target_lengths[b] : M, p.local};
}

/// Workspace of one instance (elements of T), the largest of the three ops' (the charts, then the rows).
inline int64_t workspace_size(const TreeShape& shape) {
  const int64_t N = shape.length, M = shape.extent, R = std::min(kStripRows, N), strips = (N + R - 1) / R;
  const int64_t chart = strips * (R * M + 2 * (R + M - 1));
  return chart + 19 * (R + 3) + (M + 2) + (R + M) + strips;
}

/// The working rows of a pass, carved from the workspace after the charts.
template <typename T>
struct Rows {
  int64_t stride;     // slots -1..R + 1
  T* minus;           // -inf
  T* pre;             // the virtual diagonal -1 of a strip's forward pass
  T* zeros;           // 0, from slot 0
  T* scores;          // gathered scores: 3 rolling diagonals x 3 ops
  T* rolling;         // 3 rolling diagonals of alpha or beta
  T* terms;           // 4 rows of marginals
  T* edge;            // the row above (forward) or below (backward) a strip: slots -1..m
  T* diagonal_lse;    // log-sum-exp of each diagonal of a strip (local log Z)
  T* strip_lse;       // and of each strip

  Rows(T* w, int64_t R, int64_t m) : stride(R + 3) {
    minus = w + 1;
    pre = minus + stride;
    zeros = pre + stride;
    scores = zeros + stride;
    rolling = scores + 9 * stride;
    terms = rolling + 3 * stride;
    edge = terms + 4 * stride;
    diagonal_lse = edge + m + 1;
    strip_lse = diagonal_lse + R + m;
    std::fill(minus - 1, minus - 1 + stride, neg_inf<T>());
    std::fill(zeros - 1, zeros - 1 + stride, T(0));
  }
  T* score(int64_t e, int64_t op) const { return scores + ((e % 3) * 3 + op) * stride; }
  T* roll(int64_t e) const { return rolling + (e % 3) * stride; }
  T* term(int64_t k) const { return terms + k * stride; }
  void fill_edge(int64_t m, T value) const { std::fill(edge - 1, edge + m + 1, value); }
  void fill(T* slots, T value) const { std::fill(slots - 1, slots - 1 + stride, value); }
};

/// The forward pass over strip s: alpha (or, with kMax, the Viterbi scores) of every cell, a diagonal at a time
/// into row_of(e) (guards and slot -1 set), from `edge` = the row above, which it leaves holding the strip's last
/// row; after(e, row) follows each diagonal.
template <bool kMax, typename T, typename RowOf, typename After>
void forward_strip(const Grid<T>& x, const Strip& s, const Rows<T>& r, RowOf row_of, After after) {
  T* edge = r.edge;
  r.fill(r.pre, neg_inf<T>());
  r.pre[-1] = edge[0];  // (r0 - 1, 0), above-left of (r0, 1) and above (r0, 0)
  const int64_t E = s.diagonals();
  for (int64_t e = 0; e < E; ++e) {
    T* s0 = r.score(e, 0);
    T* s1 = r.score(e, 1);
    T* s2 = r.score(e, 2);
    x.gather(s, e, s0, s1, s2, false);
    T* out = row_of(e);
    const int64_t l = s.lo(e), h = s.hi(e);
    if (!x.local && s.r0 == 0 && e == 0) {
      out[0] = T(0) + s1[0];  // the source's edge into (0, 0), its only one
    } else {
      const T* a1 = e >= 1 ? row_of(e - 1) : r.pre;
      const T* a2 = e >= 2 ? row_of(e - 2) : e == 1 ? r.pre : r.minus;
      // (i, j - 1) + op 0, (i - 1, j - 1) + op 1, (i - 1, j) + op 2, and local's source + op 1
      const T* a[4] = {a1 + l, a2 + l - 1, a1 + l - 1, s1 + l};
      const T* b[4] = {s0 + l, s1 + l, s2 + l, nullptr};
      const int64_t terms = x.local ? 4 : 3;
      if (kMax) {
        vec::max_terms(a, b, terms, h - l + 1, out + l);
      } else {
        vec::log_sum_exp_terms(a, b, terms, h - l + 1, out + l);
      }
    }
    out[l - 1] = l == 0 ? edge[e + 1] : neg_inf<T>();  // (r0 - 1, e + 1)
    out[h + 1] = neg_inf<T>();
    if (h == s.rows - 1) edge[e - h] = out[h];  // edge[e + 1] was read: the row above becomes the strip's last
    after(e, out);
  }
}

/// The forward pass over every strip (row_of(k, e): strip k's diagonal e); returns log Z.
template <typename T, typename RowOf>
T forward_log_z(const Grid<T>& x, const Rows<T>& r, RowOf row_of) {
  r.fill_edge(x.m, neg_inf<T>());
  for (int64_t k = 0; k < x.strips(); ++k) {
    const Strip s = x.strip(k);
    const auto rows = [&](int64_t e) { return row_of(k, e); };
    if (!x.local) {
      forward_strip<false>(x, s, r, rows, [](int64_t, const T*) {});
      continue;
    }
    forward_strip<false>(x, s, r, rows, [&](int64_t e, const T* out) {
      const int64_t l = s.lo(e);
      r.diagonal_lse[e] = vec::log_sum_exp(out + l, s.hi(e) - l + 1);
    });
    r.strip_lse[k] = vec::log_sum_exp(r.diagonal_lse, s.diagonals());
  }
  if (x.local) return vec::log_sum_exp(r.strip_lse, x.strips());
  return r.edge[x.m - 1];  // alpha(n - 1, m - 1), in the last strip's last row
}

template <typename T>
void log_partition(const Grid<T>& x, T* w, T* log_z) {
  const Rows<T> r(w, x.strip_rows(), x.m);
  *log_z = forward_log_z(x, r, [&](int64_t, int64_t e) { return r.roll(e); });
}

/// Zeros in the instance's parts outside its n x m cells.
template <typename T>
void clear_outside(const Grid<T>& x, T* parts) {
  for (int64_t i = 0; i < x.n; ++i) std::fill(parts + (i * x.M + x.m) * kOps, parts + (i + 1) * x.M * kOps, T(0));
  std::fill(parts + x.n * x.M * kOps, parts + x.N * x.M * kOps, T(0));
}

template <typename T>
void marginals(const Grid<T>& x, T* w, T* log_z, T* mu) {
  T* chart = w;
  const Rows<T> r(w + x.chart_size(), x.strip_rows(), x.m);
  const auto alpha_row = [&](int64_t k, int64_t e) { return x.strip(k).row(x.strip_chart(chart, k), e); };
  const T z = forward_log_z(x, r, alpha_row);
  *log_z = z;
  if (z == neg_inf<T>()) {
    std::fill(mu, mu + x.N * x.M * kOps, T(0));
    return;
  }
  clear_outside(x, mu);
  const int64_t stride = (x.M - 1) * kOps;
  T* edge = r.edge;
  r.fill_edge(x.m, neg_inf<T>());  // beta of the row below the grid
  for (int64_t k = x.strips() - 1; k >= 0; --k) {
    const Strip s = x.strip(k);
    const int64_t E = s.diagonals(), R = s.rows;
    const auto alpha = [&](int64_t e) { return alpha_row(k, e); };
    r.fill(r.pre, neg_inf<T>());
    if (k > 0) r.pre[-1] = x.cell(chart, s.r0 - 1, 0);
    // The virtual diagonals E and E + 1: only their slot R, the cells (r0 + R, m - 1) and (r0 + R, m) below.
    for (int64_t e = E; e <= E + 1; ++e) {
      r.fill(r.roll(e), neg_inf<T>());
      for (int64_t op = 0; op < kOps; ++op) r.fill(r.score(e, op), neg_inf<T>());
    }
    r.roll(E)[R] = edge[x.m - 1];
    x.below_cell(s, x.m - 1, r.score(E, 0) + R, r.score(E, 1) + R, r.score(E, 2) + R);
    for (int64_t e = E - 1; e >= 0; --e) {
      T* s0 = r.score(e, 0);
      T* s1 = r.score(e, 1);
      T* s2 = r.score(e, 2);
      x.gather(s, e, s0, s1, s2, true);
      T* beta = r.roll(e);
      const int64_t l = s.lo(e), h = s.hi(e), count = h - l + 1;
      if (s.r0 + R == x.n && e == E - 1) {
        beta[R - 1] = 0;  // (n - 1, m - 1): the sink's edge, its only one
      } else {
        const T* b1 = r.roll(e + 1);
        const T* b2 = r.roll(e + 2);
        // op 0 into (i, j + 1), op 1 into (i + 1, j + 1), op 2 into (i + 1, j), and local's sink
        const T* a[4] = {r.score(e + 1, 0) + l, r.score(e + 2, 1) + l + 1, r.score(e + 1, 2) + l + 1, r.zeros};
        const T* b[4] = {b1 + l, b2 + l + 1, b1 + l + 1, nullptr};
        vec::log_sum_exp_terms(a, b, x.local ? 4 : 3, count, beta + l);
      }
      beta[l - 1] = neg_inf<T>();
      beta[h + 1] = h == R - 1 ? edge[e - R] : neg_inf<T>();  // (r0 + R, e - R)
      if (l == 0) edge[e] = beta[0];  // edge[e - R] was read: the row below becomes the strip's first
      // The marginals of the in-edges of diagonal e's cells.
      T* e0 = r.term(0);
      T* e1 = r.term(1);
      T* e2 = r.term(2);
      T* e3 = r.term(3);
      if (!x.local && s.r0 == 0 && e == 0) {
        e0[0] = e2[0] = 0;
        e1[0] = exp_of(T(0) + s1[0] + beta[0] - z);
      } else {
        const T* a1 = e >= 1 ? alpha(e - 1) : r.pre;
        const T* a2 = e >= 2 ? alpha(e - 2) : e == 1 ? r.pre : r.minus;
        vec::exp_of_sums(a1 + l, s0 + l, beta + l, z, count, e0);
        vec::exp_of_sums(a2 + l - 1, s1 + l, beta + l, z, count, e1);
        vec::exp_of_sums(a1 + l - 1, s2 + l, beta + l, z, count, e2);
        if (x.local) {
          vec::exp_of_sums(s1 + l, beta + l, static_cast<const T*>(nullptr), z, count, e3);
          for (int64_t t = 0; t < count; ++t) e1[t] += e3[t];
        }
      }
      T* p = mu + ((s.r0 + l) * x.M + e - l) * kOps;
      for (int64_t t = 0; t < count; ++t, p += stride) {
        __builtin_prefetch(p - kPrefetch, 1);
        p[0] = e0[t];
        p[1] = e1[t];
        p[2] = e2[t];
      }
    }
  }
}

/// The MAP alignment (lattice::argmax's: the first end in row-major order, the first in-edge on ties).
template <typename T>
void argmax(const Grid<T>& x, const alignment::Lattice<T>& lattice, T* w, int32_t* decoded, T* score, T* parts) {
  T* chart = w;
  const Rows<T> r(w + x.chart_size(), x.strip_rows(), x.m);
  T best = neg_inf<T>();
  int64_t bi = -1, bj = -1;
  r.fill_edge(x.m, neg_inf<T>());
  for (int64_t k = 0; k < x.strips(); ++k) {
    const Strip s = x.strip(k);
    const auto rows = [&](int64_t e) { return s.row(x.strip_chart(chart, k), e); };
    forward_strip<true>(x, s, r, rows, [&](int64_t e, const T* out) {
      if (!x.local) return;
      const int64_t l = s.lo(e), h = s.hi(e);
      const T top = vec::max(out + l, h - l + 1);
      if (top < best || top == neg_inf<T>()) return;
      int64_t t = l;
      while (!(out[t] == top)) ++t;  // the first on the diagonal is the first in row-major order
      const int64_t i = s.r0 + t, j = e - t;
      if (top > best || i * x.m + j < bi * x.m + bj) {
        best = top;
        bi = i;
        bj = j;
      }
    });
  }
  if (!x.local) {
    bi = x.n - 1;
    bj = x.m - 1;
    best = x.cell(chart, bi, bj);
  }
  std::fill(parts, parts + x.N * x.M * kOps, T(0));
  *score = best;
  if (best == neg_inf<T>()) {  // no path of finite score: the binding raises an error
    lattice.clear(decoded);
    lattice.finish(decoded, 0);
    return;
  }
  const auto delta = [&](int64_t v) { return x.cell(chart, v / x.M, v % x.M); };
  lattice::walk_back(
      lattice, decoded, parts, [&]() { return bi * x.M + bj; },
      [&](int64_t v) -> int64_t {
        const T target = delta(v);
        for (int64_t k = 0; k < lattice.in_degree(); ++k) {
          const lattice::Edge e = lattice.in_edge(v, k);
          if (e.node == lattice::kAbsent) continue;
          if ((e.node == lattice::kEnd ? T(0) : delta(e.node)) + lattice.weight(e) == target) return k;
        }
        return -1;
      });
}

}  // namespace alignment_wavefront
}  // namespace cpu
}  // namespace ls
