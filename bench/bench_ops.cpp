// Micro-benchmarks of the CPU operations (a program, never a test):
//   build/bin/bench_ops --benchmark_filter=matmul
// Bytes/s is the weight bytes streamed per wall-clock second (real time, so
// the 2-thread rows are comparable), the decode bottleneck.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/matmul_group.h"
#include "kernels/ops.h"

namespace {

std::vector<uint8_t> random_matrix(nagi::DType dtype, int64_t rows, int64_t cols) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  std::vector<float> row(static_cast<size_t>(cols));
  const size_t row_bytes = *nagi::dtype_bytes(dtype, static_cast<uint64_t>(cols));
  std::vector<uint8_t> out(row_bytes * rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(rng);
    nagi::quantize_row(dtype, row.data(), out.data() + r * row_bytes, cols);
  }
  return out;
}

// One decode-shaped matmul (args: tokens, threads, rows; 1024 columns), e.g.
// Qwen3-0.6B's FFN (3072 rows) or output (151936 rows) size,
// with one ISA's kernel table, or the reference matmul when `reference`.
void BM_matmul(benchmark::State& state, nagi::DType dtype, nagi::Isa isa, bool reference) {
  if (!nagi::isa_supported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  const nagi::Kernels k = nagi::make_kernels(isa);
  const int64_t rows = state.range(2), cols = 1024, n_tok = state.range(0);
  const auto bytes = random_matrix(dtype, rows, cols);
  nagi::Matrix m{dtype, rows, cols, *nagi::dtype_bytes(dtype, cols), bytes.data()};
  std::vector<float> x(static_cast<size_t>(n_tok * cols), 0.5f), y(static_cast<size_t>(n_tok * rows));
  nagi::ThreadPool pool(static_cast<int>(state.range(1)));
  for (auto _ : state) {
    if (reference) {
      nagi::matmul_reference(m, x.data(), n_tok, cols, y.data(), rows, pool);
    } else {
      nagi::matmul_with(k, m, x.data(), n_tok, cols, y.data(), rows, pool);
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes.size()));
  // Multiply-adds per second (prefill-shaped runs are compute-bound).
  state.counters["MAC/s"] = benchmark::Counter(double(state.iterations()) * double(n_tok * rows * cols),
                                               benchmark::Counter::kIsRate);
}

void register_all() {
  const std::pair<const char*, nagi::DType> types[] = {{"f32", nagi::DType::kF32},
                                                        {"f16", nagi::DType::kF16},
                                                        {"bf16", nagi::DType::kBF16},
                                                        {"q8_0", nagi::DType::kQ8_0},
                                                        {"q8_0x16", nagi::DType::kQ8_0x16},
                                                        {"q4_0", nagi::DType::kQ4_0},
                                                        {"q4_0x16", nagi::DType::kQ4_0x16},
                                                        {"q4_k", nagi::DType::kQ4_K},
                                                        {"q5_k", nagi::DType::kQ5_K},
                                                        {"q6_k", nagi::DType::kQ6_K},
                                                        // nagi's group types (I*G32 run the Q8_0/Q4_0 kernels)
                                                        {"i8g64", nagi::DType::kI8G64},
                                                        {"i8g128", nagi::DType::kI8G128},
                                                        {"i4g64", nagi::DType::kI4G64},
                                                        {"i4g128", nagi::DType::kI4G128}};
  for (const auto& [tname, dtype] : types) {
    const std::string base = std::string("BM_matmul/") + tname + "/";
    benchmark::RegisterBenchmark((base + "reference").c_str(), BM_matmul, dtype, nagi::Isa::kScalar, true)
        ->Args({1, 1, 3072})->Args({1, 2, 3072})->UseRealTime();
    for (nagi::Isa isa : nagi::kAllIsas) {
      if (!nagi::isa_supported(isa)) continue;
      auto* b = benchmark::RegisterBenchmark((base + std::string(nagi::isa_name(isa))).c_str(), BM_matmul,
                                             dtype, isa, false);
      b->Args({1, 1, 3072})->Args({1, 2, 3072})->UseRealTime();
      // L2-resident (compute-bound) single-thread decode shape.
      if (isa != nagi::Isa::kScalar) b->Args({1, 1, 256});
      // The tied output matrix of Qwen3-0.6B: streams from DRAM, not cache.
      if (isa != nagi::Isa::kScalar && dtype != nagi::DType::kF32) b->Args({1, 2, 151936})->Args({1, 1, 151936});
      if (dtype == nagi::DType::kF32) b->Args({16, 2, 3072});
      // Prefill: 512 tokens through the FFN matrix; 8 tokens, the smallest
      // batch the GEMMs take (speculative verification), where packing the
      // weight panels weighs most.
      if (isa != nagi::Isa::kScalar) b->Args({512, 1, 3072})->Args({512, 2, 3072})->Args({8, 1, 3072});
    }
  }
}

// Small batches, GEMM against the row kernels (args: tokens; 3072 x 1024,
// one thread): where the GEMM starts to pay (Kernels::gemm_block_min_tokens,
// kGemmMinTokens). `rows` forces the row kernels as speculative verification
// does (PerTokenMatmuls); otherwise the kernel the matmul picks for that
// many tokens.
void BM_small_batch(benchmark::State& state, nagi::DType dtype, bool rows) {
  const int64_t n_rows = 3072, cols = 1024, n_tok = state.range(0);
  const auto bytes = random_matrix(dtype, n_rows, cols);
  nagi::Matrix m{dtype, n_rows, cols, *nagi::dtype_bytes(dtype, cols), bytes.data()};
  std::vector<float> x(static_cast<size_t>(n_tok * cols)), y(static_cast<size_t>(n_tok * n_rows));
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  for (float& v : x) v = dist(rng);
  nagi::ThreadPool pool(1);
  const nagi::PerTokenMatmuls mode(rows);
  for (auto _ : state) {
    nagi::matmul(m, x.data(), n_tok, cols, y.data(), n_rows, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["MAC/s"] = benchmark::Counter(double(state.iterations()) * double(n_tok * n_rows * cols),
                                               benchmark::Counter::kIsRate);
}
void register_small_batches() {
  const std::pair<const char*, nagi::DType> types[] = {
      {"q4_0", nagi::DType::kQ4_0}, {"q8_0", nagi::DType::kQ8_0}, {"q4_k", nagi::DType::kQ4_K},
      {"q5_k", nagi::DType::kQ5_K}, {"q6_k", nagi::DType::kQ6_K}};
  for (const auto& [name, dtype] : types) {
    for (bool rows : {false, true}) {
      benchmark::RegisterBenchmark((std::string("BM_small_batch/") + name + (rows ? "/rows" : "/picked")).c_str(),
                                   BM_small_batch, dtype, rows)
          ->Arg(2)->Arg(4)->Arg(8)->Arg(12)->Arg(16)->Arg(20)->Arg(24)->UseRealTime();
    }
  }
}

// Qwen3-0.6B's q, k, v projections (2048 + 1024 + 1024 rows, 1024 columns,
// Q4_0x16, one decode token, 2 threads, this machine's kernels): three
// matmuls (three parallel regions, three activation quantizations) against
// one matmul_group.
void BM_qkv(benchmark::State& state, bool grouped) {
  const int64_t cols = 1024, rows[3] = {2048, 1024, 1024};
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<nagi::Matrix> m;
  std::vector<std::vector<float>> y;
  for (int64_t r : rows) {
    bytes.push_back(random_matrix(nagi::DType::kQ4_0x16, r, cols));
    y.emplace_back(static_cast<size_t>(r));
  }
  for (size_t j = 0; j < 3; ++j) {
    m.push_back({nagi::DType::kQ4_0x16, rows[j], cols, *nagi::dtype_bytes(nagi::DType::kQ4_0x16, cols),
                 bytes[j].data()});
  }
  const nagi::MatmulJob jobs[3] = {{&m[0], y[0].data(), rows[0]}, {&m[1], y[1].data(), rows[1]},
                                   {&m[2], y[2].data(), rows[2]}};
  std::vector<float> x(static_cast<size_t>(cols), 0.5f);
  nagi::ThreadPool pool(2);
  for (auto _ : state) {
    if (grouped) {
      nagi::matmul_group(jobs, x.data(), 1, cols, pool);
    } else {
      for (const nagi::MatmulJob& j : jobs) nagi::matmul(*j.w, x.data(), 1, cols, j.y, j.y_stride, pool);
    }
    benchmark::DoNotOptimize(y[0].data());
  }
}
BENCHMARK_CAPTURE(BM_qkv, separate, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_qkv, grouped, true)->UseRealTime();

// Random queries and an f16 cache of n_ctx positions per KV head, and the
// attention_flash parameters for n_tok queries after pos0 cached positions.
struct AttentionCase {
  std::vector<float> q, out;
  std::vector<uint8_t> k, v;
  nagi::AttentionParams p;

  AttentionCase(int n_tok, int pos0, int n_head, int n_kv, int hd, int n_ctx) {
    std::mt19937 rng(1);
    std::normal_distribution<float> dist;
    q.resize(size_t(n_tok) * n_head * hd);
    out.resize(q.size());
    for (float& x : q) x = dist(rng);
    const size_t head_bytes = nagi::kv_head_bytes(nagi::KvType::kF16, hd);
    k.resize(size_t(n_kv) * n_ctx * head_bytes);
    v.resize(k.size());
    std::vector<float> row(static_cast<size_t>(hd));
    for (auto* cache : {&k, &v}) {
      for (size_t h = 0; h < size_t(n_kv) * n_ctx; ++h) {
        for (float& x : row) x = dist(rng);
        nagi::kv_store_head(nagi::kernels(), nagi::KvType::kF16, row.data(), hd, cache->data() + h * head_bytes);
      }
    }
    p.n_tok = n_tok;
    p.n_head = n_head;
    p.n_kv_head = n_kv;
    p.head_dim = hd;
    p.q = q.data();
    p.q_stride = int64_t(n_head) * hd;
    p.k = k.data();
    p.v = v.data();
    p.kv_pos_bytes = head_bytes;
    p.kv_head_stride = size_t(n_ctx) * head_bytes;
    p.kv_type = nagi::KvType::kF16;
    p.pos0 = pos0;
    p.scale = 1.f / std::sqrt(float(hd));
    p.out = out.data();
    p.out_stride = p.q_stride;
  }
};

// A 512-token prefill's causal attention over an f16 cache (args: threads,
// q heads, KV heads, head dim), e.g. Qwen3-0.6B's (16, 8, 128) or
// Qwen3.5-0.8B's full-attention layers (8, 2, 256). MAC/s counts the
// causal QK^T and PV products.
void BM_attention_prefill(benchmark::State& state) {
  const int n_tok = 512, n_head = int(state.range(1)), hd = int(state.range(3));
  AttentionCase c(n_tok, 0, n_head, int(state.range(2)), hd, n_tok);
  nagi::ThreadPool pool(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    nagi::attention_flash(c.p, pool);
    benchmark::DoNotOptimize(c.out.data());
  }
  const double macs = 2.0 * n_head * hd * (double(n_tok) * (n_tok + 1) / 2);
  state.counters["MAC/s"] = benchmark::Counter(macs, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_attention_prefill)->Args({1, 16, 8, 128})->Args({2, 16, 8, 128})->Args({2, 8, 2, 256})->UseRealTime();

// One decode token's attention over Qwen3-0.6B's heads (16 q, 8 KV x 128,
// f16 cache) on one thread (args: positions before it, cold). In a decode
// step a layer's cache rows were last read a whole token of weights ago:
// cold = 1 evicts them first by reading 96 MiB (outside the timing).
void BM_attention_decode(benchmark::State& state) {
  AttentionCase c(1, int(state.range(0)), 16, 8, 128, 4096);
  nagi::ThreadPool pool(1);
  std::vector<uint8_t> evict(state.range(1) != 0 ? size_t(96) << 20 : 0, 1);
  for (auto _ : state) {
    if (!evict.empty()) {
      state.PauseTiming();
      uint64_t sum = 0;
      for (size_t o = 0; o < evict.size(); o += 64) sum += evict[o];
      benchmark::DoNotOptimize(sum);
      state.ResumeTiming();
    }
    nagi::attention_flash(c.p, pool);
    benchmark::DoNotOptimize(c.out.data());
  }
}
BENCHMARK(BM_attention_decode)->ArgsProduct({{40, 200, 1000}, {0, 1}})->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  register_all();
  register_small_batches();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
