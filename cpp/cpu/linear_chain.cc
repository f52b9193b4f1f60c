// CPU backend of the linear-chain CRF: the sweeps of linear_chain_sweeps.h with vectorized row reductions, one
// thread per sequence, sequences split across the thread pool; each thread's workspace is reused across calls.
#include "latent_struct/linear_chain.h"
#include "latent_struct/linear_chain_sweeps.h"
#include "parallel.h"
#include "vector_rows.h"
#include "workspace.h"

namespace ls {
namespace cpu {
namespace {

/// One thread is the whole group; its row reductions are the vector kernels.
struct SerialGroup {
  int64_t rank() const { return 0; }
  int64_t size() const { return 1; }
  void sync() const {}
};
LS_CPU_VECTOR_ROWS(SerialGroup)

/// Runs body(b, workspace, index workspace) for every sequence, in parallel over the batch.
template <typename T, typename Body>
void for_each_sequence(ChainShape shape, Body body) {
  for_each_item<T>(shape.batch, shape.length * shape.labels * shape.labels, chain::workspace_size(shape),
                   shape.length * shape.labels, body);
}

}  // namespace

template <typename T>
void chain_log_partition(const ChainPotentials<T>& potentials, ChainShape shape, T* log_z) {
  for_each_sequence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    chain::log_partition_op(SerialGroup(), potentials, shape, b, workspace, log_z);
  });
}

template <typename T>
void chain_marginals(const ChainPotentials<T>& potentials, ChainShape shape, T* log_z, ChainParts<T> out) {
  for_each_sequence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    chain::marginals_op(SerialGroup(), potentials, shape, b, workspace, log_z, out);
  });
}

template <typename T>
void chain_marginals_backward(const ChainPotentials<T>& potentials, const ChainPotentials<T>& grad, ChainShape shape,
                              T* log_z, ChainParts<T> out) {
  for_each_sequence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    chain::marginals_backward_op(SerialGroup(), potentials, grad, shape, b, workspace, log_z, out);
  });
}

template <typename T>
void chain_entropy(const ChainPotentials<T>& potentials, ChainShape shape, T* log_z, T* entropy) {
  for_each_sequence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    chain::entropy_op(SerialGroup(), potentials, shape, b, workspace, log_z, entropy);
  });
}

template <typename T>
void chain_viterbi(const ChainPotentials<T>& potentials, ChainShape shape, int32_t* labels, T* score) {
  for_each_sequence<T>(shape, [&](int64_t b, T* workspace, int32_t* back) {
    chain::viterbi_op(SerialGroup(), potentials, shape, b, workspace, back, labels, score);
  });
}

template <typename T>
void chain_sample(const ChainPotentials<T>& potentials, ChainShape shape, int64_t samples, uint64_t seed, T* log_z,
                  int32_t* labels) {
  for_each_sequence<T>(shape, [&](int64_t b, T* workspace, int32_t*) {
    chain::sample_op(SerialGroup(), potentials, shape, b, samples, seed, workspace, log_z, labels);
  });
}

template <typename T>
void chain_score(const ChainPotentials<T>& potentials, ChainShape shape, const int32_t* labels, int64_t samples,
                 const T* log_z, T* out) {
  parallel_for(samples * shape.batch, 256, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row % shape.batch;
      const T score = chain::score_of(chain::chain_at(potentials, shape, b), labels + row * shape.length);
      out[row] = log_z ? score - log_z[b] : score;
    }
  });
}

template <typename T>
void chain_parts(const int32_t* labels, const int32_t* lengths, ChainShape shape, int64_t samples, ChainParts<T> out) {
  const int64_t N = shape.length, C = shape.labels;
  parallel_for(samples * shape.batch, 16, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int32_t* y = labels + row * N;
      const int64_t L = y[0] < 0 ? 0 : lengths ? lengths[row % shape.batch] : N;  // -1 labels: no labelling, no parts
      const ChainParts<T> o = chain::parts_at(out, shape, row);
      if (o.edges) {
        for (int64_t k = 0; k < (N - 1) * C * C; ++k) o.edges[k] = 0;
        for (int64_t n = 0; n + 1 < L; ++n) o.edges[(n * C + y[n + 1]) * C + y[n]] = 1;
      }
      if (o.unary) {
        for (int64_t k = 0; k < N * C; ++k) o.unary[k] = 0;
        for (int64_t n = 0; n < L; ++n) o.unary[n * C + y[n]] = 1;
      }
      if (o.transition) {
        for (int64_t k = 0; k < C * C; ++k) o.transition[k] = 0;
        for (int64_t n = 0; n + 1 < L; ++n) o.transition[y[n] * C + y[n + 1]] += 1;
      }
    }
  });
}

template <typename T>
void sum_over_batch(const T* in, T* out, int64_t batch, int64_t size) {
  parallel_for(size, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      T total = 0;
      for (int64_t b = 0; b < batch; ++b) total += in[b * size + k];
      out[k] = total;
    }
  });
}

LS_INSTANTIATE_LINEAR_CHAIN(float)
LS_INSTANTIATE_LINEAR_CHAIN(double)

}  // namespace cpu
}  // namespace ls
