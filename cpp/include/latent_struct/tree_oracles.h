// The tree structures as MAP oracles of the SparseMAP solver (sparsemap.h): each Kind runs its structure's argmax
// on one instance's scores (in double) and lists the parts of a decoded structure.
#pragma once
#include <cstdint>

#include "latent_struct/chu_liu_edmonds.h"
#include "latent_struct/cky_sweeps.h"
#include "latent_struct/common.h"
#include "latent_struct/eisner_sweeps.h"
#include "latent_struct/matrix_tree_sweeps.h"
#include "latent_struct/tree.h"

namespace ls {
namespace sparsemap {

/// The dependency structures: n arcs, decoded as heads (heads[m] = h, m for the root), arc h -> m = part h N + m.
struct HeadsKind {
  LS_HOST_DEVICE static int64_t max_parts(int64_t N) { return N; }
  LS_HOST_DEVICE static int64_t decoded_size(int64_t N) { return eisner_decoded_size(N); }
  LS_HOST_DEVICE static int64_t parts_of(const int32_t* heads, const TreeShape& shape, int64_t n, int32_t* out) {
    for (int64_t m = 0; m < n; ++m) out[m] = static_cast<int32_t>(heads[m] * shape.length + m);
    return n;
  }
};

/// CKY: binary constituency trees, 2n - 1 labelled spans.
struct CkyKind {
  LS_HOST_DEVICE static int64_t max_parts(int64_t N) { return 2 * N - 1; }
  LS_HOST_DEVICE static int64_t decoded_size(int64_t N) { return cky_decoded_size(N); }
  LS_HOST_DEVICE static int64_t oracle_workspace(const TreeShape& one) { return cky::workspace_size(one); }
  LS_HOST_DEVICE static int64_t oracle_index_workspace(const TreeShape& one) { return cky::index_workspace_size(one); }
  template <typename Group>
  LS_HOST_DEVICE static void argmax(const Group& g, const TreePotentials<double>& p, const TreeShape& one, double* w,
                                    int32_t* iw, int32_t* decoded, double* score, double* parts) {
    cky::argmax_op(g, p, one, 0, w, iw, decoded, score, parts);
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
  LS_HOST_DEVICE static int64_t oracle_workspace(const TreeShape& one) { return eisner::workspace_size(one); }
  LS_HOST_DEVICE static int64_t oracle_index_workspace(const TreeShape& one) { return eisner::index_workspace_size(one); }
  template <typename Group>
  LS_HOST_DEVICE static void argmax(const Group& g, const TreePotentials<double>& p, const TreeShape& one, double* w,
                                    int32_t* iw, int32_t* decoded, double* score, double* parts) {
    eisner::argmax_op(g, p, one, 0, w, iw, decoded, score, parts);
  }
};

/// Chu-Liu-Edmonds: non-projective dependency trees.
struct MatrixTreeKind : HeadsKind {
  LS_HOST_DEVICE static int64_t oracle_workspace(const TreeShape& one) {
    return arborescence::arborescence_work_size(one.length);
  }
  LS_HOST_DEVICE static int64_t oracle_index_workspace(const TreeShape& one) {
    return arborescence::arborescence_iwork_size(one.length);
  }
  template <typename Group>
  LS_HOST_DEVICE static void argmax(const Group& g, const TreePotentials<double>& p, const TreeShape& one, double* w,
                                    int32_t* iw, int32_t* decoded, double* score, double* parts) {
    matrix_tree::argmax_op(g, p, one, 0, w, iw, decoded, score, parts);
  }
};

}  // namespace sparsemap
}  // namespace ls
