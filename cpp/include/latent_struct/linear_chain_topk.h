// The k best labellings of each sequence of a linear chain (either form of ChainPotentials), for both backends:
// ls::cpu (cpp/cpu/linear_chain_topk.cc, a thread per sequence) and ls::cuda (cuda/linear_chain_topk.cu, a block
// per sequence, a thread per label of each position) implement chain_topk over the sweep below.
//
// k-best Viterbi (Huang & Chiang 2005, "Better k-best parsing", algorithm 1) on the chain's lattice, whose nodes
// are (position n, label c) and whose in-edges at (n + 1, j) come from (n, i), i < C: every node keeps its k best
// prefixes (a score and a back pointer (previous label i, rank of the prefix ending at (n, i))), merged by
// lattice::kbest::merge from the lists of position n plus psi_n(i, j); phi_{n+1}(j) is then added to the whole
// list, as Viterbi adds it to its best (so rank 0 is chain_viterbi's labelling and score, bit for bit). The k best
// labellings are merged from the lists of the last position and backtracked by their pointers.
//
// Order: score descending; labellings of equal score are ordered lexicographically by their labels read from the
// end, (y_{L-1}, y_{L-2}, ..., y_0), smaller first (kbest's order: the end label, then the in-edge, i.e. the
// previous label, at each position; exact when the sums of scores are, as for integer scores). Rank 0 is
// chain_viterbi's labelling (first maximum on ties). Labellings of score -inf are never listed: past the last of
// finite score, the score is -inf and the labels -1.
#pragma once
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/lattice_sweeps.h"
#include "latent_struct/linear_chain.h"
#include "latent_struct/linear_chain_sweeps.h"
#include "latent_struct/log_math.h"

namespace ls {
namespace chain {

/// Workspace of one sequence: two positions' lists [2][C][k] and the final list [k] of T, and the back pointers
/// [N][C][k][2] plus the final list's [k][2] of int32.
LS_HOST_DEVICE inline int64_t topk_workspace_size(const ChainShape& shape, int64_t k) {
  return (2 * shape.labels + 1) * k;
}
LS_HOST_DEVICE inline int64_t topk_index_workspace_size(const ChainShape& shape, int64_t k) {
  return 2 * (shape.length * shape.labels + 1) * k;
}

/// The k best labellings of sequence b (order above): labels [k, B, N] (row j B + b) and scores [k, B].
template <typename T, typename Group>
LS_HOST_DEVICE void topk_op(const Group& g, const ChainPotentials<T>& p, const ChainShape& shape, int64_t b,
                            int64_t k, T* w, int32_t* pointers, int32_t* labels, T* scores) {
  const Chain<T> x = chain_at(p, shape, b);
  const int64_t C = x.labels, L = x.length, N = shape.length;
  auto list = [&](int64_t n, int64_t c) { return w + ((n & 1) * C + c) * k; };
  auto pointers_of = [&](int64_t n, int64_t c) { return pointers + 2 * (n * C + c) * k; };
  // Position 0: one prefix per label, of score phi_0(c) (a single source: the chain's start).
  for (int64_t c = g.rank(); c < C; c += g.size()) {
    lattice::kbest::merge<T>(
        k, 1, [&](int64_t) { return lattice::kbest::Source<T>{nullptr, x.phi(0, c), true}; }, list(0, c), pointers_of(0, c));
  }
  g.sync();
  for (int64_t n = 0; n + 1 < L; ++n) {
    for (int64_t j = g.rank(); j < C; j += g.size()) {
      T* merged = list(n + 1, j);
      int32_t* back = pointers_of(n + 1, j);
      lattice::kbest::merge<T>(
          k, C, [&](int64_t i) { return lattice::kbest::Source<T>{list(n, i), x.psi(n, i, j), true}; }, merged, back);
      const T phi = x.phi(n + 1, j);
      for (int64_t r = 0; r < k; ++r) {
        if (phi == neg_inf<T>()) {
          merged[r] = neg_inf<T>();
          back[2 * r] = back[2 * r + 1] = -1;
        } else {
          merged[r] = phi + merged[r];
        }
      }
    }
    g.sync();
  }
  T* best = w + 2 * C * k;
  int32_t* best_pointers = pointers + 2 * N * C * k;
  if (g.rank() == 0) {
    lattice::kbest::merge<T>(
        k, C, [&](int64_t c) { return lattice::kbest::Source<T>{list(L - 1, c), T(0), true}; }, best, best_pointers);
  }
  g.sync();
  for (int64_t j = g.rank(); j < k; j += g.size()) {
    int32_t* y = labels + (j * shape.batch + b) * N;
    scores[j * shape.batch + b] = best[j];
    for (int64_t n = 0; n < N; ++n) y[n] = -1;
    if (best_pointers[2 * j] < 0) continue;
    int64_t c = best_pointers[2 * j], rank = best_pointers[2 * j + 1];
    for (int64_t n = L - 1; n >= 0; --n) {
      y[n] = static_cast<int32_t>(c);
      const int32_t* pointer = pointers_of(n, c) + 2 * rank;
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
