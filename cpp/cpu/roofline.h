// The CPU's own ceilings, measured where the bench runs (bench/ reads them through the binding): the rate of the
// vector exp on cache-resident data and the bandwidth of large copies, both on thread_count() threads.
#pragma once
#include <cstdint>

namespace ls {
namespace cpu {

/// exp/s of vec::exp over `elements_per_thread` values (small enough to stay in cache) repeated `repeats` times on
/// every thread at once; `double_precision` picks float64.
double measure_exp_rate(bool double_precision, int64_t elements_per_thread, int64_t repeats);

/// Bytes moved per second (read + written) by memcpy of `bytes_per_thread`-byte buffers, `repeats` times on every
/// thread at once (after one untimed copy that touches the pages).
double measure_copy_bandwidth(int64_t bytes_per_thread, int64_t repeats);

}  // namespace cpu
}  // namespace ls
