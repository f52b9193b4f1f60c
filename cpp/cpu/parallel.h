// The CPU backend's persistent thread pool. parallel_for splits [0, count) into chunks that the pool's
// workers and the calling thread claim dynamically; it is safe to call from several threads at once
// (the async workers do) and from inside a body.
#pragma once
#include <cstdint>
#include <functional>

namespace ls {
namespace cpu {

/// Number of threads that run a parallel_for (workers plus the caller): LATENT_STRUCT_THREADS when it is set to an
/// integer in [1, kMaxThreads], else the hardware's concurrency, until set_thread_count changes it.
int thread_count();

constexpr int kMaxThreads = 1024;

/// Sets thread_count() to n in [1, kMaxThreads] (the pool grows when needed, never shrinks: idle workers sleep).
void set_thread_count(int n);

/// Calls body(begin, end) over disjoint ranges covering [0, count), at least `grain` items per range
/// (except the last). Rethrows the first exception a body threw.
void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

/// A grain of rows so that one chunk touches at least ~16k elements.
inline int64_t rows_grain(int64_t cols) { return cols >= 16384 ? 1 : 16384 / (cols > 0 ? cols : 1); }

}  // namespace cpu
}  // namespace ls
