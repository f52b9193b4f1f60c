// Exact k-best derivations of an acyclic hypergraph whose hyperedges have at most two tails (Huang & Chiang 2005,
// "Better k-best parsing", algorithm 2): the items are visited bottom-up; each item keeps the k best derivations
// over its incoming hyperedges, sorted, as k scores and back pointers (hyperedge, left rank, right rank), found by
// a lazy frontier: a candidate heap holds the best unexplored derivation of each hyperedge, and popping
// (e, i, j) pushes its successors (e, i, j + 1) and, when j = 0, (e, i + 1, 0), so every pair of ranks has exactly
// one predecessor and no duplicates arise. O(E + k log(E + k)) per item, with a heap of E + k candidates.
// Written once for both backends (CKY's and Eisner's topk, cky_sweeps.h and eisner_sweeps.h, define the items
// and hyperedges and decode by walking the back pointers).
//
// Order. A derivation through hyperedge e with tail ranks (i, j) scores (left_i + right_j) + weight_e (an absent
// tail is one derivation of score 0; the sum's order matches the Viterbi passes, so rank 0's score is argmax()'s to
// the bit). Derivations are sorted by score (descending), then by e, then i, then j (ascending). Since each tail's
// list is sorted the same way, ties between whole derivations are broken recursively, top-down: at each item,
// equal scores go by the hyperedge index, then by the left sub-derivation (by its score, then the same rule inside
// it), then by the right one. Rank 0 takes the first hyperedge of best score and rank 0 of each tail: the first
// maximum at every item, argmax()'s derivation when hyperedges are numbered as argmax()'s split points. Derivations
// of score -inf are never listed: a list with fewer finite derivations than k ends in -inf scores and -1 pointers.
// Exactness of the lazy frontier: a successor never precedes its predecessor (score sums are monotone under
// rounding, and the index order breaks ties), so when a candidate is the best remaining, it is in the heap.
#pragma once
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/log_math.h"

namespace ls {
namespace hypergraph {

/// Back-pointer entries per derivation: hyperedge, left rank, right rank.
constexpr int64_t kPointerWidth = 3;

/// A tail of a hyperedge: an item's list read as scores[r] + shift (r < k); scores == nullptr: no tail, one
/// derivation of score 0.
template <typename T>
struct Tail {
  const T* scores;
  T shift;
};

/// A hyperedge into an item: its weight and tails (a unary hyperedge has only `left`, a terminal one neither);
/// present == false: no hyperedge (skipped).
template <typename T>
struct Hyperedge {
  T weight;
  Tail<T> left;
  Tail<T> right;
  bool present;
};

template <typename T>
LS_HOST_DEVICE Tail<T> no_tail() {
  return Tail<T>{nullptr, T(0)};
}
template <typename T>
LS_HOST_DEVICE Hyperedge<T> absent_edge() {
  return Hyperedge<T>{T(0), no_tail<T>(), no_tail<T>(), false};
}

/// Heap capacity for items of at most `max_edges` hyperedges: every pop adds at most one candidate.
LS_HOST_DEVICE inline int64_t heap_capacity(int64_t max_edges, int64_t k) { return max_edges + k; }

/// A candidate heap in caller-provided storage: capacity scores and capacity x kPointerWidth pointers.
template <typename T>
struct Heap {
  T* scores;
  int32_t* pointers;
  int64_t size;
};

/// Whether derivation (s, p) comes before (s0, p0) in the order above.
template <typename T>
LS_HOST_DEVICE bool precedes(T s, const int32_t* p, T s0, const int32_t* p0) {
  if (s != s0) return s > s0;
  for (int64_t c = 0; c < kPointerWidth; ++c) {
    if (p[c] != p0[c]) return p[c] < p0[c];
  }
  return false;
}

template <typename T>
LS_HOST_DEVICE void heap_swap(Heap<T>& h, int64_t a, int64_t b) {
  const T s = h.scores[a];
  h.scores[a] = h.scores[b];
  h.scores[b] = s;
  for (int64_t c = 0; c < kPointerWidth; ++c) {
    const int32_t v = h.pointers[kPointerWidth * a + c];
    h.pointers[kPointerWidth * a + c] = h.pointers[kPointerWidth * b + c];
    h.pointers[kPointerWidth * b + c] = v;
  }
}

template <typename T>
LS_HOST_DEVICE bool heap_before(const Heap<T>& h, int64_t a, int64_t b) {
  return precedes(h.scores[a], h.pointers + kPointerWidth * a, h.scores[b], h.pointers + kPointerWidth * b);
}

template <typename T>
LS_HOST_DEVICE void heap_push(Heap<T>& h, T score, int64_t edge, int64_t left, int64_t right) {
  int64_t at = h.size++;
  h.scores[at] = score;
  h.pointers[kPointerWidth * at] = static_cast<int32_t>(edge);
  h.pointers[kPointerWidth * at + 1] = static_cast<int32_t>(left);
  h.pointers[kPointerWidth * at + 2] = static_cast<int32_t>(right);
  while (at > 0 && heap_before(h, at, (at - 1) / 2)) {
    heap_swap(h, at, (at - 1) / 2);
    at = (at - 1) / 2;
  }
}

/// Moves the first candidate to `score` and `pointer` and restores the heap.
template <typename T>
LS_HOST_DEVICE void heap_pop(Heap<T>& h, T* score, int32_t* pointer) {
  *score = h.scores[0];
  for (int64_t c = 0; c < kPointerWidth; ++c) pointer[c] = h.pointers[c];
  heap_swap(h, 0, --h.size);
  int64_t at = 0;
  for (;;) {
    const int64_t left = 2 * at + 1, right = left + 1;
    int64_t first = at;
    if (left < h.size && heap_before(h, left, first)) first = left;
    if (right < h.size && heap_before(h, right, first)) first = right;
    if (first == at) return;
    heap_swap(h, at, first);
    at = first;
  }
}

/// Rank r of a tail's list (-inf past its end).
template <typename T>
LS_HOST_DEVICE T tail_score(const Tail<T>& tail, int64_t r, int64_t k) {
  if (!tail.scores) return r == 0 ? T(0) : neg_inf<T>();
  return r < k ? tail.scores[r] + tail.shift : neg_inf<T>();
}

/// The score of derivation (i, j) of hyperedge e: (left_i + right_j) + weight (-inf when a rank is past its list).
template <typename T>
LS_HOST_DEVICE T derivation_score(const Hyperedge<T>& e, int64_t i, int64_t j, int64_t k) {
  const T left = tail_score(e.left, i, k), right = tail_score(e.right, j, k);
  if (left == neg_inf<T>() || right == neg_inf<T>()) return neg_inf<T>();
  return (left + right) + e.weight;
}

/// Fills list [k] and pointers [k][kPointerWidth] with the k best derivations of an item over its hyperedges
/// edges(e), e < count, in the order above; `heap` has heap_capacity(count, k) room.
template <typename T, typename Edges>
LS_HOST_DEVICE void best_derivations(int64_t k, int64_t count, Edges edges, Heap<T> heap, T* list,
                                     int32_t* pointers) {
  heap.size = 0;
  for (int64_t e = 0; e < count; ++e) {
    const Hyperedge<T> edge = edges(e);
    if (!edge.present) continue;
    const T score = derivation_score(edge, 0, 0, k);
    if (score != neg_inf<T>()) heap_push(heap, score, e, 0, 0);
  }
  for (int64_t slot = 0; slot < k; ++slot) {
    int32_t* pointer = pointers + kPointerWidth * slot;
    if (heap.size == 0) {
      list[slot] = neg_inf<T>();
      for (int64_t c = 0; c < kPointerWidth; ++c) pointer[c] = -1;
      continue;
    }
    heap_pop(heap, list + slot, pointer);
    const int64_t e = pointer[0], i = pointer[1], j = pointer[2];
    const Hyperedge<T> edge = edges(e);
    if (edge.right.scores) {
      const T score = derivation_score(edge, i, j + 1, k);
      if (score != neg_inf<T>()) heap_push(heap, score, e, i, j + 1);
    }
    if (j == 0 && edge.left.scores) {
      const T score = derivation_score(edge, i + 1, 0, k);
      if (score != neg_inf<T>()) heap_push(heap, score, e, i + 1, 0);
    }
  }
}

/// The k-best lists of `items` chart items with `heaps` candidate heaps, laid out in a workspace of T (the lists'
/// scores, then the heaps') and one of int32 (the lists' pointers, then the heaps', then what the caller keeps after
/// them: `scratch`).
template <typename T>
struct Lists {
  T* scores;
  int32_t* pointers;
  T* heap_scores;
  int32_t* heap_pointers;
  int32_t* scratch;
  int64_t k;
  int64_t capacity;
  /// Item `item`'s list as a tail of a hyperedge, shifted by `shift`.
  LS_HOST_DEVICE Tail<T> tail(int64_t item, T shift = T(0)) const { return Tail<T>{scores + item * k, shift}; }
  LS_HOST_DEVICE T* list(int64_t item) const { return scores + item * k; }
  /// The back pointer (hyperedge, left rank, right rank) of derivation `rank` of item `item`.
  LS_HOST_DEVICE int32_t* pointer(int64_t item, int64_t rank) const { return pointers + kPointerWidth * (item * k + rank); }
  /// Fills item `item`'s list from its hyperedges edges(e), e < count, with heap number `heap`.
  template <typename Edges>
  LS_HOST_DEVICE void fill(int64_t item, int64_t heap, int64_t count, Edges edges) const {
    best_derivations<T>(k, count, edges,
                        Heap<T>{heap_scores + heap * capacity, heap_pointers + kPointerWidth * heap * capacity, 0},
                        list(item), pointer(item, 0));
  }
};

/// Workspace sizes of Lists: T elements, and int32 elements before the scratch, for items of at most `max_edges`.
LS_HOST_DEVICE inline int64_t lists_workspace_size(int64_t items, int64_t heaps, int64_t k, int64_t max_edges) {
  return items * k + heaps * heap_capacity(max_edges, k);
}
LS_HOST_DEVICE inline int64_t lists_index_workspace_size(int64_t items, int64_t heaps, int64_t k, int64_t max_edges) {
  return kPointerWidth * lists_workspace_size(items, heaps, k, max_edges);
}
template <typename T>
LS_HOST_DEVICE Lists<T> lists_of(T* workspace, int32_t* index_workspace, int64_t items, int64_t heaps, int64_t k,
                                 int64_t max_edges) {
  return Lists<T>{workspace,
                  index_workspace,
                  workspace + items * k,
                  index_workspace + kPointerWidth * items * k,
                  index_workspace + lists_index_workspace_size(items, heaps, k, max_edges),
                  k,
                  heap_capacity(max_edges, k)};
}

}  // namespace hypergraph
}  // namespace ls
