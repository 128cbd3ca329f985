// The spin-then-park pool: every job runs on every thread exactly once, the
// caller sees all writes when run() returns, parked workers wake up, and
// parallel_for covers [0, n) exactly once with grain-aligned chunks.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
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
        const int64_t want = threads == 1 ? std::min<int64_t>(units, 1) : std::min<int64_t>(units, 4 * threads);
        EXPECT_EQ(chunks.load(), want) << "n " << n << " grain " << grain;
      }
    }
  }
}

TEST(ThreadPool, BalancedChunks) {
  ThreadPool pool(2);
  std::mutex mu;
  std::vector<int64_t> sizes;
  pool.parallel_for(3072, 16, [&](int64_t b, int64_t e) {
    std::lock_guard<std::mutex> lock(mu);
    sizes.push_back(e - b);
  });
  ASSERT_EQ(sizes.size(), 8u);  // 4 chunks per thread, claimed dynamically
  for (int64_t s : sizes) EXPECT_EQ(s, 384);
  sizes.clear();
  pool.parallel_for(3072, 1536, [&](int64_t b, int64_t e) {  // matmul's split: one chunk per thread
    std::lock_guard<std::mutex> lock(mu);
    sizes.push_back(e - b);
  });
  ASSERT_EQ(sizes.size(), 2u);
  EXPECT_EQ(sizes[0], 1536);
  EXPECT_EQ(sizes[1], 1536);
}

// The caller does not wait for workers that are asleep or busy elsewhere:
// when the chunks are done, parallel_for returns. Interleaves run() and
// parallel_for so late workers meet jobs of the other kind.
TEST(ThreadPool, MixedJobsStayExact) {
  for (int threads : {2, 3, 4}) {
    ThreadPool pool(threads);
    std::vector<int64_t> hits(1000, 0);
    std::atomic<int64_t> runs{0};
    for (int job = 0; job < 500; ++job) {
      if (job % 3 == 0) {
        pool.run([&](int) { runs.fetch_add(1); });
      } else {
        pool.parallel_for(1000, 7, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) ++hits[i];
        });
      }
    }
    const int64_t n_for = 500 - (500 + 2) / 3;
    for (int64_t h : hits) ASSERT_EQ(h, n_for);
    EXPECT_EQ(runs.load(), int64_t((500 + 2) / 3) * threads);
  }
}

TEST(ThreadPool, DestroyWhileParkedOrSpinning) {
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(2 + i % 3);
    if (i % 2) pool.run([](int) {});
  }
}

}  // namespace
}  // namespace nagi
