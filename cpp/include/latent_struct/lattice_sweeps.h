// The passes of the path structures (SemiMarkov, Alignment), written once for both backends over a lattice: a
// directed acyclic graph whose source-to-sink paths are an instance's structures. Every edge carries at most one
// part (its score; no part scores 0) and every part sits on in-edges of one node only, so a thread that owns a node
// writes its parts without races. A structure's score is the sum over the edges of its path, so
//   alpha(v) = logsumexp_{e: u -> v} alpha(u) + w_e (alpha(source) = 0),  log Z = logsumexp_{end v} alpha(v),
//   beta(u) = logsumexp_{e: u -> v} w_e + beta(v) (beta(sink) = 0),       mu_e = exp(alpha(u) + w_e + beta(v) - log Z),
// and a part's marginal is the sum over its edges.
//
// Group interface (inside_outside.h's teams, of which only rank(), size() and sync() are used): a group of one
// thread walks the nodes in the lattice's serial (topological) order; a larger one takes the nodes of a layer (an
// antichain: anti-diagonals for Alignment, positions for SemiMarkov) a thread each, with a sync between layers.
//
// A Lattice provides: nodes() (chart entries), serial_count() and serial_node(t), layers(), layer_size(d) and
// layer_node(d, t), in_degree() and in_edge(v, k), out_degree() and out_edge(u, k) (Edge.node kEnd for the source
// or the sink, kAbsent for a k the node lacks), end_count() and end_node(k) (the nodes with an edge to the sink),
// weight(e), part_count() (parts of one instance), and the decoded form: clear(decoded), record(decoded, t, v,
// part) for the t-th edge u -> v walking back from the sink (t = 0 is the last edge), finish(decoded, count).
#pragma once
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/hypergraph_kbest.h"
#include "latent_struct/inside_outside.h"
#include "latent_struct/log_math.h"
#include "latent_struct/philox.h"

namespace ls {
namespace lattice {

/// Edge.node: the source (of an in-edge) or the sink (of an out-edge); or no edge at all.
constexpr int64_t kEnd = -1;
constexpr int64_t kAbsent = -2;
/// Edge.part of an edge without a part (its score is 0).
constexpr int64_t kNoPart = -1;

/// An edge seen from one of its ends: the other end, and its part.
struct Edge {
  int64_t node;
  int64_t part;
};

/// Runs body(v) on every node of the instance, in topological order (reverse: the opposite), the group's threads
/// over each layer's nodes; the group is synchronized on return.
template <typename Group, typename Lattice, typename Body>
LS_HOST_DEVICE void for_each_node(const Group& g, const Lattice& x, bool reverse, Body body) {
  if (g.size() == 1) {
    const int64_t count = x.serial_count();
    for (int64_t t = 0; t < count; ++t) body(x.serial_node(reverse ? count - 1 - t : t));
    return;
  }
  const int64_t layers = x.layers();
  for (int64_t s = 0; s < layers; ++s) {
    const int64_t d = reverse ? layers - 1 - s : s;
    const int64_t size = x.layer_size(d);
    for (int64_t t = g.rank(); t < size; t += g.size()) body(x.layer_node(d, t));
    g.sync();
  }
}

/// Runs body(v) on every node of the instance once, in no particular order (nodes independent of each other).
template <typename Group, typename Lattice, typename Body>
LS_HOST_DEVICE void for_each_node_unordered(const Group& g, const Lattice& x, Body body) {
  const int64_t count = x.serial_count();
  for (int64_t t = g.rank(); t < count; t += g.size()) body(x.serial_node(t));
}

/// logsumexp over k < count of term(k) (-inf when every term is; terms -inf allowed), max-shifted.
template <typename T, typename Term>
LS_HOST_DEVICE T log_sum_exp_over(int64_t count, Term term) {
  T top = neg_inf<T>();
  for (int64_t k = 0; k < count; ++k) {
    const T v = term(k);
    top = v > top ? v : top;
  }
  if (top == neg_inf<T>()) return top;
  T sum = 0;
  for (int64_t k = 0; k < count; ++k) sum += exp_of(term(k) - top);
  return top + log_of(sum);
}

/// chart[e.node] for the node at the other end of e, 0 when that end is the source or the sink.
template <typename T>
LS_HOST_DEVICE T other_end(const T* chart, const Edge& e) {
  return e.node == kEnd ? T(0) : chart[e.node];
}

/// alpha(u) + w_e for the in-edge e of a node (-inf for an absent edge).
template <typename T, typename Lattice>
LS_HOST_DEVICE T arriving(const Lattice& x, const T* alpha, const Edge& e) {
  if (e.node == kAbsent) return neg_inf<T>();
  return other_end(alpha, e) + x.weight(e);
}

/// w_e + beta(v) for the out-edge e of a node (-inf for an absent edge).
template <typename T, typename Lattice>
LS_HOST_DEVICE T leaving(const Lattice& x, const T* beta, const Edge& e) {
  if (e.node == kAbsent) return neg_inf<T>();
  return x.weight(e) + other_end(beta, e);
}

/// The forward pass: alpha over the nodes; returns log Z (every thread, through `slot`).
template <typename T, typename Group, typename Lattice>
LS_HOST_DEVICE T forward(const Group& g, const Lattice& x, T* alpha, T* slot) {
  const int64_t degree = x.in_degree();
  for_each_node(g, x, false, [&](int64_t v) {
    alpha[v] = log_sum_exp_over<T>(degree, [&](int64_t k) { return arriving(x, alpha, x.in_edge(v, k)); });
  });
  if (g.rank() == 0) *slot = log_sum_exp_over<T>(x.end_count(), [&](int64_t k) { return alpha[x.end_node(k)]; });
  g.sync();
  return *slot;
}

/// The backward pass: beta over the nodes.
template <typename T, typename Group, typename Lattice>
LS_HOST_DEVICE void backward(const Group& g, const Lattice& x, T* beta) {
  const int64_t degree = x.out_degree();
  for_each_node(g, x, true, [&](int64_t u) {
    beta[u] = log_sum_exp_over<T>(degree, [&](int64_t k) { return leaving(x, beta, x.out_edge(u, k)); });
  });
}

/// Workspace of one instance: alpha, beta and the two tangents over the nodes, and two scalars.
template <typename Lattice>
LS_HOST_DEVICE int64_t workspace_size(const Lattice& x) {
  return 4 * x.nodes() + 2;
}

template <typename T, typename Group, typename Lattice>
LS_HOST_DEVICE void log_partition(const Group& g, const Lattice& x, T* w, T* log_z) {
  const T z = forward(g, x, w, w + 4 * x.nodes());
  if (g.rank() == 0) *log_z = z;
}

/// Marginals of the parts (zero on parts no edge of the instance carries) and log Z.
template <typename T, typename Group, typename Lattice>
LS_HOST_DEVICE void marginals(const Group& g, const Lattice& x, T* w, T* log_z, T* mu) {
  T* alpha = w;
  T* beta = w + x.nodes();
  const T z = forward(g, x, alpha, w + 4 * x.nodes());
  backward(g, x, beta);
  tree::group_fill(g, mu, x.part_count(), T(0));
  g.sync();
  if (g.rank() == 0) *log_z = z;
  if (z == neg_inf<T>()) return;
  const int64_t degree = x.in_degree();
  for_each_node_unordered(g, x, [&](int64_t v) {
    for (int64_t k = 0; k < degree; ++k) {
      const Edge e = x.in_edge(v, k);
      if (e.node == kAbsent || e.part == kNoPart) continue;
      mu[e.part] += exp_of(arriving(x, alpha, e) + beta[v] - z);
    }
  });
}

/// (dmu/dscores)^T g = Cov(z) g. Conditioned on an edge u -> v the prefix and the suffix of the path are
/// independent, so E[<g, z> | e] = a(u) + g_e + b(v) with a the expected gain of the prefix under the forward
/// conditionals p(e | v) = exp(alpha(u) + w_e - alpha(v)) and b that of the suffix under the backward ones, and
/// Cov(z_e, <g, z>) = mu_e (a(u) + g_e + b(v) - E[<g, z>]) (the first-order expectation semiring, Li & Eisner 2009).
template <typename T, typename Group, typename Lattice>
LS_HOST_DEVICE void marginals_backward(const Group& g, const Lattice& x, const T* grad, T* w, T* log_z, T* out) {
  const int64_t nodes = x.nodes();
  T* alpha = w;
  T* beta = w + nodes;
  T* ahead = w + 2 * nodes;   // a(v): expected gain of the prefix ending at v
  T* behind = w + 3 * nodes;  // b(u): expected gain of the suffix starting at u
  T* slots = w + 4 * nodes;
  const T z = forward(g, x, alpha, slots);
  backward(g, x, beta);
  auto gain = [&](const Edge& e) { return e.part == kNoPart ? T(0) : grad[e.part]; };
  const int64_t in = x.in_degree(), out_degree = x.out_degree();
  for_each_node(g, x, false, [&](int64_t v) {
    T sum = 0;
    if (alpha[v] != neg_inf<T>()) {
      for (int64_t k = 0; k < in; ++k) {
        const Edge e = x.in_edge(v, k);
        const T t = arriving(x, alpha, e);
        if (t == neg_inf<T>()) continue;
        sum += exp_of(t - alpha[v]) * (other_end(ahead, e) + gain(e));
      }
    }
    ahead[v] = sum;
  });
  for_each_node(g, x, true, [&](int64_t u) {
    T sum = 0;
    if (beta[u] != neg_inf<T>()) {
      for (int64_t k = 0; k < out_degree; ++k) {
        const Edge e = x.out_edge(u, k);
        const T t = leaving(x, beta, e);
        if (t == neg_inf<T>()) continue;
        sum += exp_of(t - beta[u]) * (gain(e) + other_end(behind, e));
      }
    }
    behind[u] = sum;
  });
  if (g.rank() == 0) {
    T mean = 0;
    if (z != neg_inf<T>()) {
      for (int64_t k = 0; k < x.end_count(); ++k) {
        const int64_t v = x.end_node(k);
        if (alpha[v] != neg_inf<T>()) mean += exp_of(alpha[v] - z) * ahead[v];
      }
    }
    slots[1] = mean;
    *log_z = z;
  }
  tree::group_fill(g, out, x.part_count(), T(0));
  g.sync();
  if (z == neg_inf<T>()) return;
  const T mean = slots[1];
  for_each_node_unordered(g, x, [&](int64_t v) {
    for (int64_t k = 0; k < in; ++k) {
      const Edge e = x.in_edge(v, k);
      if (e.node == kAbsent || e.part == kNoPart) continue;
      const T mu = exp_of(arriving(x, alpha, e) + beta[v] - z);
      if (mu == 0) continue;
      out[e.part] += mu * (other_end(ahead, e) + gain(e) + behind[v] - mean);
    }
  });
}

/// H(p) by the forward conditionals: p(path) = p(end) prod_e p(e | v), so with h(v) the entropy of the prefix
/// ending at v, h(v) = sum_e p(e | v) (h(u) - log p(e | v)) and H = sum_end p(end) (h(end) - log p(end)).
template <typename T, typename Group, typename Lattice>
LS_HOST_DEVICE void entropy(const Group& g, const Lattice& x, T* w, T* log_z, T* entropy_out) {
  const int64_t nodes = x.nodes();
  T* alpha = w;
  T* h = w + nodes;
  const T z = forward(g, x, alpha, w + 4 * nodes);
  const int64_t in = x.in_degree();
  for_each_node(g, x, false, [&](int64_t v) {
    T sum = 0;
    if (alpha[v] != neg_inf<T>()) {
      for (int64_t k = 0; k < in; ++k) {
        const Edge e = x.in_edge(v, k);
        const T log_p = arriving(x, alpha, e) - alpha[v];
        if (log_p == neg_inf<T>()) continue;
        sum += exp_of(log_p) * (other_end(h, e) - log_p);
      }
    }
    h[v] = sum;
  });
  if (g.rank() != 0) return;
  T sum = 0;
  if (z != neg_inf<T>()) {
    for (int64_t k = 0; k < x.end_count(); ++k) {
      const int64_t v = x.end_node(k);
      const T log_p = alpha[v] - z;
      if (log_p == neg_inf<T>()) continue;
      sum += exp_of(log_p) * (h[v] - log_p);
    }
  }
  *log_z = z;
  *entropy_out = sum;
}

/// Walks a path back from the sink: choose_end() picks the end node, choose(v) the in-edge of v; each edge is
/// recorded in the decoded form and its part set in `parts`. Returns the number of edges.
template <typename Lattice, typename T, typename ChooseEnd, typename Choose>
LS_HOST_DEVICE int64_t walk_back(const Lattice& x, int32_t* decoded, T* parts, ChooseEnd choose_end, Choose choose) {
  x.clear(decoded);
  int64_t v = choose_end();
  int64_t count = 0;
  while (v >= 0) {
    const int64_t k = choose(v);
    if (k < 0) break;
    const Edge e = x.in_edge(v, k);
    x.record(decoded, count++, v, e.part);
    if (e.part != kNoPart) parts[e.part] = T(1);
    v = e.node;
  }
  x.finish(decoded, count);
  return count;
}

/// The MAP path by Viterbi (first maximum on ties: the first end, the first in-edge), its score and parts.
template <typename T, typename Group, typename Lattice>
LS_HOST_DEVICE void argmax(const Group& g, const Lattice& x, T* w, int32_t* decoded, T* score, T* parts) {
  T* delta = w;
  const int64_t in = x.in_degree();
  for_each_node(g, x, false, [&](int64_t v) {
    T best = neg_inf<T>();
    for (int64_t k = 0; k < in; ++k) {
      const T t = arriving(x, delta, x.in_edge(v, k));
      best = t > best ? t : best;
    }
    delta[v] = best;
  });
  tree::group_fill(g, parts, x.part_count(), T(0));
  g.sync();
  if (g.rank() != 0) return;
  int64_t best_end = -1;
  T best = neg_inf<T>();
  for (int64_t k = 0; k < x.end_count(); ++k) {
    const T t = delta[x.end_node(k)];
    if (best_end < 0 || t > best) {
      best = t;
      best_end = k;
    }
  }
  *score = best;
  if (best == neg_inf<T>()) {  // no path of finite score: the binding raises an error
    x.clear(decoded);
    x.finish(decoded, 0);
    return;
  }
  walk_back(
      x, decoded, parts, [&]() { return x.end_node(best_end); },
      [&](int64_t v) -> int64_t {
        for (int64_t k = 0; k < in; ++k) {
          if (arriving(x, delta, x.in_edge(v, k)) == delta[v]) return k;
        }
        return -1;
      });
}

/// Exact samples, walking back from the sink: the end with probability exp(alpha(v) - log Z), then each in-edge
/// with its forward conditional exp(alpha(u) + w_e - alpha(v)). Sample s of instance b takes the Philox uniforms
/// (stream, (s B + b) stride + t), t = 0 for the end and t for the t-th edge. parts and decoded are this instance's
/// rows of sample 0; sample s is `parts_stride` / `decoded_stride` further on.
template <typename T, typename Group, typename Lattice>
LS_HOST_DEVICE void sample(const Group& g, const Lattice& x, int64_t b, int64_t batch, int64_t samples, uint64_t seed,
                           uint64_t stream, int64_t stride, T* w, T* log_z, int32_t* decoded, int64_t decoded_stride,
                           T* parts, int64_t parts_stride) {
  T* alpha = w;
  const T z = forward(g, x, alpha, w + 4 * x.nodes());
  if (g.rank() == 0) *log_z = z;
  for (int64_t s = 0; s < samples; ++s) tree::group_fill(g, parts + s * parts_stride, x.part_count(), T(0));
  g.sync();
  const int64_t in = x.in_degree();
  for (int64_t s = g.rank(); s < samples; s += g.size()) {
    int32_t* own_decoded = decoded + s * decoded_stride;
    if (z == neg_inf<T>()) {  // no path of finite score: the binding raises an error
      x.clear(own_decoded);
      x.finish(own_decoded, 0);
      continue;
    }
    const uint64_t first = static_cast<uint64_t>((s * batch + b) * stride);
    int64_t t = 0;
    walk_back(
        x, own_decoded, parts + s * parts_stride,
        [&]() -> int64_t {
          const int32_t k = draw<T>(x.end_count(), philox_uniform(seed, stream, first + t++),
                                    [&](int64_t k) { return alpha[x.end_node(k)] - z; });
          return k < 0 ? -1 : x.end_node(k);
        },
        [&](int64_t v) -> int64_t {
          return draw<T>(in, philox_uniform(seed, stream, first + t++),
                         [&](int64_t k) { return arriving(x, alpha, x.in_edge(v, k)) - alpha[v]; });
        });
  }
}

/// k-best Viterbi: every node keeps its k best derivations (paths from the source), each a score and a back
/// pointer (in-edge, rank of the derivation of its predecessor, 0), found in topological order by
/// hypergraph_kbest.h's lazy frontier (Huang & Chiang 2005, "Better k-best parsing", algorithm 2) over unary
/// hyperedges (an in-edge's tail is its predecessor's list, none for the source; its weight the edge's):
/// O(in_degree + k log(in_degree + k)) per node. The sink's k best come from the end nodes' lists the same way, and
/// each is backtracked by its (in-edge, rank) pointers.
///
/// Derivations are ordered by score (descending), then by the choice made at their last step (the in-edge index,
/// the end index at the sink: smaller first), then by the rank of the predecessor's derivation. Derivations of
/// equal score through one in-edge have predecessors of equal score, so ties between whole paths are broken
/// lexicographically by the choices read walking back from the sink: (end index, in-edge index at that node,
/// in-edge index at its predecessor, ...), smaller first. Rank 0 is argmax()'s path (first maximum). Derivations
/// of score -inf are never listed: the lists end in -inf scores and -1 pointers.
///
/// Workspace: the (nodes + 1) k derivations (the sink's list last) and a heap of in_degree + k candidates per node
/// (the nodes of a layer are filled at once), whose room the sink's heap (end_count + k candidates, end_count <=
/// nodes) reuses once the nodes are done; T elements, and hypergraph::kPointerWidth int32 per element.
template <typename Lattice>
LS_HOST_DEVICE int64_t topk_workspace_size(const Lattice& x, int64_t k) {
  return hypergraph::lists_workspace_size(x.nodes() + 1, x.nodes(), k, x.in_degree());
}
template <typename Lattice>
LS_HOST_DEVICE int64_t topk_index_workspace_size(const Lattice& x, int64_t k) {
  return hypergraph::lists_index_workspace_size(x.nodes() + 1, x.nodes(), k, x.in_degree());
}

/// The k best paths (k-best Viterbi above): path j's score, decoded form and one-hot parts at scores[j
/// score_stride], decoded + j decoded_stride, parts + j parts_stride. Past the last path of finite score: score
/// -inf, decoded -1 (clear() and finish(0)), parts zero.
template <typename T, typename Group, typename Lattice>
LS_HOST_DEVICE void topk(const Group& g, const Lattice& x, int64_t k, T* w, int32_t* indices, T* scores,
                         int64_t score_stride, int32_t* decoded, int64_t decoded_stride, T* parts,
                         int64_t parts_stride) {
  using hypergraph::Hyperedge;
  using hypergraph::kPointerWidth;
  const int64_t nodes = x.nodes(), in = x.in_degree();
  const hypergraph::Lists<T> lists = hypergraph::lists_of(w, indices, nodes + 1, nodes, k, in);
  for_each_node(g, x, false, [&](int64_t v) {
    lists.fill(v, v, in, [&](int64_t e) -> Hyperedge<T> {
      const Edge edge = x.in_edge(v, e);
      if (edge.node == kAbsent) return hypergraph::absent_edge<T>();
      const hypergraph::Tail<T> from = edge.node == kEnd ? hypergraph::no_tail<T>() : lists.tail(edge.node);
      return Hyperedge<T>{x.weight(edge), from, hypergraph::no_tail<T>(), true};
    });
  });
  for (int64_t j = 0; j < k; ++j) tree::group_fill(g, parts + j * parts_stride, x.part_count(), T(0));
  if (g.rank() == 0) {
    hypergraph::best_derivations<T>(
        k, x.end_count(),
        [&](int64_t e) { return Hyperedge<T>{T(0), lists.tail(x.end_node(e)), hypergraph::no_tail<T>(), true}; },
        hypergraph::Heap<T>{lists.heap_scores, lists.heap_pointers, 0}, lists.list(nodes), lists.pointer(nodes, 0));
  }
  g.sync();
  const T* sink = lists.list(nodes);
  const int32_t* sink_pointers = lists.pointer(nodes, 0);
  for (int64_t j = g.rank(); j < k; j += g.size()) {
    int32_t* own_decoded = decoded + j * decoded_stride;
    scores[j * score_stride] = sink[j];
    if (sink_pointers[kPointerWidth * j] < 0) {
      x.clear(own_decoded);
      x.finish(own_decoded, 0);
      continue;
    }
    int64_t rank = sink_pointers[kPointerWidth * j + 1];
    walk_back(
        x, own_decoded, parts + j * parts_stride,
        [&]() -> int64_t { return x.end_node(sink_pointers[kPointerWidth * j]); },
        [&](int64_t v) -> int64_t {
          const int32_t* pointer = lists.pointer(v, rank);
          rank = pointer[1];
          return pointer[0];
        });
  }
}

}  // namespace lattice
}  // namespace ls

// The sentence ops of a path structure (what tree_ops.h / tree_teams.cuh wrap), in the including namespace, from
// its lattice_at<T>(potentials, shape, b), path_steps(shape) (the most edges of a path) and decoded_size(shape).
#define LS_DEFINE_LATTICE_SENTENCE_OPS(stream)                                                                      \
  LS_HOST_DEVICE inline int64_t workspace_size(const TreeShape& shape) {                                           \
    return ::ls::lattice::workspace_size(lattice_at<float>(TreePotentials<float>{}, shape, 0));                    \
  }                                                                                                                \
  LS_HOST_DEVICE inline int64_t index_workspace_size(const TreeShape&) { return 1; }                               \
  template <typename T, typename Group>                                                                            \
  LS_HOST_DEVICE void log_partition_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape,         \
                                       int64_t b, T* w, T* log_z) {                                                \
    ::ls::lattice::log_partition(g, lattice_at(p, shape, b), w, log_z + b);                                        \
  }                                                                                                                \
  template <typename T, typename Group>                                                                            \
  LS_HOST_DEVICE void marginals_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,  \
                                   T* w, T* log_z, T* marginals) {                                                 \
    const auto x = lattice_at(p, shape, b);                                                                        \
    ::ls::lattice::marginals(g, x, w, log_z + b, marginals + b * x.part_count());                                  \
  }                                                                                                                \
  template <typename T, typename Group>                                                                            \
  LS_HOST_DEVICE void marginals_backward_op(const Group& g, const TreePotentials<T>& p, const T* grad,             \
                                            const TreeShape& shape, int64_t b, T* w, T* log_z, T* out) {           \
    const auto x = lattice_at(p, shape, b);                                                                        \
    const int64_t D = x.part_count();                                                                              \
    ::ls::lattice::marginals_backward(g, x, grad + b * D, w, log_z + b, out + b * D);                              \
  }                                                                                                                \
  template <typename T, typename Group>                                                                            \
  LS_HOST_DEVICE void entropy_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,    \
                                 T* w, T* log_z, T* entropy) {                                                     \
    ::ls::lattice::entropy(g, lattice_at(p, shape, b), w, log_z + b, entropy + b);                                 \
  }                                                                                                                \
  template <typename T, typename Group>                                                                            \
  LS_HOST_DEVICE void argmax_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,     \
                                T* w, int32_t*, int32_t* decoded, T* score, T* parts) {                            \
    const auto x = lattice_at(p, shape, b);                                                                        \
    ::ls::lattice::argmax(g, x, w, decoded + b * decoded_size(shape), score + b, parts + b * x.part_count());      \
  }                                                                                                                \
  LS_HOST_DEVICE inline int64_t topk_workspace_size(const TreeShape& shape, int64_t k) {                          \
    return ::ls::lattice::topk_workspace_size(lattice_at<float>(TreePotentials<float>{}, shape, 0), k);            \
  }                                                                                                                \
  LS_HOST_DEVICE inline int64_t topk_index_workspace_size(const TreeShape& shape, int64_t k) {                    \
    return ::ls::lattice::topk_index_workspace_size(lattice_at<float>(TreePotentials<float>{}, shape, 0), k);      \
  }                                                                                                                \
  /* k-best paths of instance b: decoded [k, B, width], scores [k, B], parts [k, B, D]. */                         \
  template <typename T, typename Group>                                                                            \
  LS_HOST_DEVICE void topk_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,       \
                              int64_t k, T* w, int32_t* indices, int32_t* decoded, T* scores, T* parts) {          \
    const auto x = lattice_at(p, shape, b);                                                                        \
    const int64_t D = x.part_count(), width = decoded_size(shape);                                                 \
    ::ls::lattice::topk(g, x, k, w, indices, scores + b, shape.batch, decoded + b * width, shape.batch * width,    \
                        parts + b * D, shape.batch * D);                                                           \
  }                                                                                                                \
  template <typename T, typename Group>                                                                            \
  LS_HOST_DEVICE void sample_op(const Group& g, const TreePotentials<T>& p, const TreeShape& shape, int64_t b,     \
                                int64_t samples, uint64_t seed, T* w, T* log_z, int32_t* decoded, T* parts) {      \
    const auto x = lattice_at(p, shape, b);                                                                        \
    const int64_t D = x.part_count(), width = decoded_size(shape);                                                 \
    ::ls::lattice::sample(g, x, b, shape.batch, samples, seed, (stream), path_steps(shape) + 1, w, log_z + b,     \
                          decoded + b * width, shape.batch * width, parts + b * D, shape.batch * D);               \
  }
