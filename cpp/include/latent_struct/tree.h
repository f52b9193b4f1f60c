// The building blocks of the structures whose parts are the entries of one score tensor (the tree structures,
// and the path structures SemiMarkov and Alignment), over a batch of instances ("sentences"), one declaration per
// algorithm for both backends: ls::cpu (cpp/cpu/<structure>.cc) and ls::cuda (cuda/<structure>.cu) implement
// exactly these signatures. CUDA versions take device pointers (lengths included), enqueue on the
// library's stream and do not synchronize.
//
// CKY (binary constituency trees, torch-struct's TreeCRF): scores [B, N, N, L] (L = 1: unlabelled), [b, i, j, l]
// = score of span i..j inclusive with label l. A tree of a sentence of length n has 2n - 1 spans (the n
// width-1 spans and the root (0, n-1) included), each with one label; its score is the sum of theirs.
// Decoded form: [2N - 1][3] rows (start, end, label), breadth-first from the root, -1 rows past 2n - 1.
//
// Eisner (projective dependency trees): scores [B, N, N], [b, h, m] = score of word h heading word m, [b, m, m]
// = score of the root heading m; projective with the root left of the sentence; `single_root` allows exactly
// one arc from the root. Decoded form: heads [N] (h, or m itself for the root; -1 past the length).
//
// Matrix-Tree (non-projective dependency trees): the same scores, any spanning arborescence rooted at the root
// (crossing arcs allowed), `single_root` as for Eisner; the same decoded form (heads).
//
// SemiMarkov (torch-struct's SemiMarkov, segmental CRF): scores [B, N-1, K, C, C] (shape: length N positions,
// labels C, extent K), [b, n, k, c, c'] = score of label c' at position n followed by label c at position n + k,
// the positions in between inside the segment that ends at n + k (1 <= k < K; k = 0 is never used). A structure
// of a sequence of length l labels positions 0 = p_0 < ... < p_m = l - 1 (gaps in [1, K - 1]); length 1 has C
// structures of score 0 and no parts. Decoded form: labels [N], the label at each p_i, -1 elsewhere.
//
// Alignment (monotonic alignment: DTW / Needleman-Wunsch, Smith-Waterman with `local`): scores [B, N, M, 3]
// (shape: length N, extent M, labels 1), [b, i, j, op] = score of entering cell (i, j) by op 0 from (i, j-1), op 1
// from (i-1, j-1), op 2 from (i-1, j). Global: a path from (0, 0), whose part is (0, 0, 1), to (n-1, m-1); local:
// a non-empty path from any cell (part (i, j, 1)) to any cell. `lengths` bound i, `target_lengths` bound j.
// Decoded form: rows (i, j, op) in path order, [N + M - 1][3], -1 rows past the end.
//
// SentCFG (a PCFG in Chomsky normal form, torch-struct's SentCFG; shape: length N, labels NT nonterminals, extent T
// preterminals, S = NT + T): scores [B, D] packed per sentence, D = N T + NT S^2 + NT: terms [N][T], rules
// [NT][S][S] (A -> X Y; index NT + t is preterminal t), roots [NT] (cfg_sweeps.h). Lengths >= 2. Decoded form: CKY's
// rows (start, end, label), label the nonterminal of a wider span or the preterminal of a word.
#pragma once
#include <array>
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/sparsemap_api.h"

namespace ls {

/// B sentences of up to N words; `labels` per span (CKY; 1 when unlabelled and for Eisner; C for SemiMarkov);
/// `extent`: K for SemiMarkov, M for Alignment (0 for the trees).
struct TreeShape {
  int64_t batch;
  int64_t length;
  int64_t labels;
  int64_t extent = 0;
};

/// The scores of a batch of sentences.
template <typename T>
struct TreePotentials {
  const T* scores = nullptr;
  const int32_t* lengths = nullptr;  // [B], each in [1, N]; null means every sentence has length N
  bool single_root = true;           // Eisner and Matrix-Tree only
  const int32_t* target_lengths = nullptr;  // Alignment: [B], each in [1, M]; null means M
  bool local = false;                       // Alignment only
  /// The pointers it carries (the emulated CUDA device checks that each is device memory at every launch).
  std::array<const void*, 3> pointers() const { return {scores, lengths, target_lengths}; }
};

/// Philox streams of the samplers. CKY: index ((s B + b)(2N - 1) + t) 2 + {0: split, 1: label} for the t-th
/// span of the breadth-first order; Eisner: index (s B + b) eisner_queue_size(N) + t for the t-th item expanded.
constexpr uint64_t kCkySampleStream = 0x636b79ULL;
constexpr uint64_t kEisnerSampleStream = 0x656973ULL;
/// Matrix-Tree: index (s B + b) N + m for the draw of word m's head.
constexpr uint64_t kMatrixTreeSampleStream = 0x6d7474ULL;
/// SemiMarkov and Alignment: index (s B + b) (path_steps + 1) + t for the t-th draw walking back from the end.
constexpr uint64_t kSemiMarkovSampleStream = 0x736d6bULL;
constexpr uint64_t kAlignmentSampleStream = 0x616c6eULL;
/// SentCFG: index (s B + b) 2N + t for the split and child labels of the t-th span of the breadth-first order,
/// (s B + b) 2N + 2N - 1 for the root label.
constexpr uint64_t kCfgSampleStream = 0x636667ULL;

/// Decoded entries per sentence.
LS_HOST_DEVICE inline int64_t cky_decoded_size(int64_t N) { return (2 * N - 1) * 3; }
LS_HOST_DEVICE inline int64_t eisner_decoded_size(int64_t N) { return N; }
/// Chart items an Eisner decoder may expand (3 ints each): at most N arcs and 2N + 1 complete spans.
LS_HOST_DEVICE inline int64_t eisner_queue_size(int64_t N) { return 3 * N + 2; }
LS_HOST_DEVICE inline int64_t semi_markov_decoded_size(int64_t N) { return N; }
LS_HOST_DEVICE inline int64_t alignment_decoded_size(int64_t N, int64_t M) { return (N + M - 1) * 3; }

}  // namespace ls

// Every function writes all of its outputs, zeros (or -1) outside each sentence's length. `log_z` [B] is
// -inf for a sentence without a tree of finite score (the binding turns that into an error).
#define LS_DECLARE_TREE_KERNELS(prefix)                                                                            \
  /* log Z_b (inside), [B]. */                                                                                    \
  template <typename T>                                                                                           \
  void prefix##_log_partition(const TreePotentials<T>& potentials, TreeShape shape, T* log_z);                   \
  /* Marginals mu = dlogZ/dscores in the scores' layout (inside-outside), and log Z_b. */                         \
  template <typename T>                                                                                           \
  void prefix##_marginals(const TreePotentials<T>& potentials, TreeShape shape, T* log_z, T* marginals);         \
  /* Hessian-vector product (dmu/dscores)^T g = Cov(z) g, g in the scores' layout, by inside and outside       \
     passes of the first-order expectation semiring (Li & Eisner 2009); and log Z_b. */                           \
  template <typename T>                                                                                           \
  void prefix##_marginals_backward(const TreePotentials<T>& potentials, const T* grad, TreeShape shape,         \
                                   T* log_z, T* out);                                                             \
  /* Entropy H(p_b) by an inside pass of the entropy semiring, and log Z_b. */                                    \
  template <typename T>                                                                                           \
  void prefix##_entropy(const TreePotentials<T>& potentials, TreeShape shape, T* log_z, T* entropy);             \
  /* The MAP tree (first maximum on ties): decoded [B, decoded size], score [B], one-hot parts. */               \
  template <typename T>                                                                                           \
  void prefix##_argmax(const TreePotentials<T>& potentials, TreeShape shape, int32_t* decoded, T* score,         \
                       T* parts);                                                                                 \
  /* Exact samples, top-down from the inside chart: decoded [S, B, decoded size], parts [S, B, ...], log Z_b. */ \
  template <typename T>                                                                                           \
  void prefix##_sample(const TreePotentials<T>& potentials, TreeShape shape, int64_t samples, uint64_t seed,    \
                       T* log_z, int32_t* decoded, T* parts);

#define LS_INSTANTIATE_TREE_KERNELS(prefix, T)                                                                  \
  template void prefix##_log_partition<T>(const TreePotentials<T>&, TreeShape, T*);                            \
  template void prefix##_marginals<T>(const TreePotentials<T>&, TreeShape, T*, T*);                            \
  template void prefix##_marginals_backward<T>(const TreePotentials<T>&, const T*, TreeShape, T*, T*);         \
  template void prefix##_entropy<T>(const TreePotentials<T>&, TreeShape, T*, T*);                              \
  template void prefix##_argmax<T>(const TreePotentials<T>&, TreeShape, int32_t*, T*, T*);                     \
  template void prefix##_sample<T>(const TreePotentials<T>&, TreeShape, int64_t, uint64_t, T*, int32_t*, T*);

// The k best structures, for every structure: SemiMarkov and Alignment by k-best Viterbi over their lattice
// (lattice_sweeps.h; ties as lattice::topk documents), CKY and Eisner by k-best parsing over their chart items and
// SentCFG by k-best PCFG parsing (hypergraph_kbest.h; ties as cky_sweeps.h, eisner_sweeps.h and cfg_sweeps.h
// document), Matrix-Tree by Lawler's partition (arborescence_kbest.h). Structure j of sentence b (j < k, in order of score): decoded [k, B,
// decoded size], scores [k, B], one-hot parts [k, B, ...]. Past the last structure of finite score: score -inf,
// decoded -1, parts zero.
#define LS_DECLARE_TOPK_KERNELS(prefix)                                                                           \
  template <typename T>                                                                                           \
  void prefix##_topk(const TreePotentials<T>& potentials, TreeShape shape, int64_t k, int32_t* decoded, T* scores, \
                     T* parts);

#define LS_INSTANTIATE_TOPK_KERNELS(prefix, T) \
  template void prefix##_topk<T>(const TreePotentials<T>&, TreeShape, int64_t, int32_t*, T*, T*);

#define LS_DECLARE_STRUCTURE_SCORE                                                                                \
  /* out[r] = sum_k parts[r, k] * scores[r % batch, k] over k with parts[r, k] != 0 (so -inf scores of parts   \
     not taken do not matter), minus log_z[r % batch] when log_z is not null; r < rows. */                       \
  template <typename T>                                                                                           \
  void structure_score(const T* scores, const T* parts, int64_t rows, int64_t batch, int64_t part_count,       \
                       const T* log_z, T* out);

namespace ls {
namespace cpu {
LS_DECLARE_TREE_KERNELS(cky)
LS_DECLARE_TREE_KERNELS(eisner)
LS_DECLARE_TREE_KERNELS(matrix_tree)
LS_DECLARE_TREE_KERNELS(semi_markov)
LS_DECLARE_TREE_KERNELS(alignment)
LS_DECLARE_TREE_KERNELS(cfg)
LS_DECLARE_TOPK_KERNELS(cky)
LS_DECLARE_TOPK_KERNELS(eisner)
LS_DECLARE_TOPK_KERNELS(semi_markov)
LS_DECLARE_TOPK_KERNELS(alignment)
LS_DECLARE_TOPK_KERNELS(matrix_tree)
LS_DECLARE_TOPK_KERNELS(cfg)
LS_DECLARE_SPARSEMAP(cky, TreePotentials, TreeShape)
LS_DECLARE_SPARSEMAP(eisner, TreePotentials, TreeShape)
LS_DECLARE_SPARSEMAP(matrix_tree, TreePotentials, TreeShape)
LS_DECLARE_SPARSEMAP(semi_markov, TreePotentials, TreeShape)
LS_DECLARE_SPARSEMAP(alignment, TreePotentials, TreeShape)
LS_DECLARE_STRUCTURE_SCORE
}  // namespace cpu
namespace cuda {
LS_DECLARE_TREE_KERNELS(cky)
LS_DECLARE_TREE_KERNELS(eisner)
LS_DECLARE_TREE_KERNELS(matrix_tree)
LS_DECLARE_TREE_KERNELS(semi_markov)
LS_DECLARE_TREE_KERNELS(alignment)
LS_DECLARE_TREE_KERNELS(cfg)
LS_DECLARE_TOPK_KERNELS(cky)
LS_DECLARE_TOPK_KERNELS(eisner)
LS_DECLARE_TOPK_KERNELS(semi_markov)
LS_DECLARE_TOPK_KERNELS(alignment)
LS_DECLARE_TOPK_KERNELS(matrix_tree)
LS_DECLARE_TOPK_KERNELS(cfg)
LS_DECLARE_SPARSEMAP(cky, TreePotentials, TreeShape)
LS_DECLARE_SPARSEMAP(eisner, TreePotentials, TreeShape)
LS_DECLARE_SPARSEMAP(matrix_tree, TreePotentials, TreeShape)
LS_DECLARE_SPARSEMAP(semi_markov, TreePotentials, TreeShape)
LS_DECLARE_SPARSEMAP(alignment, TreePotentials, TreeShape)
LS_DECLARE_STRUCTURE_SCORE
}  // namespace cuda
}  // namespace ls
