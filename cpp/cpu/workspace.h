// Per-thread scratch of the CPU backend: grown on demand, never shrunk, reused across calls, so kernels do
// not allocate per call.
#pragma once
#include <cstdint>
#include <vector>

#include "parallel.h"

namespace ls {
namespace cpu {

/// This thread's workspace of at least `count` elements of T; `Slot` separates buffers of one type that are
/// live at the same time.
template <typename T, int Slot = 0>
T* thread_workspace(int64_t count) {
  thread_local std::vector<T> buffer;
  if (static_cast<int64_t>(buffer.size()) < count) buffer.resize(static_cast<std::size_t>(count));
  return buffer.data();
}

/// Runs body(item, workspace of T, index workspace) for every item of a batch in parallel, one item per task
/// when an item costs at least ~16k operations (`work`), several otherwise.
template <typename T, typename Body>
void for_each_item(int64_t batch, int64_t work, int64_t workspace, int64_t index_workspace, Body body) {
  parallel_for(batch, rows_grain(work), [&](int64_t begin, int64_t end) {
    T* values = thread_workspace<T>(workspace);
    int32_t* indices = thread_workspace<int32_t>(index_workspace);
    for (int64_t b = begin; b < end; ++b) body(b, values, indices);
  });
}

}  // namespace cpu
}  // namespace ls
