// The per-sentence passes of SentCFG (a PCFG in Chomsky normal form, torch-struct's SentCFG), written once for
// both backends over a group of threads (inside_outside.h: rank(), size(), sync()). Every phase is a flat loop
// over independent items of one span width, so a CUDA block fills a whole width at once ("width-batched").
//
// Parts, one packed row of D = N T + NT S^2 + NT scores per sentence (S = NT + T): terms [N][T], rules
// [NT][S][S] (A -> X Y, an index >= NT is preterminal index - NT) and roots [NT]. A child of width 1 is a word
// (labels [NT, S)), a child of width >= 2 a nonterminal (labels [0, NT)).
//
// Inside: beta(i, j)[X] over the S labels (-inf on the labels a span of its width cannot take), and for width >= 2
//   beta(i, j)[A] = log sum_{k, X, Y} exp(rules[A, X, Y] + beta(i, k)[X] + beta(k + 1, j)[Y]).
// Fast exact contraction: with e(i, k) = exp(beta(i, k) - m(i, k)) (m = the row's max), the split scales
// sc_k = exp(m(i, k) + m(k + 1, j) - M) (M = max_k of the exponent) and ER[A] = exp(rules[A] - r_A) (r_A = max of
// rules[A]), the accumulator Acc[X, Y] = sum_k sc_k e(i, k)[X] e(k + 1, j)[Y] is built once per span (S^2 per split,
// only the blocks the children's widths allow) and contracted once per label: s_A = sum_{X, Y} ER[A, X, Y] Acc[X, Y],
// beta = log s_A + r_A + M. That is O(N^3 NT^2 + N^2 NT S^2) instead of O(N^3 NT S^2). Every factor is at most 1, so a
// term of true size >= the smallest normal is computed to a few ulps and the ones below it change s_A by less than
// (terms) x (smallest normal); when s_A < kExactFloor (the per-vector maxima of ER and Acc did not meet, e.g. with
// scores of +-1e3) the span's label falls back to a log-sum-exp over (k, X, Y), so the result is exact either way.
//
// Outside, top-down in probability space: mu(i, j)[X] = P(span (i, j) with label X). With c_A = mu(P)[A] / s_A of a
// parent P (bounded by 1 / kExactFloor), the rule counts are ER[A] * sum_P c_A Acc_P (plus the fallbacks' own terms),
// and a child (i, k)[X] of P receives e(i, k)[X] sc_k sum_Y D_P[X, Y] e(k + 1, j)[Y] with D_P = sum_A c_A ER[A]
// (and symmetrically as a right child): each child gathers from its <= 2 parents of the current width, race-free.
// Marginals: terms = mu(i, i)[NT + t], rules = the counts, roots = mu(0, n - 1)[A].
//
// The Hessian-vector product (dmu/ds)^T g = (d/de) mu(s + e g) (the Hessian of log Z is symmetric) runs the same
// passes on dual numbers a + b e (forward mode; exact, no finite step). Entropy: H = log Z - <s, mu> over parts with
// mu > 0. Argmax: max-product over (k, X, Y) with back pointers (first maximum: smallest k, X, Y). Top k: k-best
// parsing over the same hyperedges (hypergraph_kbest.h; see topk_op). Sampling: the
// root label, then breadth-first each span's (k, X, Y) by inverse CDF over exp(rules + beta + beta - beta(i, j)[A]).
#pragma once
#include <cstdint>
#include <type_traits>

#include "latent_struct/hypergraph_kbest.h"
#include "latent_struct/inside_outside.h"
#include "latent_struct/log_math.h"
#include "latent_struct/philox.h"
#include "latent_struct/tree.h"

namespace ls {
namespace cfg {

/// A dual number v + d e (e^2 = 0): the value and its derivative along the direction g.
template <typename T>
struct Dual {
  T v;
  T d;
};
template <typename T>
LS_HOST_DEVICE Dual<T> operator+(Dual<T> a, Dual<T> b) { return Dual<T>{a.v + b.v, a.d + b.d}; }
template <typename T>
LS_HOST_DEVICE Dual<T> operator-(Dual<T> a, Dual<T> b) { return Dual<T>{a.v - b.v, a.d - b.d}; }
template <typename T>
LS_HOST_DEVICE Dual<T> operator*(Dual<T> a, Dual<T> b) { return Dual<T>{a.v * b.v, a.d * b.v + a.v * b.d}; }
template <typename T>
LS_HOST_DEVICE Dual<T> operator/(Dual<T> a, Dual<T> b) { return Dual<T>{a.v / b.v, (a.d - a.v / b.v * b.d) / b.v}; }
template <typename T, typename U>
LS_HOST_DEVICE Dual<T> operator+(Dual<T> a, U b) { return Dual<T>{a.v + T(b), a.d}; }
template <typename T, typename U>
LS_HOST_DEVICE Dual<T> operator-(Dual<T> a, U b) { return Dual<T>{a.v - T(b), a.d}; }
template <typename T, typename U>
LS_HOST_DEVICE Dual<T> operator*(Dual<T> a, U b) { return Dual<T>{a.v * T(b), a.d * T(b)}; }
template <typename T>
LS_HOST_DEVICE Dual<T>& operator+=(Dual<T>& a, Dual<T> b) { return a = a + b; }

template <typename T>
struct ValueType {
  using type = T;
};
template <typename T>
struct ValueType<Dual<T>> {
  using type = T;
};
template <typename T>
struct IsDual : std::false_type {};
template <typename T>
struct IsDual<Dual<T>> : std::true_type {};

template <typename T>
LS_HOST_DEVICE T value_of(T x) { return x; }
template <typename T>
LS_HOST_DEVICE T value_of(Dual<T> x) { return x.v; }
template <typename T>
LS_HOST_DEVICE T tangent_of(T) { return T(0); }
template <typename T>
LS_HOST_DEVICE T tangent_of(Dual<T> x) { return x.d; }
/// A number from a score and its direction (dropped for plain numbers).
template <typename Num, typename T>
LS_HOST_DEVICE Num num_of(T value, T direction) {
  if constexpr (IsDual<Num>::value) {
    return Num{value, direction};
  } else {
    (void)direction;
    return value;
  }
}
template <typename Num>
LS_HOST_DEVICE Num num_exp(Num x) {
  if constexpr (IsDual<Num>::value) {
    const auto e = exp_of(x.v);
    return Num{e, e > 0 ? e * x.d : decltype(e)(0)};
  } else {
    return exp_of(x);
  }
}
template <typename Num>
LS_HOST_DEVICE Num num_log(Num x) {
  if constexpr (IsDual<Num>::value) {
    return Num{log_of(x.v), x.v > 0 ? x.d / x.v : decltype(x.v)(0)};
  } else {
    return log_of(x);
  }
}

/// Below this a scaled contraction may have lost its leading terms to underflow: recompute in log space.
template <typename T>
LS_HOST_DEVICE constexpr T exact_floor() {
  return sizeof(T) == 4 ? T(1e-20) : T(1e-250);
}

/// Sizes of a batch (TreeShape { batch B, length N, labels NT, extent T }) and the packed layout of one sentence.
struct Dims {
  int64_t N, NT, T, S;
  LS_HOST_DEVICE explicit Dims(const TreeShape& shape)
      : N(shape.length), NT(shape.labels), T(shape.extent), S(shape.labels + shape.extent) {}
  LS_HOST_DEVICE int64_t parts() const { return N * T + NT * S * S + NT; }
  /// NT rounded up to a multiple of 16 (the pair-major rules and the sums are padded with zeros: whole vectors).
  static constexpr int64_t kChunk = 16;
  LS_HOST_DEVICE int64_t NT_padded() const { return (NT + kChunk - 1) / kChunk * kChunk; }
  LS_HOST_DEVICE int64_t term(int64_t i, int64_t t) const { return i * T + t; }
  LS_HOST_DEVICE int64_t rule(int64_t A, int64_t X, int64_t Y) const { return N * T + (A * S + X) * S + Y; }
  LS_HOST_DEVICE int64_t root(int64_t A) const { return N * T + NT * S * S + A; }
  LS_HOST_DEVICE int64_t cell(int64_t i, int64_t j) const { return i * N + j; }
  /// The labels a span of width w can take: preterminals for a word, nonterminals otherwise.
  LS_HOST_DEVICE int64_t first_label(int64_t w) const { return w == 1 ? NT : 0; }
  LS_HOST_DEVICE int64_t end_label(int64_t w) const { return w == 1 ? S : NT; }
  /// The right-child labels Y that a left-child label X can meet under a parent of width w >= 2: [begin, end).
  LS_HOST_DEVICE int64_t pair_begin(int64_t w, int64_t X) const {
    if (X < NT) return w >= 4 ? 0 : NT;
    return w == 2 ? NT : 0;
  }
  LS_HOST_DEVICE int64_t pair_end(int64_t w, int64_t X) const {
    if (X < NT) return w >= 3 ? S : 0;
    return w == 2 ? S : NT;
  }
};

/// Packed scores of all sentences: [B][D] (elements per sentence: Dims::parts()).
LS_HOST_DEVICE inline int64_t part_count(const TreeShape& shape) { return Dims(shape).parts(); }

/// Workspace of one sentence in elements of T (counted for T = float; even, so that it stays 8-byte aligned): the
/// charts of Charts<Num> for Num = Dual<double>, the largest. Every pass but the argmax (sums of scores) runs in
/// double whatever T: float32 marginals at +-1e3 scores would otherwise carry exp(ulp(log Z)) ~ 1e-4 errors.
LS_HOST_DEVICE inline int64_t workspace_size(const TreeShape& shape) {
  const Dims d(shape);
  const int64_t numbers = (2 * d.NT + d.NT_padded()) * d.S * d.S + 2 * d.N * d.S * d.S + d.parts() + 3 * d.N * d.N * d.S +
                          d.N * d.N * d.NT_padded() + d.N * d.NT + 1;
  return 4 * numbers + 2 * (d.NT + 2 * d.N * d.N + d.N);
}
/// Back pointers of the argmax: [N][N][NT].
LS_HOST_DEVICE inline int64_t index_workspace_size(const TreeShape& shape) {
  return shape.length * shape.length * shape.labels;
}
/// Work per sentence (operations, to size the CPU's tasks).
LS_HOST_DEVICE inline int64_t work(const TreeShape& shape) {
  const Dims d(shape);
  return d.N * d.N * d.NT * d.S * d.S / 2 + d.N * d.N * d.N * d.NT * d.NT / 6 + 1;
}

/// One sentence's packed scores and (Hessian-vector product) its direction.
template <typename T>
struct Sentence {
  const T* scores;
  const T* direction;  // null: plain numbers
  int64_t length;
  template <typename Num>
  LS_HOST_DEVICE Num at(int64_t k) const {
    return num_of<Num>(scores[k], direction ? direction[k] : T(0));
  }
};

template <typename T>
LS_HOST_DEVICE Sentence<T> sentence_at(const TreePotentials<T>& p, const TreeShape& shape, int64_t b, const T* direction) {
  const int64_t D = part_count(shape);
  return Sentence<T>{p.scores + b * D, direction ? direction + b * D : nullptr, p.lengths ? p.lengths[b] : shape.length};
}

template <typename Num>
struct Charts {
  using T = typename ValueType<Num>::type;
  Num* er;        // [NT][S][S]: exp(rules[A] - r_A)
  Num* er_by_pair; // [S][S][NT padded to kChunk]: the same, A fastest (the contraction's inner loop), zeros past NT
  Num* counts;    // [NT][S][S]: sum_P c_A Acc_P (the rule counts before the factor ER)
  Num* acc;       // [N][S][S]: Acc of the spans (i, i + w - 1) of the current width
  Num* gain;      // [N][S][S]: D_P = sum_A c_A ER[A] of the current width's spans
  Num* parts;     // [D]: the marginals in the packed layout
  Num* beta;      // [N][N][S]
  Num* e;         // [N][N][S]: exp(beta - m)
  Num* mu;        // [N][N][S]
  Num* sums;      // [N][N][NT padded]: s_A
  Num* coef;      // [N][NT]: c_A of the current width's spans
  Num* log_z;     // [1]
  T* rule_max;    // [NT]: r_A
  T* row_max;     // [N][N]: m(i, j)
  T* split_scale; // [N][N]: sc_k of span (i, i + w - 1) at (i, k - i), the current width; M at (i, N - 1)
  T* falls;       // [N]: 1 when a used label of span (i, i + w - 1) was computed in log space, else 0
  Dims d;
};

template <typename Num, typename W>
LS_HOST_DEVICE Charts<Num> charts_of(W* workspace, const Dims& d) {
  Charts<Num> c{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                nullptr,  nullptr, nullptr, nullptr, nullptr, d};
  Num* n = reinterpret_cast<Num*>(workspace);
  const int64_t SS = d.S * d.S;
  c.er = n;
  c.er_by_pair = c.er + d.NT * SS;
  c.counts = c.er_by_pair + d.NT_padded() * SS;
  c.acc = c.counts + d.NT * SS;
  c.gain = c.acc + d.N * SS;
  c.parts = c.gain + d.N * SS;
  c.beta = c.parts + d.parts();
  c.e = c.beta + d.N * d.N * d.S;
  c.mu = c.e + d.N * d.N * d.S;
  c.sums = c.mu + d.N * d.N * d.S;
  c.coef = c.sums + d.N * d.N * d.NT_padded();
  c.log_z = c.coef + d.N * d.NT;
  c.rule_max = reinterpret_cast<typename Charts<Num>::T*>(c.log_z + 1);
  c.row_max = c.rule_max + d.NT;
  c.split_scale = c.row_max + d.N * d.N;
  c.falls = c.split_scale + d.N * d.N;
  return c;
}

template <typename Num>
LS_HOST_DEVICE Num zero() {
  return num_of<Num>(typename ValueType<Num>::type(0), typename ValueType<Num>::type(0));
}
template <typename Num>
LS_HOST_DEVICE Num num_neg_inf() {
  using T = typename ValueType<Num>::type;
  return num_of<Num>(neg_inf<T>(), T(0));
}

/// log sum exp of the terms term(q), q < count (-inf when all are), max-shifted: two passes.
template <typename Num, typename Term>
LS_HOST_DEVICE Num log_sum_exp_of(int64_t count, Term term) {
  using T = typename ValueType<Num>::type;
  T top = neg_inf<T>();
  for (int64_t q = 0; q < count; ++q) {
    const T v = value_of(term(q));
    top = v > top ? v : top;
  }
  if (top == neg_inf<T>()) return num_neg_inf<Num>();
  Num sum = zero<Num>();
  for (int64_t q = 0; q < count; ++q) {
    const Num v = term(q);
    if (value_of(v) == neg_inf<T>()) continue;
    sum += num_exp(v - top);
  }
  return num_log(sum) + top;
}

/// ER and r_A, then sync.
template <typename Num, typename T, typename Teams>
LS_HOST_DEVICE void exp_rules(const Teams& g, const Sentence<T>& x, const Charts<Num>& c) {
  const Dims& d = c.d;
  const int64_t SS = d.S * d.S;
  for (int64_t A = g.rank(); A < d.NT; A += g.size()) {
    T top = neg_inf<T>();
    for (int64_t q = 0; q < SS; ++q) {
      const T v = x.scores[d.rule(A, 0, 0) + q];
      top = v > top ? v : top;
    }
    c.rule_max[A] = top;
  }
  g.sync();
  for (int64_t q = g.rank(); q < d.NT * SS; q += g.size()) {
    const auto top = c.rule_max[q / SS];
    const Num er = top == neg_inf<decltype(top)>() ? zero<Num>() : num_exp(x.template at<Num>(d.rule(0, 0, 0) + q) - top);
    c.er[q] = er;
    c.er_by_pair[(q % SS) * d.NT_padded() + q / SS] = er;
  }
  for (int64_t q = g.rank(); q < SS * (d.NT_padded() - d.NT); q += g.size()) {
    c.er_by_pair[q / (d.NT_padded() - d.NT) * d.NT_padded() + d.NT + q % (d.NT_padded() - d.NT)] = zero<Num>();
  }
  g.sync();
}

/// out[q] += a x[q] for q < n (no reduction: it vectorizes).
template <typename Num>
LS_HOST_DEVICE void add_scaled(Num a, const Num* x, Num* out, int64_t n) {
  for (int64_t q = 0; q < n; ++q) out[q] += a * x[q];
}

/// out[q] += sum_{k < terms} coefs[k coef_stride] rows[k stride + q] for q < n, terms with a zero coefficient skipped
/// (a transposed matrix-vector product). Plain here; the CPU group overloads it with vec::add_rows (cpp/cpu/cfg.cc),
/// found by argument-dependent lookup on the group.
template <typename Group, typename Num>
LS_HOST_DEVICE void add_rows(const Group&, const Num* coefs, int64_t coef_stride, const Num* rows, int64_t stride,
                             int64_t terms, int64_t n, Num* out) {
  for (int64_t k = 0; k < terms; ++k) {
    const Num a = coefs[k * coef_stride];
    if (value_of(a) != 0) add_scaled(a, rows + k * stride, out, n);
  }
}

/// sum_q a[q] b[q], q < n, in four independent partial sums.
template <typename Num>
LS_HOST_DEVICE Num dot(const Num* a, const Num* b, int64_t n) {
  Num s0 = zero<Num>(), s1 = zero<Num>(), s2 = zero<Num>(), s3 = zero<Num>();
  int64_t q = 0;
  for (; q + 4 <= n; q += 4) {
    s0 += a[q] * b[q];
    s1 += a[q + 1] * b[q + 1];
    s2 += a[q + 2] * b[q + 2];
    s3 += a[q + 3] * b[q + 3];
  }
  for (; q < n; ++q) s0 += a[q] * b[q];
  return (s0 + s1) + (s2 + s3);
}

/// m(i, j) and e(i, j) from beta(i, j) (one thread).
template <typename Num>
LS_HOST_DEVICE void finish_cell(const Charts<Num>& c, int64_t i, int64_t j) {
  using T = typename ValueType<Num>::type;
  const Dims& d = c.d;
  const Num* beta = c.beta + c.d.cell(i, j) * d.S;
  Num* e = c.e + c.d.cell(i, j) * d.S;
  T top = neg_inf<T>();
  for (int64_t X = 0; X < d.S; ++X) top = value_of(beta[X]) > top ? value_of(beta[X]) : top;
  c.row_max[d.cell(i, j)] = top;
  for (int64_t X = 0; X < d.S; ++X) {
    e[X] = top == neg_inf<T>() || value_of(beta[X]) == neg_inf<T>() ? zero<Num>() : num_exp(beta[X] - top);
  }
}

/// The word cells: beta(i, i)[NT + t] = terms[i, t], then sync.
template <typename Num, typename T, typename Teams>
LS_HOST_DEVICE void word_cells(const Teams& g, const Sentence<T>& x, const Charts<Num>& c) {
  const Dims& d = c.d;
  for (int64_t i = g.rank(); i < x.length; i += g.size()) {
    Num* beta = c.beta + d.cell(i, i) * d.S;
    for (int64_t X = 0; X < d.NT; ++X) beta[X] = num_neg_inf<Num>();
    for (int64_t t = 0; t < d.T; ++t) beta[d.NT + t] = x.template at<Num>(d.term(i, t));
    finish_cell(c, i, i);
  }
  g.sync();
}

/// M and the split scales sc_k of the spans of width w (into c.split_scale), then sync.
template <typename Num, typename Teams>
LS_HOST_DEVICE void split_scales(const Teams& g, const Charts<Num>& c, int64_t L, int64_t w) {
  using T = typename ValueType<Num>::type;
  const Dims& d = c.d;
  for (int64_t i = g.rank(); i + w <= L; i += g.size()) {
    const int64_t j = i + w - 1;
    T* scale = c.split_scale + i * d.N;
    T top = neg_inf<T>();
    for (int64_t k = i; k < j; ++k) {
      const T left = c.row_max[d.cell(i, k)], right = c.row_max[d.cell(k + 1, j)];
      const T v = left == neg_inf<T>() || right == neg_inf<T>() ? neg_inf<T>() : left + right;
      scale[k - i] = v;
      top = v > top ? v : top;
    }
    for (int64_t k = i; k < j; ++k) scale[k - i] = top == neg_inf<T>() ? T(0) : exp_of(scale[k - i] - top);
    scale[d.N - 1] = top;
  }
  g.sync();
}

/// Acc of the spans of width w, rows (i, X) across the group, then sync.
template <typename Num, typename Teams>
LS_HOST_DEVICE void accumulate(const Teams& g, const Charts<Num>& c, int64_t L, int64_t w) {
  const Dims& d = c.d;
  const int64_t rows = (L - w + 1) * d.S;
  for (int64_t r = g.rank(); r < rows; r += g.size()) {
    const int64_t i = r / d.S, X = r % d.S, j = i + w - 1;
    const int64_t begin = d.pair_begin(w, X), end = d.pair_end(w, X);
    Num* acc = c.acc + r * d.S;
    for (int64_t Y = begin; Y < end; ++Y) acc[Y] = zero<Num>();
    if (begin >= end) continue;
    const typename ValueType<Num>::type* scale = c.split_scale + i * d.N;
    for (int64_t k = i; k < j; ++k) {
      const int64_t left_width = k - i + 1, right_width = j - k;
      if (X < d.first_label(left_width) || X >= d.end_label(left_width) || !(scale[k - i] > 0)) continue;
      const Num a = c.e[d.cell(i, k) * d.S + X];
      if (!(value_of(a) > 0)) continue;
      const Num scaled = a * scale[k - i];
      const Num* right = c.e + d.cell(k + 1, j) * d.S;
      const int64_t lo = d.first_label(right_width), hi = d.end_label(right_width);
      add_scaled(scaled, right + lo, acc + lo, hi - lo);
    }
  }
  g.sync();
}

/// The log-space sum over (k, X, Y) of exp(rules[A, X, Y] + beta(i, k)[X] + beta(k + 1, j)[Y] + shift).
template <typename Num, typename T, typename Body>
LS_HOST_DEVICE void for_each_split_term(const Sentence<T>& x, const Charts<Num>& c, int64_t i, int64_t j, int64_t A,
                                        Body body) {
  const Dims& d = c.d;
  for (int64_t k = i; k < j; ++k) {
    const int64_t lw = k - i + 1, rw = j - k;
    const Num* left = c.beta + d.cell(i, k) * d.S;
    const Num* right = c.beta + d.cell(k + 1, j) * d.S;
    for (int64_t X = d.first_label(lw); X < d.end_label(lw); ++X) {
      if (value_of(left[X]) == neg_inf<T>()) continue;
      for (int64_t Y = d.first_label(rw); Y < d.end_label(rw); ++Y) {
        const T rule = x.scores[d.rule(A, X, Y)];
        if (rule == neg_inf<T>() || value_of(right[Y]) == neg_inf<T>()) continue;
        body(k, X, Y, x.template at<Num>(d.rule(A, X, Y)) + (left[X] + right[Y]));  // topk_op's order
      }
    }
  }
}

template <typename Num, typename T>
LS_HOST_DEVICE Num log_space_inside(const Sentence<T>& x, const Charts<Num>& c, int64_t i, int64_t j, int64_t A) {
  using V = typename ValueType<Num>::type;
  V top = neg_inf<V>();
  for_each_split_term(x, c, i, j, A, [&](int64_t, int64_t, int64_t, Num v) { top = value_of(v) > top ? value_of(v) : top; });
  if (top == neg_inf<V>()) return num_neg_inf<Num>();
  Num sum = zero<Num>();
  for_each_split_term(x, c, i, j, A, [&](int64_t, int64_t, int64_t, Num v) { sum += num_exp(v - top); });
  return num_log(sum) + top;
}

/// The inside chart; log Z into c.log_z[0] (read after the final sync).
template <typename Num, typename T, typename Teams>
LS_HOST_DEVICE void inside(const Teams& g, const Sentence<T>& x, const Charts<Num>& c) {
  using V = typename ValueType<Num>::type;
  const Dims& d = c.d;
  const int64_t L = x.length, SS = d.S * d.S;
  exp_rules(g, x, c);
  word_cells(g, x, c);
  for (int64_t w = 2; w <= L; ++w) {
    split_scales(g, c, L, w);
    accumulate(g, c, L, w);
    if (g.size() == 1) {  // one thread: s_A for all A at once, an update of NT values per nonzero Acc entry
      for (int64_t i = 0; i + w <= L; ++i) {
        Num* sums = c.sums + d.cell(i, i + w - 1) * d.NT_padded();
        for (int64_t A = 0; A < d.NT_padded(); ++A) sums[A] = zero<Num>();
        if (c.split_scale[i * d.N + d.N - 1] == neg_inf<V>()) continue;
        const Num* acc = c.acc + i * SS;
        for (int64_t X = 0; X < d.S; ++X) {
          const int64_t begin = d.pair_begin(w, X), end = d.pair_end(w, X);
          add_rows(g, acc + X * d.S + begin, 1, c.er_by_pair + (X * d.S + begin) * d.NT_padded(), d.NT_padded(),
                   end - begin, d.NT_padded(), sums);
        }
      }
    } else {  // a thread per (span, A)
      for (int64_t item = g.rank(); item < (L - w + 1) * d.NT; item += g.size()) {
        const int64_t i = item / d.NT, A = item % d.NT;
        Num s = zero<Num>();
        if (c.split_scale[i * d.N + d.N - 1] != neg_inf<V>()) {
          const Num* acc = c.acc + i * SS;
          for (int64_t X = 0; X < d.S; ++X) {
            for (int64_t Y = d.pair_begin(w, X); Y < d.pair_end(w, X); ++Y) {
              s += acc[X * d.S + Y] * c.er_by_pair[(X * d.S + Y) * d.NT_padded() + A];
            }
          }
        }
        c.sums[d.cell(i, i + w - 1) * d.NT_padded() + A] = s;
      }
    }
    g.sync();
    for (int64_t item = g.rank(); item < (L - w + 1) * d.NT; item += g.size()) {
      const int64_t i = item / d.NT, A = item % d.NT, j = i + w - 1;
      const auto top = c.split_scale[i * d.N + d.N - 1], rule_max = c.rule_max[A];
      const Num s = c.sums[d.cell(i, j) * d.NT_padded() + A];
      Num beta;
      if (top == neg_inf<T>() || rule_max == neg_inf<T>()) {
        beta = num_neg_inf<Num>();
      } else if (value_of(s) >= exact_floor<V>()) {
        beta = num_log(s) + (rule_max + top);
      } else {
        beta = log_space_inside(x, c, i, j, A);
      }
      c.beta[d.cell(i, j) * d.S + A] = beta;
    }
    g.sync();
    for (int64_t i = g.rank(); i + w <= L; i += g.size()) {
      Num* beta = c.beta + d.cell(i, i + w - 1) * d.S;
      for (int64_t t = d.NT; t < d.S; ++t) beta[t] = num_neg_inf<Num>();
      finish_cell(c, i, i + w - 1);
    }
    g.sync();
  }
  if (g.rank() == 0) {
    const Num* root = c.beta + d.cell(0, L - 1) * d.S;
    c.log_z[0] = log_sum_exp_of<Num>(d.NT, [&](int64_t A) {
      const T r = x.scores[d.root(A)];
      return r == neg_inf<T>() || value_of(root[A]) == neg_inf<T>() ? num_neg_inf<Num>()
                                                                      : x.template at<Num>(d.root(A)) + root[A];
    });
  }
  g.sync();
}

/// Whether span (i, j)'s label A was computed in log space (its marginal too is then spread in log space).
template <typename Num>
LS_HOST_DEVICE bool falls_back(const Charts<Num>& c, int64_t i, int64_t j, int64_t A) {
  using T = typename ValueType<Num>::type;
  return !(value_of(c.sums[c.d.cell(i, j) * c.d.NT_padded() + A]) >= exact_floor<T>());
}

/// The marginal mass that the labels of P = (i, j) computed in log space send to its child at split k with label X
/// (the left child (i, k) when `left`, else the right child (k + 1, j)).
template <typename Num, typename T>
LS_HOST_DEVICE Num fallback_child_mass(const Sentence<T>& x, const Charts<Num>& c, int64_t i, int64_t j, int64_t k,
                                       int64_t X, bool left) {
  const Dims& d = c.d;
  Num total = zero<Num>();
  const Num* child = c.beta + (left ? d.cell(i, k) : d.cell(k + 1, j)) * d.S;
  const Num* sibling = c.beta + (left ? d.cell(k + 1, j) : d.cell(i, k)) * d.S;
  const int64_t sw = left ? j - k : k - i + 1;
  if (value_of(child[X]) == neg_inf<T>()) return total;
  for (int64_t A = 0; A < d.NT; ++A) {
    const Num mu = c.mu[d.cell(i, j) * d.S + A];
    if (!(value_of(mu) > 0) || !falls_back(c, i, j, A)) continue;
    const Num shift = num_log(mu) - c.beta[d.cell(i, j) * d.S + A] + child[X];
    for (int64_t Z = d.first_label(sw); Z < d.end_label(sw); ++Z) {
      const int64_t rule = left ? d.rule(A, X, Z) : d.rule(A, Z, X);
      if (x.scores[rule] == neg_inf<T>() || value_of(sibling[Z]) == neg_inf<T>()) continue;
      total += num_exp(x.template at<Num>(rule) + sibling[Z] + shift);
    }
  }
  return total;
}

/// The outside pass: the marginals of every part into c.parts (log Z must be finite).
template <typename Num, typename T, typename Teams>
LS_HOST_DEVICE void outside(const Teams& g, const Sentence<T>& x, const Charts<Num>& c) {
  const Dims& d = c.d;
  const int64_t L = x.length, SS = d.S * d.S, N = d.N;
  const Num log_z = c.log_z[0];
  tree::group_fill(g, c.parts, d.parts(), zero<Num>());
  tree::group_fill(g, c.counts, d.NT * SS, zero<Num>());
  tree::group_fill(g, c.mu, N * N * d.S, zero<Num>());
  g.sync();
  for (int64_t A = g.rank(); A < d.NT; A += g.size()) {
    const Num beta = c.beta[d.cell(0, L - 1) * d.S + A];
    const T r = x.scores[d.root(A)];
    const Num p = r == neg_inf<T>() || value_of(beta) == neg_inf<T>()
                      ? zero<Num>()
                      : num_exp(x.template at<Num>(d.root(A)) + beta - log_z);
    c.mu[d.cell(0, L - 1) * d.S + A] = p;
    c.parts[d.root(A)] = p;
  }
  g.sync();
  for (int64_t w = L; w >= 2; --w) {
    const int64_t spans = L - w + 1;
    split_scales(g, c, L, w);
    accumulate(g, c, L, w);
    // c_A of each span of the width (0 when the label is unused or falls back).
    for (int64_t item = g.rank(); item < spans * d.NT; item += g.size()) {
      const int64_t i = item / d.NT, A = item % d.NT, a = d.cell(i, i + w - 1);
      const Num mu = c.mu[a * d.S + A];
      c.coef[item] = value_of(mu) > 0 && !falls_back(c, i, i + w - 1, A) ? mu / c.sums[a * d.NT_padded() + A] : zero<Num>();
    }
    for (int64_t i = g.rank(); i < spans; i += g.size()) {
      bool any = false;
      for (int64_t A = 0; A < d.NT; ++A) {
        any = any || (value_of(c.mu[d.cell(i, i + w - 1) * d.S + A]) > 0 && falls_back(c, i, i + w - 1, A));
      }
      c.falls[i] = any ? 1 : 0;
    }
    g.sync();
    // D_P rows (i, X), and the rule counts rows (A, X).
    for (int64_t r = g.rank(); r < spans * d.S; r += g.size()) {
      const int64_t i = r / d.S, X = r % d.S;
      Num* gain = c.gain + r * d.S;
      const int64_t begin = d.pair_begin(w, X), end = d.pair_end(w, X);
      for (int64_t Y = begin; Y < end; ++Y) gain[Y] = zero<Num>();
      add_rows(g, c.coef + i * d.NT, 1, c.er + X * d.S + begin, SS, d.NT, end - begin, gain + begin);
    }
    for (int64_t r = g.rank(); r < d.NT * d.S; r += g.size()) {
      const int64_t A = r / d.S, X = r % d.S;
      const int64_t begin = d.pair_begin(w, X), end = d.pair_end(w, X);
      add_rows(g, c.coef + A, d.NT, c.acc + X * d.S + begin, SS, spans, end - begin, c.counts + r * d.S + begin);
      for (int64_t i = 0; i < spans; ++i) {
        const int64_t j = i + w - 1;
        if (c.falls[i] > 0 && value_of(c.mu[d.cell(i, j) * d.S + A]) > 0 && falls_back(c, i, j, A)) {
          const Num shift = num_log(c.mu[d.cell(i, j) * d.S + A]) - c.beta[d.cell(i, j) * d.S + A];
          for_each_split_term(x, c, i, j, A, [&](int64_t, int64_t X2, int64_t Y, Num v) {
            if (X2 == X) c.parts[d.rule(A, X, Y)] += num_exp(v + shift);
          });
        }
      }
    }
    g.sync();
    // Each child span of a narrower width gathers from its parents (a, a + w - 1) and (b - w + 1, b).
    for (int64_t cw = 1; cw < w; ++cw) {
      const int64_t labels = d.end_label(cw) - d.first_label(cw), items = (L - cw + 1) * labels;
      for (int64_t item = g.rank(); item < items; item += g.size()) {
        const int64_t a = item / labels, X = d.first_label(cw) + item % labels, b = a + cw - 1;
        const Num own = c.e[d.cell(a, b) * d.S + X];
        if (!(value_of(own) > 0)) continue;
        Num total = zero<Num>();
        const int64_t sibling_width = w - cw, sb = d.first_label(sibling_width), se = d.end_label(sibling_width);
        if (a + w - 1 < L) {  // left child of P = (a, a + w - 1), split k = b, sibling (b + 1, a + w - 1)
          const int64_t pj = a + w - 1;
          const auto scale = c.split_scale[a * N + (b - a)];
          const Num* sibling = c.e + d.cell(b + 1, pj) * d.S;
          if (scale > 0) {
            total += own * scale * dot(c.gain + (a * d.S + X) * d.S + sb, sibling + sb, se - sb);
          }
          if (c.falls[a] > 0) total += fallback_child_mass(x, c, a, pj, b, X, true);
        }
        if (b - w + 1 >= 0) {  // right child of P = (b - w + 1, b), split k = a - 1, sibling (b - w + 1, a - 1)
          const int64_t pi = b - w + 1;
          const auto scale = c.split_scale[pi * N + (a - 1 - pi)];
          const Num* sibling = c.e + d.cell(pi, a - 1) * d.S;
          if (scale > 0) {
            const Num* gain = c.gain + pi * SS + X;
            Num sum = zero<Num>();
            for (int64_t Y = sb; Y < se; ++Y) sum += gain[Y * d.S] * sibling[Y];
            total += own * scale * sum;
          }
          if (c.falls[pi] > 0) total += fallback_child_mass(x, c, pi, b, a - 1, X, false);
        }
        c.mu[d.cell(a, b) * d.S + X] += total;
      }
    }
    g.sync();
  }
  // terms and rules
  for (int64_t q = g.rank(); q < L * d.T; q += g.size()) {
    const int64_t i = q / d.T, t = q % d.T;
    c.parts[d.term(i, t)] = c.mu[d.cell(i, i) * d.S + d.NT + t];
  }
  for (int64_t q = g.rank(); q < d.NT * SS; q += g.size()) c.parts[d.rule(0, 0, 0) + q] += c.er[q] * c.counts[q];
  g.sync();
}

// ---- One op on sentence b: the whole body of a CPU task or of a CUDA block; values with one entry per sentence
// are written by rank 0.

template <typename T, typename Teams>
LS_HOST_DEVICE void log_partition_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                                     T* workspace, T* log_z) {
  const Sentence<T> x = sentence_at(p, shape, b, static_cast<const T*>(nullptr));
  const Charts<double> c = charts_of<double>(workspace, Dims(shape));
  inside(g, x, c);
  if (g.rank() == 0) log_z[b] = static_cast<T>(c.log_z[0]);
}

/// log Z and the marginals of sentence b in c.parts (zeros when log Z is -inf).
template <typename Num, typename T, typename Teams>
LS_HOST_DEVICE void marginals_of(const Teams& g, const Sentence<T>& x, const Charts<Num>& c) {
  inside(g, x, c);
  if (value_of(c.log_z[0]) == neg_inf<T>()) {  // no tree: the binding raises an error; leave zeros
    tree::group_fill(g, c.parts, c.d.parts(), zero<Num>());
    g.sync();
    return;
  }
  outside(g, x, c);
}

template <typename T, typename Teams>
LS_HOST_DEVICE void marginals_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                                 T* workspace, T* log_z, T* marginals) {
  const Sentence<T> x = sentence_at(p, shape, b, static_cast<const T*>(nullptr));
  const Charts<double> c = charts_of<double>(workspace, Dims(shape));
  marginals_of(g, x, c);
  const int64_t D = part_count(shape);
  for (int64_t q = g.rank(); q < D; q += g.size()) marginals[b * D + q] = static_cast<T>(c.parts[q]);
  if (g.rank() == 0) log_z[b] = static_cast<T>(c.log_z[0]);
}

template <typename T, typename Teams>
LS_HOST_DEVICE void marginals_backward_op(const Teams& g, const TreePotentials<T>& p, const T* grad,
                                          const TreeShape& shape, int64_t b, T* workspace, T* log_z, T* out) {
  const Sentence<T> x = sentence_at(p, shape, b, grad);
  const Charts<Dual<double>> c = charts_of<Dual<double>>(workspace, Dims(shape));
  marginals_of(g, x, c);
  const int64_t D = part_count(shape);
  for (int64_t q = g.rank(); q < D; q += g.size()) out[b * D + q] = static_cast<T>(c.parts[q].d);
  if (g.rank() == 0) log_z[b] = static_cast<T>(c.log_z[0].v);
}

template <typename T, typename Teams>
LS_HOST_DEVICE void entropy_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                               T* workspace, T* log_z, T* entropy) {
  const Sentence<T> x = sentence_at(p, shape, b, static_cast<const T*>(nullptr));
  const Charts<double> c = charts_of<double>(workspace, Dims(shape));
  marginals_of(g, x, c);
  if (g.rank() != 0) return;
  const double z = c.log_z[0];
  double expected = 0;
  for (int64_t q = 0; q < c.d.parts(); ++q) {
    if (c.parts[q] > 0) expected += c.parts[q] * static_cast<double>(x.scores[q]);
  }
  log_z[b] = static_cast<T>(z);
  entropy[b] = z == neg_inf<double>() ? T(0) : static_cast<T>(z - expected);
}

/// Expands a tree breadth-first from the root label into rows (start, end, label) of `rows` [2N - 1][3] (label:
/// the nonterminal, or the preterminal t of a word), calling split(t, i, j, A) -> the index (k - i) S^2 + X S + Y
/// for row t's span (i, j) with nonterminal A; counts the parts into `parts` (zeroed by the caller) when not null;
/// -1 rows past 2L - 1.
template <typename Split, typename T>
LS_HOST_DEVICE void expand_tree(const Dims& d, int64_t L, int64_t root, int32_t* rows, T* parts, Split split) {
  int64_t count = 0;
  const auto append = [&](int64_t i, int64_t j, int64_t label) {
    rows[3 * count] = static_cast<int32_t>(i);
    rows[3 * count + 1] = static_cast<int32_t>(j);
    rows[3 * count + 2] = static_cast<int32_t>(i == j ? label - d.NT : label);
    if (parts && i == j) parts[d.term(i, label - d.NT)] += 1;
    ++count;
  };
  append(0, L - 1, root);
  if (parts) parts[d.root(root)] += 1;
  for (int64_t t = 0; t < count; ++t) {
    const int64_t i = rows[3 * t], j = rows[3 * t + 1], A = rows[3 * t + 2];
    if (i == j) continue;
    const int64_t q = split(t, i, j, A), SS = d.S * d.S;
    const int64_t k = i + q / SS, X = q / d.S % d.S, Y = q % d.S;
    if (parts) parts[d.rule(A, X, Y)] += 1;
    append(i, k, X);
    append(k + 1, j, Y);
  }
  for (int64_t k = 3 * count; k < 3 * (2 * d.N - 1); ++k) rows[k] = -1;
}

template <typename T, typename Teams>
LS_HOST_DEVICE void argmax_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                              T* workspace, int32_t* index_workspace, int32_t* decoded, T* score, T* parts) {
  const Dims d(shape);
  const Sentence<T> x = sentence_at(p, shape, b, static_cast<const T*>(nullptr));
  const Charts<T> c = charts_of<T>(workspace, d);
  const int64_t L = x.length, D = d.parts(), SS = d.S * d.S;
  int32_t* pointer = index_workspace;  // [N][N][NT]
  for (int64_t i = g.rank(); i < L; i += g.size()) {
    T* best = c.beta + d.cell(i, i) * d.S;
    for (int64_t X = 0; X < d.NT; ++X) best[X] = neg_inf<T>();
    for (int64_t t = 0; t < d.T; ++t) best[d.NT + t] = x.scores[d.term(i, t)];
  }
  g.sync();
  for (int64_t w = 2; w <= L; ++w) {
    for (int64_t item = g.rank(); item < (L - w + 1) * d.S; item += g.size()) {
      const int64_t i = item / d.S, A = item % d.S, j = i + w - 1;
      T top = neg_inf<T>();
      int32_t at = -1;
      if (A < d.NT) {
        for_each_split_term(x, c, i, j, A, [&](int64_t k, int64_t X, int64_t Y, T v) {
          if (v > top) {
            top = v;
            at = static_cast<int32_t>((k - i) * SS + X * d.S + Y);
          }
        });
        pointer[d.cell(i, j) * d.NT + A] = at;
      }
      c.beta[d.cell(i, j) * d.S + A] = top;
    }
    g.sync();
  }
  T* own_parts = parts + b * D;
  tree::group_fill(g, own_parts, D, T(0));
  g.sync();
  if (g.rank() != 0) return;
  T top = neg_inf<T>();
  int64_t root = -1;
  for (int64_t A = 0; A < d.NT; ++A) {
    const T v = x.scores[d.root(A)] + c.beta[d.cell(0, L - 1) * d.S + A];
    if (v > top) {
      top = v;
      root = A;
    }
  }
  score[b] = top;
  int32_t* rows = decoded + b * cky_decoded_size(d.N);
  if (root < 0) {  // no tree: the binding raises an error; leave well-formed outputs
    for (int64_t k = 0; k < cky_decoded_size(d.N); ++k) rows[k] = -1;
    return;
  }
  expand_tree(d, L, root, rows, own_parts,
              [&](int64_t, int64_t i, int64_t j, int64_t A) -> int64_t { return pointer[d.cell(i, j) * d.NT + A]; });
}

template <typename T, typename Teams>
LS_HOST_DEVICE void sample_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                              int64_t samples, uint64_t seed, T* workspace, T* log_z, int32_t* decoded, T* parts) {
  const Dims d(shape);
  const int64_t B = shape.batch, D = d.parts(), N = d.N, SS = d.S * d.S;
  const Sentence<T> x = sentence_at(p, shape, b, static_cast<const T*>(nullptr));
  const Charts<double> c = charts_of<double>(workspace, d);
  inside(g, x, c);
  const double z = c.log_z[0];
  if (g.rank() == 0) log_z[b] = static_cast<T>(z);
  for (int64_t s = 0; s < samples; ++s) tree::group_fill(g, parts + (s * B + b) * D, D, T(0));
  g.sync();
  const int64_t L = x.length;
  for (int64_t s = g.rank(); s < samples; s += g.size()) {
    const int64_t row = s * B + b;
    int32_t* rows = decoded + row * cky_decoded_size(N);
    if (z == neg_inf<double>()) {  // no tree: the binding raises an error; leave well-formed outputs
      for (int64_t k = 0; k < cky_decoded_size(N); ++k) rows[k] = -1;
      continue;
    }
    const uint64_t first = static_cast<uint64_t>(row) * static_cast<uint64_t>(2 * N);
    const double* root_inside = c.beta + d.cell(0, L - 1) * d.S;
    const int32_t root = draw<double>(d.NT, philox_uniform(seed, kCfgSampleStream, first + 2 * N - 1), [&](int64_t A) {
      return x.scores[d.root(A)] + root_inside[A] - z;
    });
    expand_tree(d, L, root < 0 ? 0 : root, rows, parts + row * D, [&](int64_t t, int64_t i, int64_t j, int64_t A) -> int64_t {
      const double norm = c.beta[d.cell(i, j) * d.S + A];
      const int32_t q = draw<double>((j - i) * SS, philox_uniform(seed, kCfgSampleStream, first + t), [&](int64_t q) {
        const int64_t k = i + q / SS, X = q / d.S % d.S, Y = q % d.S;
        return x.scores[d.rule(A, X, Y)] + c.beta[d.cell(i, k) * d.S + X] + c.beta[d.cell(k + 1, j) * d.S + Y] - norm;
      });
      return q < 0 ? 0 : q;
    });
  }
}

// ---- The k best trees (hypergraph_kbest.h). Items: each word's preterminal (i, i, NT + t), one terminal
// hyperedge of weight terms[i, t]; each span's nonterminal (i, j, A), width >= 2, one hyperedge per (k, X, Y) with
// tails (i, k, X) and (k + 1, j, Y) and weight rules[A, X, Y]; the root, one unary hyperedge per A with tail
// (0, n - 1, A) and weight roots[A]. A span's hyperedges are numbered in argmax_op's scan order (k, then X, then Y,
// over the label pairs the children's widths allow), and a derivation scores (left + right) + rule as
// for_each_split_term adds them, so rank 0 is argmax()'s tree with argmax()'s score to the bit. Ties: by score,
// then top-down at each item by the hyperedge (the root label; the split point, then the left child's label, then
// the right child's), then the left sub-derivation, then the right one (each ranked by the same rule).
// Workspace: (N^2 S + 1) k list scores and `heaps` candidate heaps of topk_max_edges + k of T; the pointers of
// both (3 int32 each), then of int32 the current width's hyperedge table (3 per hyperedge: rule X S + Y and the
// children's item offsets, so that no hyperedge is decoded by divisions), later one row of 2N - 1 ranks per listed
// tree. A group uses min(size, heaps) heaps.

/// Hyperedges into a span of width w >= 2: T^2 (two words), else 2 T NT (a word and a span at either end) plus
/// NT^2 per inner split point.
LS_HOST_DEVICE inline int64_t topk_span_edges(const Dims& d, int64_t w) {
  return w == 2 ? d.T * d.T : 2 * d.T * d.NT + (w - 3) * d.NT * d.NT;
}
/// The most hyperedges of an item (a span of the sentence's full width, or the root's NT).
LS_HOST_DEVICE inline int64_t topk_max_edges(const TreeShape& shape) {
  const Dims d(shape);
  int64_t most = d.NT;
  for (int64_t w = 2; w <= d.N; ++w) most = topk_span_edges(d, w) > most ? topk_span_edges(d, w) : most;
  return most;
}
LS_HOST_DEVICE inline int64_t topk_items(const TreeShape& shape) {
  const Dims d(shape);
  return d.N * d.N * d.S + 1;
}
/// Heaps for a group of `size` threads: one per thread, at most one per item of a width.
LS_HOST_DEVICE inline int64_t topk_heaps(const TreeShape& shape, int64_t size) {
  const Dims d(shape);
  const int64_t items = d.N * d.T > (d.N - 1) * d.NT ? d.N * d.T : (d.N - 1) * d.NT;
  return size < items ? size : items;
}
LS_HOST_DEVICE inline int64_t topk_workspace_size(const TreeShape& shape, int64_t k, int64_t heaps) {
  return hypergraph::lists_workspace_size(topk_items(shape), heaps, k, topk_max_edges(shape));
}
LS_HOST_DEVICE inline int64_t topk_index_workspace_size(const TreeShape& shape, int64_t k, int64_t heaps) {
  const int64_t ranks = k * (2 * shape.length - 1), table = 3 * topk_max_edges(shape);
  return hypergraph::lists_index_workspace_size(topk_items(shape), heaps, k, topk_max_edges(shape)) +
         (ranks > table ? ranks : table);
}

/// Hyperedge e of span (i, j) (width w >= 2) as the index (k - i) S^2 + X S + Y of argmax_op's back pointers.
LS_HOST_DEVICE inline int64_t topk_split_of(const Dims& d, int64_t w, int64_t e) {
  const int64_t SS = d.S * d.S, NN = d.NT * d.NT;
  if (w == 2) return (d.NT + e / d.T) * d.S + d.NT + e % d.T;
  if (e < d.T * d.NT) return (d.NT + e / d.NT) * d.S + e % d.NT;  // split 0: word, then span
  e -= d.T * d.NT;
  if (e < (w - 3) * NN) return (1 + e / NN) * SS + e % NN / d.NT * d.S + e % d.NT;
  e -= (w - 3) * NN;  // split w - 2: span, then word
  return (w - 2) * SS + e / d.T * d.S + d.NT + e % d.T;
}

/// The k-th largest score of the hyperedges' first derivations (-inf when fewer than k are finite), kept in the
/// min-heap `top` [k]. A hyperedge whose first derivation scores below it has no derivation among the item's k best
/// (the k hyperedges at or above it have one each, and rounding is monotone), so dropping it before the candidate
/// heap is built keeps the lists exact and cuts the heap from all of a span's hyperedges to about k.
template <typename T, typename Edges>
LS_HOST_DEVICE T kth_first_score(int64_t k, int64_t count, Edges edges, T* top) {
  int64_t size = 0;
  for (int64_t e = 0; e < count; ++e) {
    const T s = hypergraph::derivation_score(edges(e), 0, 0, k);
    if (s == neg_inf<T>() || (size == k && !(s > top[0]))) continue;
    int64_t at;
    if (size < k) {  // sift up from the end
      for (at = size++; at > 0 && top[(at - 1) / 2] > s; at = (at - 1) / 2) top[at] = top[(at - 1) / 2];
    } else {  // replace the smallest, sift down
      for (at = 0;;) {
        int64_t child = 2 * at + 1;
        if (child >= k) break;
        if (child + 1 < k && top[child + 1] < top[child]) ++child;
        if (!(top[child] < s)) break;
        top[at] = top[child];
        at = child;
      }
    }
    top[at] = s;
  }
  return size < k ? neg_inf<T>() : top[0];
}

/// The k best trees of sentence b: decoded [k, B, (2N - 1) 3], scores [k, B], parts [k, B, D]; `heaps` as in
/// topk_workspace_size.
template <typename T, typename Teams>
LS_HOST_DEVICE void topk_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b, int64_t k,
                            int64_t heaps, T* workspace, int32_t* index_workspace, int32_t* decoded, T* scores,
                            T* parts) {
  using hypergraph::Hyperedge;
  using hypergraph::no_tail;
  const Dims d(shape);
  const int64_t N = d.N, B = shape.batch, D = d.parts(), SS = d.S * d.S;
  const Sentence<T> x = sentence_at(p, shape, b, static_cast<const T*>(nullptr));
  const int64_t L = x.length, root_item = N * N * d.S;
  const auto item = [&d](int64_t i, int64_t j, int64_t X) { return d.cell(i, j) * d.S + X; };
  const hypergraph::Lists<T> lists =
      hypergraph::lists_of(workspace, index_workspace, topk_items(shape), heaps, k, topk_max_edges(shape));
  const int64_t lanes = g.size() < heaps ? g.size() : heaps;
  int32_t* table = lists.scratch;  // [edges][3]: X S + Y, left item - item(i, i, 0), right item - item(i, j, 0)
  for (int64_t w = 1; w <= L; ++w) {
    const int64_t labels = w == 1 ? d.T : d.NT, count = (L - w + 1) * labels;
    if (w >= 2) {
      for (int64_t e = g.rank(); e < topk_span_edges(d, w); e += g.size()) {
        const int64_t q = topk_split_of(d, w, e), split = q / SS, X = q / d.S % d.S, Y = q % d.S;
        table[3 * e] = static_cast<int32_t>(X * d.S + Y);
        table[3 * e + 1] = static_cast<int32_t>(split * d.S + X);
        table[3 * e + 2] = static_cast<int32_t>((split + 1) * N * d.S + Y);
      }
      g.sync();
    }
    for (int64_t at = g.rank(); g.rank() < lanes && at < count; at += lanes) {
      const int64_t i = at / labels, j = i + w - 1;
      if (w == 1) {
        const T term = x.scores[d.term(i, at % labels)];
        lists.fill(item(i, i, d.NT + at % labels), g.rank(), 1,
                   [term](int64_t) { return Hyperedge<T>{term, no_tail<T>(), no_tail<T>(), true}; });
        continue;
      }
      const T* rules = x.scores + d.rule(at % labels, 0, 0);
      const int64_t left = item(i, i, 0), right = item(i, j, 0), edges = topk_span_edges(d, w);
      const auto edge = [&](int64_t e) {
        const int32_t* entry = table + 3 * e;
        return Hyperedge<T>{rules[entry[0]], lists.tail(left + entry[1]), lists.tail(right + entry[2]), true};
      };
      const T floor = k > 1 && k < edges
                          ? kth_first_score(k, edges, edge, lists.heap_scores + g.rank() * lists.capacity)
                          : neg_inf<T>();
      lists.fill(item(i, j, at % labels), g.rank(), edges, [&](int64_t e) {
        Hyperedge<T> h = edge(e);
        h.present = floor == neg_inf<T>() || hypergraph::derivation_score(h, 0, 0, k) >= floor;
        return h;
      });
    }
    g.sync();
  }
  if (g.rank() == 0) {
    lists.fill(root_item, 0, d.NT, [&](int64_t A) {
      return Hyperedge<T>{x.scores[d.root(A)], lists.tail(item(0, L - 1, A)), no_tail<T>(), true};
    });
  }
  for (int64_t r = 0; r < k; ++r) tree::group_fill(g, parts + (r * B + b) * D, D, T(0));
  g.sync();
  const T* best = lists.list(root_item);
  for (int64_t r = g.rank(); r < k; r += g.size()) {
    int32_t* rows = decoded + (r * B + b) * cky_decoded_size(N);
    scores[r * B + b] = best[r];
    if (best[r] == neg_inf<T>()) {
      for (int64_t e = 0; e < cky_decoded_size(N); ++e) rows[e] = -1;
      continue;
    }
    // the rank in its item of each row's derivation; a split appends its two children as the next two rows
    int32_t* row_rank = lists.scratch + r * (2 * N - 1);
    const int32_t* root = lists.pointer(root_item, r);
    row_rank[0] = root[1];
    int64_t next_row = 1;
    expand_tree(d, L, root[0], rows, parts + (r * B + b) * D, [&](int64_t t, int64_t i, int64_t j, int64_t A) -> int64_t {
      const int32_t* pointer = lists.pointer(item(i, j, A), row_rank[t]);
      row_rank[next_row++] = pointer[1];
      row_rank[next_row++] = pointer[2];
      return topk_split_of(d, j - i + 1, pointer[0]);
    });
  }
}

}  // namespace cfg
}  // namespace ls
