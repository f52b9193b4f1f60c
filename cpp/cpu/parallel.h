// The CPU backend's persistent thread pool. parallel_for splits [0, count) into chunks that the pool's
// workers and the calling thread claim dynamically; it is safe to call from several threads at once
// (the async workers do) and from inside a body.
#pragma once
#include <cstdint>
#include <functional>

namespace ls {
namespace cpu {

/// Number of threads that run a parallel_for (workers plus the caller).
int thread_count();

/// Calls body(begin, end) over disjoint ranges covering [0, count), at least `grain` items per range
/// (except the last). Rethrows the first exception a body threw.
void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

/// A grain of rows so that one chunk touches at least ~16k elements.
inline int64_t rows_grain(int64_t cols) { return cols >= 16384 ? 1 : 16384 / (cols > 0 ? cols : 1); }

}  // namespace cpu
}  // namespace ls
