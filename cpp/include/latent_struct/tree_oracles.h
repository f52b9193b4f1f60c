// The tree structures as MAP oracles of the SparseMAP solver (sparsemap.h, which says what a Kind provides): each
// runs its structure's argmax on one instance's scores (in double) and lists the parts of a decoded structure.
#pragma once
#include <cstdint>

#include "latent_struct/alignment_sweeps.h"
#include "latent_struct/chu_liu_edmonds.h"
#include "latent_struct/cky_sweeps.h"
#include "latent_struct/common.h"
#include "latent_struct/eisner_sweeps.h"
#include "latent_struct/matrix_tree_sweeps.h"
#include "latent_struct/semi_markov_sweeps.h"
#include "latent_struct/tree.h"

namespace ls {
namespace sparsemap {

/// What the tree Kinds share: scores [B, N, N, L] as TreePotentials, one instance's argmax on a shape of batch 1.
struct TreeKind {
  template <typename T>
  using Potentials = TreePotentials<T>;
  using Shape = TreeShape;
  LS_HOST_DEVICE static int64_t parts(const TreeShape& s) { return s.length * s.length * s.labels; }
  template <typename T>
  LS_HOST_DEVICE static const T* scores(const TreePotentials<T>& p, const TreeShape& s, int64_t b) {
    return p.scores + b * parts(s);
  }
  template <typename T>
  LS_HOST_DEVICE static int64_t length(const TreePotentials<T>& p, const TreeShape& s, int64_t b) {
    return p.lengths ? p.lengths[b] : s.length;
  }
  LS_HOST_DEVICE static TreeShape one(const TreeShape& s) { return TreeShape{1, s.length, s.labels, s.extent}; }
  /// Instance b's potentials with other scores.
  template <typename T>
  LS_HOST_DEVICE static TreePotentials<double> with_scores(const TreePotentials<T>& p, int64_t b, const double* scores) {
    TreePotentials<double> q;
    q.scores = scores;
    q.lengths = p.lengths ? p.lengths + b : nullptr;
    q.single_root = p.single_root;
    q.target_lengths = p.target_lengths ? p.target_lengths + b : nullptr;
    q.local = p.local;
    return q;
  }
};

/// The dependency structures: n arcs, decoded as heads (heads[m] = h, m for the root), arc h -> m = part h N + m.
struct HeadsKind : TreeKind {
  LS_HOST_DEVICE static int64_t max_parts(const TreeShape& s) { return s.length; }
  LS_HOST_DEVICE static int64_t decoded_size(const TreeShape& s) { return eisner_decoded_size(s.length); }
  LS_HOST_DEVICE static int64_t parts_of(const int32_t* heads, const TreeShape& shape, int64_t n, int32_t* out) {
    for (int64_t m = 0; m < n; ++m) out[m] = static_cast<int32_t>(heads[m] * shape.length + m);
    return n;
  }
};

/// CKY: binary constituency trees, 2n - 1 labelled spans.
struct CkyKind : TreeKind {
  LS_HOST_DEVICE static int64_t max_parts(const TreeShape& s) { return 2 * s.length - 1; }
  LS_HOST_DEVICE static int64_t decoded_size(const TreeShape& s) { return cky_decoded_size(s.length); }
  LS_HOST_DEVICE static int64_t oracle_workspace(const TreeShape& s) { return cky::workspace_size(one(s)); }
  LS_HOST_DEVICE static int64_t oracle_index_workspace(const TreeShape& s) { return cky::index_workspace_size(one(s)); }
  template <typename T, typename Group>
  LS_HOST_DEVICE static void oracle(const Group& g, const TreePotentials<T>& p, const TreeShape& s, int64_t b,
                                    const double* scores, double* w, int32_t* iw, int32_t* decoded, double* score,
                                    double* parts) {
    cky::argmax_op(g, with_scores(p, b, scores), one(s), 0, w, iw, decoded, score, parts);
  }
  /// Rows (i, j, label) in breadth-first order: part (i N + j) L + label.
  LS_HOST_DEVICE static int64_t parts_of(const int32_t* spans, const TreeShape& shape, int64_t n, int32_t* out) {
    const int64_t count = 2 * n - 1;
    for (int64_t r = 0; r < count; ++r) {
      out[r] = static_cast<int32_t>((spans[3 * r] * shape.length + spans[3 * r + 1]) * shape.labels + spans[3 * r + 2]);
    }
    return count;
  }
};

/// Eisner: projective dependency trees.
struct EisnerKind : HeadsKind {
  LS_HOST_DEVICE static int64_t oracle_workspace(const TreeShape& s) { return eisner::workspace_size(one(s)); }
  LS_HOST_DEVICE static int64_t oracle_index_workspace(const TreeShape& s) { return eisner::index_workspace_size(one(s)); }
  template <typename T, typename Group>
  LS_HOST_DEVICE static void oracle(const Group& g, const TreePotentials<T>& p, const TreeShape& s, int64_t b,
                                    const double* scores, double* w, int32_t* iw, int32_t* decoded, double* score,
                                    double* parts) {
    eisner::argmax_op(g, with_scores(p, b, scores), one(s), 0, w, iw, decoded, score, parts);
  }
};

/// Chu-Liu-Edmonds: non-projective dependency trees.
struct MatrixTreeKind : HeadsKind {
  LS_HOST_DEVICE static int64_t oracle_workspace(const TreeShape& s) { return arborescence::arborescence_work_size(s.length); }
  LS_HOST_DEVICE static int64_t oracle_index_workspace(const TreeShape& s) {
    return arborescence::arborescence_iwork_size(s.length);
  }
  template <typename T, typename Group>
  LS_HOST_DEVICE static void oracle(const Group& g, const TreePotentials<T>& p, const TreeShape& s, int64_t b,
                                    const double* scores, double* w, int32_t* iw, int32_t* decoded, double* score,
                                    double* parts) {
    matrix_tree::argmax_op(g, with_scores(p, b, scores), one(s), 0, w, iw, decoded, score, parts);
  }
};

/// SemiMarkov: at most N - 1 segments, decoded as labels at the segment ends.
struct SemiMarkovKind : TreeKind {
  LS_HOST_DEVICE static int64_t parts(const TreeShape& s) { return (s.length - 1) * s.extent * s.labels * s.labels; }
  template <typename T>
  LS_HOST_DEVICE static const T* scores(const TreePotentials<T>& p, const TreeShape& s, int64_t b) {
    return p.scores + b * parts(s);
  }
  LS_HOST_DEVICE static int64_t max_parts(const TreeShape& s) { return s.length - 1 > 0 ? s.length - 1 : 1; }
  LS_HOST_DEVICE static int64_t decoded_size(const TreeShape& s) { return semi_markov_decoded_size(s.length); }
  LS_HOST_DEVICE static int64_t oracle_workspace(const TreeShape& s) { return semi_markov::workspace_size(one(s)); }
  LS_HOST_DEVICE static int64_t oracle_index_workspace(const TreeShape& s) { return semi_markov::index_workspace_size(one(s)); }
  template <typename T, typename Group>
  LS_HOST_DEVICE static void oracle(const Group& g, const TreePotentials<T>& p, const TreeShape& s, int64_t b,
                                    const double* scores, double* w, int32_t* iw, int32_t* decoded, double* score,
                                    double* parts) {
    semi_markov::argmax_op(g, with_scores(p, b, scores), one(s), 0, w, iw, decoded, score, parts);
  }
  /// Consecutive labelled positions p < q with labels y_p, y_q: part (p, q - p, y_q, y_p).
  LS_HOST_DEVICE static int64_t parts_of(const int32_t* labels, const TreeShape& s, int64_t n, int32_t* out) {
    int64_t count = 0, previous = 0;
    for (int64_t q = 1; q < n; ++q) {
      if (labels[q] < 0) continue;
      out[count++] = static_cast<int32_t>(((previous * s.extent + (q - previous)) * s.labels + labels[q]) * s.labels +
                                          labels[previous]);
      previous = q;
    }
    return count;
  }
};

/// Alignment: at most N + M - 1 cells, decoded as rows (i, j, op).
struct AlignmentKind : TreeKind {
  LS_HOST_DEVICE static int64_t parts(const TreeShape& s) { return s.length * s.extent * alignment::kOps; }
  template <typename T>
  LS_HOST_DEVICE static const T* scores(const TreePotentials<T>& p, const TreeShape& s, int64_t b) {
    return p.scores + b * parts(s);
  }
  LS_HOST_DEVICE static int64_t max_parts(const TreeShape& s) { return s.length + s.extent - 1; }
  LS_HOST_DEVICE static int64_t decoded_size(const TreeShape& s) { return alignment_decoded_size(s.length, s.extent); }
  LS_HOST_DEVICE static int64_t oracle_workspace(const TreeShape& s) { return alignment::workspace_size(one(s)); }
  LS_HOST_DEVICE static int64_t oracle_index_workspace(const TreeShape& s) { return alignment::index_workspace_size(one(s)); }
  template <typename T, typename Group>
  LS_HOST_DEVICE static void oracle(const Group& g, const TreePotentials<T>& p, const TreeShape& s, int64_t b,
                                    const double* scores, double* w, int32_t* iw, int32_t* decoded, double* score,
                                    double* parts) {
    alignment::argmax_op(g, with_scores(p, b, scores), one(s), 0, w, iw, decoded, score, parts);
  }
  LS_HOST_DEVICE static int64_t parts_of(const int32_t* rows, const TreeShape& s, int64_t, int32_t* out) {
    int64_t count = 0;
    for (int64_t r = 0; r < s.length + s.extent - 1 && rows[3 * r] >= 0; ++r) {
      out[count++] = static_cast<int32_t>((rows[3 * r] * s.extent + rows[3 * r + 1]) * alignment::kOps + rows[3 * r + 2]);
    }
    return count;
  }
};

}  // namespace sparsemap
}  // namespace ls
