// The verifier on hand-made logits: what it accepts must be exactly what the
// target's own sampler would pick at each position, and the rejection
// baseline must produce the target's distribution.
#include "spec/verifier.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "nagi/error.hpp"

namespace nagi {
namespace {

constexpr int kVocab = 6;

SamplingParams params(float t, uint64_t seed) {
  SamplingParams p;
  p.temperature = t;
  p.top_k = 0;
  p.top_p = 1.f;
  p.min_p = 0.f;
  p.seed = seed;
  return p;
}

// Row r: logits that make token (r * 3 + c) % kVocab likely, varied per row.
std::vector<float> rows_for(int n_rows) {
  std::vector<float> rows;
  for (int r = 0; r < n_rows; ++r)
    for (int v = 0; v < kVocab; ++v) rows.push_back(std::sin(float(r * 7 + v * 3)) * 2.f);
  return rows;
}

// What plain decoding would sample, row by row, each sample joining the history.
std::vector<int32_t> plain_samples(const std::vector<float>& rows, int n_rows, std::vector<int32_t> history,
                                   Sampler& s) {
  std::vector<int32_t> out;
  for (int r = 0; r < n_rows; ++r) {
    std::vector<float> l(rows.begin() + r * kVocab, rows.begin() + (r + 1) * kVocab);
    out.push_back(s.sample(l, history, static_cast<int64_t>(history.size())));
    history.push_back(out.back());
  }
  return out;
}

TEST(Verifier, GumbelAcceptsExactlyTheTargetsOwnSamples) {
  const std::vector<int32_t> history = {1, 2, 3};
  for (uint64_t seed = 0; seed < 50; ++seed) {
    // A penalty makes the samples depend on the history the verifier keeps.
    SamplingParams p = params(1.f, seed);
    p.repeat_penalty = 1.5f;
    Sampler s(p, kVocab);
    const auto rows = rows_for(5);
    // A draft that agrees with the target for its first two tokens, then not.
    const std::vector<int32_t> want = plain_samples(rows, 5, history, s);
    Draft d;
    d.push(want[0], -1);
    d.push(want[1], 0);
    d.push((want[2] + 1) % kVocab, 1);
    d.push(want[3], 2);
    const Verdict v = verify(rows, kVocab, d, history, 3, s, AcceptRule::kGumbel);
    EXPECT_EQ(v.path, (std::vector<int32_t>{0, 1})) << "seed " << seed;
    EXPECT_EQ(v.bonus, want[2]) << "seed " << seed;
  }
}

TEST(Verifier, GumbelFollowsTheMatchingBranchOfATree) {
  Sampler s(params(0.f, 0), kVocab);  // greedy: argmax per row
  // Rows: 0 (context) argmax 2; node 0 (token 1) argmax 5; node 1 (token 2) argmax 4;
  // node 2 (token 4, child of node 1) argmax 0.
  std::vector<float> rows(4 * kVocab, 0.f);
  rows[0 * kVocab + 2] = 1;
  rows[1 * kVocab + 5] = 1;
  rows[2 * kVocab + 4] = 1;
  rows[3 * kVocab + 0] = 1;
  Draft d;
  d.push(1, -1);
  d.push(2, -1);
  d.push(4, 1);
  const Verdict v = verify(rows, kVocab, d, std::vector<int32_t>{3}, 1, s, AcceptRule::kGumbel);
  EXPECT_EQ(v.path, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(v.bonus, 0);
}

TEST(Verifier, EqualDistributionsAreAcceptedEveryTime) {
  // A draft sampled by a sampler with the same settings from the same logits
  // proposes exactly the target's tokens.
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Sampler target(params(0.9f, seed), kVocab), draft_sampler(params(0.9f, seed), kVocab);
    const auto rows = rows_for(5);
    std::vector<int32_t> hist = {4};
    Draft d;
    for (int i = 0; i < 4; ++i) {
      std::vector<float> l(rows.begin() + i * kVocab, rows.begin() + (i + 1) * kVocab);
      const int32_t t = draft_sampler.sample(l, hist, static_cast<int64_t>(hist.size()));
      d.push(t, i - 1);
      hist.push_back(t);
    }
    const Verdict v = verify(rows, kVocab, d, std::vector<int32_t>{4}, 1, target, AcceptRule::kGumbel);
    EXPECT_EQ(v.path.size(), 4u) << "seed " << seed;
  }
}

TEST(Verifier, RejectionBaselineHasTheTargetsDistribution) {
  // One draft token from q; the emitted token (accepted draft or residual
  // bonus) must be distributed as p. Marginalising over the draft's own
  // draw: draw d ~ q by inverse CDF with an independent uniform per seed.
  const std::vector<double> p = {0.1, 0.4, 0.2, 0.3, 0.0, 0.0};
  const std::vector<double> q = {0.4, 0.1, 0.1, 0.1, 0.3, 0.0};
  std::vector<float> row(2 * kVocab);
  for (int v = 0; v < kVocab; ++v) row[size_t(v)] = p[size_t(v)] > 0 ? float(std::log(p[size_t(v)])) : -INFINITY;
  constexpr int kN = 20000;
  std::vector<int> counts(kVocab, 0);
  int accepted = 0;
  for (int n = 0; n < kN; ++n) {
    Sampler s(params(1.f, uint64_t(n) * 2654435761u + 17), kVocab);
    const double u = uniform_at(999, uint64_t(n), 7);
    int32_t d = 0;
    for (double cum = 0; d < kVocab; ++d) if ((cum += q[size_t(d)]) > u) break;
    Draft dr;
    dr.push(d, -1);
    dr.q.push_back({});
    for (int v = 0; v < kVocab; ++v) if (q[size_t(v)] > 0) dr.q.back().push_back({v, q[size_t(v)]});
    const Verdict v = verify(row, kVocab, dr, std::vector<int32_t>{0}, 1, s, AcceptRule::kRejection);
    const int32_t out = v.path.empty() ? v.bonus : d;
    accepted += !v.path.empty();
    ++counts[size_t(out)];
  }
  double chi = 0;
  for (int v = 0; v < kVocab; ++v) {
    if (p[size_t(v)] == 0) {
      EXPECT_EQ(counts[size_t(v)], 0);
      continue;
    }
    const double e = p[size_t(v)] * kN;
    chi += (counts[size_t(v)] - e) * (counts[size_t(v)] - e) / e;
  }
  EXPECT_LT(chi, 21.2);  // 3 dof, 99.99%
  // Acceptance probability sum_v min(p, q) = 0.1 + 0.1 + 0.1 + 0.1 = 0.4.
  EXPECT_NEAR(double(accepted) / kN, 0.4, 0.02);
}

TEST(Verifier, GumbelCouplingAcceptanceAgainstTheRejectionOptimum) {
  // p != q: rejection sampling accepts sum_v min(p, q) = 1 - TV (the best
  // any coupling can do); Gumbel coupling accepts when both argmaxes agree,
  // which is at least (1 - TV) / (1 + TV) and at most 1 - TV. Printed so the
  // two rates can be compared.
  const std::vector<double> p = {0.1, 0.4, 0.2, 0.3, 0.0, 0.0};
  const std::vector<double> q = {0.2, 0.3, 0.2, 0.2, 0.1, 0.0};
  double overlap = 0;
  for (int v = 0; v < kVocab; ++v) overlap += std::min(p[size_t(v)], q[size_t(v)]);  // 1 - TV = 0.8
  const auto to_logits = [](const std::vector<double>& d) {
    std::vector<float> l;
    for (double x : d) l.push_back(x > 0 ? float(std::log(x)) : -INFINITY);
    return l;
  };
  constexpr int kN = 20000;
  int gumbel = 0, rejection = 0;
  for (int n = 0; n < kN; ++n) {
    const uint64_t seed = uint64_t(n) * 0x9E3779B97F4A7C15ull + 1;
    Sampler target(params(1.f, seed), kVocab), draft(params(1.f, seed), kVocab);
    auto lq = to_logits(q);
    Draft d;
    d.push(draft.sample(lq, std::vector<int32_t>{0}, 1), -1);
    std::vector<float> rows = to_logits(p);
    rows.resize(2 * kVocab, 0.f);
    gumbel += !verify(rows, kVocab, d, std::vector<int32_t>{0}, 1, target, AcceptRule::kGumbel).path.empty();
    // Rejection: the draft draws with independent noise and reports q.
    Sampler indep(params(1.f, seed ^ 0xABCDEFull), kVocab);
    auto lq2 = to_logits(q);
    Draft r;
    r.push(indep.sample(lq2, std::vector<int32_t>{0}, 1), -1);
    r.q.push_back({});
    for (int v = 0; v < kVocab; ++v) if (q[size_t(v)] > 0) r.q.back().push_back({v, q[size_t(v)]});
    rejection += !verify(rows, kVocab, r, std::vector<int32_t>{0}, 1, target, AcceptRule::kRejection).path.empty();
  }
  const double g = double(gumbel) / kN, rj = double(rejection) / kN;
  std::printf("[ p != q, 1 - TV = %.2f ] acceptance: gumbel %.3f, rejection %.3f\n", overlap, g, rj);
  EXPECT_NEAR(rj, overlap, 0.015);
  EXPECT_LE(g, overlap + 0.015);
  EXPECT_GE(g, overlap / (2 - overlap) - 0.015);  // (1 - TV) / (1 + TV)
}

TEST(Verifier, RejectionRefusesTrees) {
  Sampler s(params(1.f, 1), kVocab);
  Draft d;
  d.push(1, -1);
  d.push(2, -1);
  const auto rows = rows_for(3);
  EXPECT_THROW(verify(rows, kVocab, d, std::vector<int32_t>{0}, 1, s, AcceptRule::kRejection), Error);
}

}  // namespace
}  // namespace nagi
