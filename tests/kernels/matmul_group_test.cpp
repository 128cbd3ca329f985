// matmul_group must give every job exactly what a matmul of its own gives
// (same kernels, the same activation rounding, rows computed in 16-row tiles
// from the same offsets), for every ISA, thread count and token count, with
// strided outputs it must not write past.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "format/dtype.h"
#include "kernels/kernels.h"
#include "kernels/matmul_group.h"

namespace nagi {
namespace {

struct OwnedMatrix {
  std::vector<uint8_t> bytes;
  Matrix m;
};

// Random normal weights stored as `t` (Q4_0x16: quantized as Q4_0, then
// repacked row by row, as the loaders do).
OwnedMatrix make_matrix(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  const size_t row_bytes = *dtype_bytes(t, static_cast<uint64_t>(cols));
  OwnedMatrix o;
  o.bytes.resize(row_bytes * static_cast<size_t>(rows));
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> values(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : values) v = dist(rng);
    uint8_t* dst = o.bytes.data() + r * row_bytes;
    quantize_row(t, values.data(), dst, cols);  // x16 types: quantized as blocks, then repacked
  }
  o.m = Matrix{t, rows, cols, row_bytes, o.bytes.data()};
  return o;
}

TEST(MatmulGroup, EqualsOneMatmulPerJobBitForBit) {
  constexpr int64_t kCols = 512;
  struct Shape {
    DType t;
    int64_t rows, cols;
  };
  // Mixed activation formats (f32, per-32, per-256), row counts that are not
  // multiples of 16, one job with another width (run on its own), and more
  // jobs than one group holds (split in two).
  const Shape shapes[] = {{DType::kQ4_0, 37, kCols},  {DType::kQ4_K, 50, kCols},  {DType::kF16, 16, kCols},
                          {DType::kQ8_0, 3, kCols},   {DType::kQ6_K, 64, kCols},  {DType::kQ4_0x16, 33, kCols},
                          {DType::kBF16, 21, kCols},  {DType::kQ4_0, 19, 256},   {DType::kQ5_K, 40, kCols},
                          {DType::kQ4_1, 17, kCols}};
  std::mt19937 rng(7);
  std::vector<OwnedMatrix> mats;
  for (const Shape& s : shapes) mats.push_back(make_matrix(s.t, s.rows, s.cols, rng));
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      for (int64_t n_tok : {int64_t(1), int64_t(3), int64_t(5), kGemmMinTokens + 3}) {
        const int64_t x_stride = kCols + 3;
        std::normal_distribution<float> dist(0.f, 1.f);
        std::vector<float> x(static_cast<size_t>(n_tok * x_stride));
        for (float& v : x) v = dist(rng);
        std::vector<std::vector<float>> got, want;
        std::vector<MatmulJob> jobs;
        for (const OwnedMatrix& o : mats) {
          const int64_t y_stride = o.m.rows + 2;
          got.emplace_back(static_cast<size_t>(n_tok * y_stride), -7.f);
          want.emplace_back(static_cast<size_t>(n_tok * y_stride), -7.f);
          matmul_with(k, o.m, x.data(), n_tok, x_stride, want.back().data(), y_stride, pool);
          jobs.push_back({&o.m, got.back().data(), y_stride});
        }
        matmul_group_with(k, jobs, x.data(), n_tok, x_stride, pool);
        for (size_t j = 0; j < mats.size(); ++j) {
          SCOPED_TRACE(std::string(isa_name(isa)) + " threads " + std::to_string(threads) + " n_tok " +
                       std::to_string(n_tok) + " job " + std::to_string(j));
          ASSERT_EQ(0, std::memcmp(got[j].data(), want[j].data(), got[j].size() * sizeof(float)));
          // The padding between output rows stays untouched.
          EXPECT_EQ(got[j].back(), -7.f);
        }
      }
    }
  }
}

}  // namespace
}  // namespace nagi
