// Exact k-best derivations of an acyclic hypergraph whose hyperedges have at most two tails (Huang & Chiang 2005,
// "Better k-best parsing", algorithm 2): the items are visited bottom-up; each item keeps the k best derivations
// over its incoming hyperedges, sorted, as k scores and back pointers (hyperedge, left rank, right rank), found by
// a lazy frontier: a candidate heap holds the best unexplored derivation of each hyperedge, and popping
// (e, i, j) pushes its successors (e, i, j + 1) and, when j = 0, (e, i + 1, 0), so every pair of ranks has exactly
// one predecessor and no duplicates arise. O(E + k log(E + k)) per item, with a heap of E + k candidates.
// The one k-best merge of the code base, written once for both backends: CKY's and Eisner's topk (cky_sweeps.h,
// eisner_sweeps.h) and the path structures' and the chain's k-best Viterbi (lattice_sweeps.h, linear_chain_topk.h,
// over unary hyperedges: a node's in-edge has its predecessor's list as left tail, the source none) define the
// items and hyperedges and decode by walking the back pointers.
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

/// Writes candidate (score, pointer) at position `at` of the heap.
template <typename T>
LS_HOST_DEVICE void heap_set(Heap<T>& h, int64_t at, T score, const int32_t* pointer) {
  h.scores[at] = score;
  for (int64_t c = 0; c < kPointerWidth; ++c) h.pointers[kPointerWidth * at + c] = pointer[c];
}

/// Puts (score, pointer) in the hole at `at` and moves it down below the candidates that precede it.
template <typename T>
LS_HOST_DEVICE void sift_down(Heap<T>& h, int64_t at, T score, const int32_t* pointer) {
  for (;;) {
    int64_t child = 2 * at + 1;
    if (child >= h.size) break;
    if (child + 1 < h.size &&
        precedes(h.scores[child + 1], h.pointers + kPointerWidth * (child + 1), h.scores[child],
                 h.pointers + kPointerWidth * child)) {
      ++child;
    }
    if (!precedes(h.scores[child], h.pointers + kPointerWidth * child, score, pointer)) break;
    heap_set(h, at, h.scores[child], h.pointers + kPointerWidth * child);
    at = child;
  }
  heap_set(h, at, score, pointer);
}

/// Adds (score, pointer) to the heap.
template <typename T>
LS_HOST_DEVICE void heap_push(Heap<T>& h, T score, const int32_t* pointer) {
  int64_t at = h.size++;
  while (at > 0) {
    const int64_t parent = (at - 1) / 2;
    if (!precedes(score, pointer, h.scores[parent], h.pointers + kPointerWidth * parent)) break;
    heap_set(h, at, h.scores[parent], h.pointers + kPointerWidth * parent);
    at = parent;
  }
  heap_set(h, at, score, pointer);
}

/// Takes candidate `from` out of its position and sifts it down from the hole at `at`.
template <typename T>
LS_HOST_DEVICE void sift_down_moved(Heap<T>& h, int64_t at, int64_t from) {
  int32_t pointer[kPointerWidth];
  for (int64_t c = 0; c < kPointerWidth; ++c) pointer[c] = h.pointers[kPointerWidth * from + c];
  sift_down(h, at, h.scores[from], pointer);
}

/// Drops the first candidate and restores the heap.
template <typename T>
LS_HOST_DEVICE void heap_drop_first(Heap<T>& h) {
  if (--h.size > 0) sift_down_moved(h, 0, h.size);
}

/// Orders h.size candidates written in any order into a heap (Floyd's bottom-up construction, O(size)).
template <typename T>
LS_HOST_DEVICE void heapify(Heap<T>& h) {
  for (int64_t at = h.size / 2 - 1; at >= 0; --at) sift_down_moved(h, at, at);
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
/// edges(e), e < count, in the order above; `heap` has heap_capacity(count, k) room. The heap's order is the
/// derivations' (a strict total order: no two candidates share a pointer), so the candidates leave it sorted
/// however it is built: the first candidates are heapified at once, and a popped candidate's first successor
/// takes its place (one sift instead of a pop and a push).
template <typename T, typename Edges>
LS_HOST_DEVICE void best_derivations(int64_t k, int64_t count, Edges edges, Heap<T> heap, T* list,
                                     int32_t* pointers) {
  heap.size = 0;
  for (int64_t e = 0; e < count; ++e) {
    const Hyperedge<T> edge = edges(e);
    if (!edge.present) continue;
    const T score = derivation_score(edge, 0, 0, k);
    const int32_t first[kPointerWidth] = {static_cast<int32_t>(e), 0, 0};
    if (score != neg_inf<T>()) heap_set(heap, heap.size++, score, first);
  }
  if (k == 1) {  // only the first candidate: a scan finds it without ordering the rest
    int64_t best = 0;
    for (int64_t at = 1; at < heap.size; ++at) {
      if (precedes(heap.scores[at], heap.pointers + kPointerWidth * at, heap.scores[best],
                   heap.pointers + kPointerWidth * best)) {
        best = at;
      }
    }
    list[0] = heap.size ? heap.scores[best] : neg_inf<T>();
    for (int64_t c = 0; c < kPointerWidth; ++c) pointers[c] = heap.size ? heap.pointers[kPointerWidth * best + c] : -1;
    return;
  }
  heapify(heap);
  for (int64_t slot = 0; slot < k; ++slot) {
    int32_t* pointer = pointers + kPointerWidth * slot;
    if (heap.size == 0) {
      list[slot] = neg_inf<T>();
      for (int64_t c = 0; c < kPointerWidth; ++c) pointer[c] = -1;
      continue;
    }
    list[slot] = heap.scores[0];
    for (int64_t c = 0; c < kPointerWidth; ++c) pointer[c] = heap.pointers[c];
    if (slot + 1 == k) break;
    const int32_t e = pointer[0], i = pointer[1], j = pointer[2];
    const Hyperedge<T> edge = edges(e);
    const int32_t next_right[kPointerWidth] = {e, i, j + 1}, next_left[kPointerWidth] = {e, i + 1, 0};
    const T right = edge.right.scores ? derivation_score(edge, i, j + 1, k) : neg_inf<T>();
    const T left = j == 0 && edge.left.scores ? derivation_score(edge, i + 1, 0, k) : neg_inf<T>();
    if (right != neg_inf<T>()) {
      sift_down(heap, 0, right, next_right);  // replaces the popped candidate
      if (left != neg_inf<T>()) heap_push(heap, left, next_left);
    } else if (left != neg_inf<T>()) {
      sift_down(heap, 0, left, next_left);
    } else {
      heap_drop_first(heap);
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
