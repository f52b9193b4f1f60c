// A process-wide pool of host memory blocks for large results. A fresh typed array of 100+ MB costs a page fault
// per 4 KiB page the first time a kernel writes it (~650 ms over 7 chain-marginal results of 133 MB, against 6-11 ms
// to refill memory already touched); results made from blocks of this pool reuse pages already touched. A block goes
// back to the pool when the ArrayBuffer over it is collected (its N-API finalizer, which Node runs on the JS thread
// after the GC: so in a synchronous loop that never yields to the event loop nothing comes back, and the pool stops
// lending once its limit is reached, leaving V8 to allocate as before).
//
// The pool is bounded: the bytes it has lent and not got back plus the bytes it keeps idle never exceed its limit
// (default min(512 MiB, physical memory / 16); LATENT_STRUCT_HOST_POOL_MIB sets it, 0 turns the pool off), and it keeps
// at most half the limit idle, freeing the oldest blocks first. It is shared by every thread and
// every worker_thread's environment.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>

namespace ls {
namespace binding {

/// Results at least this large come from the pool. Below it a fresh array costs at most 16 page faults (a few
/// microseconds), no more than the pool's own overhead per result (an external ArrayBuffer and its finalizer), and
/// small allocations are served by malloc from pages it already holds.
constexpr std::size_t kPooledBytes = std::size_t(64) << 10;

struct HostPoolStats {
  std::size_t limit = 0;
  std::size_t idle_bytes = 0, idle_blocks = 0;
  std::size_t lent_bytes = 0, lent_blocks = 0;
  /// Blocks lent from the idle list, freshly allocated, and requests declined (the limit reached).
  std::uint64_t reused = 0, allocated = 0, declined = 0;
};

class HostPool {
 public:
  static HostPool& instance();

  /// A block of at least `bytes` (its size in *capacity; *reused tells whether its pages were written before, else
  /// it is zero-filled), or nullptr when the pool is off, the request is below kPooledBytes, the limit would be
  /// passed, or memory runs out. Thread-safe.
  void* acquire(std::size_t bytes, std::size_t* capacity, bool* reused);
  /// Takes back a block from acquire(); keeps it idle or frees it (limit). Thread-safe.
  void release(void* block, std::size_t capacity);
  /// Sets the limit in bytes (0 turns the pool off) and frees idle blocks over it.
  void set_limit(std::size_t bytes);
  HostPoolStats stats();

 private:
  HostPool();
  struct Block {
    void* data;
    std::size_t capacity;
  };
  void trim_locked();

  std::mutex mutex_;
  std::list<Block> idle_;  // oldest first
  HostPoolStats stats_;
};

/// Host memory of a job's own (a staging copy), from the pool when large, else from the heap; zero-filled.
class HostBlock {
 public:
  explicit HostBlock(std::size_t bytes);
  ~HostBlock();
  HostBlock(const HostBlock&) = delete;
  HostBlock& operator=(const HostBlock&) = delete;
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
  bool pooled_ = false;
};

}  // namespace binding
}  // namespace ls
