// The spin-then-park pool: every job runs on every thread exactly once, the
// caller sees all writes when run() returns, parked workers wake up, and
// parallel_for covers [0, n) exactly once with grain-aligned chunks.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "base/thread_pool.h"

namespace nagi {
namespace {

TEST(ThreadPool, ManyRapidJobs) {
  for (int threads = 1; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    ASSERT_EQ(pool.size(), threads);
    std::vector<int64_t> counts(threads, 0);  // plain ints: run() must order them
    for (int job = 0; job < 3000; ++job) {
      pool.run([&](int t) { counts[t] += job; });
    }
    const int64_t want = int64_t(3000) * 2999 / 2;
    for (int t = 0; t < threads; ++t) EXPECT_EQ(counts[t], want) << "threads " << threads << " t " << t;
  }
}

TEST(ThreadPool, WakesParkedWorkers) {
  ThreadPool pool(3);
  std::atomic<int> ran{0};
  for (int job = 0; job < 5; ++job) {
    // Longer than the spin budget: workers park between jobs.
    std::this_thread::sleep_for(std::chrono::microseconds(ThreadPool::kSpinMicros * 3));
    pool.run([&](int) { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 15);
}

TEST(ThreadPool, ParallelForCoversRangeOnce) {
  for (int threads = 1; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 7, 16, 17, 100, 1023, 3072}) {
      for (int64_t grain : {1, 4, 16, 64}) {
        std::vector<int> hits(static_cast<size_t>(n), 0);
        std::atomic<int> chunks{0};
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
          ASSERT_LT(b, e);
          EXPECT_EQ(b % grain, 0) << "n " << n << " grain " << grain;
          if (e != n) {
            EXPECT_EQ(e % grain, 0);
          }
          for (int64_t i = b; i < e; ++i) ++hits[i];
          chunks.fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i], 1) << "n " << n << " i " << i;
        const int64_t units = (n + grain - 1) / grain;
        EXPECT_EQ(chunks.load(), std::min<int64_t>(units, threads)) << "n " << n << " grain " << grain;
      }
    }
  }
}

TEST(ThreadPool, BalancedChunks) {
  ThreadPool pool(2);
  std::vector<int64_t> sizes(2, 0);
  pool.parallel_for(3072, 16, [&](int64_t b, int64_t e) { sizes[b == 0 ? 0 : 1] = e - b; });
  EXPECT_EQ(sizes[0], 1536);
  EXPECT_EQ(sizes[1], 1536);
}

TEST(ThreadPool, DestroyWhileParkedOrSpinning) {
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(2 + i % 3);
    if (i % 2) pool.run([](int) {});
  }
}

}  // namespace
}  // namespace nagi
