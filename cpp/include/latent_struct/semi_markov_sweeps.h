// SemiMarkov (tree.h): the segmentations of a sequence as the paths of a lattice (lattice_sweeps.h) over the nodes
// (position p, label c), index p C + c. The source enters each (0, c) without a part; the part (n, k, c, c') is the
// edge (n, c') -> (n + k, c), 1 <= k < K, n + k < l; the nodes (l - 1, c) lead to the sink. The layers are the
// positions. O(l K C^2) per pass.
#pragma once
#include <cstdint>

#include "latent_struct/lattice_sweeps.h"
#include "latent_struct/tree.h"

namespace ls {
namespace semi_markov {

template <typename T>
struct Lattice {
  const T* scores;  // this instance's [N - 1, K, C, C]
  int64_t N, K, C, l;

  LS_HOST_DEVICE int64_t nodes() const { return N * C; }
  LS_HOST_DEVICE int64_t part_count() const { return (N - 1) * K * C * C; }
  LS_HOST_DEVICE int64_t serial_count() const { return l * C; }
  LS_HOST_DEVICE int64_t serial_node(int64_t t) const { return t; }
  LS_HOST_DEVICE int64_t layers() const { return l; }
  LS_HOST_DEVICE int64_t layer_size(int64_t) const { return C; }
  LS_HOST_DEVICE int64_t layer_node(int64_t d, int64_t t) const { return d * C + t; }
  LS_HOST_DEVICE int64_t part(int64_t n, int64_t k, int64_t c, int64_t previous) const {
    return ((n * K + k) * C + c) * C + previous;
  }
  /// In-edge k of (p, c): from (p - k / C - 1, k % C); the source for p = 0 (k = 0).
  LS_HOST_DEVICE int64_t in_degree() const { return (K - 1) * C; }
  LS_HOST_DEVICE lattice::Edge in_edge(int64_t v, int64_t k) const {
    const int64_t p = v / C, c = v % C;
    if (p == 0) return lattice::Edge{k == 0 ? lattice::kEnd : lattice::kAbsent, lattice::kNoPart};
    const int64_t span = k / C + 1, previous = k % C, from = p - span;
    if (from < 0) return lattice::Edge{lattice::kAbsent, lattice::kNoPart};
    return lattice::Edge{from * C + previous, part(from, span, c, previous)};
  }
  /// Out-edge k of (p, c'): to (p + k / C + 1, k % C) for k < (K - 1) C; the last one to the sink.
  LS_HOST_DEVICE int64_t out_degree() const { return (K - 1) * C + 1; }
  LS_HOST_DEVICE lattice::Edge out_edge(int64_t u, int64_t k) const {
    const int64_t p = u / C, previous = u % C;
    if (k == (K - 1) * C) return lattice::Edge{p == l - 1 ? lattice::kEnd : lattice::kAbsent, lattice::kNoPart};
    const int64_t span = k / C + 1, c = k % C, to = p + span;
    if (to > l - 1) return lattice::Edge{lattice::kAbsent, lattice::kNoPart};
    return lattice::Edge{to * C + c, part(p, span, c, previous)};
  }
  LS_HOST_DEVICE int64_t end_count() const { return C; }
  LS_HOST_DEVICE int64_t end_node(int64_t k) const { return (l - 1) * C + k; }
  LS_HOST_DEVICE T weight(const lattice::Edge& e) const { return e.part == lattice::kNoPart ? T(0) : scores[e.part]; }
  /// Labels [N]: the label of each node the path visits, -1 elsewhere.
  LS_HOST_DEVICE void clear(int32_t* labels) const {
    for (int64_t p = 0; p < N; ++p) labels[p] = -1;
  }
  LS_HOST_DEVICE void record(int32_t* labels, int64_t, int64_t v, int64_t) const {
    labels[v / C] = static_cast<int32_t>(v % C);
  }
  LS_HOST_DEVICE void finish(int32_t*, int64_t) const {}
};

template <typename T>
LS_HOST_DEVICE Lattice<T> lattice_at(const TreePotentials<T>& p, const TreeShape& shape, int64_t b) {
  const int64_t N = shape.length, K = shape.extent, C = shape.labels;
  return Lattice<T>{p.scores + b * (N - 1) * K * C * C, N, K, C, p.lengths ? p.lengths[b] : N};
}

/// The most edges of a path: the source's and N - 1 segments of length 1.
LS_HOST_DEVICE inline int64_t path_steps(const TreeShape& shape) { return shape.length; }
LS_HOST_DEVICE inline int64_t decoded_size(const TreeShape& shape) { return semi_markov_decoded_size(shape.length); }

LS_DEFINE_LATTICE_SENTENCE_OPS(kSemiMarkovSampleStream)

}  // namespace semi_markov
}  // namespace ls
