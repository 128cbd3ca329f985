#include "kernels/line_ahead.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include <gtest/gtest.h>

#include "nagi/error.hpp"

namespace nagi {
namespace {

constexpr int kRound = LineAheadTuner::kTrials * int(LineAheadTuner::kCandidates.size());

// Runs n passes through the tuner, each taking seconds_of(distance).
template <class F>
std::vector<uint32_t> run_passes(LineAheadTuner& tuner, int n, F seconds_of) {
  std::vector<uint32_t> used;
  for (int i = 0; i < n; ++i) {
    const uint32_t d = tuner.next();
    EXPECT_EQ(__atomic_load_n(&line_ahead_bytes, __ATOMIC_RELAXED), d);
    used.push_back(d);
    tuner.record(seconds_of(d));
  }
  return used;
}

TEST(LineAheadTuner, TriesEachCandidateInTurnThenKeepsTheFastest) {
  LineAheadTuner tuner(std::nullopt);
  EXPECT_EQ(tuner.chosen(), LineAheadTuner::kCandidates[0]);
  // 8 KiB is fastest.
  auto seconds_of = [](uint32_t d) { return d == 8192 ? 0.006 : 0.007; };
  const std::vector<uint32_t> round = run_passes(tuner, kRound, seconds_of);
  for (int i = 0; i < kRound; ++i) {
    EXPECT_EQ(round[size_t(i)], LineAheadTuner::kCandidates[size_t(i) % LineAheadTuner::kCandidates.size()]);
  }
  EXPECT_EQ(tuner.chosen(), 8192u);
  for (uint32_t d : run_passes(tuner, LineAheadTuner::kExploit, seconds_of)) EXPECT_EQ(d, 8192u);
  // Then another round, which follows a change: now 4 KiB is fastest.
  auto later = [](uint32_t d) { return d == 4096 ? 0.005 : 0.007; };
  const std::vector<uint32_t> again = run_passes(tuner, kRound, later);
  EXPECT_EQ(again[0], LineAheadTuner::kCandidates[0]);
  EXPECT_EQ(again[1], LineAheadTuner::kCandidates[1]);
  EXPECT_EQ(tuner.chosen(), 4096u);
  EXPECT_EQ(tuner.next(), 4096u);
}

TEST(LineAheadTuner, ARoundIsDecidedByMediansNotOneSlowPass) {
  LineAheadTuner tuner(std::nullopt);
  int pass = 0;
  // 12 KiB is fastest except for one very slow pass (the OS took the core).
  run_passes(tuner, kRound, [&](uint32_t d) {
    ++pass;
    if (d == 12288) return pass == 3 ? 1.0 : 0.005;
    return 0.006;
  });
  EXPECT_EQ(tuner.chosen(), 12288u);
}

TEST(LineAheadTuner, TriesEveryDistanceBothWaysAndCanPickNonTemporal) {
  LineAheadTuner tuner(std::nullopt);
  // Non-temporal requests 12 KiB ahead are fastest.
  const uint32_t nt12 = 12288 | kLineAheadNonTemporal;
  const std::vector<uint32_t> round = run_passes(tuner, kRound, [&](uint32_t d) { return d == nt12 ? 0.004 : 0.006; });
  for (uint32_t bytes : {4096u, 8192u, 12288u}) {
    for (uint32_t nt : {0u, kLineAheadNonTemporal}) {
      EXPECT_EQ(std::count(round.begin(), round.end(), bytes | nt), LineAheadTuner::kTrials) << bytes << " " << nt;
    }
  }
  EXPECT_EQ(tuner.chosen(), nt12);
  EXPECT_EQ(tuner.next(), nt12);
}

TEST(LineAheadTuner, AFixedDistanceIsKept) {
  LineAheadTuner tuner(uint32_t{2048});
  for (uint32_t d : run_passes(tuner, kRound + 5, [](uint32_t d) { return d == 8192 ? 0.001 : 0.009; })) {
    EXPECT_EQ(d, 2048u);
  }
  EXPECT_EQ(tuner.chosen(), 2048u);
}

TEST(LineAheadTuner, EnvironmentFixesTheDistanceOrIsRejected) {
  ::unsetenv("NAGI_LINE_AHEAD");
  EXPECT_FALSE(line_ahead_from_env().has_value());
  ::setenv("NAGI_LINE_AHEAD", "6144", 1);
  EXPECT_EQ(line_ahead_from_env(), std::optional<uint32_t>(6144));
  ::setenv("NAGI_LINE_AHEAD", "8192,nt", 1);
  EXPECT_EQ(line_ahead_from_env(), std::optional<uint32_t>(8192 | kLineAheadNonTemporal));
  for (const char* bad : {"100", "0", "131072", "4k", "-64", ",nt", "8192,", "8192,NT", "8192,nt,"}) {
    ::setenv("NAGI_LINE_AHEAD", bad, 1);
    try {
      line_ahead_from_env();
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("NAGI_LINE_AHEAD"), std::string::npos) << e.what();
    }
  }
  ::unsetenv("NAGI_LINE_AHEAD");
}

}  // namespace
}  // namespace nagi
