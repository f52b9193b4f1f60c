#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ls {
namespace cpu {
namespace {

class ThreadPool {
 public:
  explicit ThreadPool(int workers) { grow(workers); }
  /// Starts workers until there are at least `workers`.
  void grow(int workers) {
    std::lock_guard<std::mutex> lock(threads_mutex_);
    while (static_cast<int>(threads_.size()) < workers) threads_.emplace_back([this] { work(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& thread : threads_) thread.join();
  }
  void submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (stopping_ && tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex threads_mutex_;
  std::vector<std::thread> threads_;
  std::deque<std::function<void()>> tasks_;
  std::mutex mutex_;
  std::condition_variable ready_;
  bool stopping_ = false;
};

/// LATENT_STRUCT_THREADS when it is an integer in [1, kMaxThreads], else the hardware's concurrency.
int initial_thread_count() {
  const char* text = std::getenv("LATENT_STRUCT_THREADS");
  if (text != nullptr && *text != 0) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (*end == 0 && value >= 1 && value <= kMaxThreads) return static_cast<int>(value);
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::atomic<int> active_threads{initial_thread_count()};

ThreadPool& pool() {
  static ThreadPool instance(active_threads.load() - 1);
  return instance;
}

struct Loop {
  int64_t count, chunk, chunks;
  const std::function<void(int64_t, int64_t)>* body;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex mutex;
  std::condition_variable finished;
  std::exception_ptr error;

  // Claims chunks until none are left; returns after the last chunk it ran.
  void run() {
    for (int64_t c; (c = next.fetch_add(1)) < chunks;) {
      try {
        (*body)(c * chunk, std::min(count, (c + 1) * chunk));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
      }
      if (done.fetch_add(1) + 1 == chunks) {
        std::lock_guard<std::mutex> lock(mutex);
        finished.notify_all();
      }
    }
  }
};

}  // namespace

int thread_count() { return active_threads.load(); }

void set_thread_count(int n) {
  n = std::min(std::max(n, 1), kMaxThreads);
  pool().grow(n - 1);
  active_threads.store(n);
}

void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t threads = thread_count();
  if (threads == 1 || count <= grain) {
    body(0, count);
    return;
  }
  // A few chunks per thread balance uneven rows without much claiming overhead.
  const int64_t chunk = std::max(grain, (count + 4 * threads - 1) / (4 * threads));
  auto loop = std::make_shared<Loop>();
  loop->count = count;
  loop->chunk = chunk;
  loop->chunks = (count + chunk - 1) / chunk;
  loop->body = &body;
  const int64_t helpers = std::min<int64_t>(threads - 1, loop->chunks - 1);
  for (int64_t i = 0; i < helpers; ++i) pool().submit([loop] { loop->run(); });
  loop->run();
  {
    std::unique_lock<std::mutex> lock(loop->mutex);
    loop->finished.wait(lock, [&] { return loop->done.load() == loop->chunks; });
  }
  if (loop->error) std::rethrow_exception(loop->error);
}

}  // namespace cpu
}  // namespace ls
