// A fixed pool of worker threads for data-parallel loops. The calling thread
// takes part as worker 0, so ThreadPool(1) runs everything inline.
//
// Hand-off is a spin-then-park barrier: a job is published by bumping an
// atomic generation counter; idle workers spin on it for a short while
// (kSpinMicros, so back-to-back matmuls of a decode step never sleep) and
// then park on it (futex via std::atomic::wait). Completion is an atomic
// countdown the caller spins on. No mutex or condition variable per job.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace nagi {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index) on every thread (0..size()-1) and waits for all.
  // Not reentrant: fn must not call run/parallel_for on the same pool.
  void run(const std::function<void(int)>& fn);

  // Splits [0, n) into size() contiguous chunks and runs fn(begin, end) on each.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

  // Like parallel_for, but chunk boundaries are multiples of `grain` (the last
  // chunk takes the remainder), and the grains are spread so chunk sizes differ
  // by at most one grain. Uses min(size(), ceil(n / grain)) threads.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // Physical cores where they can be counted, else hardware_concurrency.
  static int default_threads();

  // How long an idle worker spins before parking.
  static constexpr int kSpinMicros = 200;

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;  // published by generation_ (release)
  std::atomic<uint32_t> generation_{0};
  std::atomic<int> pending_{0};   // workers still running the current job
  std::atomic<int> sleepers_{0};  // workers parked (or about to park) on generation_
  std::atomic<bool> stop_{false};
};

}  // namespace nagi
