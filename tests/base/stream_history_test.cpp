// Read-ahead while waiting: what a thread streamed after each region is
// predicted the next time round, only a region's first stream counts, the
// loads stop when asked and resume, and a pool's waiting threads use it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/stream_history.h"
#include "base/thread_pool.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

TEST(StreamHistory, PredictsWhatFollowedLastTime) {
  std::vector<uint8_t> buf(3 << 20);
  const uint8_t* a = buf.data();
  const uint8_t* b = buf.data() + (1 << 20);
  const uint8_t* c = buf.data() + (2 << 20);
  StreamHistory h(64 << 10);
  // First time round nothing is known.
  for (const uint8_t* p : {a, b, c}) {
    h.begin_region();
    h.note(p, 100000);
    EXPECT_EQ(h.predicted(), nullptr);
  }
  // Then each region predicts the next, capped at max_bytes; the last
  // region predicts the first (the step repeats).
  h.begin_region();
  h.note(a, 100000);
  EXPECT_EQ(h.predicted(), b);
  EXPECT_EQ(h.predicted_bytes(), size_t(64) << 10);
  h.begin_region();
  h.note(b, 3000);  // a shorter stream: recorded as it is
  EXPECT_EQ(h.predicted(), c);
  h.begin_region();
  h.note(c, 100000);
  EXPECT_EQ(h.predicted(), a);
  h.begin_region();
  h.note(a, 100000);
  EXPECT_EQ(h.predicted(), b);
  EXPECT_EQ(h.predicted_bytes(), 3000u);
}

TEST(StreamHistory, OnlyARegionsFirstStreamCounts) {
  std::vector<uint8_t> buf(1 << 16);
  const uint8_t* a = buf.data();
  const uint8_t* b = buf.data() + 4096;
  const uint8_t* other = buf.data() + 8192;
  StreamHistory h(1 << 20);
  for (int round = 0; round < 2; ++round) {
    h.begin_region();
    h.note(a, 4096);
    h.note(other, 4096);  // the same region's second matrix: ignored
    h.begin_region();
    h.note(b, 4096);
  }
  h.begin_region();
  h.note(a, 4096);
  EXPECT_EQ(h.predicted(), b);
  h.note(other, 4096);  // still region a: the prediction stays
  EXPECT_EQ(h.predicted(), b);
}

TEST(StreamHistory, ReadAheadStopsAndResumes) {
  std::vector<uint8_t> buf(1 << 20, 1);
  const uint8_t* a = buf.data();
  const uint8_t* b = buf.data() + 4096;
  StreamHistory h(10000);  // not a multiple of the 4 KiB burst
  h.begin_region();
  h.note(a, 4096);
  h.read_ahead([] { return false; });
  EXPECT_EQ(h.bytes_read_ahead(), 0u);  // nothing predicted yet
  h.begin_region();
  h.note(b, 1 << 19);
  h.begin_region();
  h.note(a, 4096);
  ASSERT_EQ(h.predicted(), b);
  h.read_ahead([] { return true; });  // the wait is already over: nothing
  EXPECT_EQ(h.bytes_read_ahead(), 0u);
  int checks = 0;
  h.read_ahead([&] { return ++checks > 1; });  // one burst, then asked to stop
  EXPECT_EQ(h.bytes_read_ahead(), 4096u);
  h.read_ahead([] { return false; });  // the rest, up to max_bytes
  EXPECT_EQ(h.bytes_read_ahead(), 10000u);
  h.read_ahead([] { return false; });  // done: nothing more
  EXPECT_EQ(h.bytes_read_ahead(), 10000u);
}

TEST(StreamHistory, ManyRegionsKeepTheirPredictions) {
  // More regions than a large model's step: each still predicts its successor.
  constexpr int kRegions = 600;
  std::vector<uint8_t> buf(size_t(kRegions) * 4096);
  StreamHistory h(1 << 20);
  for (int round = 0; round < 2; ++round) {
    for (int r = 0; r < kRegions; ++r) {
      h.begin_region();
      h.note(buf.data() + size_t(r) * 4096, 4096);
    }
  }
  int right = 0;
  for (int r = 0; r < kRegions; ++r) {
    h.begin_region();
    h.note(buf.data() + size_t(r) * 4096, 4096);
    right += h.predicted() == buf.data() + size_t((r + 1) % kRegions) * 4096;
  }
  EXPECT_GE(right, kRegions * 95 / 100);
}

TEST(StreamHistory, MaxBytesFromEnv) {
  unsetenv("NAGI_READ_AHEAD");
  EXPECT_EQ(StreamHistory::max_bytes_from_env(), StreamHistory::default_max_bytes());
  EXPECT_GT(StreamHistory::default_max_bytes(), 0u);
  setenv("NAGI_READ_AHEAD", "0", 1);
  EXPECT_EQ(StreamHistory::max_bytes_from_env(), 0u);
  setenv("NAGI_READ_AHEAD", "131072", 1);
  EXPECT_EQ(StreamHistory::max_bytes_from_env(), 131072u);
  for (const char* bad : {"12k", "-1", "99999999999"}) {
    setenv("NAGI_READ_AHEAD", bad, 1);
    try {
      StreamHistory::max_bytes_from_env();
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("NAGI_READ_AHEAD"), std::string::npos) << e.what();
    }
  }
  unsetenv("NAGI_READ_AHEAD");
}

// A pool whose caller finishes its chunk first and waits: with read-ahead
// on, the waiting threads load what they streamed next the last time.
TEST(StreamHistory, PoolThreadsReadAheadWhileWaiting) {
  std::vector<uint8_t> buf(4 << 20, 1);
  const std::thread::id caller = std::this_thread::get_id();
  auto step = [&](ThreadPool& pool) {
    for (int region = 0; region < 4; ++region) {
      pool.parallel_for(2, 1, [&](int64_t b, int64_t) {
        pool.note_stream(buf.data() + (size_t(region) * 2 + size_t(b)) * (512 << 10), 512 << 10);
        // A chunk the worker runs is slow, so the caller waits for it. (A
        // chunk the caller runs is not: were it slow too, a worker that
        // wakes late would park during it and never get a chunk.)
        if (std::this_thread::get_id() != caller) std::this_thread::sleep_for(std::chrono::microseconds(300));
      });
    }
  };
  ThreadPool off(2);
  for (int t = 0; t < 4; ++t) step(off);
  EXPECT_EQ(off.bytes_read_ahead(), 0u);

  // Until the worker has taken a chunk while the caller waited (a loaded
  // machine may leave it unscheduled for a while: then the caller runs both).
  ThreadPool on(2);
  on.enable_read_ahead(64 << 10);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (on.bytes_read_ahead() == 0 && std::chrono::steady_clock::now() < deadline) step(on);
  EXPECT_GT(on.bytes_read_ahead(), 0u);

  ThreadPool one(1);
  one.enable_read_ahead(64 << 10);  // one thread never waits
  for (int t = 0; t < 4; ++t) step(one);
  EXPECT_EQ(one.bytes_read_ahead(), 0u);
}

}  // namespace
}  // namespace nagi
