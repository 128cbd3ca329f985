#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "runtime/philox.h"

namespace nagi {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Everything off: plain temperature sampling unless a test turns things on.
SamplingParams plain(float temperature, uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.f;
  p.min_p = 0.f;
  p.repeat_penalty = 1.f;
  p.repeat_last_n = 64;
  p.presence_penalty = 0.f;
  p.frequency_penalty = 0.f;
  p.seed = seed;
  return p;
}

std::vector<float> log_probs(const std::vector<double>& probs) {
  std::vector<float> out;
  for (double q : probs) out.push_back(static_cast<float>(std::log(q)));
  return out;
}

// Draws at positions [0, n) and counts each token.
std::vector<int> histogram(Sampler& s, const std::vector<float>& logits, int n) {
  std::vector<int> counts(logits.size(), 0);
  for (int pos = 0; pos < n; ++pos) {
    auto l = logits;
    ++counts[static_cast<size_t>(s.sample(l, {}, pos))];
  }
  return counts;
}

double chi_square(const std::vector<int>& counts, const std::vector<double>& probs, int n) {
  double chi = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0";
      continue;
    }
    const double e = probs[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

// G(seed, position, token) as documented in sampler.h, straight from the
// Philox words.
double reference_gumbel(uint64_t seed, uint64_t position, int32_t token) {
  const auto out = philox4x32({uint32_t(position), uint32_t(position >> 32), uint32_t(token), 0x67626c00u},
                              {uint32_t(seed), uint32_t(seed >> 32)});
  const uint64_t top53 = ((uint64_t{out[0]} << 32) | out[1]) >> 11;
  const double u = (double(top53) + 0.5) / 9007199254740992.0;
  return -std::log(-std::log(u));
}

// A direct, fully sorted implementation of the documented pipeline for
// logits that need no penalties: what the optimised sampler must agree with.
int32_t reference_sample(std::vector<float> logits, const SamplingParams& p, int64_t position) {
  int32_t best = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i])) logits[i] = -kInf;
    if (logits[i] > logits[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  }
  const float max_logit = logits[static_cast<size_t>(best)];
  if (p.temperature <= 0 || max_logit == -kInf) return best;
  struct C {
    float logit;
    float w;
    int32_t id;
  };
  std::vector<C> c;
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] != -kInf) c.push_back({logits[i], 0.f, static_cast<int32_t>(i)});
  std::sort(c.begin(), c.end(), [](const C& a, const C& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  });
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < c.size()) c.resize(static_cast<size_t>(p.top_k));
  const float inv_t = 1.f / p.temperature;
  for (auto& x : c) x.w = std::exp((x.logit - max_logit) * inv_t);
  std::sort(c.begin(), c.end(),
            [](const C& a, const C& b) { return a.w > b.w || (a.w == b.w && a.id < b.id); });
  double total = 0;
  for (auto& x : c) total += x.w;
  if (p.top_p < 1) {
    double cum = 0;
    size_t keep = c.size();
    for (size_t i = 0; i < c.size(); ++i) {
      cum += c[i].w;
      if (cum >= p.top_p * total) {
        keep = i + 1;
        break;
      }
    }
    c.resize(keep);
  }
  if (p.min_p > 0) {
    const float max_w = c.front().w;
    std::erase_if(c, [&](const C& x) { return x.w < p.min_p * max_w; });
  }
  // Gumbel-max, written from the documented definition: u from the raw
  // Philox words, G = -log(-log(u)), argmax of log-weight + G.
  int32_t chosen = -1;
  double chosen_score = -std::numeric_limits<double>::infinity();
  for (auto& x : c) {
    const double score = (double(x.logit) - double(max_logit)) / double(p.temperature) +
                         reference_gumbel(p.seed, static_cast<uint64_t>(position), x.id);
    if (score > chosen_score || (score == chosen_score && x.id < chosen)) {
      chosen_score = score;
      chosen = x.id;
    }
  }
  return chosen;
}

// ---------------------------------------------------------------- Philox

TEST(Philox, MatchesRandom123KnownAnswers) {
  // Random123 tests/kat_vectors, the three "philox4x32 10" lines.
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}),
            (std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}),
            (std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}),
            (std::array<uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Philox, UsableAtCompileTime) {
  static_assert(philox4x32({0, 0, 0, 0}, {0, 0})[0] == 0x6627e8d5u);
}

TEST(UniformAt, IsAPureFunctionOfItsArguments) {
  EXPECT_EQ(uniform_at(7, 123, 0), uniform_at(7, 123, 0));
  EXPECT_NE(uniform_at(7, 123, 0), uniform_at(7, 124, 0));
  EXPECT_NE(uniform_at(7, 123, 0), uniform_at(8, 123, 0));
  EXPECT_NE(uniform_at(7, 123, 0), uniform_at(7, 123, 1));
  // The high halves of the 64-bit inputs take part too.
  EXPECT_NE(uniform_at(7, 123, 0), uniform_at(7 + (uint64_t{1} << 32), 123, 0));
  EXPECT_NE(uniform_at(7, 123, 0), uniform_at(7, 123 + (uint64_t{1} << 32), 0));
  EXPECT_NE(uniform_at(7, 123, 0), uniform_at(7, 123, uint64_t{1} << 32));
}

TEST(UniformAt, MapsPhiloxOutputTo53Bits) {
  const auto out = philox4x32({5, 0, 2, 0}, {9, 0});
  const uint64_t bits = ((uint64_t{out[0]} << 32) | out[1]) >> 11;
  EXPECT_EQ(uniform_at(9, 5, 2), static_cast<double>(bits) / 9007199254740992.0);
}

TEST(UniformAt, InUnitIntervalAndRoughlyUniform) {
  constexpr int kN = 200000, kBins = 20;
  std::vector<int> bins(kBins, 0);
  double sum = 0;
  for (int i = 0; i < kN; ++i) {
    const double u = uniform_at(42, static_cast<uint64_t>(i), 0);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    ++bins[static_cast<size_t>(u * kBins)];
  }
  EXPECT_NEAR(sum / kN, 0.5, 0.005);
  double chi = 0;
  const double e = static_cast<double>(kN) / kBins;
  for (int b : bins) chi += (b - e) * (b - e) / e;
  // 19 degrees of freedom: the 99.99th percentile is about 50.
  EXPECT_LT(chi, 50.0);
}

// ---------------------------------------------------------------- greedy

TEST(Sampler, GreedyIsArgmaxWithTiesToLowestId) {
  for (float t : {0.f, -1.f}) {
    Sampler s(plain(t), 6);
    std::vector<float> l = {0.5f, 2.f, -1.f, 2.f, 1.f, 2.f};
    EXPECT_EQ(s.sample(l, {}, 0), 1);
    std::vector<float> l2 = {-3.f, -3.f, -5.f, -4.f, -3.5f, -9.f};
    EXPECT_EQ(s.sample(l2, {}, 9), 0);
    std::vector<float> l3 = {0.f, 0.f, 0.f, 0.f, 0.f, 7.f};
    EXPECT_EQ(s.sample(l3, {}, 3), 5);
  }
}

TEST(Sampler, NanLogitsCountAsMinusInfinity) {
  Sampler greedy(plain(0.f), 4);
  std::vector<float> l = {kNaN, 1.f, kNaN, 0.5f};
  EXPECT_EQ(greedy.sample(l, {}, 0), 1);

  // Sampling never picks a NaN or -inf token, even with a flat distribution.
  Sampler s(plain(1.f), 4);
  for (int pos = 0; pos < 500; ++pos) {
    std::vector<float> x = {kNaN, 0.f, -kInf, 0.f};
    const int32_t t = s.sample(x, {}, pos);
    EXPECT_TRUE(t == 1 || t == 3) << t;
  }
}

TEST(Sampler, AllMinusInfinityOrNanReturnsZero) {
  for (float t : {0.f, 1.f}) {
    Sampler s(plain(t), 3);
    std::vector<float> l = {-kInf, kNaN, -kInf};
    EXPECT_EQ(s.sample(l, {}, 5), 0);
  }
}

TEST(Sampler, PositiveInfinityDominates) {
  Sampler s(plain(1.f), 4);
  for (int pos = 0; pos < 200; ++pos) {
    std::vector<float> l = {3.f, kInf, 100.f, kInf};
    const int32_t t = s.sample(l, {}, pos);
    EXPECT_TRUE(t == 1 || t == 3) << t;
  }
}

// ---------------------------------------------------------------- randomness

TEST(Sampler, SameSeedAndPositionGiveSameToken) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 2.f);
  std::vector<float> logits(1000);
  for (auto& x : logits) x = nd(rng);
  auto p = plain(1.f, 1234);
  p.top_k = 50;
  p.top_p = 0.9f;
  Sampler a(p, 1000), b(p, 1000);
  // A second sampler with the same params, called in the opposite order, agrees.
  std::vector<int32_t> forward(200), backward(200);
  for (int pos = 0; pos < 200; ++pos) {
    auto l = logits;
    forward[static_cast<size_t>(pos)] = a.sample(l, {}, pos);
  }
  for (int pos = 199; pos >= 0; --pos) {
    auto l = logits;
    backward[static_cast<size_t>(pos)] = b.sample(l, {}, pos);
  }
  EXPECT_EQ(forward, backward);
  EXPECT_GT(std::set<int32_t>(forward.begin(), forward.end()).size(), 5u);
  // Calling the same sampler again at an old position repeats the old choice.
  auto l1 = logits, l2 = logits;
  const int32_t first = a.sample(l1, {}, 17);
  for (int pos = 100; pos < 110; ++pos) {
    auto l = logits;
    a.sample(l, {}, pos);
  }
  EXPECT_EQ(a.sample(l2, {}, 17), first);
}

TEST(Sampler, PositionsAndSeedsChangeTheDraw) {
  const std::vector<float> flat(16, 0.f);
  Sampler s(plain(1.f, 5), 16);
  std::set<int32_t> seen;
  for (int pos = 0; pos < 200; ++pos) {
    auto l = flat;
    seen.insert(s.sample(l, {}, pos));
  }
  EXPECT_EQ(seen.size(), 16u);

  Sampler other(plain(1.f, 6), 16);
  int differ = 0;
  for (int pos = 0; pos < 200; ++pos) {
    auto l1 = flat, l2 = flat;
    differ += s.sample(l1, {}, pos) != other.sample(l2, {}, pos);
  }
  EXPECT_GT(differ, 150);  // expected 200 * 15/16
}

TEST(Sampler, DrawIsGumbelArgmaxOverTheCandidates) {
  // probs 0.1, 0.4, 0.2, 0.3: the token whose log-prob plus its own noise is
  // largest wins; worked out here from the noise alone.
  const std::vector<double> probs = {0.1, 0.4, 0.2, 0.3};
  const auto logits = log_probs(probs);
  Sampler s(plain(1.f, 99), 4);
  int checked = 0;
  for (int pos = 0; pos < 400; ++pos) {
    std::vector<double> score(4);
    for (int v = 0; v < 4; ++v) score[v] = std::log(probs[v]) + reference_gumbel(99, pos, v);
    std::vector<double> sorted = score;
    std::sort(sorted.rbegin(), sorted.rend());
    // Skip draws too close to call with float logits.
    if (sorted[0] - sorted[1] < 1e-5) continue;
    const int32_t expected = static_cast<int32_t>(std::max_element(score.begin(), score.end()) - score.begin());
    auto l = logits;
    EXPECT_EQ(s.sample(l, {}, pos), expected) << "pos " << pos;
    ++checked;
  }
  EXPECT_GT(checked, 390);
}

TEST(GumbelAt, IsAPureFunctionOfSeedPositionAndToken) {
  EXPECT_EQ(gumbel_at(3, 10, 7), gumbel_at(3, 10, 7));
  EXPECT_NE(gumbel_at(3, 10, 7), gumbel_at(3, 10, 8));
  EXPECT_NE(gumbel_at(3, 10, 7), gumbel_at(3, 11, 7));
  EXPECT_NE(gumbel_at(3, 10, 7), gumbel_at(4, 10, 7));
  EXPECT_EQ(gumbel_at(3, 10, 7), reference_gumbel(3, 10, 7));
}

TEST(GumbelAt, HasTheGumbelDistribution) {
  // Standard Gumbel: mean = Euler-Mascheroni constant, variance pi^2/6, and
  // CDF exp(-exp(-x)) — checked at a few quantiles.
  constexpr int kN = 200000;
  double sum = 0, sum2 = 0;
  int below0 = 0, below2 = 0;
  for (int i = 0; i < kN; ++i) {
    const double g = gumbel_at(5, static_cast<uint64_t>(i / 16), i % 16);
    ASSERT_TRUE(std::isfinite(g));
    sum += g;
    sum2 += g * g;
    below0 += g < 0;
    below2 += g < 2;
  }
  const double mean = sum / kN;
  EXPECT_NEAR(mean, 0.5772156649, 0.01);
  EXPECT_NEAR(sum2 / kN - mean * mean, M_PI * M_PI / 6, 0.03);
  EXPECT_NEAR(double(below0) / kN, std::exp(-1.0), 0.004);
  EXPECT_NEAR(double(below2) / kN, std::exp(-std::exp(-2.0)), 0.004);
}

TEST(Sampler, DistributionIsTheFilteredSoftmax) {
  // Sorted: 0.4 (id 2), 0.3 (id 0), 0.2 (id 3), 0.1 (id 1); top_p 0.65 keeps ids 2, 0.
  auto p = plain(1.f, 5);
  p.top_p = 0.65f;
  Sampler s(p, 4);
  auto l = log_probs({0.3, 0.1, 0.4, 0.2});
  std::vector<Sampler::Prob> d;
  s.distribution(l, {}, 0, d);
  std::map<int32_t, double> got;
  for (auto [id, q] : d) got[id] = q;
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NEAR(got[2], 4.0 / 7, 1e-6);
  EXPECT_NEAR(got[0], 3.0 / 7, 1e-6);
  Sampler g(plain(0.f), 4);
  auto l2 = log_probs({0.3, 0.1, 0.4, 0.2});
  g.distribution(l2, {}, 0, d);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].id, 2);
  EXPECT_EQ(d[0].p, 1.0);
}

TEST(Sampler, ManySeedsAtOnePositionFollowTheSoftmax) {
  // The coupling argument is per position: over seeds (not positions) the
  // token at a fixed position must be softmax-distributed too.
  const std::vector<float> logits = {0.3f, -0.2f, 1.1f, 0.f, -1.f};
  std::vector<double> probs;
  double z = 0;
  for (float x : logits) z += std::exp(double(x));
  for (float x : logits) probs.push_back(std::exp(double(x)) / z);
  constexpr int kN = 20000;
  std::vector<int> counts(5, 0);
  for (int seed = 0; seed < kN; ++seed) {
    Sampler s(plain(1.f, static_cast<uint64_t>(seed) * 7919 + 1), 5);
    auto l = logits;
    ++counts[static_cast<size_t>(s.sample(l, {}, 42))];
  }
  EXPECT_LT(chi_square(counts, probs, kN), 23.5);  // 4 dof, 99.99%
}

TEST(Sampler, FrequenciesMatchSoftmax) {
  const std::vector<float> logits = {1.f, 2.f, 0.f, -1.f, 1.5f, 0.5f};
  constexpr float kTemp = 0.7f;
  std::vector<double> probs;
  double z = 0;
  for (float l : logits) z += std::exp(l / kTemp);
  for (float l : logits) probs.push_back(std::exp(l / kTemp) / z);
  constexpr int kN = 30000;
  Sampler s(plain(kTemp, 2024), 6);
  const auto counts = histogram(s, logits, kN);
  // 5 degrees of freedom: the 99.99th percentile is about 25.7.
  EXPECT_LT(chi_square(counts, probs, kN), 25.7);
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  const auto logits = log_probs({0.6, 0.3, 0.1});
  constexpr int kN = 20000;
  for (float t : {0.5f, 2.f}) {
    std::vector<double> probs;
    double z = 0;
    for (double q : {0.6, 0.3, 0.1}) z += std::pow(q, 1.0 / t);
    for (double q : {0.6, 0.3, 0.1}) probs.push_back(std::pow(q, 1.0 / t) / z);
    Sampler s(plain(t, 11), 3);
    const auto counts = histogram(s, logits, kN);
    EXPECT_LT(chi_square(counts, probs, kN), 18.4) << "temperature " << t;  // 2 dof, 99.99%
  }
}

// ---------------------------------------------------------------- truncation

TEST(Sampler, TopKOneIsGreedy) {
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> small(-3, 3);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<float> logits(50);
    for (auto& x : logits) x = static_cast<float>(small(rng));  // many ties
    auto p = plain(1.5f, static_cast<uint64_t>(trial));
    p.top_k = 1;
    Sampler s(p, 50), g(plain(0.f), 50);
    auto l1 = logits, l2 = logits;
    EXPECT_EQ(s.sample(l1, {}, trial), g.sample(l2, {}, trial));
  }
}

TEST(Sampler, TopKKeepsTheKLargestWithTiesToLowerIds) {
  // Tokens 1, 3, 4 and 6 tie for second place; k = 3 keeps 0, 1 and 3.
  const std::vector<float> logits = {2.f, 1.f, 0.f, 1.f, 1.f, -1.f, 1.f, 0.5f};
  auto p = plain(1.f, 77);
  p.top_k = 3;
  Sampler s(p, 8);
  constexpr int kN = 20000;
  const auto counts = histogram(s, logits, kN);
  const double z = std::exp(2.0) + 2 * std::exp(1.0);
  std::vector<double> probs(8, 0.0);
  probs[0] = std::exp(2.0) / z;
  probs[1] = probs[3] = std::exp(1.0) / z;
  EXPECT_LT(chi_square(counts, probs, kN), 18.4);
}

TEST(Sampler, TopKAtOrAboveVocabIsOff) {
  const auto logits = log_probs({0.5, 0.25, 0.25});
  for (int k : {3, 4, 1000, 0, -5}) {
    auto p = plain(1.f, 3);
    p.top_k = k;
    Sampler s(p, 3), off(plain(1.f, 3), 3);
    for (int pos = 0; pos < 100; ++pos) {
      auto l1 = logits, l2 = logits;
      EXPECT_EQ(s.sample(l1, {}, pos), off.sample(l2, {}, pos)) << "k " << k;
    }
  }
}

TEST(Sampler, TopPKeepsTheSmallestSufficientPrefix) {
  // Sorted: 0.4 (id 2), 0.3 (id 0), 0.2 (id 3), 0.1 (id 1).
  const auto logits = log_probs({0.3, 0.1, 0.4, 0.2});
  struct Case {
    float top_p;
    std::vector<double> probs;
  };
  const std::vector<Case> cases = {
      {0.35f, {0, 0, 1, 0}},                    // 0.4 already reaches it
      {0.65f, {3.0 / 7, 0, 4.0 / 7, 0}},        // 0.4 < 0.65 <= 0.7
      {0.85f, {3.0 / 9, 0, 4.0 / 9, 2.0 / 9}},  // 0.7 < 0.85 <= 0.9
      {0.95f, {0.3, 0.1, 0.4, 0.2}},            // needs everything
  };
  constexpr int kN = 20000;
  for (const auto& c : cases) {
    auto p = plain(1.f, 5);
    p.top_p = c.top_p;
    Sampler s(p, 4);
    const auto counts = histogram(s, logits, kN);
    EXPECT_LT(chi_square(counts, c.probs, kN), 21.2) << "top_p " << c.top_p;  // 3 dof, 99.99%
  }
}

TEST(Sampler, TopPAlwaysKeepsOne) {
  auto p = plain(1.f, 5);
  p.top_p = 1e-6f;
  Sampler s(p, 5);
  for (int pos = 0; pos < 200; ++pos) {
    std::vector<float> l = {1.f, 3.f, 3.f, 2.f, 0.f};
    EXPECT_EQ(s.sample(l, {}, pos), 1);  // ties keep the lower id
  }
}

TEST(Sampler, MinPDropsTokensBelowTheFractionOfTheMax) {
  // Max prob 0.4: min_p 0.3 -> threshold 0.12 keeps ids 0, 2, 3; min_p 0.6 ->
  // 0.24 keeps ids 2, 3.
  const auto logits = log_probs({0.2, 0.1, 0.4, 0.3});
  struct Case {
    float min_p;
    std::vector<double> probs;
  };
  const std::vector<Case> cases = {
      {0.3f, {2.0 / 9, 0, 4.0 / 9, 3.0 / 9}},
      {0.6f, {0, 0, 4.0 / 7, 3.0 / 7}},
      {1.f, {0, 0, 1, 0}},
  };
  constexpr int kN = 20000;
  for (const auto& c : cases) {
    auto p = plain(1.f, 6);
    p.min_p = c.min_p;
    Sampler s(p, 4);
    const auto counts = histogram(s, logits, kN);
    EXPECT_LT(chi_square(counts, c.probs, kN), 21.2) << "min_p " << c.min_p;
  }
}

TEST(Sampler, MinPIsRelativeToTemperedProbabilities) {
  // At temperature 0.5 the probs become proportional to q^2: 0.16, 0.09, 0.04,
  // 0.01 for ids 0..3. min_p 0.3 -> 0.048 relative cut keeps 0 and 1 only
  // (0.04 / 0.16 = 0.25 < 0.3).
  const auto logits = log_probs({0.4, 0.3, 0.2, 0.1});
  auto p = plain(0.5f, 8);
  p.min_p = 0.3f;
  Sampler s(p, 4);
  constexpr int kN = 20000;
  const auto counts = histogram(s, logits, kN);
  EXPECT_LT(chi_square(counts, {16.0 / 25, 9.0 / 25, 0, 0}, kN), 18.4);
}

TEST(Sampler, MatchesStraightforwardReferenceOnLargeVocab) {
  // Big enough that the lazy sorted prefix has to grow several times.
  constexpr int kVocab = 5000;
  std::mt19937 rng(21);
  std::normal_distribution<float> nd(0.f, 1.5f);
  std::uniform_int_distribution<int> ties(-4, 4);
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<float> logits(kVocab);
    for (auto& x : logits) x = trial % 3 == 0 ? static_cast<float>(ties(rng)) : nd(rng);
    if (trial % 5 == 1) logits[static_cast<size_t>(trial * 37 % kVocab)] = kNaN;
    SamplingParams p = plain(0.3f + 0.05f * static_cast<float>(trial % 30), static_cast<uint64_t>(trial));
    p.top_k = std::array<int, 5>{0, 1, 40, 3000, kVocab + 1}[trial % 5];
    p.top_p = std::array<float, 4>{1.f, 0.9f, 0.5f, 0.99f}[trial % 4];
    p.min_p = std::array<float, 3>{0.f, 0.05f, 0.001f}[trial % 3];
    Sampler s(p, kVocab);
    for (int pos = 0; pos < 20; ++pos) {
      auto l = logits;
      ASSERT_EQ(s.sample(l, {}, pos), reference_sample(logits, p, pos))
          << "trial " << trial << " pos " << pos << " k " << p.top_k << " top_p " << p.top_p
          << " min_p " << p.min_p << " t " << p.temperature;
    }
  }
}

TEST(Sampler, HandlesAQwenSizedVocabulary) {
  constexpr int kVocab = 151936;
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0.f, 3.f);
  std::vector<float> logits(kVocab);
  for (auto& x : logits) x = nd(rng);
  SamplingParams p;  // the library defaults: top-k 40, top-p 0.95, min-p 0.05
  p.seed = 12;
  Sampler s(p, kVocab);
  auto plain_p = plain(1.f, 12);  // no truncation: the full-vocabulary draw
  Sampler full(plain_p, kVocab);
  for (int pos = 0; pos < 10; ++pos) {
    auto l1 = logits, l2 = logits;
    EXPECT_EQ(s.sample(l1, {}, pos), reference_sample(logits, p, pos));
    EXPECT_EQ(full.sample(l2, {}, pos), reference_sample(logits, plain_p, pos));
  }
}

// ---------------------------------------------------------------- penalties

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegativeOncePerToken) {
  auto p = plain(0.f);
  p.repeat_penalty = 2.f;
  Sampler s(p, 4);
  // Token 0 at 3 is divided to 1.5 (once, although seen three times), below token 1.
  std::vector<float> l = {3.f, 2.f, -1.f, -1.5f};
  const std::vector<int32_t> hist = {0, 0, 0, 2};
  EXPECT_EQ(s.sample(l, hist, 4), 1);
  EXPECT_EQ(l[0], 1.5f);
  EXPECT_EQ(l[1], 2.f);
  EXPECT_EQ(l[2], -2.f);  // negative: multiplied
  EXPECT_EQ(l[3], -1.5f);

  // Among negatives the penalised token falls behind the unpenalised one.
  std::vector<float> neg = {-5.f, -5.f, -1.f, -1.5f};
  const std::vector<int32_t> hist2 = {2};
  EXPECT_EQ(s.sample(neg, hist2, 1), 3);
}

TEST(Sampler, FrequencyAndPresencePenaltiesSubtract) {
  const std::vector<int32_t> hist = {0, 1, 0, 0};  // token 0 three times, token 1 once
  {
    auto p = plain(0.f);
    p.frequency_penalty = 0.5f;
    Sampler s(p, 3);
    std::vector<float> l = {3.f, 2.f, 1.7f};
    EXPECT_EQ(s.sample(l, hist, 4), 2);  // 1.5, 1.5, 1.7
    EXPECT_EQ(l[0], 3.f - 1.5f);
    EXPECT_EQ(l[1], 2.f - 0.5f);
    EXPECT_EQ(l[2], 1.7f);
  }
  {
    auto p = plain(0.f);
    p.presence_penalty = 0.7f;
    Sampler s(p, 3);
    std::vector<float> l = {3.f, 2.f, 2.2f};
    EXPECT_EQ(s.sample(l, hist, 4), 0);  // 2.3, 1.3, 2.2: presence does not scale with count
    EXPECT_EQ(l[0], 3.f - 0.7f);
    EXPECT_EQ(l[1], 2.f - 0.7f);
    EXPECT_EQ(l[2], 2.2f);
  }
  {
    // Negative penalties encourage repetition.
    auto p = plain(0.f);
    p.presence_penalty = -1.f;
    Sampler s(p, 3);
    std::vector<float> l = {1.f, 1.f, 1.9f};
    EXPECT_EQ(s.sample(l, std::vector<int32_t>{1}, 1), 1);
  }
}

TEST(Sampler, PenaltiesCombineInTheDocumentedOrder) {
  auto p = plain(0.f);
  p.repeat_penalty = 1.25f;
  p.frequency_penalty = 0.25f;
  p.presence_penalty = 0.5f;
  Sampler s(p, 3);
  std::vector<float> l = {4.f, -2.f, 0.f};
  const std::vector<int32_t> hist = {1, 0, 0};
  s.sample(l, hist, 3);
  EXPECT_EQ(l[0], 4.f / 1.25f - (2.f * 0.25f + 0.5f));
  EXPECT_EQ(l[1], -2.f * 1.25f - (1.f * 0.25f + 0.5f));
  EXPECT_EQ(l[2], 0.f);
}

TEST(Sampler, RepeatLastNWindow) {
  const std::vector<int32_t> hist = {0, 0, 1, 2, 1};
  const std::vector<float> base = {1.f, 1.f, 1.f, 1.f};
  const auto run = [&](int last_n) {
    auto p = plain(0.f);
    p.frequency_penalty = 1.f;
    p.repeat_last_n = last_n;
    Sampler s(p, 4);
    auto l = base;
    s.sample(l, hist, 5);
    return l;
  };
  EXPECT_EQ(run(0), (std::vector<float>{1.f, 1.f, 1.f, 1.f}));
  EXPECT_EQ(run(1), (std::vector<float>{1.f, 0.f, 1.f, 1.f}));
  EXPECT_EQ(run(3), (std::vector<float>{1.f, -1.f, 0.f, 1.f}));
  EXPECT_EQ(run(4), (std::vector<float>{0.f, -1.f, 0.f, 1.f}));
  EXPECT_EQ(run(-1), (std::vector<float>{-1.f, -1.f, 0.f, 1.f}));
  EXPECT_EQ(run(100), (std::vector<float>{-1.f, -1.f, 0.f, 1.f}));
}

TEST(Sampler, PenaltyStateDoesNotLeakBetweenCalls) {
  auto p = plain(0.f);
  p.frequency_penalty = 1.f;
  Sampler s(p, 3);
  std::vector<float> l = {1.f, 1.f, 1.f};
  s.sample(l, std::vector<int32_t>{0, 0, 1}, 3);
  EXPECT_EQ(l, (std::vector<float>{-1.f, 0.f, 1.f}));
  std::vector<float> l2 = {1.f, 1.f, 1.f};
  s.sample(l2, std::vector<int32_t>{2}, 1);
  EXPECT_EQ(l2, (std::vector<float>{1.f, 1.f, 0.f}));
  std::vector<float> l3 = {1.f, 1.f, 1.f};
  s.sample(l3, {}, 0);
  EXPECT_EQ(l3, (std::vector<float>{1.f, 1.f, 1.f}));
}

TEST(Sampler, PenaltiesApplyBeforeSampling) {
  // Token 0 would win almost always; a big presence penalty removes it.
  auto p = plain(1.f, 3);
  p.presence_penalty = 100.f;
  Sampler s(p, 3);
  for (int pos = 0; pos < 200; ++pos) {
    std::vector<float> l = {10.f, 0.f, 0.f};
    EXPECT_NE(s.sample(l, std::vector<int32_t>{0}, pos), 0);
  }
}

// ---------------------------------------------------------------- validation

void expect_invalid(const SamplingParams& p, const std::string& needle, int32_t n_vocab = 8) {
  try {
    Sampler s(p, n_vocab);
    ADD_FAILURE() << "no error for " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Sampler, InvalidParamsThrow) {
  auto p = plain(1.f);
  p.temperature = kNaN;
  expect_invalid(p, "sampling: temperature");
  p.temperature = kInf;
  expect_invalid(p, "sampling: temperature");

  p = plain(1.f);
  p.top_p = 0.f;
  expect_invalid(p, "sampling: top_p: must be in (0, 1], got 0");
  p.top_p = 1.5f;
  expect_invalid(p, "sampling: top_p: must be in (0, 1], got 1.5");
  p.top_p = -0.1f;
  expect_invalid(p, "sampling: top_p");
  p.top_p = kNaN;
  expect_invalid(p, "sampling: top_p");

  p = plain(1.f);
  p.min_p = kNaN;
  expect_invalid(p, "sampling: min_p");
  p.min_p = 1.5f;
  expect_invalid(p, "sampling: min_p");

  for (float rp : {0.f, -1.f, kNaN, kInf}) {
    p = plain(1.f);
    p.repeat_penalty = rp;
    expect_invalid(p, "sampling: repeat_penalty");
  }
  p = plain(1.f);
  p.repeat_last_n = -2;
  expect_invalid(p, "sampling: repeat_last_n");
  p = plain(1.f);
  p.presence_penalty = kNaN;
  expect_invalid(p, "sampling: presence_penalty");
  p = plain(1.f);
  p.frequency_penalty = -kInf;
  expect_invalid(p, "sampling: frequency_penalty");
  expect_invalid(plain(1.f), "sampling: n_vocab", 0);
}

TEST(Sampler, ValidEdgeParamsAreAccepted) {
  auto p = plain(1.f);
  p.top_p = 1.f;
  p.min_p = -0.5f;  // <= 0: off
  p.top_k = -3;
  p.repeat_last_n = -1;
  EXPECT_NO_THROW(Sampler(p, 8));
  EXPECT_NO_THROW(Sampler(SamplingParams{}, 8));
}

TEST(Sampler, InvalidCallsThrow) {
  auto p = plain(1.f);
  p.repeat_penalty = 1.1f;
  Sampler s(p, 4);
  std::vector<float> wrong(3, 0.f);
  EXPECT_THROW(s.sample(wrong, {}, 0), Error);
  std::vector<float> l(4, 0.f);
  EXPECT_THROW(s.sample(l, std::vector<int32_t>{4}, 1), Error);
  EXPECT_THROW(s.sample(l, std::vector<int32_t>{-1}, 1), Error);
  EXPECT_THROW(s.sample(l, {}, -1), Error);
  // A failed call leaves no counts behind.
  auto q = plain(0.f);
  q.frequency_penalty = 1.f;
  Sampler t(q, 3);
  std::vector<float> bad(3, 1.f);
  EXPECT_THROW(t.sample(bad, std::vector<int32_t>{0, 7}, 2), Error);
  std::vector<float> good(3, 1.f);
  t.sample(good, {}, 0);
  EXPECT_EQ(good, (std::vector<float>{1.f, 1.f, 1.f}));
}

}  // namespace
}  // namespace nagi
