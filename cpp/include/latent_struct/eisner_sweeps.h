// The per-sentence passes of Eisner's algorithm (projective dependency trees), written once for both backends
// over a group of teams (inside_outside.h). Nodes are 0 (the root) and 1..n for the words of a sentence of
// length n; theta(h, m) is the score of node h heading node m. Items over s <= t (Eisner 1996; McDonald 2006):
//   IL[s][t]: arc t -> s with the words between (s >= 1),  IR[s][t]: arc s -> t with the words between,
//   CL[s][t]: a complete left span headed by t,               CR[s][t]: a complete right span headed by s,
//   SPLIT[s][t] = logsumexp_r CR[s][r] + CL[r+1][t] (r in [s, t), only r = 0 for s = 0 with a single root);
//   IL = theta(t, s) + SPLIT, IR = theta(s, t) + SPLIT, CL[s][t] = logsumexp_{s<=r<t} CL[s][r] + IL[r][t],
//   CR[s][t] = logsumexp_{s<r<=t} IR[s][r] + CR[r][t], CL[s][s] = CR[s][s] = 0, log Z = CR[0][n].
// With r = 0 forced in SPLIT[0][t], CR[0][n] = logsumexp_r IR[0][r] + CR[r][n] takes exactly one root arc: the
// single-root constraint. Each arc is built by exactly one I item, so its marginal is that item's marginal,
// computed top-down in linear space by gathering over the uses of each item (the parents that take it as a
// child): mu(X) = sum_uses mu(P) exp(in(X) + in(S) + theta(P) - in(P)); the Hessian-vector product comes from
// the expectation semiring as in CKY (cky_sweeps.h).
#pragma once
#include <cstdint>

#include "latent_struct/cky_sweeps.h"
#include "latent_struct/inside_outside.h"
#include "latent_struct/log_math.h"
#include "latent_struct/philox.h"
#include "latent_struct/tree.h"

namespace ls {
namespace eisner {

using tree::Best;

enum Kind : int64_t { kCL = 0, kCR = 1, kIL = 2, kIR = 3, kSplit = 4 };

/// One sentence's arc scores (or gradients laid out like them).
template <typename T>
struct Sentence {
  const T* scores;  // [N][N]
  int64_t N;
  int64_t length;  // n
  bool single_root;
  /// theta(h, m) over nodes, m >= 1.
  LS_HOST_DEVICE T theta(int64_t h, int64_t m) const {
    return h == 0 ? scores[(m - 1) * N + (m - 1)] : scores[(h - 1) * N + (m - 1)];
  }
};

template <typename T>
LS_HOST_DEVICE Sentence<T> sentence_at(const TreePotentials<T>& p, const TreeShape& shape, int64_t b) {
  const int64_t N = shape.length;
  return Sentence<T>{p.scores + b * N * N, N, p.lengths ? p.lengths[b] : N, p.single_root};
}

/// Workspace of one sentence with M = N + 1: inside (5 kinds), outside, inside values, outside gains (4 kinds
/// each) of M x M; indices: three back-pointer charts and a decoding queue.
LS_HOST_DEVICE inline int64_t workspace_size(const TreeShape& shape) {
  return 17 * (shape.length + 1) * (shape.length + 1);
}
LS_HOST_DEVICE inline int64_t index_workspace_size(const TreeShape& shape) {
  return 3 * (shape.length + 1) * (shape.length + 1) + 3 * eisner_queue_size(shape.length);
}

template <typename T>
struct Charts {
  T* inside;        // [5][M][M]
  T* marginal;      // mu, [4][M][M]
  T* inside_value;  // A or the inside entropy, [4][M][M]
  T* outside_gain;  // M = mu E[<g, arcs outside> | item], [4][M][M]
  int64_t M;
  LS_HOST_DEVICE int64_t at(int64_t kind, int64_t s, int64_t t) const { return (kind * M + s) * M + t; }
};

template <typename T>
LS_HOST_DEVICE Charts<T> charts_of(T* workspace, int64_t N) {
  const int64_t size = (N + 1) * (N + 1);
  return Charts<T>{workspace, workspace + 5 * size, workspace + 9 * size, workspace + 13 * size, N + 1};
}

/// The split points [begin, end) of item (kind, s, t), t > s, and the children of split r.
struct Range {
  int64_t begin;
  int64_t end;
};
template <typename T>
LS_HOST_DEVICE Range split_range(const Sentence<T>& x, int64_t kind, int64_t s, int64_t t) {
  if (kind == kCL) return Range{s, t};
  if (kind == kCR) return Range{s + 1, t + 1};
  return Range{s, x.single_root && s == 0 ? s + 1 : t};  // I items
}
struct Children {
  int64_t left;
  int64_t right;
};
template <typename T>
LS_HOST_DEVICE Children children(const Charts<T>& c, int64_t kind, int64_t s, int64_t t, int64_t r) {
  if (kind == kCL) return Children{c.at(kCL, s, r), c.at(kIL, r, t)};
  if (kind == kCR) return Children{c.at(kIR, s, r), c.at(kCR, r, t)};
  return Children{c.at(kCR, s, r), c.at(kCL, r + 1, t)};
}
/// The log-normalizer of item (kind, s, t)'s split distribution (SPLIT for I items).
template <typename T>
LS_HOST_DEVICE T split_norm(const Charts<T>& c, int64_t kind, int64_t s, int64_t t) {
  return c.inside[c.at(kind == kIL || kind == kIR ? kSplit : kind, s, t)];
}

/// The arc of an I item as (head, modifier) nodes.
LS_HOST_DEVICE inline int64_t arc_head(int64_t kind, int64_t s, int64_t t) { return kind == kIL ? t : s; }
LS_HOST_DEVICE inline int64_t arc_modifier(int64_t kind, int64_t s, int64_t t) { return kind == kIL ? s : t; }

/// Use u of item (kind, s, t) as a child: parent, sibling, and whether the parent is an I item (whose arc
/// score and gradient count). Invalid uses (the root as a modifier, a second root arc) have valid = false.
struct Use {
  int64_t parent;
  int64_t sibling;
  int64_t parent_kind;
  int64_t parent_s;
  int64_t parent_t;
  bool valid;
};
template <typename T>
LS_HOST_DEVICE int64_t use_count(const Sentence<T>& x, int64_t kind, int64_t s, int64_t t) {
  const int64_t n = x.length;
  if (kind == kCL) return 2 * s + (n - t);
  if (kind == kCR) return 2 * (n - t) + s;
  if (kind == kIL) return s;
  return n - t + 1;  // IR
}
template <typename T>
LS_HOST_DEVICE Use use_of(const Sentence<T>& x, const Charts<T>& c, int64_t kind, int64_t s, int64_t t, int64_t u) {
  const int64_t n = x.length;
  Use use{0, 0, kCL, 0, 0, true};
  const auto set = [&](int64_t pk, int64_t ps, int64_t pt, int64_t sibling) {
    use.parent = c.at(pk, ps, pt);
    use.parent_kind = pk;
    use.parent_s = ps;
    use.parent_t = pt;
    use.sibling = sibling;
  };
  if (kind == kCL) {
    if (u < 2 * s) {  // right child of I[s'][t] at r = s - 1, sibling CR[s'][s-1]
      const int64_t sp = u / 2, pk = u % 2 ? kIR : kIL;
      set(pk, sp, t, c.at(kCR, sp, s - 1));
      use.valid = !(pk == kIL && sp == 0) && !(x.single_root && sp == 0 && s != 1);
    } else {  // left child of CL[s][t'] at r = t, sibling IL[t][t']
      const int64_t tp = t + 1 + (u - 2 * s);
      set(kCL, s, tp, c.at(kIL, t, tp));
    }
  } else if (kind == kCR) {
    if (u < 2 * (n - t)) {  // left child of I[s][t'] at r = t, sibling CL[t+1][t']
      const int64_t tp = t + 1 + u / 2, pk = u % 2 ? kIR : kIL;
      set(pk, s, tp, c.at(kCL, t + 1, tp));
      use.valid = !(pk == kIL && s == 0) && !(x.single_root && s == 0 && t != 0);
    } else {  // right child of CR[s'][t] at r = s, sibling IR[s'][s]
      const int64_t sp = u - 2 * (n - t);
      set(kCR, sp, t, c.at(kIR, sp, s));
    }
  } else if (kind == kIL) {  // child of CL[s'][t] at r = s, sibling CL[s'][s], s' in [1, s]
    const int64_t sp = 1 + u;
    set(kCL, sp, t, c.at(kCL, sp, s));
  } else {  // IR: child of CR[s][t'] at r = t, sibling CR[t][t'], t' in [t, n]
    const int64_t tp = t + u;
    set(kCR, s, tp, c.at(kCR, t, tp));
  }
  return use;
}

/// The own score of a parent item: its arc's for I items, 0 for C items.
template <typename T>
LS_HOST_DEVICE T own_score(const Sentence<T>& x, int64_t kind, int64_t s, int64_t t) {
  if (kind != kIL && kind != kIR) return T(0);
  return x.theta(arc_head(kind, s, t), arc_modifier(kind, s, t));
}

/// The factor exp(in(X) + theta(P) + in(S) - in(P)) of use u of item X: P(use | P).
template <typename T>
LS_HOST_DEVICE T use_probability(const Sentence<T>& x, const Charts<T>& c, int64_t item, const Use& u) {
  if (!u.valid) return T(0);
  const T weight = c.inside[item] + own_score(x, u.parent_kind, u.parent_s, u.parent_t) + c.inside[u.sibling];
  return tree::split_probability(weight, c.inside[u.parent]);
}

/// The inside chart (kMax: max-product with first-best back-pointers [3][M][M] for SPLIT, CL, CR); returns
/// log Z (or the best score) on every thread.
template <bool kMax, typename T, typename Teams>
LS_HOST_DEVICE T inside(const Teams& g, const Sentence<T>& x, const Charts<T>& c, int32_t* back) {
  const int64_t n = x.length, M = c.M;
  for (int64_t s = g.rank(); s <= n; s += g.size()) {
    c.inside[c.at(kCL, s, s)] = 0;
    c.inside[c.at(kCR, s, s)] = 0;
  }
  g.sync();
  const auto fold = [&](int64_t kind, int64_t s, int64_t t, int64_t back_kind) -> T {
    const Range range = split_range(x, kind, s, t);
    const auto term = [&](int64_t r) {
      const Children ch = children(c, kind, s, t, r);
      return c.inside[ch.left] + c.inside[ch.right];
    };
    if (!kMax) return tree::team_log_sum_exp<T>(g, range.begin, range.end, term);
    const Best<T> best = tree::team_argmax<T>(g, range.begin, range.end, term);
    if (g.lane() == 0) back[(back_kind * M + s) * M + t] = static_cast<int32_t>(best.index);
    return best.value;
  };
  for (int64_t w = 1; w <= n; ++w) {
    for (int64_t s = g.team(); s + w <= n; s += g.teams()) {
      const int64_t t = s + w;
      const T split = fold(kIR, s, t, 0);
      if (g.lane() == 0) {
        c.inside[c.at(kSplit, s, t)] = split;
        c.inside[c.at(kIL, s, t)] = s == 0 ? neg_inf<T>() : x.theta(t, s) + split;
        c.inside[c.at(kIR, s, t)] = x.theta(s, t) + split;
      }
    }
    g.sync();
    for (int64_t s = g.team(); s + w <= n; s += g.teams()) {
      const int64_t t = s + w;
      const T left = s == 0 ? neg_inf<T>() : fold(kCL, s, t, 1);
      const T right = fold(kCR, s, t, 2);
      if (g.lane() == 0) {
        c.inside[c.at(kCL, s, t)] = left;
        c.inside[c.at(kCR, s, t)] = right;
      }
    }
    g.sync();
  }
  return c.inside[c.at(kCR, 0, n)];
}

/// An outside-order pass (widths n..1; C items, then I items of each width) writing value(kind, s, t) for the
/// non-base items; the root CR[0][n] gets `root`, IL[0][*] gets `unreachable`.
template <typename T, typename Teams, typename Value>
LS_HOST_DEVICE void outside_order(const Teams& g, const Sentence<T>& x, const Charts<T>& c, T* chart, T root,
                                  T unreachable, Value value) {
  const int64_t n = x.length;
  for (int64_t w = n; w >= 1; --w) {
    for (int64_t phase = 0; phase < 2; ++phase) {
      const int64_t kinds[2] = {phase == 0 ? kCL : kIL, phase == 0 ? kCR : kIR};
      for (int64_t s = g.team(); s + w <= n; s += g.teams()) {
        const int64_t t = s + w;
        for (int64_t kind : kinds) {
          T v;
          if (kind == kCR && s == 0 && t == n) {
            v = root;
          } else if (kind == kIL && s == 0) {
            v = unreachable;
          } else {
            v = value(kind, s, t);
          }
          if (g.lane() == 0) chart[c.at(kind, s, t)] = v;
        }
      }
      g.sync();
    }
  }
}

/// Item marginals, top-down (the root's is 1 unless the sentence has no tree).
template <typename T, typename Teams>
LS_HOST_DEVICE void item_marginals(const Teams& g, const Sentence<T>& x, const Charts<T>& c, T log_z) {
  outside_order(g, x, c, c.marginal, log_z == neg_inf<T>() ? T(0) : T(1), T(0), [&](int64_t kind, int64_t s, int64_t t) {
    const int64_t item = c.at(kind, s, t);
    return tree::team_sum<T>(g, 0, use_count(x, kind, s, t), [&](int64_t u) {
      const Use use = use_of(x, c, kind, s, t, u);
      const T parent = c.marginal[use.parent];
      return parent > 0 ? parent * use_probability(x, c, item, use) : T(0);
    });
  });
}

/// An inside pass over the split distributions into c.inside_value (0 on the base items):
///   kEntropy:  H(X) = sum_r w_r (-log w_r + H(left) + H(right))            (entropy semiring);
///   otherwise: A(X) = g(arc of X) + sum_r w_r (A(left) + A(right))        (expectation semiring).
template <bool kEntropy, typename T, typename Teams>
LS_HOST_DEVICE void inside_expectation(const Teams& g, const Sentence<T>& x, const Sentence<T>& grad, const Charts<T>& c) {
  const int64_t n = x.length;
  T* value = c.inside_value;
  for (int64_t s = g.rank(); s <= n; s += g.size()) {
    value[c.at(kCL, s, s)] = 0;
    value[c.at(kCR, s, s)] = 0;
  }
  g.sync();
  const auto fold = [&](int64_t kind, int64_t s, int64_t t) -> T {
    const Range range = split_range(x, kind, s, t);
    return tree::team_expectation<T>(
        g, range.begin, range.end, split_norm(c, kind, s, t),
        [&](int64_t r) {
          const Children ch = children(c, kind, s, t, r);
          return c.inside[ch.left] + c.inside[ch.right];
        },
        [&](int64_t r, T log_w) {
          const Children ch = children(c, kind, s, t, r);
          return value[ch.left] + value[ch.right] - (kEntropy ? log_w : T(0));
        });
  };
  for (int64_t w = 1; w <= n; ++w) {
    for (int64_t s = g.team(); s + w <= n; s += g.teams()) {
      const int64_t t = s + w;
      const T below = fold(kIR, s, t);
      if (g.lane() == 0) {
        value[c.at(kIL, s, t)] = s == 0 ? T(0) : below + (kEntropy ? T(0) : grad.theta(t, s));
        value[c.at(kIR, s, t)] = below + (kEntropy ? T(0) : grad.theta(s, t));
      }
    }
    g.sync();
    for (int64_t s = g.team(); s + w <= n; s += g.teams()) {
      const int64_t t = s + w;
      const T left = s == 0 ? T(0) : fold(kCL, s, t);
      const T right = fold(kCR, s, t);
      if (g.lane() == 0) {
        value[c.at(kCL, s, t)] = left;
        value[c.at(kCR, s, t)] = right;
      }
    }
    g.sync();
  }
}

/// M(X) = sum over the uses of X of p (M(P) + mu(P) (g(arc of P) + A(S))), top-down.
template <typename T, typename Teams>
LS_HOST_DEVICE void outside_gain(const Teams& g, const Sentence<T>& x, const Sentence<T>& grad, const Charts<T>& c) {
  outside_order(g, x, c, c.outside_gain, T(0), T(0), [&](int64_t kind, int64_t s, int64_t t) {
    const int64_t item = c.at(kind, s, t);
    return tree::team_sum<T>(g, 0, use_count(x, kind, s, t), [&](int64_t u) {
      const Use use = use_of(x, c, kind, s, t, u);
      const T parent = c.marginal[use.parent];
      if (!(parent > 0)) return T(0);
      return use_probability(x, c, item, use) *
             (c.outside_gain[use.parent] +
              parent * (own_score(grad, use.parent_kind, use.parent_s, use.parent_t) + c.inside_value[use.sibling]));
    });
  });
}

/// The I item of arc h -> m between words (h == m: the root).
template <typename T>
LS_HOST_DEVICE int64_t arc_item(const Charts<T>& c, int64_t h, int64_t m) {
  if (h == m) return c.at(kIR, 0, m + 1);
  return h < m ? c.at(kIR, h + 1, m + 1) : c.at(kIL, m + 1, h + 1);
}

/// Writes the arc marginals (grad == nullptr) or the Hessian-vector product over all N x N outputs.
template <typename T, typename Teams>
LS_HOST_DEVICE void write_arc_outputs(const Teams& g, const Sentence<T>& x, bool product, const Charts<T>& c, T* out) {
  const int64_t N = x.N, L = x.length;
  const T expected_gain = product ? c.inside_value[c.at(kCR, 0, L)] : T(0);
  for (int64_t k = g.rank(); k < N * N; k += g.size()) {
    const int64_t h = k / N, m = k % N;
    T value = 0;
    if (h < L && m < L) {
      const int64_t a = arc_item(c, h, m);
      const T mu = c.marginal[a];
      if (mu > 0) value = product ? mu * (c.inside_value[a] - expected_gain) + c.outside_gain[a] : mu;
    }
    out[k] = value;
  }
}

/// Expands a tree from CR[0][n] breadth-first through a queue of items [eisner_queue_size(N)][3], calling
/// split(t, kind, s, t_) for the split point of the t-th item expanded; writes heads [N] (-1 past n) and marks
/// parts[h N + m] = 1 when parts is not null.
template <typename T, typename Split>
LS_HOST_DEVICE void expand_tree(int64_t n, int64_t N, int32_t* queue, int32_t* heads, T* parts, Split split) {
  for (int64_t m = 0; m < N; ++m) heads[m] = -1;
  int64_t count = 0;
  const auto push = [&](int64_t kind, int64_t s, int64_t t) {
    if (s == t) return;  // base items have nothing to expand
    queue[3 * count] = static_cast<int32_t>(kind);
    queue[3 * count + 1] = static_cast<int32_t>(s);
    queue[3 * count + 2] = static_cast<int32_t>(t);
    ++count;
  };
  push(kCR, 0, n);
  for (int64_t q = 0; q < count; ++q) {
    const int64_t kind = queue[3 * q], s = queue[3 * q + 1], t = queue[3 * q + 2];
    const int64_t r = split(q, kind, s, t);
    if (kind == kCL) {
      push(kCL, s, r);
      push(kIL, r, t);
    } else if (kind == kCR) {
      push(kIR, s, r);
      push(kCR, r, t);
    } else {
      const int64_t head = arc_head(kind, s, t), modifier = arc_modifier(kind, s, t);
      heads[modifier - 1] = static_cast<int32_t>(head == 0 ? modifier - 1 : head - 1);
      push(kCR, s, r);
      push(kCL, r + 1, t);
    }
  }
  if (!parts) return;
  for (int64_t m = 0; m < n; ++m) parts[heads[m] * N + m] = 1;
}

// ---- One op on sentence b: the whole body of a CPU task or of a CUDA block (see cky_sweeps.h).

template <typename T, typename Teams>
LS_HOST_DEVICE void log_partition_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                                     T* workspace, T* log_z) {
  const T z = inside<false>(g, sentence_at(p, shape, b), charts_of(workspace, shape.length), nullptr);
  if (g.rank() == 0) log_z[b] = z;
}

template <typename T, typename Teams>
LS_HOST_DEVICE void marginals_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                                 T* workspace, T* log_z, T* marginals) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const Charts<T> c = charts_of(workspace, shape.length);
  const T z = inside<false>(g, x, c, nullptr);
  if (g.rank() == 0) log_z[b] = z;
  item_marginals(g, x, c, z);
  write_arc_outputs(g, x, false, c, marginals + b * shape.length * shape.length);
}

template <typename T, typename Teams>
LS_HOST_DEVICE void marginals_backward_op(const Teams& g, const TreePotentials<T>& p, const T* grad_scores,
                                          const TreeShape& shape, int64_t b, T* workspace, T* log_z, T* out) {
  const Sentence<T> x = sentence_at(p, shape, b);
  Sentence<T> grad = x;
  grad.scores = grad_scores + (x.scores - p.scores);
  const Charts<T> c = charts_of(workspace, shape.length);
  const T z = inside<false>(g, x, c, nullptr);
  if (g.rank() == 0) log_z[b] = z;
  item_marginals(g, x, c, z);
  inside_expectation<false>(g, x, grad, c);
  outside_gain(g, x, grad, c);
  write_arc_outputs(g, x, true, c, out + b * shape.length * shape.length);
}

template <typename T, typename Teams>
LS_HOST_DEVICE void entropy_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                               T* workspace, T* log_z, T* entropy) {
  const Sentence<T> x = sentence_at(p, shape, b);
  const Charts<T> c = charts_of(workspace, shape.length);
  const T z = inside<false>(g, x, c, nullptr);
  inside_expectation<true>(g, x, x, c);
  if (g.rank() != 0) return;
  log_z[b] = z;
  entropy[b] = c.inside_value[c.at(kCR, 0, x.length)];
}

template <typename T, typename Teams>
LS_HOST_DEVICE void argmax_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                              T* workspace, int32_t* index_workspace, int32_t* decoded, T* score, T* parts) {
  const int64_t N = shape.length, M = N + 1;
  const Sentence<T> x = sentence_at(p, shape, b);
  const Charts<T> c = charts_of(workspace, N);
  int32_t* back = index_workspace;
  const T best = inside<true>(g, x, c, back);
  T* own_parts = parts + b * N * N;
  tree::group_fill(g, own_parts, N * N, T(0));
  g.sync();
  if (g.rank() != 0) return;
  score[b] = best;
  expand_tree(x.length, N, index_workspace + 3 * M * M, decoded + b * N, own_parts,
              [&](int64_t, int64_t kind, int64_t s, int64_t t) -> int64_t {
                const int64_t back_kind = kind == kCL ? 1 : kind == kCR ? 2 : 0;
                return back[(back_kind * M + s) * M + t];
              });
}

/// `queues` holds one decoding queue (3 eisner_queue_size(N) ints) per thread of the group.
template <typename T, typename Teams>
LS_HOST_DEVICE void sample_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,
                              int64_t samples, uint64_t seed, T* workspace, int32_t* queues, T* log_z, int32_t* decoded,
                              T* parts) {
  const int64_t N = shape.length, B = shape.batch, Q = eisner_queue_size(N);
  const Sentence<T> x = sentence_at(p, shape, b);
  const Charts<T> c = charts_of(workspace, N);
  const T z = inside<false>(g, x, c, nullptr);
  if (g.rank() == 0) log_z[b] = z;
  for (int64_t s = 0; s < samples; ++s) tree::group_fill(g, parts + (s * B + b) * N * N, N * N, T(0));
  g.sync();
  int32_t* queue = queues + g.rank() * 3 * Q;
  for (int64_t s = g.rank(); s < samples; s += g.size()) {
    const int64_t row = s * B + b;
    if (z == neg_inf<T>()) {  // no tree: the binding raises an error; leave well-formed outputs
      for (int64_t m = 0; m < N; ++m) decoded[row * N + m] = -1;
      continue;
    }
    const uint64_t first = static_cast<uint64_t>(row * Q);
    expand_tree(x.length, N, queue, decoded + row * N, parts + row * N * N,
                [&](int64_t q, int64_t kind, int64_t s_, int64_t t) -> int64_t {
                  const Range range = split_range(x, kind, s_, t);
                  const T norm = split_norm(c, kind, s_, t);
                  const int32_t k = draw<T>(range.end - range.begin, philox_uniform(seed, kEisnerSampleStream, first + q),
                                            [&](int64_t k) {
                                              const Children ch = children(c, kind, s_, t, range.begin + k);
                                              return c.inside[ch.left] + c.inside[ch.right] - norm;
                                            });
                  return range.begin + (k < 0 ? 0 : k);
                });
  }
}

// ---- The k best trees (hypergraph_kbest.h) over the items of the inside pass, each a list of k derivations:
//   SPLIT(s, t): hyperedge r - begin per split point r of split_range (r = 0 only for s = 0 with a single root),
//                tails (CR(s, r), CL(r + 1, t));
//   CL(s, t), s >= 1: hyperedge r - s per r in [s, t), tails (CL(s, r), IL(r, t));
//   CR(s, t): hyperedge r - s - 1 per r in (s, t], tails (IR(s, r), CR(r, t));
//   CL(s, s) = CR(s, s): one derivation of score 0.
// The I items are not stored: IL(s, t) is SPLIT(s, t)'s list shifted by theta(t, s), IR(s, t) by theta(s, t) (same
// ranks). Hyperedges are numbered as argmax()'s split points, so rank 0 is argmax()'s tree; equal scores are ordered at
// each item by the split point, then the left and the right sub-derivation (recursively). Workspace: 3 M^2 k list
// scores and 2M heaps of T (M = N + 1); 3 M^2 k pointers, 2M heaps and, per listed tree, a decoding queue with the
// rank of each queued item, of int32.

enum TopkItem : int64_t { kTopkSplit = 0, kTopkCL = 1, kTopkCR = 2 };

LS_HOST_DEVICE inline int64_t topk_workspace_size(const TreeShape& shape, int64_t k) {
  const int64_t M = shape.length + 1;
  return hypergraph::lists_workspace_size(3 * M * M, 2 * M, k, M);
}
LS_HOST_DEVICE inline int64_t topk_index_workspace_size(const TreeShape& shape, int64_t k) {
  const int64_t M = shape.length + 1;
  return hypergraph::lists_index_workspace_size(3 * M * M, 2 * M, k, M) + k * 4 * eisner_queue_size(shape.length);
}

/// The k best trees of sentence b: decoded heads [k, B, N], scores [k, B], parts [k, B, N, N].
template <typename T, typename Teams>
LS_HOST_DEVICE void topk_op(const Teams& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b, int64_t k,
                            T* workspace, int32_t* index_workspace, int32_t* decoded, T* scores, T* parts) {
  using hypergraph::Hyperedge;
  const int64_t N = shape.length, M = N + 1, B = shape.batch, Q = eisner_queue_size(N);
  const Sentence<T> x = sentence_at(p, shape, b);
  const int64_t n = x.length;
  const auto item = [M](int64_t kind, int64_t s, int64_t t) { return (kind * M + s) * M + t; };
  const hypergraph::Lists<T> lists = hypergraph::lists_of(workspace, index_workspace, 3 * M * M, 2 * M, k, M);
  for (int64_t e = g.rank(); e < 2 * (n + 1) * k; e += g.size()) {  // the base items: 0, then -inf
    const int64_t s = e / (2 * k), kind = e / k % 2 ? kTopkCR : kTopkCL, r = e % k;
    lists.list(item(kind, s, s))[r] = r == 0 ? T(0) : neg_inf<T>();
    for (int64_t c = 0; c < hypergraph::kPointerWidth; ++c) lists.pointer(item(kind, s, s), r)[c] = -1;
  }
  g.sync();
  for (int64_t w = 1; w <= n; ++w) {
    for (int64_t s = g.rank(); s + w <= n; s += g.size()) {
      const int64_t t = s + w;
      const Range range = split_range(x, kIR, s, t);
      lists.fill(item(kTopkSplit, s, t), s, range.end - range.begin, [&](int64_t e) {
        const int64_t r = range.begin + e;
        return Hyperedge<T>{T(0), lists.tail(item(kTopkCR, s, r)), lists.tail(item(kTopkCL, r + 1, t)), true};
      });
    }
    g.sync();
    for (int64_t slot = g.rank(); slot < 2 * (n - w + 1); slot += g.size()) {
      const int64_t s = slot / 2, t = s + w;
      if (slot % 2 == 0) {
        lists.fill(item(kTopkCL, s, t), slot, s == 0 ? 0 : w, [&](int64_t e) {
          const int64_t r = s + e;
          return Hyperedge<T>{T(0), lists.tail(item(kTopkCL, s, r)), lists.tail(item(kTopkSplit, r, t), x.theta(t, r)),
                              true};
        });
      } else {
        lists.fill(item(kTopkCR, s, t), slot, w, [&](int64_t e) {
          const int64_t r = s + 1 + e;
          return Hyperedge<T>{T(0), lists.tail(item(kTopkSplit, s, r), x.theta(s, r)), lists.tail(item(kTopkCR, r, t)),
                              true};
        });
      }
    }
    g.sync();
  }
  for (int64_t r = 0; r < k; ++r) tree::group_fill(g, parts + (r * B + b) * N * N, N * N, T(0));
  g.sync();
  const T* root = lists.list(item(kTopkCR, 0, n));
  for (int64_t r = g.rank(); r < k; r += g.size()) {
    int32_t* heads = decoded + (r * B + b) * N;
    scores[r * B + b] = root[r];
    if (root[r] == neg_inf<T>()) {
      for (int64_t m = 0; m < N; ++m) heads[m] = -1;
      continue;
    }
    // the rank of each queued item (an I item's is its SPLIT's), in expand_tree's queue order
    int32_t* queue = lists.scratch + r * 4 * Q;
    int32_t* item_rank = queue + 3 * Q;
    item_rank[0] = static_cast<int32_t>(r);
    int64_t queued = 1;
    expand_tree(n, N, queue, heads, parts + (r * B + b) * N * N,
                [&](int64_t q, int64_t kind, int64_t s, int64_t t) -> int64_t {
                  const int64_t own = kind == kCL ? kTopkCL : kind == kCR ? kTopkCR : kTopkSplit;
                  const int32_t* back = lists.pointer(item(own, s, t), item_rank[q]);
                  const int64_t split = (kind == kCR ? s + 1 : s) + back[0];
                  // the children expand_tree queues (those that are not base items), left first
                  const bool left = kind == kCR || s != split;
                  const bool right = kind == kCL || (kind == kCR ? split != t : split + 1 != t);
                  if (left) item_rank[queued++] = back[1];
                  if (right) item_rank[queued++] = back[2];
                  return split;
                });
  }
}

// ---- Sentences side by side (the CPU's log Z and marginals), as cky::lanes_* (cky_sweeps.h): up to cky::kLanes
// sentences share every chart, one lane each ([M][M][lanes], lane fastest); items past a sentence's length are -inf
// in its lane (its arcs are masked), so sentences of different lengths run in step. The outside pass is in log
// space: log mu(X) = in(X) + logsumexp over the uses of X of in(S) + o(P), o(P) = log mu(P) + theta(P) - in(P); the
// two I items over (s, t) have the same uses' siblings, so one chart o_I(s, t) = log(mu(IL) + mu(IR)) - SPLIT(s, t)
// serves both. With the C, I charts kept transposed too, every sum reads two contiguous blocks of rows:
//   SPLIT(s, t): CR(s, r), CL(r+1, t) over r;  CL(s, t): CL(s, r), IL(r, t);  CR(s, t): IR(s, r), CR(r, t);
//   uses of CL(s, t): CR(s', s-1) + o_I(s', t) over s' < s, IL(t, t') + o_CL(s, t') over t' > t;
//   uses of CR(s, t): CL(t+1, t') + o_I(s, t') over t' > t, IR(s', s) + o_CR(s', t) over s' < s;
//   uses of IL(s, t): CL(s', s) + o_CL(s', t) over 1 <= s' <= s;  of IR(s, t): CR(t, t') + o_CR(s, t') over t' >= t.

enum LaneChart : int64_t { kLaneCL = 0, kLaneCR, kLaneIL, kLaneIR, kLaneSplit, kLaneCLT, kLaneCRT, kLaneILT, kLaneIRT,
                           kLaneOCL, kLaneOCR, kLaneOI, kLaneOCLT, kLaneOCRT, kLaneOIT, kLaneCharts };

LS_HOST_DEVICE inline int64_t lane_count(const TreeShape& shape) { return cky::lane_count(shape); }

/// Workspace of one group: kLaneCharts [M][M][lanes] charts and [M + 6][lanes] of scratch, M = N + 1.
LS_HOST_DEVICE inline int64_t lanes_workspace_size(const TreeShape& shape) {
  const int64_t M = shape.length + 1;
  return lane_count(shape) * (kLaneCharts * M * M + M + 6);
}

template <typename T>
struct LaneCharts {
  T* chart;  // [kLaneCharts][M][M][lanes]
  T* terms;  // [M][lanes]
  T* top;
  T* left;
  T* right;
  T* log_mu_left;  // IL, or the item being finished
  T* log_mu_right;  // IR
  int64_t M;
  int64_t N;
  int64_t lanes;
  int64_t first;
  int64_t length[cky::kLanes];
  int64_t longest;
  bool single_root;
  /// The lanes of item (s, t) of chart `which` (for the transposed charts, of (t, s)).
  LS_HOST_DEVICE T* at(int64_t which, int64_t s, int64_t t) const { return chart + ((which * M + s) * M + t) * lanes; }
};

template <typename T>
LS_HOST_DEVICE LaneCharts<T> lane_charts_of(const TreePotentials<T>& p, const TreeShape& shape, int64_t group,
                                            T* workspace) {
  LaneCharts<T> c;
  const int64_t N = shape.length, M = N + 1, K = lane_count(shape);
  c.chart = workspace;
  c.terms = workspace + kLaneCharts * M * M * K;
  c.top = c.terms + M * K;
  c.left = c.top + K;
  c.right = c.left + K;
  c.log_mu_left = c.right + K;
  c.log_mu_right = c.log_mu_left + K;
  c.M = M;
  c.N = N;
  c.lanes = K;
  c.single_root = p.single_root;
  cky::assign_lane_sentences(c, p, shape, group);
  return c;
}

/// ls::lanes_log_sum_exp_of_sums over n rows of the group's lanes (-inf in every lane when n <= 0).
template <typename T, typename Group>
LS_HOST_DEVICE void lanes_log_sum_exp(const Group& g, const LaneCharts<T>& c, const T* a, const T* b, int64_t n, T* out) {
  if (n <= 0) {
    for (int64_t l = 0; l < c.lanes; ++l) out[l] = neg_inf<T>();
    return;
  }
  lanes_log_sum_exp_of_sums(g, a, b, n, c.lanes, c.terms, c.top, out);
}

/// theta(h, m) of lane l's sentence (nodes; -inf past its length).
template <typename T>
LS_HOST_DEVICE T lane_theta(const TreePotentials<T>& p, const LaneCharts<T>& c, int64_t l, int64_t h, int64_t m) {
  if (h > c.length[l] || m > c.length[l]) return neg_inf<T>();
  const T* scores = p.scores + (c.first + l) * c.N * c.N;
  return h == 0 ? scores[(m - 1) * c.N + (m - 1)] : scores[(h - 1) * c.N + (m - 1)];
}

/// Stores the lanes of `value` at (s, t) of chart `which` and at (t, s) of its transpose.
template <typename T>
LS_HOST_DEVICE void lanes_store(const LaneCharts<T>& c, int64_t which, int64_t transposed, int64_t s, int64_t t,
                                const T* value) {
  T* a = c.at(which, s, t);
  T* b = c.at(transposed, t, s);
  for (int64_t l = 0; l < c.lanes; ++l) a[l] = b[l] = value[l];
}

/// The inside charts and log Z of each sentence.
template <typename T, typename Group>
LS_HOST_DEVICE void lanes_inside(const Group& g, const TreePotentials<T>& p, const LaneCharts<T>& c, T* log_z) {
  const int64_t n = c.longest, K = c.lanes;
  for (int64_t s = 0; s <= n; ++s) {
    for (int64_t l = 0; l < K; ++l) c.left[l] = 0;
    lanes_store(c, kLaneCL, kLaneCLT, s, s, c.left);
    lanes_store(c, kLaneCR, kLaneCRT, s, s, c.left);
  }
  for (int64_t w = 1; w <= n; ++w) {
    for (int64_t s = 0; s + w <= n; ++s) {
      const int64_t t = s + w, end = c.single_root && s == 0 ? s + 1 : t;
      T* split = c.at(kLaneSplit, s, t);
      lanes_log_sum_exp(g, c, c.at(kLaneCR, s, s), c.at(kLaneCLT, t, s + 1), end - s, split);
      for (int64_t l = 0; l < K; ++l) {
        c.left[l] = s == 0 ? neg_inf<T>() : lane_theta(p, c, l, t, s) + split[l];
        c.right[l] = lane_theta(p, c, l, s, t) + split[l];
      }
      lanes_store(c, kLaneIL, kLaneILT, s, t, c.left);
      lanes_store(c, kLaneIR, kLaneIRT, s, t, c.right);
    }
    for (int64_t s = 0; s + w <= n; ++s) {
      const int64_t t = s + w;
      if (s == 0) {
        for (int64_t l = 0; l < K; ++l) c.left[l] = neg_inf<T>();
      } else {
        lanes_log_sum_exp(g, c, c.at(kLaneCL, s, s), c.at(kLaneILT, t, s), w, c.left);
      }
      lanes_log_sum_exp(g, c, c.at(kLaneIR, s, s + 1), c.at(kLaneCRT, t, s + 1), w, c.right);
      lanes_store(c, kLaneCL, kLaneCLT, s, t, c.left);
      lanes_store(c, kLaneCR, kLaneCRT, s, t, c.right);
    }
  }
  for (int64_t l = 0; l < K; ++l) {
    if (c.length[l] > 0) log_z[c.first + l] = c.at(kLaneCR, 0, c.length[l])[l];
  }
}

/// log mu of an item from its inside lanes and the log-sum-exps of its uses (the root of lane l's sentence when
/// `root` says so), clamped to <= 0 against round-off.
template <typename T>
LS_HOST_DEVICE T lane_log_marginal(T in, T uses_a, T uses_b, bool root) {
  if (in == neg_inf<T>()) return in;
  if (root) return T(0);
  const T uses = tree::log_add_exp(uses_a, uses_b);
  if (uses == neg_inf<T>()) return uses;
  const T log_mu = in + uses;
  return log_mu > T(0) ? T(0) : log_mu;
}

/// The outside pass, writing the arc marginals of the group's sentences (zeros elsewhere).
template <typename T, typename Group>
LS_HOST_DEVICE void lanes_outside(const Group& g, const LaneCharts<T>& c, T* marginals) {
  const int64_t n = c.longest, K = c.lanes, N = c.N;
  for (int64_t l = 0; l < K; ++l) {
    if (c.length[l] == 0) continue;
    T* out = marginals + (c.first + l) * N * N;
    for (int64_t k = 0; k < N * N; ++k) out[k] = 0;
  }
  const auto clamp = [&](int64_t v) { return v < 0 ? int64_t(0) : v > n ? n : v; };  // pointers of empty sums
  for (int64_t w = n; w >= 1; --w) {
    for (int64_t s = 0; s + w <= n; ++s) {  // C items
      const int64_t t = s + w;
      if (s == 0) {
        for (int64_t l = 0; l < K; ++l) c.log_mu_left[l] = neg_inf<T>();
      } else {
        const int64_t lo = c.single_root && s != 1 ? 1 : 0;
        lanes_log_sum_exp(g, c, c.at(kLaneCRT, s - 1, lo), c.at(kLaneOIT, t, lo), s - lo, c.left);
        lanes_log_sum_exp(g, c, c.at(kLaneIL, t, clamp(t + 1)), c.at(kLaneOCL, s, clamp(t + 1)), n - t, c.right);
        const T* in = c.at(kLaneCL, s, t);
        for (int64_t l = 0; l < K; ++l) c.log_mu_left[l] = lane_log_marginal(in[l], c.left[l], c.right[l], false);
      }
      const bool skip = c.single_root && s == 0 && t != 0;
      lanes_log_sum_exp(g, c, c.at(kLaneCL, clamp(t + 1), clamp(t + 1)), c.at(kLaneOI, s, clamp(t + 1)),
                        skip ? 0 : n - t, c.left);
      lanes_log_sum_exp(g, c, c.at(kLaneIRT, s, 0), c.at(kLaneOCRT, t, 0), s, c.right);
      const T* in_left = c.at(kLaneCL, s, t);
      const T* in_right = c.at(kLaneCR, s, t);
      for (int64_t l = 0; l < K; ++l) {
        const T log_mu = lane_log_marginal(in_right[l], c.left[l], c.right[l], s == 0 && t == c.length[l]);
        c.log_mu_right[l] = log_mu == neg_inf<T>() ? log_mu : log_mu - in_right[l];
        const T log_mu_left = c.log_mu_left[l];
        c.log_mu_left[l] = log_mu_left == neg_inf<T>() ? log_mu_left : log_mu_left - in_left[l];
      }
      lanes_store(c, kLaneOCL, kLaneOCLT, s, t, c.log_mu_left);
      lanes_store(c, kLaneOCR, kLaneOCRT, s, t, c.log_mu_right);
    }
    for (int64_t s = 0; s + w <= n; ++s) {  // I items
      const int64_t t = s + w;
      if (s == 0) {
        for (int64_t l = 0; l < K; ++l) c.log_mu_left[l] = neg_inf<T>();
      } else {
        lanes_log_sum_exp(g, c, c.at(kLaneCLT, s, 1), c.at(kLaneOCLT, t, 1), s, c.left);
        const T* in = c.at(kLaneIL, s, t);
        for (int64_t l = 0; l < K; ++l) c.log_mu_left[l] = lane_log_marginal(in[l], c.left[l], neg_inf<T>(), false);
      }
      lanes_log_sum_exp(g, c, c.at(kLaneCR, t, t), c.at(kLaneOCR, s, t), n - t + 1, c.right);
      const T* in = c.at(kLaneIR, s, t);
      const T* split = c.at(kLaneSplit, s, t);
      for (int64_t l = 0; l < K; ++l) {
        c.log_mu_right[l] = lane_log_marginal(in[l], c.right[l], neg_inf<T>(), false);
        const T both = tree::log_add_exp(c.log_mu_left[l], c.log_mu_right[l]);
        c.top[l] = both == neg_inf<T>() || split[l] == neg_inf<T>() ? neg_inf<T>() : both - split[l];
      }
      lanes_store(c, kLaneOI, kLaneOIT, s, t, c.top);
      row_exp_shifted_sum(g, c.log_mu_left, T(0), c.log_mu_left, 2 * K);  // both rows: now mu(IL), mu(IR)
      for (int64_t l = 0; l < K; ++l) {
        if (t > c.length[l]) continue;
        T* out = marginals + (c.first + l) * N * N;
        if (s == 0) {
          out[(t - 1) * N + (t - 1)] = c.log_mu_right[l];  // root -> t
        } else {
          out[(s - 1) * N + (t - 1)] = c.log_mu_right[l];
          out[(t - 1) * N + (s - 1)] = c.log_mu_left[l];
        }
      }
    }
  }
}

/// log Z of the group's sentences.
template <typename T, typename Group>
LS_HOST_DEVICE void lanes_log_partition_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape,
                                           int64_t group, T* workspace, T* log_z) {
  lanes_inside(g, p, lane_charts_of(p, shape, group, workspace), log_z);
}

/// log Z and the arc marginals of the group's sentences.
template <typename T, typename Group>
LS_HOST_DEVICE void lanes_marginals_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape,
                                       int64_t group, T* workspace, T* log_z, T* marginals) {
  const LaneCharts<T> c = lane_charts_of(p, shape, group, workspace);
  lanes_inside(g, p, c, log_z);
  lanes_outside(g, c, marginals);
}

}  // namespace eisner
}  // namespace ls
