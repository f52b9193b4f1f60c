// The linear-chain CRF building blocks over a batch of sequences, one declaration for both backends:
// ls::cpu (cpp/cpu/linear_chain.cc) and ls::cuda (cuda/linear_chain.cu) implement exactly these
// signatures. CUDA versions take device pointers (lengths and labels included), enqueue on the library's
// stream and do not synchronize.
//
// A sequence of length L has labels y_0..y_{L-1} in [0, C) and score
//   s(y) = sum_{n<L} phi_n(y_n) + sum_{n<L-1} psi_n(y_n, y_{n+1}),
// given in one of two forms (DESIGN.md, torch-struct's layout):
//   edges    [B, N-1, C, C]: psi_n(i, j) = edges[b, n, j, i] (label j at n+1 after label i at n), phi = 0;
//   factored unary [B, N, C] and transition [C, C] or [B, C, C]: phi_n(c) = unary[b, n, c],
//            psi_n(i, j) = transition[(b,) i, j], the same at every position.
#pragma once
#include <array>
#include <cstdint>

#include "latent_struct/common.h"
#include "latent_struct/sparsemap_api.h"

namespace ls {

/// B sequences of up to N positions over C labels.
struct ChainShape {
  int64_t batch;
  int64_t length;
  int64_t labels;
};

/// The potentials of a batch of chains: `edges`, or `unary` and `transition` (see the header comment).
template <typename T>
struct ChainPotentials {
  const T* edges = nullptr;
  const T* unary = nullptr;
  const T* transition = nullptr;
  bool shared_transition = false;     // transition is [C, C] (else [B, C, C])
  const int32_t* lengths = nullptr;   // [B], each in [1, N]; null means every sequence has length N
  /// The pointers it carries (the emulated CUDA device checks that each is device memory at every launch).
  std::array<const void*, 4> pointers() const { return {edges, unary, transition, lengths}; }
};

/// Outputs over the parts of a batch of chains; a null pointer is not written. Positions past a
/// sequence's length are written as zeros.
template <typename T>
struct ChainParts {
  T* edges = nullptr;       // [B, N-1, C, C], the layout of the edge potentials
  T* unary = nullptr;       // [B, N, C]
  T* transition = nullptr;  // [B, C, C]: [b, i, j] summed over the positions of sequence b
  std::array<const void*, 3> pointers() const { return {edges, unary, transition}; }
};

/// The Philox stream of chain sampling (element index = (s * B + b) * N + n).
constexpr uint64_t kChainSampleStream = 0x636861696eULL;

}  // namespace ls

#define LS_DECLARE_LINEAR_CHAIN_KERNELS                                                                          \
  /* log Z_b (forward algorithm), [B]; -inf when no labelling has a finite score. */                            \
  template <typename T>                                                                                         \
  void chain_log_partition(const ChainPotentials<T>& potentials, ChainShape shape, T* log_z);                   \
  /* Marginals of every part, mu = dlogZ/d(potentials) (forward-backward), and log Z_b. */                      \
  template <typename T>                                                                                         \
  void chain_marginals(const ChainPotentials<T>& potentials, ChainShape shape, T* log_z, ChainParts<T> out);    \
  /* Hessian-vector product (dmu/d potentials)^T g = Cov(z) g, by the first-order expectation semiring      \
     (Li & Eisner 2009): out_q = E[z_q G(z)] - mu_q E[G(z)] with G(z) = <g, z>. `grad` holds g over the     \
     parts in the layout of `out` (edges, or unary + per-sequence transition [B, C, C]); its lengths are    \
     ignored. */                                                                                                 \
  template <typename T>                                                                                         \
  void chain_marginals_backward(const ChainPotentials<T>& potentials, const ChainPotentials<T>& grad,           \
                                ChainShape shape, T* log_z, ChainParts<T> out);                                 \
  /* Entropy H(p_b) (forward entropy recursion over backward conditionals), and log Z_b. */                     \
  template <typename T>                                                                                         \
  void chain_entropy(const ChainPotentials<T>& potentials, ChainShape shape, T* log_z, T* entropy);             \
  /* Viterbi: labels [B, N] (-1 past the length; first maximum on ties) and their score [B]. */                 \
  template <typename T>                                                                                         \
  void chain_viterbi(const ChainPotentials<T>& potentials, ChainShape shape, int32_t* labels, T* score);        \
  /* Exact samples by forward filtering, backward sampling: labels [S, B, N] (-1 past the length), with     \
     the Philox uniform of (seed, kChainSampleStream, (s B + b) N + n) drawing position n; and log Z_b. */     \
  template <typename T>                                                                                         \
  void chain_sample(const ChainPotentials<T>& potentials, ChainShape shape, int64_t samples, uint64_t seed,     \
                    T* log_z, int32_t* labels);                                                                 \
  /* Score s(y) of labels [S, B, N] (entries past the length are ignored), minus log_z[b] when log_z is     \
     not null: out [S, B]. */                                                                                    \
  template <typename T>                                                                                         \
  void chain_score(const ChainPotentials<T>& potentials, ChainShape shape, const int32_t* labels,              \
                   int64_t samples, const T* log_z, T* out);                                                    \
  /* The 0/1 parts of labels [S, B, N]: out holds S * B sequences' parts (lengths indexed by b); a row of     \
     -1 labels (no labelling: topk's tail) has zero parts. */                                                    \
  template <typename T>                                                                                         \
  void chain_parts(const int32_t* labels, const int32_t* lengths, ChainShape shape, int64_t samples,            \
                   ChainParts<T> out);                                                                          \
  /* out[k] = sum_b in[b, k] for `size` entries k (a shared transition's gradient). */                          \
  template <typename T>                                                                                         \
  void sum_over_batch(const T* in, T* out, int64_t batch, int64_t size);

#define LS_INSTANTIATE_LINEAR_CHAIN(T)                                                                        \
  template void chain_log_partition<T>(const ChainPotentials<T>&, ChainShape, T*);                           \
  template void chain_marginals<T>(const ChainPotentials<T>&, ChainShape, T*, ChainParts<T>);                \
  template void chain_marginals_backward<T>(const ChainPotentials<T>&, const ChainPotentials<T>&, ChainShape, \
                                            T*, ChainParts<T>);                                              \
  template void chain_entropy<T>(const ChainPotentials<T>&, ChainShape, T*, T*);                             \
  template void chain_viterbi<T>(const ChainPotentials<T>&, ChainShape, int32_t*, T*);                       \
  template void chain_sample<T>(const ChainPotentials<T>&, ChainShape, int64_t, uint64_t, T*, int32_t*);     \
  template void chain_score<T>(const ChainPotentials<T>&, ChainShape, const int32_t*, int64_t, const T*, T*); \
  template void chain_parts<T>(const int32_t*, const int32_t*, ChainShape, int64_t, ChainParts<T>);          \
  template void sum_over_batch<T>(const T*, T*, int64_t, int64_t);

// SparseMAP of chains with edge potentials (sparsemap_api.h); the decoded form is the labels [N].
namespace ls {
namespace cpu {
LS_DECLARE_LINEAR_CHAIN_KERNELS
LS_DECLARE_SPARSEMAP(chain, ChainPotentials, ChainShape)
}
namespace cuda {
LS_DECLARE_LINEAR_CHAIN_KERNELS
LS_DECLARE_SPARSEMAP(chain, ChainPotentials, ChainShape)
}
}  // namespace ls
