#include "base/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NAGI_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define NAGI_CPU_RELAX() asm volatile("yield" ::: "memory")
#else
#define NAGI_CPU_RELAX() ((void)0)
#endif

namespace nagi {

namespace {
// Which pool's worker the current thread is, and its index there.
thread_local const ThreadPool* tl_pool = nullptr;
thread_local int tl_index = 0;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

// Only the owning thread writes generation_: the job counter times two, plus
// 1 for a parallel_for, so a worker learns the kind of job from the same load
// that tells it there is one.
void ThreadPool::publish(bool chunked) {
  const uint32_t g = generation_.load(std::memory_order_relaxed);
  generation_.store((((g >> 1) + 1) << 1) | (chunked ? 1u : 0u), std::memory_order_seq_cst);
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  publish(false);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::thread_index() const { return tl_pool == this ? tl_index : 0; }

void ThreadPool::enable_read_ahead(size_t max_bytes) {
  history_.clear();
  if (max_bytes == 0 || n_threads_ == 1) return;  // one thread never waits
  for (int i = 0; i < n_threads_; ++i) history_.push_back(std::make_unique<StreamHistory>(max_bytes));
}

void ThreadPool::note_stream(const void* p, size_t bytes) {
  if (!history_.empty()) history_[size_t(thread_index())]->note(p, bytes);
}

uint64_t ThreadPool::bytes_read_ahead() const {
  uint64_t total = 0;
  for (const auto& h : history_) total += h->bytes_read_ahead();
  return total;
}

void ThreadPool::worker_loop(int index) {
  tl_pool = this;
  tl_index = index;
  uint32_t seen = 0;
  for (;;) {
    // Spin first: the next job of a decode step usually comes within microseconds.
    uint32_t gen = generation_.load(std::memory_order_acquire);
    if (gen == seen) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
      for (int i = 1;; ++i) {
        // Pause-spin first; after ~1000 rounds yield between checks, so an
        // oversubscribed machine (more runnable threads than cores) still
        // runs the thread that has the work.
        if (i < 1024) {
          NAGI_CPU_RELAX();
        } else {
          std::this_thread::yield();
        }
        gen = generation_.load(std::memory_order_acquire);
        if (gen != seen) break;
        if ((i & 63) == 0 && std::chrono::steady_clock::now() > deadline) break;
      }
    }
    // Then park. sleepers_ is raised before the re-check (both seq_cst), so a
    // publisher either sees a sleeper and notifies, or we see its generation.
    while (gen == seen) {
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      gen = generation_.load(std::memory_order_seq_cst);
      if (gen == seen) generation_.wait(seen, std::memory_order_seq_cst);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    begin_region(index);
    if (gen & 1) {
      run_chunks();  // safe even if that job is long finished: claims just fail
    } else {
      (*job_)(index);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
    // Until the next job arrives (or the pool stops: that bumps generation_ too).
    read_ahead(index, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
  }
}

namespace {
constexpr int kChunkBits = 12, kActiveBits = 16;
constexpr uint64_t kActiveMask = (uint64_t(1) << kActiveBits) - 1;
constexpr uint64_t kChunkMask = (uint64_t(1) << kChunkBits) - 1;
inline uint64_t st_active(uint64_t s) { return s & kActiveMask; }
inline uint64_t st_next(uint64_t s) { return (s >> kActiveBits) & kChunkMask; }
inline uint64_t st_chunks(uint64_t s) { return (s >> (kActiveBits + kChunkBits)) & kChunkMask; }
}  // namespace

void ThreadPool::run_chunks() {
  for (;;) {
    uint64_t s = for_state_.load(std::memory_order_acquire);
    uint64_t next;
    do {
      next = st_next(s);
      if (next >= st_chunks(s)) return;
      // next + 1 and active + 1 in one step.
    } while (!for_state_.compare_exchange_weak(s, s + (uint64_t(1) << kActiveBits) + 1, std::memory_order_acq_rel,
                                               std::memory_order_acquire));
    // The job is alive while our `active` count is up; its fields are stable.
    const int64_t chunks = static_cast<int64_t>(st_chunks(s));
    const int64_t c = static_cast<int64_t>(next);
    const int64_t begin = std::min(for_n_, for_units_ * c / chunks * for_grain_);
    const int64_t end = std::min(for_n_, for_units_ * (c + 1) / chunks * for_grain_);
    if (begin < end) (*for_fn_)(begin, end);
    for_state_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(const std::function<void(int)>& fn) {
  if (n_threads_ == 1) {
    fn(0);
    return;
  }
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  publish(false);  // publishes job_ and pending_
  if (sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();
  begin_region(0);
  fn(0);
  read_ahead(0, [&] { return pending_.load(std::memory_order_relaxed) == 0; });
  // Workers finish about when we do; spin, then yield (never sleep: the
  // remaining work is at most one chunk).
  for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
    if (i < 4096) {
      NAGI_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  job_ = nullptr;
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  parallel_for(n, 1, fn);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t units = (n + grain - 1) / grain;
  const int64_t chunks = std::min<int64_t>({units, int64_t(4) * n_threads_, int64_t(kChunkMask)});
  if (chunks == 1 || n_threads_ == 1) {
    begin_region(0);
    fn(0, n);
    return;
  }
  for_fn_ = &fn;
  for_n_ = n;
  for_grain_ = grain;
  for_units_ = units;
  for_ticket_ = (for_ticket_ + 1) & 0xffffffu;
  for_state_.store((uint64_t(for_ticket_) << 40) | (uint64_t(chunks) << (kActiveBits + kChunkBits)),
                   std::memory_order_release);
  publish(true);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();
  begin_region(0);
  run_chunks();
  read_ahead(0, [&] { return st_active(for_state_.load(std::memory_order_relaxed)) == 0; });
  // Every chunk is claimed; wait for the ones still running elsewhere.
  for (int i = 0;; ++i) {
    const uint64_t st = for_state_.load(std::memory_order_acquire);
    if (st_active(st) == 0) break;
    if (i < 4096) {
      NAGI_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  for_fn_ = nullptr;
}

int ThreadPool::default_threads() {
  // Count distinct (physical id, core id) pairs: hyper-threads share a core's
  // load/store bandwidth, so decode gains nothing from them.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, phys = "0";
  while (std::getline(in, line)) {
    auto value = [&] { return line.substr(line.find(':') + 1); };
    if (line.rfind("physical id", 0) == 0) phys = value();
    if (line.rfind("core id", 0) == 0) cores.insert({phys, value()});
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

}  // namespace nagi
