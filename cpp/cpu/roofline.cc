// The CPU ceilings of roofline.h: every thread of the pool runs the same loop at once, and the rate is the work of
// all of them over the wall time of the slowest.
#include "roofline.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "parallel.h"
#include "vector_math.h"

namespace ls {
namespace cpu {
namespace {

/// Runs body(thread) on thread_count() threads at once; returns the wall seconds.
template <typename Body>
double on_every_thread(Body body) {
  const int threads = thread_count();
  const auto start = std::chrono::steady_clock::now();
  parallel_for(threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) body(t);
  });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <typename T>
double exp_rate(int64_t elements, int64_t repeats) {
  const int threads = thread_count();
  std::vector<std::vector<T>> buffers(threads, std::vector<T>(static_cast<size_t>(elements)));
  for (auto& buffer : buffers) {
    for (int64_t k = 0; k < elements; ++k) buffer[k] = static_cast<T>(-20.0 + 40.0 * static_cast<double>(k) / static_cast<double>(elements));
  }
  const double seconds = on_every_thread([&](int64_t t) {
    T* values = buffers[t].data();
    std::vector<T> out(static_cast<size_t>(elements));
    for (int64_t r = 0; r < repeats; ++r) vec::exp(values, out.data(), elements);
  });
  return static_cast<double>(threads) * static_cast<double>(elements) * static_cast<double>(repeats) / seconds;
}

}  // namespace

double measure_exp_rate(bool double_precision, int64_t elements_per_thread, int64_t repeats) {
  return double_precision ? exp_rate<double>(elements_per_thread, repeats) : exp_rate<float>(elements_per_thread, repeats);
}

double measure_copy_bandwidth(int64_t bytes_per_thread, int64_t repeats) {
  const int threads = thread_count();
  const size_t bytes = static_cast<size_t>(bytes_per_thread);
  std::vector<std::unique_ptr<char[]>> from(threads), to(threads);
  on_every_thread([&](int64_t t) {  // each thread touches its own pages first, as it will copy them
    from[t].reset(new char[bytes]);
    to[t].reset(new char[bytes]);
    std::memset(from[t].get(), 1, bytes);
    std::memcpy(to[t].get(), from[t].get(), bytes);
  });
  const double seconds = on_every_thread([&](int64_t t) {
    for (int64_t r = 0; r < repeats; ++r) std::memcpy(to[t].get(), from[t].get(), bytes);
  });
  return 2.0 * static_cast<double>(threads) * static_cast<double>(bytes) * static_cast<double>(repeats) / seconds;
}

}  // namespace cpu
}  // namespace ls
