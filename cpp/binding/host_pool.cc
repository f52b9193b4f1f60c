#include "host_pool.h"

#include "errors.h"

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define LS_POOL_MMAP 1
#elif defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
#endif

namespace ls {
namespace binding {
namespace {

constexpr std::size_t kMaxIdleBlocks = 256;  // keeps acquire's scan short
constexpr std::size_t kMiB = std::size_t(1) << 20;

/// The size class of a request: the smallest of p, 1.25p, 1.5p, 1.75p, 2p (p the power of two at or below it) that
/// holds it, so that a block serves requests within 25% of its size (a training loop's last, smaller batch). Pages
/// of the class past a request are never touched, so they cost address space, not memory.
std::size_t size_class(std::size_t bytes) {
  std::size_t power = kPooledBytes;
  while (power * 2 <= bytes) power *= 2;
  for (std::size_t quarter = 4; quarter <= 8; ++quarter) {
    const std::size_t size = power / 4 * quarter;
    if (size >= bytes) return size;
  }
  return power * 2;
}

/// min(512 MiB, physical memory / 16), or LATENT_STRUCT_HOST_POOL_MIB when it is a non-negative integer. 512 MiB
/// holds the 2-3 results of 133 MB a loop has in flight between two collections (measured: chain marginals at
/// (256, 128, 32) float32 reuse a block on every call of a loop that yields to the event loop).
std::size_t default_limit() {
  if (const char* text = std::getenv("LATENT_STRUCT_HOST_POOL_MIB")) {
    char* end = nullptr;
    const unsigned long long mib = std::strtoull(text, &end, 10);
    if (end != text && *end == '\0' && text[0] != '-' && mib <= (std::size_t(1) << 40)) return static_cast<std::size_t>(mib) * kMiB;
  }
  std::size_t limit = 512 * kMiB;
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) {
    const std::size_t sixteenth = static_cast<std::size_t>(pages) / 16 * static_cast<std::size_t>(page);
    if (sixteenth < limit) limit = sixteenth;
  }
#endif
  return limit;
}

/// Fresh zero pages straight from the OS, and back to it when freed: malloc would keep freed blocks in its arenas
/// (past its first large free, glibc serves blocks up to 32 MiB from the heap), out of the pool's account.
void* map_block(std::size_t bytes) {
#if defined(LS_POOL_MMAP)
  void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return data == MAP_FAILED ? nullptr : data;
#elif defined(_WIN32)
  return VirtualAlloc(nullptr, bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
#else
  return std::calloc(bytes, 1);
#endif
}

void unmap_block(void* data, std::size_t bytes) {
#if defined(LS_POOL_MMAP)
  munmap(data, bytes);
#elif defined(_WIN32)
  (void)bytes;
  VirtualFree(data, 0, MEM_RELEASE);
#else
  (void)bytes;
  std::free(data);
#endif
}

}  // namespace

HostPool& HostPool::instance() {
  static HostPool* pool = new HostPool();  // never destroyed: finalizers may run during process exit
  return *pool;
}

HostPool::HostPool() { stats_.limit = default_limit(); }

void* HostPool::acquire(std::size_t bytes, std::size_t* capacity, bool* reused) {
  if (bytes < kPooledBytes) return nullptr;
  const std::size_t size = size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {  // the most recently used first: its pages are warm
    if (it->capacity != size) continue;
    void* data = it->data;
    idle_.erase(std::next(it).base());
    stats_.idle_bytes -= size;
    --stats_.idle_blocks;
    stats_.lent_bytes += size;
    ++stats_.lent_blocks;
    ++stats_.reused;
    *capacity = size;
    *reused = true;
    return data;
  }
  if (stats_.lent_bytes + size > stats_.limit) {
    ++stats_.declined;
    return nullptr;
  }
  while (!idle_.empty() && stats_.lent_bytes + stats_.idle_bytes + size > stats_.limit) {
    unmap_block(idle_.front().data, idle_.front().capacity);
    stats_.idle_bytes -= idle_.front().capacity;
    --stats_.idle_blocks;
    idle_.pop_front();
  }
  void* data = map_block(size);  // zero pages, none touched yet
  if (!data) return nullptr;
  stats_.lent_bytes += size;
  ++stats_.lent_blocks;
  ++stats_.allocated;
  *capacity = size;
  *reused = false;
  return data;
}

void HostPool::release(void* block, std::size_t capacity) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.lent_bytes -= capacity;
  --stats_.lent_blocks;
  idle_.push_back(Block{block, capacity});
  stats_.idle_bytes += capacity;
  ++stats_.idle_blocks;
  trim_locked();
}

void HostPool::set_limit(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.limit = bytes;
  trim_locked();
}

HostPoolStats HostPool::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void HostPool::trim_locked() {
  // Idle: at most half the limit. A GC gives back every result collected since the last one at once, so the idle
  // list must hold what a loop allocates between two collections (70 results of 0.5 MB, measured) to be reused.
  while (!idle_.empty() && (stats_.lent_bytes + stats_.idle_bytes > stats_.limit || stats_.idle_bytes > stats_.limit / 2 ||
                            idle_.size() > kMaxIdleBlocks)) {
    unmap_block(idle_.front().data, idle_.front().capacity);
    stats_.idle_bytes -= idle_.front().capacity;
    --stats_.idle_blocks;
    idle_.pop_front();
  }
}

HostBlock::HostBlock(std::size_t bytes) {
  bool reused = false;
  data_ = HostPool::instance().acquire(bytes, &capacity_, &reused);
  if (data_) {
    pooled_ = true;
    if (reused) std::memset(data_, 0, bytes);
    return;
  }
  data_ = std::calloc(bytes ? bytes : 1, 1);
  if (!data_) {
    throw BackendError("ERR_OUT_OF_MEMORY", "out of host memory: cannot allocate " + std::to_string(bytes) + " bytes for a result");
  }
}

HostBlock::~HostBlock() {
  if (pooled_) {
    HostPool::instance().release(data_, capacity_);
  } else {
    std::free(data_);
  }
}

}  // namespace binding
}  // namespace ls
