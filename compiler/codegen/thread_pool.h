// A small pool of worker threads that kernel runs partition their rows over.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kmr::codegen {

/// Runs batches of independent tasks on up to N threads (the caller is one of them).
/// Threads are started on first need and kept for later batches; batches from different
/// callers run one after another.
class ThreadPool {
 public:
  ThreadPool() = default;
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Calls fn(task, worker) once for every task in [0, tasks), on `threads` workers
  /// numbered 0..threads-1 (worker 0 is the calling thread); returns when all are done.
  /// `fn` must not throw.
  void run(int64_t tasks, int threads, const std::function<void(int64_t task, int worker)>& fn);

 private:
  void work(int worker);
  void take_tasks(int worker, uint64_t generation);

  std::mutex batch_;  // one batch at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(int64_t, int)>* fn_ = nullptr;
  int64_t tasks_ = 0, next_ = 0, finished_ = 0;
  int active_ = 0;        // workers taking part in the current batch (besides the caller)
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace kmr::codegen
