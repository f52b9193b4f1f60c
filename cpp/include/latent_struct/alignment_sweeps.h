// Alignment (tree.h): the monotonic paths through an n x m grid as the paths of a lattice (lattice_sweeps.h) over
// the cells (i, j), index i M + j. The part (i, j, op) is the edge into (i, j) from (i, j - 1) (op 0), (i - 1, j - 1)
// (op 1) or (i - 1, j) (op 2); the source enters (0, 0) through the part (0, 0, 1), and the sink leaves (n - 1,
// m - 1). Local alignment (Smith-Waterman): the source enters every cell through its part (i, j, 1) and every cell
// leads to the sink. The layers are the anti-diagonals i + j = d (a thread per cell on the GPU, a wavefront);
// one thread walks the rows. O(n m) time and memory per pass.
#pragma once
#include <cstdint>

#include "latent_struct/lattice_sweeps.h"
#include "latent_struct/tree.h"

namespace ls {
namespace alignment {

enum Op : int64_t { kRight = 0, kDiagonal = 1, kDown = 2, kOps = 3 };

template <typename T>
struct Lattice {
  const T* scores;  // this instance's [N, M, 3]
  int64_t N, M, n, m;
  bool local;

  LS_HOST_DEVICE int64_t nodes() const { return N * M; }
  LS_HOST_DEVICE int64_t part_count() const { return N * M * kOps; }
  LS_HOST_DEVICE int64_t serial_count() const { return n * m; }
  LS_HOST_DEVICE int64_t serial_node(int64_t t) const { return (t / m) * M + t % m; }
  LS_HOST_DEVICE int64_t layers() const { return n + m - 1; }
  LS_HOST_DEVICE int64_t first_row(int64_t d) const { return d - m + 1 > 0 ? d - m + 1 : 0; }
  LS_HOST_DEVICE int64_t layer_size(int64_t d) const { return (d < n - 1 ? d : n - 1) - first_row(d) + 1; }
  LS_HOST_DEVICE int64_t layer_node(int64_t d, int64_t t) const {
    const int64_t i = first_row(d) + t;
    return i * M + (d - i);
  }
  LS_HOST_DEVICE bool starts(int64_t i, int64_t j) const { return local || (i == 0 && j == 0); }
  LS_HOST_DEVICE bool ends(int64_t i, int64_t j) const { return local || (i == n - 1 && j == m - 1); }
  /// In-edge k of (i, j): op k for k < 3, the source for k = 3.
  LS_HOST_DEVICE int64_t in_degree() const { return kOps + 1; }
  LS_HOST_DEVICE lattice::Edge in_edge(int64_t v, int64_t k) const {
    const int64_t i = v / M, j = v % M;
    if (k == kOps) {
      return starts(i, j) ? lattice::Edge{lattice::kEnd, v * kOps + kDiagonal} : lattice::Edge{lattice::kAbsent, lattice::kNoPart};
    }
    const int64_t fi = k == kRight ? i : i - 1, fj = k == kDown ? j : j - 1;
    if (fi < 0 || fj < 0) return lattice::Edge{lattice::kAbsent, lattice::kNoPart};
    return lattice::Edge{fi * M + fj, v * kOps + k};
  }
  /// Out-edge k of (i, j): into the cell that op k enters for k < 3, the sink for k = 3.
  LS_HOST_DEVICE int64_t out_degree() const { return kOps + 1; }
  LS_HOST_DEVICE lattice::Edge out_edge(int64_t u, int64_t k) const {
    const int64_t i = u / M, j = u % M;
    if (k == kOps) return lattice::Edge{ends(i, j) ? lattice::kEnd : lattice::kAbsent, lattice::kNoPart};
    const int64_t ti = k == kRight ? i : i + 1, tj = k == kDown ? j : j + 1;
    if (ti >= n || tj >= m) return lattice::Edge{lattice::kAbsent, lattice::kNoPart};
    return lattice::Edge{ti * M + tj, (ti * M + tj) * kOps + k};
  }
  LS_HOST_DEVICE int64_t end_count() const { return local ? n * m : 1; }
  LS_HOST_DEVICE int64_t end_node(int64_t k) const { return local ? serial_node(k) : (n - 1) * M + m - 1; }
  LS_HOST_DEVICE T weight(const lattice::Edge& e) const { return e.part == lattice::kNoPart ? T(0) : scores[e.part]; }
  /// Rows (i, j, op) in path order: written from the last row of the form back, then moved to the front.
  LS_HOST_DEVICE int64_t rows() const { return N + M - 1; }
  LS_HOST_DEVICE void clear(int32_t* path) const {
    for (int64_t r = 0; r < 3 * rows(); ++r) path[r] = -1;
  }
  LS_HOST_DEVICE void record(int32_t* path, int64_t t, int64_t v, int64_t part) const {
    int32_t* row = path + 3 * (rows() - 1 - t);
    row[0] = static_cast<int32_t>(v / M);
    row[1] = static_cast<int32_t>(v % M);
    row[2] = static_cast<int32_t>(part % kOps);
  }
  LS_HOST_DEVICE void finish(int32_t* path, int64_t count) const {
    const int64_t shift = rows() - count;
    if (shift == 0) return;
    for (int64_t r = 0; r < 3 * count; ++r) path[r] = path[r + 3 * shift];
    for (int64_t r = 3 * count; r < 3 * rows(); ++r) path[r] = -1;
  }
};

template <typename T>
LS_HOST_DEVICE Lattice<T> lattice_at(const TreePotentials<T>& p, const TreeShape& shape, int64_t b) {
  const int64_t N = shape.length, M = shape.extent;
  return Lattice<T>{p.scores + b * N * M * kOps, N, M, p.lengths ? p.lengths[b] : N,
                    p.target_lengths ? p.target_lengths[b] : M, p.local};
}

/// The most edges of a path: n + m - 1 cells.
LS_HOST_DEVICE inline int64_t path_steps(const TreeShape& shape) { return shape.length + shape.extent - 1; }
LS_HOST_DEVICE inline int64_t decoded_size(const TreeShape& shape) { return alignment_decoded_size(shape.length, shape.extent); }

LS_DEFINE_LATTICE_SENTENCE_OPS(kAlignmentSampleStream)

}  // namespace alignment
}  // namespace ls
