// The per-sentence passes of CKY (binary constituency trees), written once for both backends over a group
// of teams (inside_outside.h). Charts are [N][N] with span (i, j) at i N + j; a sentence of length L uses
// i <= j < L.
//
// Labels are summed out first: r(i, j) = logsumexp_l s(i, j, l) and q_l(i, j) = exp(s(i, j, l) - r(i, j)), so
// that the unlabelled recursions run on r (the labels of different spans are independent given the tree):
//   inside   in(i, i) = r(i, i),  in(i, j) = r(i, j) + logsumexp_{i<=k<j} in(i, k) + in(k+1, j);
//   outside, as span marginals top-down in linear space (each term is bounded by its parent's marginal):
//            mu(0, L-1) = 1, mu(i, j) = sum over the uses of (i, j) as a child of a parent P = (i, m), m > j
//            [sibling S = (j+1, m)] or P = (h, j), h < i [S = (h, i-1)] of mu(P) exp(in(i, j) + in(S) + r(P) - in(P));
//   marginal mu(i, j, l) = mu(i, j) q_l(i, j).
// The Hessian-vector product uses the expectation semiring (Li & Eisner 2009) with the label-summed gradient
// gr(i, j) = sum_l q_l g(i, j, l): A = E[<gr, spans below (i, j)> | (i, j)] (inside), and, top-down,
// M(i, j) = mu(i, j) E[<gr, spans outside (i, j)> | (i, j)] = sum over uses of p (M(P) + mu(P) (gr(P) + A(S)))
// with p the use's factor above; h(i, j) = mu(i, j) (A - E[G]) + M(i, j), and
// (dmu/ds)^T g (i, j, l) = q_l (h(i, j) + mu(i, j) (g(i, j, l) - gr(i, j))).
#pragma once
#include <cstdint>

#include "latent_struct/hypergraph_kbest.h"
#include "latent_struct/inside_outside.h"
#include "latent_struct/log_math.h"
#include "latent_struct/philox.h"
#include "latent_struct/tree.h"

namespace ls {
namespace cky {

using tree::Best;

/// One sentence's scores (or gradients laid out like them).
template <typename T>
struct Sentence {
  const T* scores;  // [N][N][labels]
  int64_t N;
  int64_t labels;
  int64_t length;
  LS_HOST_DEVICE T score(int64_t i, int64_t j, int64_t l) const { return scores[(i * N + j) * labels + l]; }
};

template <typename T>
LS_HOST_DEVICE Sentence<T> sentence_at(const TreePotentials<T>& p, const TreeShape& shape, int64_t b) {
  const int64_t N = shape.length;
  return Sentence<T>{p.scores + b * N * N * shape.labels, N, shape.labels, p.lengths ? p.lengths[b] : N};
}

/// Workspace of one sentence: six [N][N] charts of T, and two [N][N] charts of indices (argmax).
LS_HOST_DEVICE inline int64_t workspace_size(const TreeShape& shape) { return 6 * shape.length * shape.length; }
LS_HOST_DEVICE inline int64_t index_workspace_size(const TreeShape& shape) { return 2 * shape.length * shape.length; }

template <typename T>
struct Charts {
  T* span;          // r(i, j) (max_l for the argmax)
  T* inside;
  T* marginal;      // mu(i, j)
  T* inside_value;  // A, or the inside entropy
  T* outside_gain;  // M
  T* grad;          // gr(i, j)
  int64_t N;
  LS_HOST_DEVICE int64_t at(int64_t i, int64_t j) const { return i * N + j; }
  /// log of the normalizer of the split distribution of (i, j): in - r (-inf when unreachable).
  LS_HOST_DEVICE T split_norm(int64_t i, int64_t j) const {
    const T in = inside[at(i, j)];
    return in == neg_inf<T>() ? in : in - span[at(i, j)];
  }
  /// log weight of split k of (i, j) before normalization.
  LS_HOST_DEVICE T split_term(int64_t i, int64_t j, int64_t k) const { return inside[at(i, k)] + inside[at(k + 1, j)]; }
};

template <typename T>
LS_HOST_DEVICE Charts<T> charts_of(T* workspace, int64_t N) {
  const int64_t size = N * N;
  return Charts<T>{workspace, workspace + size, workspace + 2 * size, workspace + 3 * size, workspace + 4 * size,
                   workspace + 5 * size, N};
}

/// Use k of span (i, j) as a child: of (i, j + 1 + k) for k < right = L - 1 - j, else of (k - right, j). Returns
/// the parent and sibling chart indices.
struct Use {
  int64_t parent;
  int64_t sibling;
};
template <typename T>
LS_HOST_DEVICE Use use_of(const Charts<T>& c, int64_t i, int64_t j, int64_t k, int64_t right) {
  if (k < right) {
    const int64_t m = j + 1 + k;
    return Use{c.at(i, m), c.at(j + 1, m)};
  }
  const int64_t h = k - right;
  return Use{c.at(h, j), c.at(h, i - 1)};
}

/// r(i, j) for every span (kMax: max_l with its label in best_label), then sync.
template <bool kMax, typename T, typename Teams>
LS_HOST_DEVICE void span_scores(const Teams& g, const Sentence<T>& x, const Charts<T>& c, int32_t* best_label) {
  const int64_t L = x.length;
  for (int64_t cell = g.team(); cell < L * L; cell += g.teams()) {
    const int64_t i = cell / L, j = cell % L;
    if (i > j) continue;
    const auto label_score = [&](int64_t l) { return x.score(i, j, l); };
    T value;
    if (kMax) {
      const Best<T> best = tree::team_argmax<T>(g, 0, x.labels, label_score);
      value = best.value;
      if (g.lane() == 0) best_label[c.at(i, j)] = static_cast<int32_t>(best.index);
    } else {
      value = tree::team_log_sum_exp<T>(g, 0, x.labels, label_score);
    }
    if (g.lane() == 0) c.span[c.at(i, j)] = value;
  }
  g.sync();
}

/// gr(i, j) = sum_l q_l g(i, j, l), then sync.
template <typename T, typename Teams>
LS_HOST_DEVICE void label_summed_grad(const Teams& g, const Sentence<T>& x, const Sentence<T>& grad, const Charts<T>& c) {
  const int64_t L = x.length;
  for (int64_t cell = g.team(); cell < L * L; cell += g.teams()) {
    const int64_t i = cell / L, j = cell % L;
    if (i > j) continue;
    const T value = tree::team_expectation<T>(
        g, 0, x.labels, c.span[c.at(i, j)], [&](int64_t l) { return x.score(i, j, l); },
        [&](int64_t l, T) { return grad.score(i, j, l); });
    if (g.lane() == 0) c.grad[c.at(i, j)] = value;
  }
  g.sync();
}

/// The inside chart (kMax: the max-product one with the first best split in `best_split`); returns the root's
/// value on every thread.
template <bool kMax, typename T, typename Teams>
LS_HOST_DEVICE T inside(const Teams& g, const Sentence<T>& x, const Charts<T>& c, int32_t* best_split) {
  const int64_t L = x.length;
  for (int64_t w = 1; w <= L; ++w) {
    for (int64_t i = g.team(); i + w <= L; i += g.teams()) {
      const int64_t j = i + w - 1;
      T value = c.span[c.at(i, j)];
      if (w > 1) {
        const auto term = [&](int64_t k) { return c.split_term(i, j, k); };
        if (kMax) {
          const Best<T> best = tree::team_argmax<T>(g, i, j, term);
          value += best.value;
          if (g.lane() == 0) best_split[c.at(i, j)] = static_cast<int32_t>(best.index);
        } else {
          value += tree::team_log_sum_exp<T>(g, i, j, term);
        }
      }
      if (g.lane() == 0) c.inside[c.at(i, j)] = value;
    }
    g.sync();
  }
  return c.inside[c.at(0, L - 1)];
}

/// The factor exp(in(i, j) + in(S) + r(P) - in(P)) of a use: P(use | P) when (i, j) is reachable.
template <typename T>
LS_HOST_DEVICE T use_probability(const Charts<T>& c, int64_t i, int64_t j, const Use& u) {
  return tree::split_probability(c.inside[c.at(i, j)] + c.inside[u.sibling] + c.span[u.parent], c.inside[u.parent]);
}

/// Span marginals, top-down (the root's is 1 unless the sentence has no tree).
template <typename T, typename Teams>
LS_HOST_DEVICE void span_marginals(const Teams& g, const Sentence<T>& x, const Charts<T>& c, T log_z) {
  const int64_t L = x.length;
  if (g.rank() == 0) c.marginal[c.at(0, L - 1)] = log_z == neg_inf<T>() ? T(0) : T(1);
  g.sync();
  for (int64_t w = L - 1; w >= 1; --w) {
    for (int64_t i = g.team(); i + w <= L; i += g.teams()) {
      const int64_t j = i + w - 1, right = L - 1 - j;
      const T value = tree::team_sum<T>(g, 0, right + i, [&](int64_t k) {
        const Use u = use_of(c, i, j, k, right);
        const T parent = c.marginal[u.parent];
        return parent > 0 ? parent * use_probability(c, i, j, u) : T(0);
      });
      if (g.lane() == 0) c.marginal[c.at(i, j)] = value;
    }
    g.sync();
  }
}

/// An inside pass over the split distributions into c.inside_value:
///   kEntropy:  H(i, j) = H(labels of (i, j)) + sum_k w_k (-log w_k + H(i, k) + H(k+1, j))   (entropy semiring);
///   otherwise: A(i, j) = gr(i, j) + sum_k w_k (A(i, k) + A(k+1, j))                        (expectation semiring).
template <bool kEntropy, typename T, typename Teams>
LS_HOST_DEVICE void inside_expectation(const Teams& g, const Sentence<T>& x, const Charts<T>& c) {
  const int64_t L = x.length;
  T* value = c.inside_value;
  for (int64_t w = 1; w <= L; ++w) {
    for (int64_t i = g.team(); i + w <= L; i += g.teams()) {
      const int64_t j = i + w - 1;
      T own;
      if (kEntropy) {
        own = tree::team_expectation<T>(
            g, 0, x.labels, c.span[c.at(i, j)], [&](int64_t l) { return x.score(i, j, l); },
            [](int64_t, T log_q) { return -log_q; });
      } else {
        own = c.grad[c.at(i, j)];
      }
      if (w > 1) {
        own += tree::team_expectation<T>(
            g, i, j, c.split_norm(i, j), [&](int64_t k) { return c.split_term(i, j, k); },
            [&](int64_t k, T log_w) { return value[c.at(i, k)] + value[c.at(k + 1, j)] - (kEntropy ? log_w : T(0)); });
      }
      if (g.lane() == 0) value[c.at(i, j)] = own;
    }
    g.sync();
  }
}

/// M(i, j) = sum over the uses of (i, j) of p (M(P) + mu(P) (gr(P) + A(S))), top-down.
template <typename T, typename Teams>
LS_HOST_DEVICE void outside_gain(const Teams& g, const Sentence<T>& x, const Charts<T>& c) {
  const int64_t L = x.length;
  if (g.rank() == 0) c.outside_gain[c.at(0, L - 1)] = 0;
  g.sync();
  for (int64_t w = L - 1; w >= 1; --w) {
    for (int64_t i = g.team(); i + w <= L; i += g.teams()) {
      const int64_t j = i + w - 1, right = L - 1 - j;
      const T value = tree::team_sum<T>(g, 0, right + i, [&](int64_t k) {
        const Use u = use_of(c, i, j, k, right);
        const T parent = c.marginal[u.parent];
        if (!(parent > 0)) return T(0);
        return use_probability(c, i, j, u) *
               (c.outside_gain[u.parent] + parent * (c.grad[u.parent] + c.inside_value[u.sibling]));
      });
      if (g.lane() == 0) c.outside_gain[c.at(i, j)] = value;
    }
    g.sync();
  }
}

/// Writes the marginals (grad == nullptr) or the Hessian-vector product over all N x N x labels outputs.
template <typename T, typename Teams>
LS_HOST_DEVICE void write_span_outputs(const Teams& g, const Sentence<T>& x, const Sentence<T>* grad, const Charts<T>& c,
                                       T* out) {
  const int64_t N = x.N, C = x.labels, L = x.length;
  const T expected_gain = grad ? c.inside_value[c.at(0, L - 1)] : T(0);
  for (int64_t k = g.rank(); k < N * N * C; k += g.size()) {
    const int64_t l = k % C, cell = k / C, i = cell / N, j = cell % N;
    T value = 0;
    if (i <= j && j < L) {
      const int64_t a = c.at(i, j);
      const T mu = c.marginal[a];
      if (mu > 0) {
        const T q = exp_of(x.score(i, j, l) - c.span[a]);
        if (grad) {
          const T h = mu * (c.inside_value[a] - expected_gain) + c.outside_gain[a];
          value = q * (h + mu * (grad->score(i, j, l) - c.grad[a]));
        } else {
          value = mu * q;
        }
      }
    }
    out[k] = value;
  }
}

/// Expands a tree breadth-first from the root into rows (start, end, label) of `rows` [2N-1][3], calling
/// split(t, i, j) for the split point of row t (a span wider than 1) and label(t, i, j) for the label of the row
/// being appended at t; marks parts[(i N + j) labels + l] = 1 when parts is not null; -1 rows past 2L - 1.
template <typename Split, typename Label, typename T>
LS_HOST_DEVICE void expand_tree(int64_t L, int64_t N, int64_t labels, int32_t* rows, T* parts, Split split, Label label) {
  int64_t count = 0;
  const auto append = [&](int64_t i, int64_t j) {
    rows[3 * count] = static_cast<int32_t>(i);
    rows[3 * count + 1] = static_cast<int32_t>(j);
    rows[3 * count + 2] = label(count, i, j);
    if (parts) parts[(i * N + j) * labels + rows[3 * count + 2]] = 1;
    ++count;
  };
  append(0, L - 1);
  for (int64_t t = 0; t < count; ++t) {
    const int64_t i = rows[3 * t], j = rows[3 * t + 1];
    if (i == j) continue;
    const int64_t k = split(t, i, j);
    append(i, k);
    append(k + 1, j);
  }
  for (int64_t k = 3 * count; k < 3 * (2 * N - 1); ++k) rows[k] = -1;
}

// ---- One op on sentence b: the whole body of a CPU task or of a CUDA block. `workspace` is the sentence's
// own (workspace_size elements); values with one entry per sentence are written by rank 0.

template <typename T, typename Teams>
LS_HOST_DEVICE void log_partition_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                                     T* workspace, T* log_z) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const Charts<T> c = charts_of(workspace, shape.length);
  span_scores<false>(g, x, c, nullptr);
  const T z = inside<false>(g, x, c, nullptr);
  if (g.rank() == 0) log_z[b] = z;
}

template <typename T, typename Teams>
LS_HOST_DEVICE void marginals_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                                 T* workspace, T* log_z, T* marginals) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const Charts<T> c = charts_of(workspace, shape.length);
  span_scores<false>(g, x, c, nullptr);
  const T z = inside<false>(g, x, c, nullptr);
  if (g.rank() == 0) log_z[b] = z;
  span_marginals(g, x, c, z);
  write_span_outputs<T>(g, x, nullptr, c, marginals + b * shape.length * shape.length * shape.labels);
}

template <typename T, typename Teams>
LS_HOST_DEVICE void marginals_backward_op(const Teams& g, const TreePotentials<T>& p, const T* grad_scores,
                                          const TreeShape& shape, int64_t b, T* workspace, T* log_z, T* out) {
  const Sentence<T> x = sentence_at(p, shape, b);
  Sentence<T> grad = x;
  grad.scores = grad_scores + (x.scores - p.scores);
  const Charts<T> c = charts_of(workspace, shape.length);
  span_scores<false>(g, x, c, nullptr);
  label_summed_grad(g, x, grad, c);
  const T z = inside<false>(g, x, c, nullptr);
  if (g.rank() == 0) log_z[b] = z;
  span_marginals(g, x, c, z);
  inside_expectation<false>(g, x, c);
  outside_gain(g, x, c);
  write_span_outputs(g, x, &grad, c, out + b * shape.length * shape.length * shape.labels);
}

template <typename T, typename Teams>
LS_HOST_DEVICE void entropy_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                               T* workspace, T* log_z, T* entropy) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const Charts<T> c = charts_of(workspace, shape.length);
  span_scores<false>(g, x, c, nullptr);
  const T z = inside<false>(g, x, c, nullptr);
  inside_expectation<true>(g, x, c);
  if (g.rank() != 0) return;
  log_z[b] = z;
  entropy[b] = c.inside_value[c.at(0, x.length - 1)];
}

template <typename T, typename Teams>
LS_HOST_DEVICE void argmax_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                              T* workspace, int32_t* index_workspace, int32_t* decoded, T* score, T* parts) {
  const int64_t N = shape.length, C = shape.labels;
  const Sentence<T> x = sentence_at(p, shape, b);
  const Charts<T> c = charts_of(workspace, N);
  int32_t* best_split = index_workspace;
  int32_t* best_label = index_workspace + N * N;
  span_scores<true>(g, x, c, best_label);
  const T best = inside<true>(g, x, c, best_split);
  T* own_parts = parts + b * N * N * C;
  tree::group_fill(g, own_parts, N * N * C, T(0));
  g.sync();
  if (g.rank() != 0) return;
  score[b] = best;
  expand_tree(
      x.length, N, C, decoded + b * cky_decoded_size(N), own_parts,
      [&](int64_t, int64_t i, int64_t j) -> int64_t { return best_split[c.at(i, j)]; },
      [&](int64_t, int64_t i, int64_t j) -> int32_t { return best_label[c.at(i, j)]; });
}

template <typename T, typename Teams>
LS_HOST_DEVICE void sample_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                              int64_t samples, uint64_t seed, T* workspace, T* log_z, int32_t* decoded, T* parts) {
  const int64_t N = shape.length, C = shape.labels, B = shape.batch, part_count = N * N * C;
  const Sentence<T> x = sentence_at(p, shape, b);
  const Charts<T> c = charts_of(workspace, N);
  span_scores<false>(g, x, c, nullptr);
  const T z = inside<false>(g, x, c, nullptr);
  if (g.rank() == 0) log_z[b] = z;
  for (int64_t s = 0; s < samples; ++s) tree::group_fill(g, parts + (s * B + b) * part_count, part_count, T(0));
  g.sync();
  for (int64_t s = g.rank(); s < samples; s += g.size()) {
    const int64_t row = s * B + b;
    int32_t* rows = decoded + row * cky_decoded_size(N);
    if (z == neg_inf<T>()) {  // no tree: the binding raises an error; leave well-formed outputs
      for (int64_t k = 0; k < cky_decoded_size(N); ++k) rows[k] = -1;
      continue;
    }
    const uint64_t first = static_cast<uint64_t>(row * (2 * N - 1)) * 2;
    expand_tree(
        x.length, N, C, rows, parts + row * part_count,
        [&](int64_t t, int64_t i, int64_t j) -> int64_t {
          const T norm = c.split_norm(i, j);
          const int32_t k = draw<T>(j - i, philox_uniform(seed, kCkySampleStream, first + 2 * t),
                                    [&](int64_t k) { return c.split_term(i, j, i + k) - norm; });
          return i + (k < 0 ? 0 : k);
        },
        [&](int64_t t, int64_t i, int64_t j) -> int32_t {
          const T r = c.span[c.at(i, j)];
          const int32_t l = draw<T>(C, philox_uniform(seed, kCkySampleStream, first + 2 * t + 1),
                                    [&](int64_t l) { return x.score(i, j, l) - r; });
          return l < 0 ? 0 : l;
        });
  }
}

// ---- The k best trees (hypergraph_kbest.h) over three items per span (i, j), each a list of k derivations:
//   kTopkSpan  S(i, j): a labelled subtree over i..j; width 1: one terminal hyperedge per label l (weight s(i, i, l));
//              wider: one hyperedge with tails (Label(i, j), Splits(i, j));
//   kTopkLabel Label(i, j): one terminal hyperedge per label l, weight s(i, j, l) (width > 1);
//   kTopkSplit Splits(i, j): hyperedge k - i per split point k, tails (S(i, k), S(k + 1, j)) (width > 1).
// Hyperedges are numbered as argmax()'s labels and split points, so rank 0 is argmax()'s tree; equal scores are
// ordered at each span by the label's rank, then by the split point and the left then right subtree (recursively).
// Workspace: 3 N^2 k list scores and 2N heaps of T; 3 N^2 k pointers, 2N heaps and one row of 2N - 1 ranks per
// listed tree of int32.

enum TopkItem : int64_t { kTopkSpan = 0, kTopkLabel = 1, kTopkSplit = 2 };

/// The most hyperedges of an item (labels or split points).
LS_HOST_DEVICE inline int64_t topk_max_edges(const TreeShape& shape) {
  return shape.labels > shape.length ? shape.labels : shape.length;
}
LS_HOST_DEVICE inline int64_t topk_workspace_size(const TreeShape& shape, int64_t k) {
  const int64_t N = shape.length;
  return hypergraph::lists_workspace_size(3 * N * N, 2 * N, k, topk_max_edges(shape));
}
LS_HOST_DEVICE inline int64_t topk_index_workspace_size(const TreeShape& shape, int64_t k) {
  const int64_t N = shape.length;
  return hypergraph::lists_index_workspace_size(3 * N * N, 2 * N, k, topk_max_edges(shape)) + k * (2 * N - 1);
}

/// The k best trees of sentence b: decoded [k, B, (2N - 1) 3], scores [k, B], parts [k, B, N, N, labels].
template <typename T, typename Teams>
LS_HOST_DEVICE void topk_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b, int64_t k,
                            T* workspace, int32_t* index_workspace, int32_t* decoded, T* scores, T* parts) {
  using hypergraph::Hyperedge;
  const int64_t N = shape.length, C = shape.labels, B = shape.batch, D = N * N * C;
  const Sentence<T> x = sentence_at(p, shape, b);
  const int64_t L = x.length;
  const auto item = [N](int64_t kind, int64_t i, int64_t j) { return (kind * N + i) * N + j; };
  const hypergraph::Lists<T> lists =
      hypergraph::lists_of(workspace, index_workspace, 3 * N * N, 2 * N, k, topk_max_edges(shape));
  const auto labels = [&x](int64_t i, int64_t j) {
    return [&x, i, j](int64_t l) {
      return Hyperedge<T>{x.score(i, j, l), hypergraph::no_tail<T>(), hypergraph::no_tail<T>(), true};
    };
  };
  for (int64_t w = 1; w <= L; ++w) {
    for (int64_t slot = g.rank(); slot < 2 * (L - w + 1); slot += g.size()) {
      const int64_t i = slot / 2, j = i + w - 1;
      if (w == 1) {
        if (slot % 2 == 0) lists.fill(item(kTopkSpan, i, i), slot, C, labels(i, i));
      } else if (slot % 2 == 0) {
        lists.fill(item(kTopkLabel, i, j), slot, C, labels(i, j));
      } else {
        lists.fill(item(kTopkSplit, i, j), slot, w - 1, [&](int64_t e) {
          return Hyperedge<T>{T(0), lists.tail(item(kTopkSpan, i, i + e)), lists.tail(item(kTopkSpan, i + e + 1, j)),
                              true};
        });
      }
    }
    g.sync();
    if (w == 1) continue;
    for (int64_t i = g.rank(); i + w <= L; i += g.size()) {
      const int64_t j = i + w - 1;
      lists.fill(item(kTopkSpan, i, j), i, 1, [&](int64_t) {
        return Hyperedge<T>{T(0), lists.tail(item(kTopkLabel, i, j)), lists.tail(item(kTopkSplit, i, j)), true};
      });
    }
    g.sync();
  }
  for (int64_t r = 0; r < k; ++r) tree::group_fill(g, parts + (r * B + b) * D, D, T(0));
  g.sync();
  const T* root = lists.list(item(kTopkSpan, 0, L - 1));
  for (int64_t r = g.rank(); r < k; r += g.size()) {
    int32_t* rows = decoded + (r * B + b) * cky_decoded_size(N);
    scores[r * B + b] = root[r];
    if (root[r] == neg_inf<T>()) {
      for (int64_t e = 0; e < cky_decoded_size(N); ++e) rows[e] = -1;
      continue;
    }
    // the rank in S of each row (ranks of the two children, left first, once their parent's split is read)
    int32_t* row_rank = lists.scratch + r * (2 * N - 1);
    int32_t children[2] = {static_cast<int32_t>(r), 0};
    int64_t next_child = 0;
    expand_tree(
        L, N, C, rows, parts + (r * B + b) * D,
        [&](int64_t t, int64_t i, int64_t j) -> int64_t {
          const int32_t* split = lists.pointer(item(kTopkSplit, i, j), lists.pointer(item(kTopkSpan, i, j), row_rank[t])[2]);
          children[0] = split[1];
          children[1] = split[2];
          next_child = 0;
          return i + split[0];
        },
        [&](int64_t t, int64_t i, int64_t j) -> int32_t {
          row_rank[t] = children[next_child++];
          const int32_t* span = lists.pointer(item(kTopkSpan, i, j), row_rank[t]);
          return i == j ? span[0] : lists.pointer(item(kTopkLabel, i, j), span[1])[0];
        });
  }
}

// ---- Sentences side by side (the CPU's log Z and marginals). A group of up to kLanes sentences shares every chart,
// one lane per sentence ([N][N][lanes], lane fastest), so the log-sum-exp over the split points of a span is a
// reduction down a column of `lanes`-wide rows: full vectors whatever the span's width, and one call per span for
// the whole group. Spans past a sentence's length are -inf in its lane, so sentences of different lengths run in
// step. The outside pass is in log space: log mu(i, j) = in(i, j) + logsumexp over the uses of in(S) + o(P),
// o(P) = log mu(P) + r(P) - in(P) (see the top of this file); the inside and o charts are also kept transposed
// ([j][i]) so that every sum reads two contiguous blocks of rows: the split points of (i, j) are in(i, i..j-1) and
// in(i+1..j, j), its uses as a left child in(j+1, m) and o(i, m) over m > j, as a right child in(h, i-1) and
// o(h, j) over h < i.

constexpr int64_t kLanes = 16;

/// Sentences per group of a batch.
LS_HOST_DEVICE inline int64_t lane_count(const TreeShape& shape) { return shape.batch < kLanes ? shape.batch : kLanes; }

/// Workspace of one group: four [N][N][lanes] charts and [N + 4][lanes] of scratch.
LS_HOST_DEVICE inline int64_t lanes_workspace_size(const TreeShape& shape) {
  return lane_count(shape) * (4 * shape.length * shape.length + shape.length + 4);
}

template <typename T>
struct LaneCharts {
  T* inside;
  T* inside_by_end;   // in(i, j) at at(j, i)
  T* outside;         // r(i, j) until the outside pass reaches (i, j), then o(i, j) (-inf when mu or in is 0)
  T* outside_by_end;  // o(i, j) at at(j, i)
  T* terms;           // [N][lanes]
  T* top;             // [lanes]
  T* left;            // [lanes]
  T* right;           // [lanes]
  T* log_mu;          // [lanes]
  int64_t N;
  int64_t lanes;
  int64_t first;              // the group's first sentence
  int64_t length[kLanes];     // 0 for lanes past the batch
  int64_t longest;
  LS_HOST_DEVICE int64_t at(int64_t i, int64_t j) const { return (i * N + j) * lanes; }
};

/// Lane l of group `group` holds sentence group * lanes + l (length 0 past the batch); `longest` is the group's
/// longest sentence. For the lane charts of CKY and Eisner.
template <typename Charts, typename T>
LS_HOST_DEVICE void assign_lane_sentences(Charts& c, const TreePotentials<T>& p, const TreeShape& shape, int64_t group) {
  c.first = group * c.lanes;
  c.longest = 0;
  for (int64_t l = 0; l < c.lanes; ++l) {
    const int64_t b = c.first + l;
    c.length[l] = b >= shape.batch ? 0 : p.lengths ? p.lengths[b] : shape.length;
    c.longest = c.length[l] > c.longest ? c.length[l] : c.longest;
  }
}

template <typename T>
LS_HOST_DEVICE LaneCharts<T> lane_charts_of(const TreePotentials<T>& p, const TreeShape& shape, int64_t group,
                                            T* workspace) {
  LaneCharts<T> c;
  const int64_t N = shape.length, K = lane_count(shape), chart = N * N * K;
  c.inside = workspace;
  c.inside_by_end = workspace + chart;
  c.outside = workspace + 2 * chart;
  c.outside_by_end = workspace + 3 * chart;
  c.terms = workspace + 4 * chart;
  c.top = c.terms + N * K;
  c.left = c.top + K;
  c.right = c.left + K;
  c.log_mu = c.right + K;
  c.N = N;
  c.lanes = K;
  assign_lane_sentences(c, p, shape, group);
  return c;
}

/// ls::lanes_log_sum_exp_of_sums over the group's lanes with its scratch.
template <typename T, typename Group>
LS_HOST_DEVICE void lanes_log_sum_exp(const Group& g, const LaneCharts<T>& c, const T* a, const T* b, int64_t n,
                                              T* out) {
  lanes_log_sum_exp_of_sums(g, a, b, n, c.lanes, c.terms, c.top, out);
}

/// r(i, j) into c.outside (and the width-1 inside values), the inside chart, and log Z of each sentence.
template <typename T, typename Group>
LS_HOST_DEVICE void lanes_inside(const Group& g, const TreePotentials<T>& p, const TreeShape& shape,
                                 const LaneCharts<T>& c, T* log_z) {
  const int64_t N = c.N, C = shape.labels, K = c.lanes, L = c.longest;
  for (int64_t i = 0; i < L; ++i) {
    for (int64_t j = i; j < L; ++j) {
      T* r = c.outside + c.at(i, j);
      for (int64_t l = 0; l < K; ++l) {
        const T* scores = p.scores + (((c.first + l) * N + i) * N + j) * C;
        r[l] = j >= c.length[l] ? neg_inf<T>() : C == 1 ? scores[0] : row_log_sum_exp(g, scores, C);
      }
      if (i == j) {
        for (int64_t l = 0; l < K; ++l) c.inside[c.at(i, i) + l] = c.inside_by_end[c.at(i, i) + l] = r[l];
      }
    }
  }
  for (int64_t w = 2; w <= L; ++w) {
    for (int64_t i = 0; i + w <= L; ++i) {
      const int64_t j = i + w - 1;
      T* in = c.inside + c.at(i, j);
      lanes_log_sum_exp(g, c, c.inside + c.at(i, i), c.inside_by_end + c.at(j, i + 1), w - 1, in);
      const T* r = c.outside + c.at(i, j);
      T* in_by_end = c.inside_by_end + c.at(j, i);
      for (int64_t l = 0; l < K; ++l) {
        in[l] += r[l];
        in_by_end[l] = in[l];
      }
    }
  }
  for (int64_t l = 0; l < K; ++l) {
    if (c.length[l] > 0) log_z[c.first + l] = c.inside[c.at(0, c.length[l] - 1) + l];
  }
}

/// The outside pass, writing mu(i, j) q_l(i, j) to the sentences' marginals (zeros elsewhere).
template <typename T, typename Group>
LS_HOST_DEVICE void lanes_outside(const Group& g, const TreePotentials<T>& p, const TreeShape& shape,
                                  const LaneCharts<T>& c, T* marginals) {
  const int64_t N = c.N, C = shape.labels, K = c.lanes, L = c.longest;
  for (int64_t l = 0; l < K; ++l) {
    if (c.length[l] == 0) continue;
    T* out = marginals + (c.first + l) * N * N * C;
    for (int64_t k = 0; k < N * N * C; ++k) out[k] = 0;
  }
  for (int64_t w = L; w >= 1; --w) {
    for (int64_t i = 0; i + w <= L; ++i) {
      const int64_t j = i + w - 1, a = c.at(i, j);
      // uses as the left child of (i, m), m > j, with sibling (j+1, m); as the right child of (h, j), h < i, with
      // sibling (h, i-1)
      const int64_t next = j + 1 < L ? j + 1 : j, previous = i > 0 ? i - 1 : 0;  // in bounds when nothing is read
      lanes_log_sum_exp(g, c, c.inside + c.at(next, next), c.outside + c.at(i, next), L - 1 - j, c.left);
      lanes_log_sum_exp(g, c, c.inside_by_end + c.at(previous, 0), c.outside_by_end + c.at(j, 0), i, c.right);
      for (int64_t l = 0; l < K; ++l) {
        const T in = c.inside[a + l];
        T log_mu;
        if (j >= c.length[l] || in == neg_inf<T>()) {
          log_mu = neg_inf<T>();
        } else if (i == 0 && j == c.length[l] - 1) {
          log_mu = 0;
        } else {
          const T uses = tree::log_add_exp(c.left[l], c.right[l]);
          log_mu = uses == neg_inf<T>() ? uses : in + uses;
          log_mu = log_mu > T(0) ? T(0) : log_mu;  // round-off: a marginal is at most 1
        }
        const T outside = log_mu == neg_inf<T>() ? log_mu : log_mu + c.outside[a + l] - in;
        c.outside[a + l] = outside;
        c.outside_by_end[c.at(j, i) + l] = outside;
        c.log_mu[l] = log_mu;
      }
      row_exp_shifted_sum(g, c.log_mu, T(0), c.log_mu, K);  // now mu
      for (int64_t l = 0; l < K; ++l) {
        if (j >= c.length[l] || !(c.log_mu[l] > 0)) continue;
        const int64_t b = c.first + l;
        T* out = marginals + ((b * N + i) * N + j) * C;
        if (C == 1) {
          out[0] = c.log_mu[l];
          continue;
        }
        const T* scores = p.scores + ((b * N + i) * N + j) * C;
        const T span = row_log_sum_exp(g, scores, C);  // r(i, j)
        for (int64_t label = 0; label < C; ++label) out[label] = c.log_mu[l] * exp_of(scores[label] - span);
      }
    }
  }
}

/// log Z of the group's sentences.
template <typename T, typename Group>
LS_HOST_DEVICE void lanes_log_partition_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape,
                                           int64_t group, T* workspace, T* log_z) {
  const LaneCharts<T> c = lane_charts_of(p, shape, group, workspace);
  lanes_inside(g, p, shape, c, log_z);
}

/// log Z and the marginals of the group's sentences.
template <typename T, typename Group>
LS_HOST_DEVICE void lanes_marginals_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape,
                                       int64_t group, T* workspace, T* log_z, T* marginals) {
  const LaneCharts<T> c = lane_charts_of(p, shape, group, workspace);
  lanes_inside(g, p, shape, c, log_z);
  lanes_outside(g, p, shape, c, marginals);
}

}  // namespace cky
}  // namespace ls
