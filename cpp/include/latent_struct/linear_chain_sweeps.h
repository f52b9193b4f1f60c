// The per-sequence sweeps of the linear-chain CRF, written once for both backends. Each takes a Group:
// the threads that work on one sequence together (CPU: one thread; CUDA: a warp or a block), with
// rank(), size() and sync(). A thread owns the labels c = rank, rank + size, ...; sync() makes every
// thread's writes to the workspace visible to the group. The sweeps run in the same order on both
// backends, so CPU and CUDA differ only by their exp/log.
//
// Notation (see linear_chain.h): alpha_n(c) = log sum over y_0..y_{n-1} of exp(score up to y_n = c),
// beta_n(c) = log sum over y_{n+1}..y_{L-1} of exp(score after y_n = c), log Z = logsumexp_c alpha_{L-1}(c).
#pragma once
#include <math.h>

#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/linear_chain.h"
#include "latent_struct/log_math.h"
#include "latent_struct/philox.h"

namespace ls {
namespace chain {

/// One sequence's potentials (or gradients laid out like them).
template <typename T>
struct Chain {
  int64_t labels = 0;  // C
  int64_t length = 0;  // L
  const T* edges = nullptr;       // [N-1][C][C] as (n, next, prev)
  const T* unary = nullptr;       // [N][C]
  const T* transition = nullptr;  // [C][C] as (prev, next)

  /// psi_n(i, j): label i at n, label j at n + 1.
  LS_HOST_DEVICE T psi(int64_t n, int64_t i, int64_t j) const {
    return edges ? edges[(n * labels + j) * labels + i] : transition[i * labels + j];
  }
  /// phi_n(c).
  LS_HOST_DEVICE T phi(int64_t n, int64_t c) const { return unary ? unary[n * labels + c] : T(0); }
  /// psi_n(., j) over the previous label i, contiguous: edge potentials only (nullptr for a transition matrix,
  /// whose column is strided).
  LS_HOST_DEVICE const T* psi_column(int64_t n, int64_t j) const {
    return edges ? edges + (n * labels + j) * labels : nullptr;
  }
};

/// Sequence b of a batch.
template <typename T>
LS_HOST_DEVICE Chain<T> chain_at(const ChainPotentials<T>& p, const ChainShape& shape, int64_t b) {
  const int64_t C = shape.labels, N = shape.length;
  Chain<T> x;
  x.labels = C;
  x.length = p.lengths ? p.lengths[b] : N;
  if (p.edges) x.edges = p.edges + b * (N - 1) * C * C;
  if (p.unary) x.unary = p.unary + b * N * C;
  if (p.transition) x.transition = p.transition + (p.shared_transition ? 0 : b * C * C);
  return x;
}

/// Outputs of one sequence.
template <typename T>
LS_HOST_DEVICE ChainParts<T> parts_at(const ChainParts<T>& out, const ChainShape& shape, int64_t b) {
  const int64_t C = shape.labels, N = shape.length;
  ChainParts<T> x;
  if (out.edges) x.edges = out.edges + b * (N - 1) * C * C;
  if (out.unary) x.unary = out.unary + b * N * C;
  if (out.transition) x.transition = out.transition + b * C * C;
  return x;
}

/// Workspace of one sequence, in elements of T: two [L][C] tables, 4C vectors, and the scaled forward's scratch.
LS_HOST_DEVICE inline int64_t workspace_size(const ChainShape& shape) {
  return 2 * shape.length * shape.labels + 4 * shape.labels + shape.labels * shape.labels + 2 * shape.labels;
}

/// The scaled forward's scratch in a sequence's workspace: C² + 2C elements after the tables and vectors.
template <typename T>
LS_HOST_DEVICE T* forward_scratch(const ChainShape& shape, T* workspace) {
  return workspace + 2 * shape.length * shape.labels + 4 * shape.labels;
}

/// Below this, a scaled forward sum may have lost digits to underflow (its terms are products of factors <= 1, each
/// wrong by at most the least subnormal): 2^-100 for float, 2^-900 for double.
template <typename T>
LS_HOST_DEVICE T scaled_sum_floor() {
  return sizeof(T) == 4 ? T(7.888609052210118e-31) : T(1.4996968138956309e-271);
}

/// The forward message into label j at n + 1: logsumexp_i alpha_n(i) + psi_n(i, j).
template <typename T>
LS_HOST_DEVICE T forward_message(const Chain<T>& x, const T* alpha_n, int64_t n, int64_t j) {
  const int64_t C = x.labels;
  T top = neg_inf<T>();
  for (int64_t i = 0; i < C; ++i) {
    const T v = alpha_n[i] + x.psi(n, i, j);
    top = v > top ? v : top;
  }
  if (top == neg_inf<T>()) return top;
  T sum = 0;
  for (int64_t i = 0; i < C; ++i) sum += exp_of(alpha_n[i] + x.psi(n, i, j) - top);
  return top + log_of(sum);
}

/// The forward messages of a factored chain (one transition matrix t for every position) in probability space
/// (Rabiner's scaling, "A tutorial on hidden Markov models", 1989, eq. 91-92): with E(i, j) = exp(t(i, j) - t_max)
/// computed once and p(i) = exp(alpha_n(i) - m), m = max alpha_n,
///   alpha_{n+1}(j) = phi_{n+1}(j) + m + t_max + log sum_i p(i) E(i, j):
/// C exps and C logs per position instead of C² exps. A sum below scaled_sum_floor() (terms lost to underflow,
/// as with transitions spanning more than ~87 (float) in magnitude) is recomputed exactly in log space.
/// `scratch`: C² + 2C elements.
template <typename T, typename Group>
LS_HOST_DEVICE void scaled_forward(const Group& g, const Chain<T>& x, T* alpha, T* scratch) {
  const int64_t C = x.labels;
  T* e = scratch;
  T* p = scratch + C * C;
  T* s = p + C;
  const T t_max = row_max(g, x.transition, C * C);
  for (int64_t k = g.rank(); k < C * C; k += g.size()) e[k] = t_max == neg_inf<T>() ? T(0) : exp_of(x.transition[k] - t_max);
  g.sync();
  for (int64_t n = 0; n + 1 < x.length; ++n) {
    const T* here = alpha + n * C;
    T* next = alpha + (n + 1) * C;
    const T m = row_max(g, here, C);
    if (m == neg_inf<T>() || t_max == neg_inf<T>()) {
      for (int64_t j = g.rank(); j < C; j += g.size()) next[j] = neg_inf<T>();
      g.sync();
      continue;
    }
    for (int64_t i = g.rank(); i < C; i += g.size()) p[i] = exp_of(here[i] - m);
    for (int64_t j = g.rank(); j < C; j += g.size()) s[j] = 0;
    g.sync();
    for (int64_t i = 0; i < C; ++i) {
      const T weight = p[i];
      if (weight == 0) continue;
      const T* row = e + i * C;
      for (int64_t j = g.rank(); j < C; j += g.size()) s[j] += weight * row[j];
    }
    for (int64_t j = g.rank(); j < C; j += g.size()) {
      next[j] = x.phi(n + 1, j) + (s[j] >= scaled_sum_floor<T>() ? m + t_max + log_of(s[j]) : forward_message(x, here, n, j));
    }
    g.sync();
  }
}

/// alpha [L][C]; returns log Z (the same value on every thread). `scratch` (C² + 2C elements, forward_scratch) is
/// used by factored chains.
template <typename T, typename Group>
LS_HOST_DEVICE T forward(const Group& g, const Chain<T>& x, T* alpha, T* scratch) {
  const int64_t C = x.labels;
  for (int64_t c = g.rank(); c < C; c += g.size()) alpha[c] = x.phi(0, c);
  g.sync();
  if (!x.edges) {
    scaled_forward(g, x, alpha, scratch);
  } else {
    for (int64_t n = 0; n + 1 < x.length; ++n) {
      T* next = alpha + (n + 1) * C;
      rows_log_sum_exp_of_sums(g, alpha + n * C, x.psi_column(n, 0), C, C, next);
      for (int64_t j = g.rank(); j < C; j += g.size()) next[j] += x.phi(n + 1, j);
      g.sync();
    }
  }
  return row_log_sum_exp(g, alpha + (x.length - 1) * C, C);
}

/// The forward pass of the edge marginals (edge potentials): alpha [L][C] as forward(), and, for every position
/// n < L - 1 and label j, the backward conditional's unnormalized weights
///   f_n(j, i) = exp(alpha_n(i) + psi_n(i, j) - top_n(j)),  top_n(j) = max_i alpha_n(i) + psi_n(i, j) (so f <= 1),
/// written over the edge marginals' own row out[(n C + j) C + i], and their sum total[n C + j] (>= 1, or 0 when
/// label j at n + 1 is unreachable). Then P(y_n = i | y_{n+1} = j) = f_n(j, i) / total_n(j) and
/// alpha_{n+1}(j) = phi_{n+1}(j) + top_n(j) + log total_n(j): one exp per edge, reused by the backward pass.
/// `top` holds C elements.
template <typename T, typename Group>
LS_HOST_DEVICE T forward_conditionals(const Group& g, const Chain<T>& x, T* alpha, T* total, T* top, T* out) {
  const int64_t C = x.labels;
  for (int64_t c = g.rank(); c < C; c += g.size()) alpha[c] = x.phi(0, c);
  g.sync();
  for (int64_t n = 0; n + 1 < x.length; ++n) {
    rows_exp_of_sums(g, alpha + n * C, x.psi_column(n, 0), C, C, out + n * C * C, top, total + n * C);
    for (int64_t j = g.rank(); j < C; j += g.size()) {
      const T sum = total[n * C + j];
      alpha[(n + 1) * C + j] = sum > 0 ? x.phi(n + 1, j) + top[j] + log_of(sum) : neg_inf<T>();
    }
    g.sync();
  }
  return row_log_sum_exp(g, alpha + (x.length - 1) * C, C);
}

/// The backward pass of the edge marginals after forward_conditionals: with the node marginals
/// mu_{L-1}(c) = exp(alpha_{L-1}(c) - log Z), walk back mu_n(i, j) = mu_{n+1}(j) P(y_n = i | y_{n+1} = j) (the
/// chain read right to left is a Markov chain with these transitions) and mu_n(i) = sum_j mu_n(i, j): no exp or
/// log per edge, only a scaling of each stored row. Node marginals go to out_unary when it is given. `vectors`
/// holds 3C elements.
template <typename T, typename Group>
LS_HOST_DEVICE void backward_conditionals(const Group& g, const Chain<T>& x, const T* alpha, const T* total, T log_z,
                                          T* vectors, T* out_edges, T* out_unary) {
  const int64_t C = x.labels, L = x.length;
  T* node[2] = {vectors, vectors + C};
  T* factor = vectors + 2 * C;
  for (int64_t c = g.rank(); c < C; c += g.size()) {
    const T a = alpha[(L - 1) * C + c];
    const T mu = a == neg_inf<T>() ? T(0) : exp_of(a - log_z);
    node[(L - 1) & 1][c] = mu;
    if (out_unary) out_unary[(L - 1) * C + c] = mu;
  }
  g.sync();
  for (int64_t n = L - 2; n >= 0; --n) {
    const T* next = node[(n + 1) & 1];
    T* here = node[n & 1];
    for (int64_t j = g.rank(); j < C; j += g.size()) {
      const T t = total[n * C + j];
      factor[j] = t > 0 ? next[j] / t : T(0);
    }
    rows_scale_sum_columns(g, out_edges + n * C * C, factor, C, C, here);
    if (out_unary) {
      for (int64_t i = g.rank(); i < C; i += g.size()) out_unary[n * C + i] = here[i];
    }
    g.sync();
  }
}

/// A conditional expectation carried forward over the backward conditionals
/// w_n(i | j) = P(y_n = i | y_{n+1} = j) = exp(alpha_n(i) + psi_n(i, j)) / sum_i' (same):
///   kEntropy:  value_n(j) = H(y_0..y_{n-1} | y_n = j),
///              value_{n+1}(j) = sum_i w (value_n(i) - log w)                      (entropy semiring);
///   otherwise: value_n(j) = E[<g, parts up to y_n> | y_n = j],
///              value_{n+1}(j) = g.phi_{n+1}(j) + sum_i w (value_n(i) + g.psi_n(i, j)) (expectation semiring).
/// `value` is [L][C]; unreachable labels get 0 (they have probability 0).
template <bool kEntropy, typename T, typename Group>
LS_HOST_DEVICE void forward_expectation(const Group& g, const Chain<T>& x, const Chain<T>& grad, const T* alpha,
                                        T* value) {
  const int64_t C = x.labels;
  for (int64_t c = g.rank(); c < C; c += g.size()) value[c] = kEntropy ? T(0) : grad.phi(0, c);
  g.sync();
  for (int64_t n = 0; n + 1 < x.length; ++n) {
    const T* alpha_n = alpha + n * C;
    const T* value_n = value + n * C;
    for (int64_t j = g.rank(); j < C; j += g.size()) {
      T top = neg_inf<T>();
      for (int64_t i = 0; i < C; ++i) {
        const T v = alpha_n[i] + x.psi(n, i, j);
        top = v > top ? v : top;
      }
      T total = 0, weight = 0;
      if (top != neg_inf<T>()) {
        for (int64_t i = 0; i < C; ++i) {
          const T log_w = alpha_n[i] + x.psi(n, i, j) - top;
          if (log_w == neg_inf<T>()) continue;
          const T w = exp_of(log_w);
          weight += w;
          total += w * (value_n[i] + (kEntropy ? -log_w : grad.psi(n, i, j)));
        }
      }
      // With w normalized by `weight`: sum_i (w/W)(v_i - log(w/W)) = total/W + log W for the entropy.
      T next = weight > 0 ? total / weight + (kEntropy ? log_of(weight) : T(0)) : T(0);
      if (!kEntropy) next += grad.phi(n + 1, j);
      value[(n + 1) * C + j] = next;
    }
    g.sync();
  }
}

/// sum_c p(y_{L-1} = c) f(c) with p = exp(alpha_{L-1} - log Z), skipping unreachable labels.
template <typename T, typename F>
LS_HOST_DEVICE T expect_last(const Chain<T>& x, const T* alpha, T log_z, F f) {
  const int64_t C = x.labels;
  const T* last = alpha + (x.length - 1) * C;
  T sum = 0;
  for (int64_t c = 0; c < C; ++c) {
    if (last[c] == neg_inf<T>()) continue;
    sum += exp_of(last[c] - log_z) * f(c, last[c]);
  }
  return sum;
}

/// Writes zeros over the parts of positions past the length and over this thread's transition rows.
template <typename T, typename Group>
LS_HOST_DEVICE void clear_outputs(const Group& g, const Chain<T>& x, int64_t N, const ChainParts<T>& out) {
  const int64_t C = x.labels, L = x.length;
  if (out.edges) {
    for (int64_t k = g.rank(); k < (N - L) * C * C; k += g.size()) out.edges[(L - 1) * C * C + k] = 0;
  }
  if (out.unary) {
    for (int64_t k = g.rank(); k < (N - L) * C; k += g.size()) out.unary[L * C + k] = 0;
  }
  if (out.transition) {
    for (int64_t i = g.rank(); i < C; i += g.size()) {
      for (int64_t j = 0; j < C; ++j) out.transition[i * C + j] = 0;
    }
  }
}

/// The backward sweep, writing marginals (expected_gain == nullptr) or the Hessian-vector product.
/// beta_n(i) = logsumexp_j psi_n(i, j) + phi_{n+1}(j) + beta_{n+1}(j); edge marginal
/// mu_n(i, j) = exp(alpha_n(i) + psi_n(i, j) + phi_{n+1}(j) + beta_{n+1}(j) - log Z); node marginal
/// mu_n(c) = exp(alpha_n(c) + beta_n(c) - log Z). For the product, with A = the forward expectation of g,
/// B_n(i) = E[<g, parts after y_n> | y_n = i] = sum_j P(j | i)(g.psi_n(i,j) + g.phi_{n+1}(j) + B_{n+1}(j))
/// and E[G] = sum_c p(y_{L-1} = c) A_{L-1}(c): out_edge = mu_n(i,j)(A_n(i) + g.psi + g.phi + B_{n+1}(j) - E[G]),
/// out_node = mu_n(c)(A_n(c) + B_n(c) - E[G]). `vectors` holds 4C elements (two ping-pong pairs); `rows` holds C²,
/// a row of C for each label i, where its terms t_j = psi_n(i, j) + phi_{n+1}(j) + beta_{n+1}(j) are gathered and
/// exponentiated once: e_j = exp(t_j - max t) gives beta_n(i) (their sum), P(j | i) = e_j / sum and
/// mu_n(i, j) = e_j exp(alpha_n(i) + max t - log Z) (both factors <= 1), one exp per edge.
/// Every output row i is written by the thread owning i, so the transition sums need no atomics.
template <typename T, typename Group>
LS_HOST_DEVICE void backward_sweep(const Group& g, const Chain<T>& x, const Chain<T>* grad, const T* alpha,
                                   const T* forward_gain, T log_z, T expected_gain, T* vectors, T* rows, int64_t N,
                                   const ChainParts<T>& out) {
  const int64_t C = x.labels, L = x.length;
  clear_outputs(g, x, N, out);
  T* beta[2] = {vectors, vectors + C};
  T* gain[2] = {vectors + 2 * C, vectors + 3 * C};
  for (int64_t c = g.rank(); c < C; c += g.size()) {
    beta[(L - 1) & 1][c] = 0;
    gain[(L - 1) & 1][c] = 0;
    if (out.unary) {
      const T mu = exp_of(alpha[(L - 1) * C + c] - log_z);
      out.unary[(L - 1) * C + c] = grad ? (mu > 0 ? mu * (forward_gain[(L - 1) * C + c] - expected_gain) : T(0)) : mu;
    }
  }
  g.sync();
  for (int64_t n = L - 2; n >= 0; --n) {
    const T* beta_next = beta[(n + 1) & 1];
    const T* gain_next = gain[(n + 1) & 1];
    for (int64_t i = g.rank(); i < C; i += g.size()) {
      const T a = alpha[n * C + i];
      T* e = rows + i * C;
      for (int64_t j = 0; j < C; ++j) e[j] = x.psi(n, i, j) + x.phi(n + 1, j) + beta_next[j];
      const T top = row_max(g, e, C);
      T b = top, sum = 0, scale = 0;
      if (top != neg_inf<T>()) {
        sum = row_exp_shifted_sum(g, e, top, e, C);
        b = top + log_of(sum);
        scale = a == neg_inf<T>() ? T(0) : exp_of(a + top - log_z);
      } else {
        for (int64_t j = 0; j < C; ++j) e[j] = 0;
      }
      T gain_i = 0;
      for (int64_t j = 0; j < C; ++j) {
        const T mu = e[j] * scale;
        T value = mu;
        if (grad) {
          const T tail = grad->psi(n, i, j) + grad->phi(n + 1, j) + gain_next[j];
          if (e[j] > 0) gain_i += e[j] / sum * tail;
          value = mu > 0 ? mu * (forward_gain[n * C + i] + tail - expected_gain) : T(0);
        }
        if (out.edges) out.edges[(n * C + j) * C + i] = value;
        if (out.transition) out.transition[i * C + j] += value;
      }
      beta[n & 1][i] = b;
      gain[n & 1][i] = gain_i;
      if (out.unary) {
        const T mu = exp_of(a + b - log_z);
        out.unary[n * C + i] = grad ? (mu > 0 ? mu * (forward_gain[n * C + i] + gain_i - expected_gain) : T(0)) : mu;
      }
    }
    g.sync();
  }
}

/// Viterbi: delta [L][C] and back-pointers [L][C] (first maximum on ties); the group's rank 0 backtracks,
/// writing labels [N] (-1 past the length) and the best score.
template <typename T, typename Group>
LS_HOST_DEVICE void viterbi(const Group& g, const Chain<T>& x, int64_t N, T* delta, int32_t* back, int32_t* labels,
                            T* score) {
  const int64_t C = x.labels, L = x.length;
  for (int64_t c = g.rank(); c < C; c += g.size()) delta[c] = x.phi(0, c);
  g.sync();
  for (int64_t n = 0; n + 1 < L; ++n) {
    for (int64_t j = g.rank(); j < C; j += g.size()) {
      T best = neg_inf<T>();
      int32_t best_i = 0;
      for (int64_t i = 0; i < C; ++i) {
        const T v = delta[n * C + i] + x.psi(n, i, j);
        if (v > best) {
          best = v;
          best_i = static_cast<int32_t>(i);
        }
      }
      delta[(n + 1) * C + j] = x.phi(n + 1, j) + best;
      back[(n + 1) * C + j] = best_i;
    }
    g.sync();
  }
  if (g.rank() != 0) return;
  const T* last = delta + (L - 1) * C;
  int32_t best_c = 0;
  for (int64_t c = 1; c < C; ++c) {
    if (last[c] > last[best_c]) best_c = static_cast<int32_t>(c);
  }
  *score = last[best_c];
  labels[L - 1] = best_c;
  for (int64_t n = L - 1; n > 0; --n) labels[n - 1] = back[n * C + labels[n]];
  for (int64_t n = L; n < N; ++n) labels[n] = -1;
}

/// Backward sampling of sample s of sequence b given alpha (forward filtering) and log Z: labels [N]. When a
/// draw finds no label of positive weight (log Z = -inf: no labelling has a finite score; or every weight of a
/// conditional underflows, as with float32 scores of magnitude ~2^31, where alpha's round-off exceeds exp's
/// range) the sequence has no sample: every label is -1 (the binding raises ERR_INVALID_SCORES), and no label
/// is ever used as an index before it is known to be valid. Returns whether the sample was drawn.
template <typename T>
LS_HOST_DEVICE bool sample_backward(const Chain<T>& x, const T* alpha, T log_z, int64_t N, uint64_t seed,
                                    uint64_t first_index, int32_t* labels) {
  const int64_t C = x.labels, L = x.length;
  for (int64_t n = L; n < N; ++n) labels[n] = -1;
  const T* last = alpha + (L - 1) * C;
  int32_t j = draw<T>(C, philox_uniform(seed, kChainSampleStream, first_index + L - 1),
                      [&](int64_t c) { return last[c] - log_z; });
  for (int64_t n = L - 1;; --n) {
    if (j < 0 || j >= C) {
      for (int64_t k = 0; k < L; ++k) labels[k] = -1;
      return false;
    }
    labels[n] = j;
    if (n == 0) return true;
    // log P(y_{n-1} = i | y_n = j) = alpha_{n-1}(i) + psi_{n-1}(i, j) - (alpha_n(j) - phi_n(j)).
    const T shift = alpha[n * C + j] - x.phi(n, j);
    const T* alpha_prev = alpha + (n - 1) * C;
    const int32_t next = j;
    j = draw<T>(C, philox_uniform(seed, kChainSampleStream, first_index + n - 1),
                [&](int64_t i) { return alpha_prev[i] + x.psi(n - 1, i, next) - shift; });
  }
}

/// s(y) for one sequence's labels.
template <typename T>
LS_HOST_DEVICE T score_of(const Chain<T>& x, const int32_t* labels) {
  T total = 0;
  for (int64_t n = 0; n < x.length; ++n) {
    total += x.phi(n, labels[n]);
    if (n + 1 < x.length) total += x.psi(n, labels[n], labels[n + 1]);
  }
  return total;
}

/// Part value of sequence labels y (length L): edge (n, next j, prev i), node (n, c), transition count (i, j).
LS_HOST_DEVICE inline int edge_part(const int32_t* y, int64_t L, int64_t n, int64_t j, int64_t i) {
  return n + 1 < L && y[n] == i && y[n + 1] == j ? 1 : 0;
}
LS_HOST_DEVICE inline int node_part(const int32_t* y, int64_t L, int64_t n, int64_t c) {
  return n < L && y[n] == c ? 1 : 0;
}
LS_HOST_DEVICE inline int transition_count(const int32_t* y, int64_t L, int64_t i, int64_t j) {
  int count = 0;
  for (int64_t n = 0; n + 1 < L; ++n) count += y[n] == i && y[n + 1] == j;
  return count;
}

// ---- One op on sequence b of a batch: the whole body of a CPU task or of a CUDA group. `workspace` is
// the sequence's own (workspace_size elements of T); results with one value per sequence are written by
// rank 0.

template <typename T, typename Group>
LS_HOST_DEVICE void log_partition_op(const Group& g, const ChainPotentials<T>& p, const ChainShape& shape, int64_t b,
                                     T* workspace, T* log_z) {
  const T z = forward(g, chain_at(p, shape, b), workspace, forward_scratch(shape, workspace));
  if (g.rank() == 0) log_z[b] = z;
}

template <typename T, typename Group>
LS_HOST_DEVICE void marginals_op(const Group& g, const ChainPotentials<T>& p, const ChainShape& shape, int64_t b,
                                 T* workspace, T* log_z, const ChainParts<T>& out) {
  const Chain<T> x = chain_at(p, shape, b);
  const ChainParts<T> o = parts_at(out, shape, b);
  if (x.edges && o.edges && !o.transition) {
    const int64_t alpha_size = shape.length * shape.labels;
    clear_outputs(g, x, shape.length, o);
    T* vectors = workspace + 2 * alpha_size;
    const T z = forward_conditionals(g, x, workspace, workspace + alpha_size, vectors, o.edges);
    if (g.rank() == 0) log_z[b] = z;
    backward_conditionals(g, x, workspace, workspace + alpha_size, z, vectors, o.edges, o.unary);
    return;
  }
  const T z = forward(g, x, workspace, forward_scratch(shape, workspace));
  if (g.rank() == 0) log_z[b] = z;
  backward_sweep<T>(g, x, nullptr, workspace, nullptr, z, T(0), workspace + 2 * shape.length * shape.labels,
                    forward_scratch(shape, workspace), shape.length, o);
}

template <typename T, typename Group>
LS_HOST_DEVICE void marginals_backward_op(const Group& g, const ChainPotentials<T>& p, const ChainPotentials<T>& grad,
                                          const ChainShape& shape, int64_t b, T* workspace, T* log_z,
                                          const ChainParts<T>& out) {
  const int64_t alpha_size = shape.length * shape.labels;
  T* alpha = workspace;
  T* gain = workspace + alpha_size;
  const Chain<T> x = chain_at(p, shape, b);
  Chain<T> gx = chain_at(grad, shape, b);
  gx.length = x.length;
  const T z = forward(g, x, alpha, forward_scratch(shape, workspace));
  if (g.rank() == 0) log_z[b] = z;
  forward_expectation<false>(g, x, gx, alpha, gain);
  const T* last_gain = gain + (x.length - 1) * x.labels;
  const T expected = expect_last(x, alpha, z, [&](int64_t c, T) { return last_gain[c]; });
  backward_sweep(g, x, &gx, alpha, gain, z, expected, workspace + 2 * alpha_size, forward_scratch(shape, workspace),
                 shape.length, parts_at(out, shape, b));
}

template <typename T, typename Group>
LS_HOST_DEVICE void entropy_op(const Group& g, const ChainPotentials<T>& p, const ChainShape& shape, int64_t b,
                               T* workspace, T* log_z, T* entropy) {
  T* alpha = workspace;
  T* prefix_entropy = workspace + shape.length * shape.labels;
  const Chain<T> x = chain_at(p, shape, b);
  const T z = forward(g, x, alpha, forward_scratch(shape, workspace));
  forward_expectation<true>(g, x, x, alpha, prefix_entropy);
  if (g.rank() != 0) return;
  const T* last = prefix_entropy + (x.length - 1) * x.labels;
  log_z[b] = z;
  // H = sum_c p(c) (H(prefix | c) - log p(c)), -log p(c) = log Z - alpha_{L-1}(c).
  entropy[b] = expect_last(x, alpha, z, [&](int64_t c, T a) { return last[c] + (z - a); });
}

template <typename T, typename Group>
LS_HOST_DEVICE void viterbi_op(const Group& g, const ChainPotentials<T>& p, const ChainShape& shape, int64_t b,
                               T* workspace, int32_t* back, int32_t* labels, T* score) {
  viterbi(g, chain_at(p, shape, b), shape.length, workspace, back, labels + b * shape.length, score + b);
}

template <typename T, typename Group>
LS_HOST_DEVICE void sample_op(const Group& g, const ChainPotentials<T>& p, const ChainShape& shape, int64_t b,
                              int64_t samples, uint64_t seed, T* workspace, T* log_z, int32_t* labels) {
  const Chain<T> x = chain_at(p, shape, b);
  const T z = forward(g, x, workspace, forward_scratch(shape, workspace));
  if (g.rank() == 0) log_z[b] = z;
  for (int64_t s = g.rank(); s < samples; s += g.size()) {
    const int64_t row = s * shape.batch + b;
    sample_backward(x, workspace, z, shape.length, seed, static_cast<uint64_t>(row * shape.length),
                    labels + row * shape.length);
  }
}

}  // namespace chain
}  // namespace ls
