// Workers sleep between batches; a batch hands out task indices under one mutex (tasks
// are rows in blocks, coarse enough that the lock is not contended).
#include "compiler/codegen/thread_pool.h"

namespace kmr::codegen {

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void ThreadPool::take_tasks(int worker, uint64_t generation) {
  for (;;) {
    int64_t task;
    {
      // A worker still finishing an earlier batch must not take tasks of the next one.
      std::lock_guard<std::mutex> lock(mutex_);
      if (generation != generation_ || next_ >= tasks_) return;
      task = next_++;
    }
    (*fn_)(task, worker);
    std::lock_guard<std::mutex> lock(mutex_);
    if (++finished_ == tasks_) done_.notify_all();
  }
}

void ThreadPool::work(int worker) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || (generation_ != seen && worker <= active_); });
      if (stop_) return;
      seen = generation_;
    }
    take_tasks(worker, seen);
  }
}

void ThreadPool::run(int64_t tasks, int threads, const std::function<void(int64_t, int)>& fn) {
  if (tasks <= 0) return;
  if (threads <= 1 || tasks == 1) {
    for (int64_t task = 0; task < tasks; ++task) fn(task, 0);
    return;
  }
  std::lock_guard<std::mutex> batch(batch_);
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (static_cast<int>(threads_.size()) < threads - 1) {
      int worker = static_cast<int>(threads_.size()) + 1;
      threads_.emplace_back([this, worker] { work(worker); });
    }
    fn_ = &fn;
    tasks_ = tasks;
    next_ = finished_ = 0;
    active_ = threads - 1;
    generation = ++generation_;
  }
  wake_.notify_all();
  take_tasks(0, generation);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return finished_ == tasks_; });
  fn_ = nullptr;
}

}  // namespace kmr::codegen
