// The linear chain (edge potentials) as a MAP oracle of the SparseMAP solver (sparsemap.h says what a Kind
// provides): Viterbi on one sequence's edge scores, the parts of a labelling its n - 1 edges.
#pragma once
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/linear_chain.h"
#include "latent_struct/linear_chain_sweeps.h"

namespace ls {
namespace sparsemap {

/// Edges [B, N-1, C, C] as (n, next, prev): a labelling y of length n has parts (t C + y[t+1]) C + y[t], t < n - 1.
struct ChainKind {
  template <typename T>
  using Potentials = ChainPotentials<T>;
  using Shape = ChainShape;
  LS_HOST_DEVICE static int64_t parts(const ChainShape& s) { return (s.length - 1) * s.labels * s.labels; }
  LS_HOST_DEVICE static int64_t max_parts(const ChainShape& s) { return s.length - 1; }
  LS_HOST_DEVICE static int64_t decoded_size(const ChainShape& s) { return s.length; }
  LS_HOST_DEVICE static int64_t oracle_workspace(const ChainShape& s) { return chain::workspace_size(one(s)); }
  LS_HOST_DEVICE static int64_t oracle_index_workspace(const ChainShape& s) { return s.length * s.labels; }
  LS_HOST_DEVICE static ChainShape one(const ChainShape& s) { return ChainShape{1, s.length, s.labels}; }
  template <typename T>
  LS_HOST_DEVICE static const T* scores(const ChainPotentials<T>& p, const ChainShape& s, int64_t b) {
    return p.edges + b * parts(s);
  }
  template <typename T>
  LS_HOST_DEVICE static int64_t length(const ChainPotentials<T>& p, const ChainShape& s, int64_t b) {
    return p.lengths ? p.lengths[b] : s.length;
  }
  template <typename T, typename Group>
  LS_HOST_DEVICE static void oracle(const Group& g, const ChainPotentials<T>& p, const ChainShape& s, int64_t b,
                                    const double* scores, double* w, int32_t* iw, int32_t* decoded, double* score,
                                    double*) {
    ChainPotentials<double> q;
    q.edges = scores;
    q.lengths = p.lengths ? p.lengths + b : nullptr;
    chain::viterbi_op(g, q, one(s), 0, w, iw, decoded, score);
  }
  LS_HOST_DEVICE static int64_t parts_of(const int32_t* labels, const ChainShape& s, int64_t n, int32_t* out) {
    for (int64_t t = 0; t + 1 < n; ++t) {
      out[t] = static_cast<int32_t>((t * s.labels + labels[t + 1]) * s.labels + labels[t]);
    }
    return n > 0 ? n - 1 : 0;
  }
};

}  // namespace sparsemap
}  // namespace ls
