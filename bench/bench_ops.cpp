// Micro-benchmarks of the CPU operations (a program, never a test):
//   build/bin/bench_ops --benchmark_filter=matmul
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "base/thread_pool.h"
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

// One decode-shaped matmul (a single token) of Qwen3-0.6B's FFN size.
void BM_matmul(benchmark::State& state, nagi::DType dtype) {
  const int64_t rows = 3072, cols = 1024, n_tok = state.range(0);
  const auto bytes = random_matrix(dtype, rows, cols);
  nagi::Matrix m{dtype, rows, cols, *nagi::dtype_bytes(dtype, cols), bytes.data()};
  std::vector<float> x(static_cast<size_t>(n_tok * cols), 0.5f), y(static_cast<size_t>(n_tok * rows));
  nagi::ThreadPool pool(static_cast<int>(state.range(1)));
  for (auto _ : state) {
    nagi::matmul(m, x.data(), n_tok, cols, y.data(), rows, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes.size()));
}

}  // namespace

BENCHMARK_CAPTURE(BM_matmul, f32, nagi::DType::kF32)->Args({1, 1})->Args({1, 2})->Args({16, 2});
BENCHMARK_CAPTURE(BM_matmul, bf16, nagi::DType::kBF16)->Args({1, 1})->Args({1, 2});
BENCHMARK_CAPTURE(BM_matmul, q8_0, nagi::DType::kQ8_0)->Args({1, 1})->Args({1, 2});
BENCHMARK_CAPTURE(BM_matmul, q4_0, nagi::DType::kQ4_0)->Args({1, 1})->Args({1, 2});

BENCHMARK_MAIN();
