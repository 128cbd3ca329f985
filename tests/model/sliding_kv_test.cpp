// The sliding-window KV ring (KvState with a window): which rollbacks it can
// do by truncation, and that save/restore bring back the exact rows.
#include <gtest/gtest.h>

#include "model/mixers/attention.h"

namespace nagi {
namespace {

// The f32 values of a row of an f32 cache.
float* kf(KvState& s, int pos) { return reinterpret_cast<float*>(s.k(pos)); }
float* vf(KvState& s, int pos) { return reinterpret_cast<float*>(s.v(pos)); }

TEST(SlidingKv, RingHoldsWindowPlusMargin) {
  KvState full(1000, 1, 4);
  EXPECT_EQ(full.capacity(), 1000);
  KvState ring(1000, 1, 4, 8);
  EXPECT_EQ(ring.capacity(), 8 + KvState::kRingMargin);
  EXPECT_EQ(ring.bytes(), size_t(2) * (8 + KvState::kRingMargin) * 4 * sizeof(float));
  KvState small(20, 1, 4, 8);  // a short context needs no more than itself
  EXPECT_EQ(small.capacity(), 20);
  // Only a ring that wraps limits how many positions a batch writes at once
  // (window + margin - window + 1); a window longer than the context does not.
  EXPECT_EQ(ring.max_chunk(), KvState::kRingMargin + 1);
  EXPECT_EQ(small.max_chunk(), 20);
  EXPECT_EQ(KvState(100, 1, 4, 512).max_chunk(), 100);
  EXPECT_EQ(full.max_chunk(), 1000);
  // Position p and p + capacity share a row.
  EXPECT_EQ(ring.k(3), ring.k(3 + ring.capacity()));
  EXPECT_NE(ring.k(3), ring.k(4));
}

TEST(SlidingKv, TruncatesOnlyWhileTheWindowBeforeNIsHeld) {
  KvState ring(1000, 1, 4, 8);
  const int cap = ring.capacity();  // 72
  // Not yet wrapped: every earlier position is still there.
  EXPECT_TRUE(ring.truncate(cap, 0));
  // After 200 positions the ring holds 128..199; going back to n needs n-7..n-1.
  EXPECT_TRUE(ring.truncate(200, 199));
  EXPECT_TRUE(ring.truncate(200, 200 - KvState::kRingMargin));
  EXPECT_TRUE(ring.truncate(200, 135));   // needs 128..134
  EXPECT_FALSE(ring.truncate(200, 134));  // needs 127, overwritten by 199
  EXPECT_FALSE(ring.truncate(200, 0));
  // Positions 150..199, dropped by a truncation, had overwritten 78..127: from
  // 150, going back to 140 (needs 133..139) works, to 130 (needs 123..) not.
  KvState r2(1000, 1, 4, 8);
  EXPECT_TRUE(r2.truncate(200, 150));
  EXPECT_TRUE(r2.truncate(150, 140));
  EXPECT_FALSE(r2.truncate(140, 130));
  // A full cache always truncates.
  KvState full(1000, 1, 4);
  EXPECT_TRUE(full.truncate(200, 0));
}

TEST(SlidingKv, SaveRestoreRoundTripsTheRing) {
  KvState ring(1000, 1, 2, 4);
  for (int p = 0; p < 150; ++p) {
    kf(ring, p)[0] = float(p), kf(ring, p)[1] = float(-p);
    vf(ring, p)[0] = float(2 * p), vf(ring, p)[1] = 0.5f;
  }
  std::vector<float> saved;
  ring.save(saved);
  EXPECT_EQ(saved.size(), size_t(2) * ring.capacity() * 2 + 1);
  for (int p = 150; p < 200; ++p) kf(ring, p)[0] = vf(ring, p)[0] = -1.f;  // overwrite part of the ring
  ring.restore(saved);
  for (int p = 150 - ring.capacity(); p < 150; ++p) {
    EXPECT_EQ(kf(ring, p)[0], float(p));
    EXPECT_EQ(vf(ring, p)[0], float(2 * p));
  }
  // A full cache saves nothing: truncation alone recovers it.
  KvState full(10, 1, 2);
  full.save(saved);
  EXPECT_TRUE(saved.empty());
}

}  // namespace
}  // namespace nagi
