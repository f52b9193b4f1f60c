// The emulated CUDA device (cuda_runtime.h beside this file): the block scheduler with a fiber per CUDA thread,
// the barriers and warp collectives, device memory with guard pages and poison, and the runtime API.
#include "cuda_runtime.h"

#include <signal.h>
#include <sys/mman.h>
#include <pthread.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

struct CUstream_st {
  unsigned flags;
  int device;  // the device current when it was made: work on it must be issued with that device current
};
struct CUevent_st {
  int unused;
};
struct CUmemPoolHandle_st {
  int device;
};

namespace cuemu {
namespace {

// ---- Settings (environment variables, read once) ----------------------------------------------------------------
std::size_t env_size(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == 0) return fallback;
  const double value = std::atof(v);
  return value > 0 ? static_cast<std::size_t>(value) : fallback;
}

enum class Order { Forward, Reverse, Random };

struct Settings {
  std::size_t memory_bytes;  // per device: allocations past it fail with cudaErrorMemoryAllocation
  int devices;
  Order order;
  unsigned seed;
  bool guard_before;  // the guard page before each allocation instead of after it
  std::size_t stack_bytes;
};

const Settings& settings() {
  static const Settings s = [] {
    Settings r;
    r.memory_bytes = env_size("LATENT_STRUCT_EMULATED_MEMORY_MB", 4096) << 20;
    r.devices = static_cast<int>(env_size("LATENT_STRUCT_EMULATED_DEVICES", 1));
    r.order = Order::Forward;
    r.seed = 1;
    const char* order = std::getenv("LATENT_STRUCT_EMULATED_SCHEDULE");  // forward | reverse | random[:seed]
    if (order && std::strncmp(order, "reverse", 7) == 0) r.order = Order::Reverse;
    if (order && std::strncmp(order, "random", 6) == 0) {
      r.order = Order::Random;
      if (order[6] == ':') r.seed = static_cast<unsigned>(std::atoi(order + 7));
    }
    const char* guard = std::getenv("LATENT_STRUCT_EMULATED_GUARD");  // after (default) | before
    r.guard_before = guard && std::strcmp(guard, "before") == 0;
    r.stack_bytes = std::max<std::size_t>(env_size("LATENT_STRUCT_EMULATED_STACK_KB", 256), 32) << 10;
    return r;
  }();
  return s;
}

std::size_t page_bytes() {
  static const std::size_t bytes = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return bytes;
}

// ---- Errors: the last error of each host thread, as the runtime keeps it ---------------------------------------
thread_local cudaError_t last_error = cudaSuccess;
thread_local cudaError_t message_error = cudaSuccess;  // the error last_message explains
thread_local std::string last_message;

cudaError_t fail(cudaError_t code, const std::string& message) {
  if (last_error == cudaSuccess) {
    last_error = message_error = code;
    last_message = message;
  }
  return code;
}

std::string text(dim3 d) { return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")"; }
std::string hex(const void* p) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%p", p);
  return buffer;
}

// ---- Device memory -------------------------------------------------------------------------------------------------
// Each allocation is its own mapping, its pages between two PROT_NONE guard pages and its bytes placed against the one
// after them (by default, so that reading one element past the end faults); fresh bytes are 0xFF (NaN for floats, -1
// for integers) so that a kernel reading memory nobody wrote shows it.
struct Allocation {
  std::size_t bytes;
  char* mapping;
  std::size_t mapping_bytes;
  int device;
};

struct Memory {
  std::mutex mutex;
  std::map<std::uintptr_t, Allocation> live;  // by start address
  std::vector<std::size_t> in_use;            // bytes per device
};
Memory& memory() {
  static Memory m;
  return m;
}

thread_local int current_device = 0;

/// The live allocation holding [p, p + bytes) (end inclusive when bytes is 0), or nullptr. Caller holds the mutex.
const Allocation* find_locked(const void* p, std::size_t bytes) {
  Memory& m = memory();
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  auto it = m.live.upper_bound(address);
  if (it == m.live.begin()) return nullptr;
  --it;
  if (address < it->first || address + bytes > it->first + it->second.bytes) return nullptr;
  return &it->second;
}

bool is_device_range(const void* p, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(memory().mutex);
  return find_locked(p, bytes) != nullptr;
}

cudaError_t allocate(void** pointer, std::size_t bytes) {
  *pointer = nullptr;
  const Settings& s = settings();
  Memory& m = memory();
  const std::size_t page = page_bytes();
  const std::size_t data_pages = (std::max<std::size_t>(bytes, 1) + page - 1) / page;
  {
    std::lock_guard<std::mutex> lock(m.mutex);
    if (m.in_use.size() < static_cast<std::size_t>(s.devices)) m.in_use.resize(s.devices, 0);
    if (bytes > s.memory_bytes || m.in_use[current_device] + bytes > s.memory_bytes) {
      return fail(cudaErrorMemoryAllocation, "out of memory: " + std::to_string(bytes) + " bytes requested, " +
                                                 std::to_string(m.in_use[current_device]) + " of " +
                                                 std::to_string(s.memory_bytes) +
                                                 " in use (LATENT_STRUCT_EMULATED_MEMORY_MB sets the device's size)");
    }
    m.in_use[current_device] += bytes;
  }
  const std::size_t mapping_bytes = (data_pages + 2) * page;
  void* base = mmap(nullptr, mapping_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  char* data = static_cast<char*>(base) + page;
  if (base == MAP_FAILED || mprotect(data, data_pages * page, PROT_READ | PROT_WRITE) != 0) {
    if (base != MAP_FAILED) munmap(base, mapping_bytes);
    std::lock_guard<std::mutex> lock(m.mutex);
    m.in_use[current_device] -= bytes;
    return fail(cudaErrorMemoryAllocation, "out of host memory for " + std::to_string(bytes) + " device bytes");
  }
  // Against the guard page after: the start is aligned as the size allows (an array of T stays aligned for T).
  // The bytes before the start, in the same page, are poisoned too: a read just before the allocation gets NaN / -1.
  char* start = s.guard_before ? data : data + data_pages * page - bytes;
  std::memset(data, 0xFF, data_pages * page);
  std::lock_guard<std::mutex> lock(m.mutex);
  m.live[reinterpret_cast<std::uintptr_t>(start)] = Allocation{bytes, static_cast<char*>(base), mapping_bytes, current_device};
  *pointer = start;
  return cudaSuccess;
}

cudaError_t release(void* pointer) {
  if (pointer == nullptr) return cudaSuccess;
  Allocation a;
  {
    std::lock_guard<std::mutex> lock(memory().mutex);
    auto it = memory().live.find(reinterpret_cast<std::uintptr_t>(pointer));
    if (it == memory().live.end()) {
      return fail(cudaErrorInvalidValue, "cudaFree of " + hex(pointer) + ", which is not the start of a live allocation");
    }
    a = it->second;
    memory().live.erase(it);
    memory().in_use[a.device] -= a.bytes;
  }
  munmap(a.mapping, a.mapping_bytes);
  return cudaSuccess;
}

/// Where p lies relative to the allocations, for a fault or a bad pointer message.
std::string describe_address(const void* p) {
  Memory& m = memory();
  std::unique_lock<std::mutex> lock(m.mutex, std::try_to_lock);
  if (!lock.owns_lock()) return hex(p);
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  for (const auto& [start, a] : m.live) {
    const auto base = reinterpret_cast<std::uintptr_t>(a.mapping);
    if (address < base || address >= base + a.mapping_bytes) continue;
    if (address >= start + a.bytes) {
      return hex(p) + ", " + std::to_string(address - start - a.bytes) + " bytes past the end of an allocation of " +
             std::to_string(a.bytes) + " bytes";
    }
    if (address < start) {
      return hex(p) + ", " + std::to_string(start - address) + " bytes before an allocation of " +
             std::to_string(a.bytes) + " bytes";
    }
    return hex(p) + ", inside an allocation of " + std::to_string(a.bytes) + " bytes";
  }
  return hex(p) + ", outside every device allocation";
}

// ---- Switching: GCC's __builtin_setjmp/__builtin_longjmp save and restore only the frame, stack and resume address
// (the function calling __builtin_setjmp spills every callee-saved register), without glibc longjmp's signal mask and
// cleanup-handler walk: the fiber switch costs a few instructions.
using Jump = void* [5];

/// Resumes where `to` was saved; never returns. (__builtin_longjmp may not share a function with __builtin_setjmp.)
[[noreturn]] __attribute__((noinline)) void jump_to(Jump& to) { __builtin_longjmp(to, 1); }

// ---- Blocks, CUDA threads and the fibers they run on ---------------------------------------------------------------
// A Worker is a fiber with its own stack, kept per OS thread across launches. It runs not-yet-started CUDA threads of
// the current block one after the other; a thread that waits at a barrier keeps its worker, and the next threads
// start on another. A kernel without barriers thus runs a whole block on one fiber with no switch.
struct Worker {
  char* stack = nullptr;  // above a guard page
  bool started = false;
  ucontext_t entry;  // to enter the fiber the first time; later switches are jump_to()
  Jump suspended;
};

enum class State { NotStarted, Ready, Waiting, Done };

struct CudaThread {
  ThreadPlace place;
  unsigned linear = 0;
  State state = State::NotStarted;
  bool at_block_barrier = false;
  Worker* worker = nullptr;
  unsigned source = 0;                     // the lane it reads in the current shuffle
  alignas(16) unsigned char value[16];     // what it publishes in the current collective
  alignas(16) unsigned char result[16];    // what it gets when the collective completes
  int barrier_count = 0;                   // __syncthreads_count's result
};

struct Warp {
  unsigned exists = 0;   // lanes present in the block (the last warp may be partial)
  unsigned live = 0;     // lanes that have not exited
  unsigned arrived = 0;  // lanes waiting at the open collective
  unsigned mask = 0;
  const char* what = "";
  Collective kind = Collective::Sync;
  std::size_t size = 0;
};

struct Block {
  dim3 grid, dim;
  uint3 index{0, 0, 0};
  unsigned count = 0;
  std::vector<CudaThread> threads;
  std::vector<Warp> warps;
  std::vector<unsigned> order;  // the order threads start in
  std::vector<unsigned> ready;  // threads a completed barrier released, not yet resumed: ready[ready_head ..]
  std::size_t ready_head = 0;
  std::mt19937* random = nullptr;
  unsigned next_start = 0;
  unsigned live = 0;
  unsigned barrier_arrived = 0;
  int barrier_votes = 0;
  Jump scheduler;
  void (*invoke)(void*) = nullptr;
  void* body = nullptr;
  cudaError_t error = cudaSuccess;
  std::string message;
  bool aborted = false;  // a fault or a deadlock: the block's fibers are abandoned
};

// One grid runs at a time in the process (device_lock in run_grid): a launch from another host thread waits, as
// CUDA allows. So what runs now is a plain global, not thread_local (which costs a __tls_get_addr call per access
// from a dlopen()ed addon, and fibers access it at every threadIdx and collective), and so is __shared__ memory.
struct Current {
  Block* block = nullptr;
  CudaThread* thread = nullptr;
  Worker* worker = nullptr;
};
Current current;
std::mutex device_lock;
std::atomic<pthread_t> kernel_host_thread{};  // the host thread running a grid; valid while current.block is set

bool this_thread_runs_a_kernel() {
  return current.block != nullptr && pthread_equal(kernel_host_thread.load(), pthread_self());
}

void make_ready(Block& b, CudaThread& t) {
  t.state = State::Ready;
  b.ready.push_back(t.linear);
}

/// The released thread to resume next: the first released (the last under the reverse schedule, any under random).
CudaThread* next_ready(Block& b) {
  if (b.ready_head == b.ready.size()) return nullptr;
  unsigned i;
  if (settings().order == Order::Reverse) {
    i = b.ready.back();
    b.ready.pop_back();
  } else {
    if (settings().order == Order::Random) {
      std::uniform_int_distribution<std::size_t> pick(b.ready_head, b.ready.size() - 1);
      std::swap(b.ready[b.ready_head], b.ready[pick(*b.random)]);
    }
    i = b.ready[b.ready_head++];
  }
  if (b.ready_head == b.ready.size()) {
    b.ready.clear();
    b.ready_head = 0;
  }
  return &b.threads[i];
}

void block_error(cudaError_t code, const std::string& message) {
  Block* b = current.block;
  if (b == nullptr || b->error != cudaSuccess) return;
  b->error = code;
  std::string place;
  if (current.thread) {
    const uint3 t = current.thread->place.thread;
    place = " (thread (" + std::to_string(t.x) + "," + std::to_string(t.y) + "," + std::to_string(t.z) + "))";
  }
  b->message = message + place;
}

struct WorkerPool {
  std::vector<Worker*> all, idle;
  ~WorkerPool() {
    for (Worker* w : all) {
      munmap(w->stack - page_bytes(), settings().stack_bytes + page_bytes());
      delete w;
    }
  }
};
WorkerPool& workers() {
  static thread_local WorkerPool pool;
  return pool;
}

void worker_main();

void reset(Worker* w) {
  w->started = false;
  w->entry.uc_stack.ss_sp = w->stack;
  w->entry.uc_stack.ss_size = settings().stack_bytes;
  w->entry.uc_link = nullptr;
  makecontext(&w->entry, worker_main, 0);
}

Worker* idle_worker() {
  WorkerPool& pool = workers();
  if (!pool.idle.empty()) {
    Worker* w = pool.idle.back();
    pool.idle.pop_back();
    return w;
  }
  const std::size_t total = settings().stack_bytes + page_bytes();
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    std::fprintf(stderr, "latent-struct emulated CUDA: cannot map a fiber stack\n");
    std::abort();
  }
  mprotect(base, page_bytes(), PROT_NONE);  // a stack overflow faults instead of corrupting
  Worker* w = new Worker;
  w->stack = static_cast<char*>(base) + page_bytes();
  getcontext(&w->entry);
  reset(w);
  pool.all.push_back(w);
  return w;
}

/// Switches to worker w: the first time at its entry, later where it was suspended.
[[noreturn]] void enter(Worker* w) {
  current.worker = w;
  if (!w->started) {
    w->started = true;
    setcontext(&w->entry);
  }
  jump_to(w->suspended);
}

/// From a fiber that waits or has finished, straight to the next thread to run (a released one, else a new one on
/// an idle worker), or to the scheduler when there is none: one switch per waiting thread, not two.
[[noreturn]] void run_next(Block* b) {
  if (!b->aborted) {
    if (CudaThread* t = next_ready(*b)) {
      current.thread = t;
      enter(t->worker);
    }
    if (b->next_start < b->count) enter(idle_worker());
  }
  jump_to(b->scheduler);
}

/// Suspends the calling fiber and runs the next thread; returns when this fiber is entered again.
void suspend() {
  Worker* w = current.worker;
  CudaThread* t = current.thread;
  if (__builtin_setjmp(w->suspended) == 0) run_next(current.block);
  current.worker = w;
  current.thread = t;
}

/// From the scheduler into worker w, until no fiber of the block has anything to run.
__attribute__((noinline)) void resume(Block& b, Worker* w) {
  if (__builtin_setjmp(b.scheduler) == 0) enter(w);
  current.block = &b;
}

void thread_exited() {
  Block* b = current.block;
  CudaThread* self = current.thread;
  self->state = State::Done;
  --b->live;
  const unsigned lane = self->linear % 32;
  Warp& warp = b->warps[self->linear / 32];
  warp.live &= ~(1u << lane);
  if (warp.arrived && (warp.mask >> lane & 1u)) {
    block_error(cudaErrorLaunchFailure, std::string("a lane named in the mask of ") + warp.what +
                                            " exited while the other lanes wait for it");
  }
  if (b->barrier_arrived > 0) {
    block_error(cudaErrorLaunchFailure, "a thread exited while others wait at __syncthreads() (a barrier in divergent code)");
  }
}

void worker_main() {
  Worker* const w = current.worker;
  for (;;) {
    Block* b = current.block;
    while (b->next_start < b->count && !b->aborted) {
      CudaThread& t = b->threads[b->order[b->next_start++]];
      t.state = State::Ready;
      t.worker = w;
      current.thread = &t;
      try {
        b->invoke(b->body);
      } catch (const std::exception& e) {
        block_error(cudaErrorLaunchFailure, std::string("exception in a kernel: ") + e.what());
      } catch (...) {
        block_error(cudaErrorLaunchFailure, "exception in a kernel");
      }
      thread_exited();
      current.worker = w;
      b = current.block;
    }
    workers().idle.push_back(w);
    suspend();
  }
}

/// Lets the other threads run until the calling thread's barrier completes.
void wait_here() {
  current.thread->state = State::Waiting;
  suspend();
}

// ---- Faults: a kernel's access outside the allocations ------------------------------------------------------------
struct sigaction previous_segv, previous_bus;

void on_fault(int signal, siginfo_t* info, void* context) {
  Block* b = current.block;
  if (this_thread_runs_a_kernel() && current.thread != nullptr && current.worker != nullptr && !b->aborted) {
    block_error(cudaErrorIllegalAddress, std::string("illegal address: the kernel accessed ") +
                                             describe_address(info->si_addr));
    b->aborted = true;
    jump_to(b->scheduler);  // the faulting fiber is abandoned (run_block resets it)
  }
  const struct sigaction& previous = signal == SIGSEGV ? previous_segv : previous_bus;
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(signal, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(signal);
  } else {
    ::signal(signal, SIG_DFL);  // returning re-executes the access, which now ends the process as usual
  }
}

/// The fault handler (once per process) and an alternate signal stack (once per OS thread, for a fiber's overflow).
void prepare_fault_handling() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
    sigaction(SIGBUS, &action, &previous_bus);
  });
  struct AltStack {
    std::vector<char> memory;
    AltStack() : memory(64 * 1024) {
      stack_t s;
      s.ss_sp = memory.data();
      s.ss_size = memory.size();
      s.ss_flags = 0;
      stack_t old;
      if (sigaltstack(nullptr, &old) == 0 && (old.ss_flags & SS_DISABLE)) sigaltstack(&s, nullptr);
    }
    ~AltStack() {
      stack_t old;
      if (sigaltstack(nullptr, &old) == 0 && old.ss_sp == memory.data()) {
        stack_t off;
        std::memset(&off, 0, sizeof off);
        off.ss_flags = SS_DISABLE;
        sigaltstack(&off, nullptr);
      }
    }
  };
  static thread_local AltStack alt_stack;
  (void)alt_stack;
}

// ---- Running a block -------------------------------------------------------------------------------------------------
void run_block(Block& b, std::mt19937& random) {
  for (CudaThread& t : b.threads) {
    t.state = State::NotStarted;
    t.worker = nullptr;
    t.at_block_barrier = false;
    t.place.block = b.index;
  }
  for (std::size_t i = 0; i < b.warps.size(); ++i) {
    Warp& warp = b.warps[i];
    const bool full = i + 1 < b.warps.size() || b.count % 32 == 0;
    warp.exists = full ? 0xffffffffu : (1u << (b.count % 32)) - 1;
    warp.live = warp.exists;
    warp.arrived = 0;
  }
  if (settings().order == Order::Random) std::shuffle(b.order.begin(), b.order.end(), random);
  b.next_start = 0;
  b.live = b.count;
  b.barrier_arrived = 0;
  b.barrier_votes = 0;
  b.ready.clear();
  b.ready_head = 0;
  b.random = &random;
  current.block = &b;
  while (b.live > 0 && !b.aborted) {
    if (CudaThread* t = next_ready(b)) {
      current.thread = t;
      resume(b, t->worker);
    } else if (b.next_start < b.count) {
      resume(b, idle_worker());
    } else {
      std::string waiting;
      for (const CudaThread& t : b.threads) {
        if (t.state == State::Waiting && waiting.size() < 300) {
          waiting += " " + std::to_string(t.linear) + "@" + (t.at_block_barrier ? "__syncthreads" : b.warps[t.linear / 32].what);
        }
      }
      block_error(cudaErrorLaunchFailure, "deadlock: " + std::to_string(b.live) +
                                              " thread(s) wait at barriers that cannot complete (thread@barrier:" +
                                              waiting + ")");
      b.aborted = true;
    }
  }
  if (b.aborted) {  // abandon the fibers stopped inside the kernel; they start afresh next time
    for (CudaThread& t : b.threads) {
      if (t.state != State::Done && t.worker != nullptr && t.worker->started) {
        reset(t.worker);
        workers().idle.push_back(t.worker);
      }
      t.worker = nullptr;
    }
  }
  current.block = nullptr;
  current.thread = nullptr;
  current.worker = nullptr;
}

}  // namespace

const ThreadPlace& here() { return current.thread->place; }

unsigned lane_id() { return current.thread->linear % 32; }

unsigned live_lanes() { return current.block->warps[current.thread->linear / 32].live; }

void run_grid(const char* name, dim3 grid, dim3 block, std::size_t shared_bytes, void (*invoke)(void*), void* body) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  std::string bad;
  if (threads == 0 || threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64) {
    bad = "block " + text(block) + " is empty or exceeds 1024 threads (x, y <= 1024, z <= 64)";
  } else if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    bad = "grid " + text(grid) + " is empty or exceeds (2^31 - 1, 65535, 65535)";
  } else if (shared_bytes > 48 * 1024) {
    bad = "dynamic shared memory of " + std::to_string(shared_bytes) + " bytes exceeds 48 KiB";
  }
  if (!bad.empty()) {
    fail(cudaErrorInvalidConfiguration, std::string("kernel ") + name + ": invalid launch configuration: " + bad);
    return;
  }
  if (this_thread_runs_a_kernel()) {
    fail(cudaErrorLaunchFailure, std::string("kernel ") + name + " launched from inside a kernel");
    return;
  }
  prepare_fault_handling();
  std::lock_guard<std::mutex> lock(device_lock);
  kernel_host_thread.store(pthread_self());
  Block b;
  b.grid = grid;
  b.dim = block;
  b.invoke = invoke;
  b.body = body;
  b.count = static_cast<unsigned>(threads);
  b.threads.resize(b.count);
  b.warps.resize((b.count + 31) / 32);
  b.order.resize(b.count);
  for (unsigned i = 0; i < b.count; ++i) {
    CudaThread& t = b.threads[i];
    t.linear = i;
    t.place.thread = uint3{i % block.x, (i / block.x) % block.y, i / (block.x * block.y)};
    t.place.block_dim = block;
    t.place.grid_dim = grid;
    b.order[i] = settings().order == Order::Reverse ? b.count - 1 - i : i;
  }
  std::mt19937 random(settings().seed);
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x) {
        b.index = uint3{x, y, z};
        run_block(b, random);
        if (b.error != cudaSuccess) {
          fail(b.error, std::string("kernel ") + name + " failed in block " + text(dim3(x, y, z)) + ": " + b.message);
          return;
        }
      }
    }
  }
}

bool check_device_pointer(const char* name, int index, const void* p) {
  if (p == nullptr) return true;
  int device = -1;
  {
    std::lock_guard<std::mutex> lock(memory().mutex);
    if (const Allocation* a = find_locked(p, 0)) device = a->device;
  }
  if (device == current_device) return true;
  if (device >= 0) {
    fail(cudaErrorInvalidDevicePointer, std::string("kernel ") + name + ": parameter " + std::to_string(index) +
                                            " is or holds the pointer " + hex(p) + ", memory of device " +
                                            std::to_string(device) + ", but the kernel runs on device " +
                                            std::to_string(current_device) + " (no peer access)");
    return false;
  }
  fail(cudaErrorInvalidDevicePointer, std::string("kernel ") + name + ": parameter " + std::to_string(index) +
                                          " is or holds the pointer " + describe_address(p) +
                                          ": a kernel can only dereference device memory");
  return false;
}

void block_barrier(int predicate, int* count) {
  Block* b = current.block;
  CudaThread* self = current.thread;
  if (b->live != b->count) {
    block_error(cudaErrorLaunchFailure, "__syncthreads() after " + std::to_string(b->count - b->live) +
                                            " thread(s) of the block exited (a barrier in divergent code)");
  }
  b->barrier_votes += predicate != 0;
  if (++b->barrier_arrived < b->live) {
    self->at_block_barrier = true;
    wait_here();
    if (count) *count = self->barrier_count;
    return;
  }
  const int votes = b->barrier_votes;
  for (CudaThread& t : b->threads) {
    if (t.state == State::Waiting && t.at_block_barrier) {
      t.at_block_barrier = false;
      t.barrier_count = votes;
      make_ready(*b, t);
    }
  }
  b->barrier_arrived = 0;
  b->barrier_votes = 0;
  if (count) *count = votes;
}

void warp_collective(unsigned mask, const char* what, Collective kind, const void* value, std::size_t size,
                     unsigned source, void* result) {
  Block* b = current.block;
  CudaThread* self = current.thread;
  const unsigned w = self->linear / 32, lane = self->linear % 32;
  Warp& warp = b->warps[w];
  if (!(mask >> lane & 1u)) block_error(cudaErrorLaunchFailure, std::string(what) + ": the calling lane is not in the mask");
  if (warp.arrived == 0) {
    warp.mask = mask;
    warp.what = what;
    warp.kind = kind;
    warp.size = size;
  } else if (warp.mask != mask || (warp.what != what && std::strcmp(warp.what, what) != 0)) {
    block_error(cudaErrorLaunchFailure, std::string("the lanes of a warp meet at different collectives: ") + warp.what +
                                            " and " + what + " (divergent warp code)");
  }
  if (mask & ~warp.exists) block_error(cudaErrorLaunchFailure, std::string(what) + " names lanes beyond the block");
  if (mask & warp.exists & ~warp.live) block_error(cudaErrorLaunchFailure, std::string(what) + " names lanes that have exited");
  if (size) std::memcpy(self->value, value, size);
  self->source = source;
  warp.arrived |= 1u << lane;
  if (warp.mask & warp.live & ~warp.arrived) {
    wait_here();
  } else {  // the last lane completes the collective for every lane
    CudaThread* const lanes = &b->threads[w * 32];
    unsigned ballot = 0;
    if (warp.kind == Collective::Ballot) {
      for (unsigned bits = warp.arrived; bits; bits &= bits - 1) {
        const unsigned l = static_cast<unsigned>(__builtin_ctz(bits));
        if (lanes[l].value[0]) ballot |= 1u << l;
      }
    }
    for (unsigned bits = warp.arrived; bits; bits &= bits - 1) {
      const unsigned l = static_cast<unsigned>(__builtin_ctz(bits));
      CudaThread& t = lanes[l];
      if (warp.kind == Collective::Ballot) {
        std::memcpy(t.result, &ballot, sizeof ballot);
      } else if (warp.kind == Collective::Shuffle) {
        if (t.source >= 32 || !(warp.arrived >> t.source & 1u)) {
          block_error(cudaErrorLaunchFailure, std::string(what) + ": lane " + std::to_string(l) + " reads lane " +
                                                  std::to_string(t.source) + ", which is not in the mask or has exited");
        } else {
          std::memcpy(t.result, lanes[t.source].value, warp.size);
        }
      }
      if (&t != self) make_ready(*b, t);
    }
    warp.arrived = 0;
  }
  if (result && size) std::memcpy(result, self->result, kind == Collective::Ballot ? sizeof(unsigned) : size);
}

bool check_stream(const char* what, cudaStream_t stream) {
  if (stream == nullptr || stream->device == current_device) return true;
  fail(cudaErrorInvalidResourceHandle, std::string(what) + ": the stream belongs to device " +
                                           std::to_string(stream->device) + " but the current device is " +
                                           std::to_string(current_device));
  return false;
}

}  // namespace cuemu

// ---- Runtime API ------------------------------------------------------------------------------------------------------
using cuemu::fail;

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t e) {
  static thread_local std::string message;
  message = cudaGetErrorName(e);
  if (e != cudaSuccess && e == cuemu::message_error) message += " (emulated device: " + cuemu::last_message + ")";
  return message.c_str();
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = cuemu::last_error;
  cuemu::last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() { return cuemu::last_error; }

cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = cuemu::settings().devices;
  return *count > 0 ? cudaSuccess : fail(cudaErrorNoDevice, "LATENT_STRUCT_EMULATED_DEVICES is 0");
}

cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= cuemu::settings().devices) {
    return fail(cudaErrorInvalidDevice, "device " + std::to_string(device) + " does not exist");
  }
  cuemu::current_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = cuemu::current_device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device < 0 || device >= cuemu::settings().devices) {
    return fail(cudaErrorInvalidDevice, "device " + std::to_string(device) + " does not exist");
  }
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "latent-struct emulated CUDA device (CPU, sm_%d)", __CUDA_ARCH__ / 10);
  p->totalGlobalMem = cuemu::settings().memory_bytes;
  p->sharedMemPerBlock = 48 * 1024;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024;
  p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647;
  p->maxGridSize[1] = 65535;
  p->maxGridSize[2] = 65535;
  p->major = __CUDA_ARCH__ / 100;
  p->minor = (__CUDA_ARCH__ / 10) % 10;
  p->multiProcessorCount = 1;
  p->memoryPoolsSupported = 1;
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(std::size_t* free, std::size_t* total) {
  std::lock_guard<std::mutex> lock(cuemu::memory().mutex);
  const std::size_t size = cuemu::settings().memory_bytes;
  const auto& in_use = cuemu::memory().in_use;
  const std::size_t used = static_cast<std::size_t>(cuemu::current_device) < in_use.size() ? in_use[cuemu::current_device] : 0;
  *free = size - used;
  *total = size;
  return cudaSuccess;
}

// Launches, copies and frees run when called: a stream is always idle, an event always complete.
cudaError_t cudaDeviceSynchronize() { return cudaGetLastError(); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  *stream = new CUstream_st{flags, cuemu::current_device};
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, 0); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaGetLastError(); }
cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st{0};
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) {
  *ms = 0;  // the emulator keeps no device time
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device) {
  static CUmemPoolHandle_st pools[64];
  if (device < 0 || device >= cuemu::settings().devices || device >= 64) {
    return fail(cudaErrorInvalidDevice, "device " + std::to_string(device) + " does not exist");
  }
  pools[device].device = device;
  *pool = &pools[device];
  return cudaSuccess;
}
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, cudaMemPoolAttr, void*) { return cudaSuccess; }

// The stream-ordered pool: every allocation is fresh (and poisoned) memory, every free returns it at once.
cudaError_t cudaMalloc(void** pointer, std::size_t bytes) { return cuemu::allocate(pointer, bytes); }
cudaError_t cudaFree(void* pointer) { return cuemu::release(pointer); }
cudaError_t cudaMallocAsync(void** pointer, std::size_t bytes, cudaStream_t stream) {
  if (!cuemu::check_stream("cudaMallocAsync", stream)) return cudaErrorInvalidResourceHandle;
  return cuemu::allocate(pointer, bytes);
}
cudaError_t cudaFreeAsync(void* pointer, cudaStream_t) { return cuemu::release(pointer); }

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  const bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  auto check = [&](const void* p, bool device, const char* side) {
    if (device == cuemu::is_device_range(p, bytes)) return true;
    const bool starts_on_device = cuemu::is_device_range(p, 0);
    fail(cudaErrorInvalidValue, std::string("cudaMemcpy of ") + std::to_string(bytes) + " bytes: the " + side + " " +
                                    cuemu::describe_address(p) +
                                    (!device ? " is device memory"
                                     : starts_on_device ? ", and the copy runs past that allocation's end"
                                                        : " is not device memory"));
    return false;
  };
  if (kind != cudaMemcpyDefault && (!check(dst, dst_device, "destination") || !check(src, src_device, "source"))) {
    return cudaErrorInvalidValue;
  }
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* dst, int value, std::size_t bytes) {
  if (!cuemu::is_device_range(dst, bytes)) {
    return fail(cudaErrorInvalidValue, "cudaMemset of " + std::to_string(bytes) + " bytes outside a device allocation");
  }
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t) {
  return cudaMemset(dst, value, bytes);
}
