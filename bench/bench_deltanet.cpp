// The gated delta rule at Qwen3.5-0.8B's size (16 value heads, dk = dv = 128),
// one thread (a program, never a test):
//   build/bin/bench_deltanet
// Decode: one recurrent step for all heads of one layer (bytes/s counts the
// state read and written). Prefill: 512 tokens through the chunked form
// (argument: the chunk length) and, for comparison (argument 0), through the
// recurrence.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "model/mixers/delta_rule.h"

namespace {

constexpr int kHeads = 16, kDim = 128;

struct Data {
  std::vector<float> q, k, v, g, beta, out, S;
  explicit Data(int n) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    auto fill = [&](std::vector<float>& x, size_t count, float scale) {
      x.resize(count);
      for (float& e : x) e = scale * normal(rng);
    };
    fill(q, size_t(n) * kDim, 1.f / std::sqrt(float(kDim)));
    fill(k, size_t(n) * kDim, 1.f / std::sqrt(float(kDim)));
    fill(v, size_t(n) * kDim, 1.f);
    g.assign(n, -0.1f);
    beta.assign(n, 0.5f);
    out.resize(size_t(n) * kDim);
    fill(S, size_t(kHeads) * kDim * kDim, 0.1f);
  }
  nagi::DeltaRuleHead head() {
    nagi::DeltaRuleHead h;
    h.dk = h.dv = kDim;
    h.q = q.data();
    h.k = k.data();
    h.qk_stride = kDim;
    h.v = v.data();
    h.v_stride = kDim;
    h.g = g.data();
    h.beta = beta.data();
    h.gate_stride = 1;
    h.scale = 1.f / std::sqrt(float(kDim));
    h.out = out.data();
    h.out_stride = kDim;
    return h;
  }
};

void BM_DecodeStep(benchmark::State& state) {
  Data d(1);
  const auto h = d.head();
  for (auto _ : state) {
    for (int i = 0; i < kHeads; ++i) nagi::delta_rule_recurrent(h, 1, d.S.data() + size_t(i) * kDim * kDim);
    benchmark::DoNotOptimize(d.out.data());
  }
  state.SetBytesProcessed(state.iterations() * int64_t(2) * d.S.size() * sizeof(float));
}
BENCHMARK(BM_DecodeStep);

void BM_Prefill512(benchmark::State& state) {
  const bool chunked = state.range(0) != 0;
  Data d(512);
  const auto h = d.head();
  for (auto _ : state) {
    for (int i = 0; i < kHeads; ++i) {
      float* S = d.S.data() + size_t(i) * kDim * kDim;
      if (chunked) nagi::delta_rule_chunked(h, 512, S, int(state.range(0)));
      else nagi::delta_rule_recurrent(h, 512, S);
    }
    benchmark::DoNotOptimize(d.out.data());
  }
  state.SetItemsProcessed(state.iterations() * 512);
  state.SetLabel(chunked ? "chunked" : "recurrent");
}
BENCHMARK(BM_Prefill512)->Arg(64)->Arg(32)->Arg(16)->Arg(0)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
