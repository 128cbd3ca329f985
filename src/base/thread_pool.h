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
#include <memory>
#include <thread>
#include <vector>

#include "base/stream_history.h"

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
  // by at most one grain: min(4 * size(), ceil(n / grain)) chunks.
  //
  // Chunks are claimed dynamically (an atomic counter), not assigned per
  // thread: the caller takes chunks too and returns as soon as every chunk is
  // done, without waiting for workers that have not woken up yet. On a
  // machine with more runnable threads than cores that is the difference
  // between one scheduler delay per job and none.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // Read-ahead while waiting (base/stream_history.h), off until enabled: a
  // thread that has finished its part of a region, or waits for the next
  // job, loads up to max_bytes of what it streamed after this region last
  // time. Only for an owner whose noted memory outlives the pool (a
  // session's pool and its model's weights). 0 turns it off. Call it
  // before the first job: workers read the setting without a lock.
  void enable_read_ahead(size_t max_bytes);
  // From inside a region: the calling thread is about to stream
  // [p, p + bytes). Does nothing unless read-ahead is on.
  void note_stream(const void* p, size_t bytes);
  // Bytes the threads have loaded ahead so far (for benchmarks and tests).
  uint64_t bytes_read_ahead() const;

  // Physical cores where they can be counted, else hardware_concurrency.
  static int default_threads();

  // How long an idle worker spins before parking.
  static constexpr int kSpinMicros = 200;

 private:
  void worker_loop(int index);
  // Claims and runs chunks of the current parallel_for until none are left.
  void run_chunks();
  // Publishes a job: bumps generation_ (low bit: 1 for a parallel_for).
  void publish(bool chunked);
  // The calling thread's index in this pool (0 for any thread not its worker).
  int thread_index() const;
  // Read-ahead hooks: thread `index` starts a region / waits until stop().
  void begin_region(int index) {
    if (!history_.empty()) history_[size_t(index)]->begin_region();
  }
  template <class Stop>
  void read_ahead(int index, Stop&& stop) {
    if (!history_.empty()) history_[size_t(index)]->read_ahead(stop);
  }

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;  // published by generation_ (release)
  std::atomic<uint32_t> generation_{0};  // see publish()
  std::atomic<int> pending_{0};   // workers still running the current job
  std::atomic<int> sleepers_{0};  // workers parked (or about to park) on generation_
  std::atomic<bool> stop_{false};
  // parallel_for state: [ticket:24 | chunks:12 | next:12 | active:16]. A
  // chunk is claimed by a CAS that also raises `active`, so the caller can
  // return once next == chunks and active == 0: no thread will touch the
  // job afterwards (a late CAS fails on the count or the ticket).
  std::atomic<uint64_t> for_state_{0};
  const std::function<void(int64_t, int64_t)>* for_fn_ = nullptr;
  int64_t for_n_ = 0, for_grain_ = 1, for_units_ = 0;
  uint32_t for_ticket_ = 0;
  // One per thread when read-ahead is on (separate allocations: each is
  // written only by its thread). Set up before any job, never resized.
  std::vector<std::unique_ptr<StreamHistory>> history_;
};

}  // namespace nagi
