// The chunked (prefill) form of the gated delta rule must compute what the
// token-by-token recurrence computes: same outputs and same final state, for
// lengths that are not multiples of the chunk, with a non-zero initial state.
// Tolerance 1e-5 on values of order 0.1-1: both are f32 with O(dk) sums.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "model/mixers/delta_rule.h"

namespace nagi {
namespace {

struct Inputs {
  int n, dk, dv;
  std::vector<float> q, k, v, g, beta, S0;
};

Inputs random_inputs(int n, int dk, int dv, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> uni(0.f, 1.f);
  Inputs in{n, dk, dv, {}, {}, {}, {}, {}, {}};
  auto l2 = [&](std::vector<float>& x) {
    for (int t = 0; t < n; ++t) {
      float ss = 0;
      for (int i = 0; i < dk; ++i) ss += x[t * dk + i] * x[t * dk + i];
      for (int i = 0; i < dk; ++i) x[t * dk + i] /= std::sqrt(ss);
    }
  };
  in.q.resize(size_t(n) * dk);
  in.k.resize(size_t(n) * dk);
  in.v.resize(size_t(n) * dv);
  for (float& x : in.q) x = normal(rng);
  for (float& x : in.k) x = normal(rng);
  for (float& x : in.v) x = normal(rng);
  l2(in.q);
  l2(in.k);
  for (int t = 0; t < n; ++t) {
    in.g.push_back(-2.f * uni(rng) * uni(rng));  // decays from 1 down to e^-2
    in.beta.push_back(uni(rng));
  }
  in.S0.resize(size_t(dk) * dv);
  for (float& x : in.S0) x = 0.3f * normal(rng);
  return in;
}

DeltaRuleHead head_of(const Inputs& in, float* out) {
  DeltaRuleHead h;
  h.dk = in.dk;
  h.dv = in.dv;
  h.q = in.q.data();
  h.k = in.k.data();
  h.qk_stride = in.dk;
  h.v = in.v.data();
  h.v_stride = in.dv;
  h.g = in.g.data();
  h.beta = in.beta.data();
  h.gate_stride = 1;
  h.scale = 1.f / std::sqrt(float(in.dk));
  h.out = out;
  h.out_stride = in.dv;
  return h;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::abs(a[i] - b[i])));
  return m;
}

TEST(DeltaRule, ChunkedEqualsRecurrent) {
  // Head sizes: 32 x 24 and 30 x 40 exercise the partial 16-float strips and
  // the rows left over after blocks of four; 128 x 128 is Qwen3.5-0.8B's.
  // Measured worst case 4.8e-7.
  for (auto [dk, dv] : {std::pair{32, 24}, std::pair{30, 40}, std::pair{128, 128}}) {
  for (int n : {1, 5, 31, 33, 63, 64, 65, 130, 200}) {
    for (int chunk : {16, 32, 64}) {
      const Inputs in = random_inputs(n, dk, dv, 1000 + n);
      std::vector<float> out_r(size_t(n) * in.dv), out_c(size_t(n) * in.dv);
      std::vector<float> S_r = in.S0, S_c = in.S0;
      delta_rule_recurrent(head_of(in, out_r.data()), n, S_r.data());
      delta_rule_chunked(head_of(in, out_c.data()), n, S_c.data(), chunk);
      EXPECT_LE(max_diff(out_r, out_c), 1e-5) << "n " << n << " chunk " << chunk << " dk " << dk;
      EXPECT_LE(max_diff(S_r, S_c), 1e-5) << "n " << n << " chunk " << chunk << " dk " << dk;
    }
  }
  }
}

// The recurrence itself against a float64 transcription of the rule, for
// value widths that take each path of the column walk: 128-column panels
// (AVX-512), 16-column strips and the scalar tail (149 = 128 + 16 + 5), and
// the state (S) as well as the outputs.
TEST(DeltaRule, RecurrentMatchesFloat64) {
  for (auto [n, dk, dv] : {std::tuple{37, 16, 8}, std::tuple{9, 33, 149}, std::tuple{5, 128, 256}}) {
    const Inputs in = random_inputs(n, dk, dv, 7 + dv);
    std::vector<float> out(size_t(n) * dv), S = in.S0;
    delta_rule_recurrent(head_of(in, out.data()), n, S.data());
    std::vector<double> Sd(in.S0.begin(), in.S0.end());
    double worst = 0;
    for (int t = 0; t < n; ++t) {
      for (double& x : Sd) x *= std::exp(double(in.g[t]));
      for (int j = 0; j < dv; ++j) {
        double kv = 0;
        for (int i = 0; i < dk; ++i) kv += Sd[i * dv + j] * in.k[t * dk + i];
        const double delta = in.beta[t] * (in.v[t * dv + j] - kv);
        for (int i = 0; i < dk; ++i) Sd[i * dv + j] += in.k[t * dk + i] * delta;
      }
      for (int j = 0; j < dv; ++j) {
        double o = 0;
        for (int i = 0; i < dk; ++i) o += Sd[i * dv + j] * in.q[t * dk + i];
        worst = std::max(worst, std::abs(o / std::sqrt(double(dk)) - out[t * dv + j]));
      }
    }
    for (size_t i = 0; i < Sd.size(); ++i) worst = std::max(worst, std::abs(Sd[i] - S[i]));
    EXPECT_LE(worst, 1e-5) << "n " << n << " dk " << dk << " dv " << dv;
  }
}

// Decode's form: each token's update left pending for the next token's pass
// to apply, the last one applied at the end, gives bit for bit the outputs
// and the state of the recurrence run on all the tokens at once, for widths
// that take 128-column panels (AVX-512), 16-column strips and single columns.
TEST(DeltaRule, DeferredUpdatesMatchTheRecurrenceBitForBit) {
  for (auto [n, dk, dv] : {std::tuple{6, 128, 128}, std::tuple{5, 33, 149}, std::tuple{4, 16, 8}}) {
    const Inputs in = random_inputs(n, dk, dv, 300 + dv);
    std::vector<float> out_all(size_t(n) * dv), S_all = in.S0;
    delta_rule_recurrent(head_of(in, out_all.data()), n, S_all.data());
    std::vector<float> out_step(size_t(n) * dv), S_step = in.S0, buf(size_t(dk + dv + 1));
    const DeferredUpdate pending{buf.data(), buf.data() + dk, buf.data() + dk + dv};
    for (int t = 0; t < n; ++t) {
      DeltaRuleHead h = head_of(in, out_step.data() + size_t(t) * dv);
      h.q += size_t(t) * dk;
      h.k += size_t(t) * dk;
      h.v += size_t(t) * dv;
      h.g += t;
      h.beta += t;
      delta_rule_step_deferred(h, S_step.data(), pending, t > 0);
    }
    delta_rule_apply(S_step.data(), dk, dv, pending);
    EXPECT_EQ(out_step, out_all) << "dk " << dk << " dv " << dv;
    EXPECT_EQ(S_step, S_all) << "dk " << dk << " dv " << dv;
  }
}

}  // namespace
}  // namespace nagi
