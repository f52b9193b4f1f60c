// The k best labellings of each sequence of a linear chain (either form of ChainPotentials), for both backends:
// ls::cpu (cpp/cpu/linear_chain_topk.cc, a thread per sequence) and ls::cuda (cuda/linear_chain_topk.cu, a block
// per sequence, a thread per label of each position) implement chain_topk over the sweep below.
//
// k-best Viterbi on the chain's lattice, whose nodes are (position n, label c) and whose in-edges at (n + 1, j)
// come from (n, i), i < C: every node keeps its k best prefixes (a score and a back pointer (previous label i, rank
// of the prefix ending at (n, i), 0)), found by hypergraph_kbest.h's lazy frontier (Huang & Chiang 2005,
// algorithm 2) over unary hyperedges (tail: the list of (n, i), weight psi_n(i, j); position 0's single hyperedge
// has no tail and weight phi_0(c)): O(C + k log(C + k)) per node. phi_{n+1}(j) is then added to the whole list, as
// Viterbi adds it to its best (so rank 0 is chain_viterbi's labelling and score, bit for bit). The k best
// labellings are found the same way from the lists of the last position and backtracked by their pointers.
//
// Order: score descending; labellings of equal score are ordered lexicographically by their labels read from the
// end, (y_{L-1}, y_{L-2}, ..., y_0), smaller first (hypergraph_kbest.h's order: the end label, then the
// hyperedge, i.e. the previous label, at each position; exact when the sums of scores are, as for integer scores).
// Rank 0 is chain_viterbi's labelling (first maximum on ties). Labellings of score -inf are never listed: past the
// last of finite score, the score is -inf and the labels -1.
#pragma once
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/hypergraph_kbest.h"
#include "latent_struct/linear_chain.h"
#include "latent_struct/linear_chain_sweeps.h"
#include "latent_struct/log_math.h"

namespace ls {
namespace chain {

/// The candidate heaps of one sequence: one per label (the labels of a position are filled at once) of C + k
/// candidates.
LS_HOST_DEVICE inline int64_t topk_heap_room(const ChainShape& shape, int64_t k) {
  return shape.labels * hypergraph::heap_capacity(shape.labels, k);
}
/// Workspace of one sequence: two positions' lists [2][C][k], the final list [k] and the heaps of T; the back
/// pointers [N][C][k][3] plus the final list's [k][3], and the heaps' [3] per candidate, of int32.
LS_HOST_DEVICE inline int64_t topk_workspace_size(const ChainShape& shape, int64_t k) {
  return (2 * shape.labels + 1) * k + topk_heap_room(shape, k);
}
LS_HOST_DEVICE inline int64_t topk_index_workspace_size(const ChainShape& shape, int64_t k) {
  return hypergraph::kPointerWidth * ((shape.length * shape.labels + 1) * k + topk_heap_room(shape, k));
}

/// The k best labellings of sequence b (order above): labels [k, B, N] (row j B + b) and scores [k, B].
template <typename T, typename Group>
LS_HOST_DEVICE void topk_op(const Group& g, const ChainPotentials<T>& p, const ChainShape& shape, int64_t b,
                            int64_t k, T* w, int32_t* pointers, int32_t* labels, T* scores) {
  using hypergraph::Hyperedge;
  using hypergraph::kPointerWidth;
  using hypergraph::no_tail;
  const Chain<T> x = chain_at(p, shape, b);
  const int64_t C = x.labels, L = x.length, N = shape.length, capacity = hypergraph::heap_capacity(C, k);
  auto list = [&](int64_t n, int64_t c) { return w + ((n & 1) * C + c) * k; };
  auto pointers_of = [&](int64_t n, int64_t c) { return pointers + kPointerWidth * (n * C + c) * k; };
  T* heap_scores = w + (2 * C + 1) * k;
  int32_t* heap_pointers = pointers + kPointerWidth * (N * C + 1) * k;
  auto heap_of = [&](int64_t c) {
    return hypergraph::Heap<T>{heap_scores + c * capacity, heap_pointers + kPointerWidth * c * capacity, 0};
  };
  // Position 0: one prefix per label, of score phi_0(c) (a single hyperedge without tail: the chain's start).
  for (int64_t c = g.rank(); c < C; c += g.size()) {
    hypergraph::best_derivations<T>(
        k, 1, [&](int64_t) { return Hyperedge<T>{x.phi(0, c), no_tail<T>(), no_tail<T>(), true}; }, heap_of(c),
        list(0, c), pointers_of(0, c));
  }
  g.sync();
  for (int64_t n = 0; n + 1 < L; ++n) {
    for (int64_t j = g.rank(); j < C; j += g.size()) {
      T* merged = list(n + 1, j);
      int32_t* back = pointers_of(n + 1, j);
      hypergraph::best_derivations<T>(
          k, C,
          [&](int64_t i) { return Hyperedge<T>{x.psi(n, i, j), hypergraph::Tail<T>{list(n, i), T(0)}, no_tail<T>(), true}; },
          heap_of(j), merged, back);
      const T phi = x.phi(n + 1, j);
      for (int64_t r = 0; r < k; ++r) {
        if (phi == neg_inf<T>()) {
          merged[r] = neg_inf<T>();
          for (int64_t c = 0; c < kPointerWidth; ++c) back[kPointerWidth * r + c] = -1;
        } else {
          merged[r] = phi + merged[r];
        }
      }
    }
    g.sync();
  }
  T* best = w + 2 * C * k;
  int32_t* best_pointers = pointers + kPointerWidth * N * C * k;
  if (g.rank() == 0) {
    hypergraph::best_derivations<T>(
        k, C, [&](int64_t c) { return Hyperedge<T>{T(0), hypergraph::Tail<T>{list(L - 1, c), T(0)}, no_tail<T>(), true}; },
        heap_of(0), best, best_pointers);
  }
  g.sync();
  for (int64_t j = g.rank(); j < k; j += g.size()) {
    int32_t* y = labels + (j * shape.batch + b) * N;
    scores[j * shape.batch + b] = best[j];
    for (int64_t n = 0; n < N; ++n) y[n] = -1;
    if (best_pointers[kPointerWidth * j] < 0) continue;
    int64_t c = best_pointers[kPointerWidth * j], rank = best_pointers[kPointerWidth * j + 1];
    for (int64_t n = L - 1; n >= 0; --n) {
      y[n] = static_cast<int32_t>(c);
      const int32_t* pointer = pointers_of(n, c) + kPointerWidth * rank;
      c = pointer[0];
      rank = pointer[1];
    }
  }
}

}  // namespace chain
}  // namespace ls

// labels [k, B, N] (int32, -1 past each length and for the -inf tail), scores [k, B]; see chain::topk_op.
#define LS_DECLARE_CHAIN_TOPK                                                                                   \
  template <typename T>                                                                                        \
  void chain_topk(const ChainPotentials<T>& potentials, ChainShape shape, int64_t k, int32_t* labels, T* scores);

#define LS_INSTANTIATE_CHAIN_TOPK(T) \
  template void chain_topk<T>(const ChainPotentials<T>&, ChainShape, int64_t, int32_t*, T*);

namespace ls {
namespace cpu {
LS_DECLARE_CHAIN_TOPK
}  // namespace cpu
namespace cuda {
LS_DECLARE_CHAIN_TOPK
}  // namespace cuda
}  // namespace ls
