// Every kernel of every ISA this machine runs, against the scalar table and
// the f32 reference matmul. Tolerances are error bounds, not guesses:
//  - float summation: any order of n products has |error| <= n * u * S with
//    u = 2^-24 and S = sum |w_i x_i|, so two orders differ by <= 2 n u S;
//  - quantized activation (Q8_0/Q4_0): x_i is replaced by q_i * d_b with
//    |x_i - q_i d_b| <= d_b / 2 (round to nearest, d_b = max|x| / 127 over the
//    block of 32), so the dot moves by <= sum_b (d_b / 2) sum_{i in b} |w_i|.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "format/dtype.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace nagi {
namespace {

constexpr double kU = 1.0 / 16777216.0;  // f32 unit roundoff

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon, Isa::kNeonDot}) {
    if (isa_supported(isa)) out.push_back(isa);
  }
  return out;
}

std::vector<float> random_floats(int64_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

struct TestMatrix {
  std::vector<uint8_t> bytes;
  std::vector<float> deq;  // the stored values as f32, row-major
  Matrix m;
};

TestMatrix random_matrix(DType t, int64_t rows, int64_t cols, uint32_t seed) {
  TestMatrix tm;
  const size_t row_bytes = *dtype_bytes(t, static_cast<uint64_t>(cols));
  tm.bytes.resize(row_bytes * rows);
  tm.deq.resize(static_cast<size_t>(rows * cols));
  const auto src = random_floats(rows * cols, seed);
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row(t, src.data() + r * cols, tm.bytes.data() + r * row_bytes, cols);
    dequantize_row(t, tm.bytes.data() + r * row_bytes, tm.deq.data() + r * cols, cols);
  }
  tm.m = Matrix{t, rows, cols, row_bytes, tm.bytes.data()};
  return tm;
}

double abs_dot(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(double(a[i]) * double(b[i]));
  return s;
}

DotRowsF32Fn float_entry(const Kernels& k, DType t) {
  switch (t) {
    case DType::kF32: return k.dot_rows_f32;
    case DType::kF16: return k.dot_rows_f16;
    case DType::kBF16: return k.dot_rows_bf16;
    default: return nullptr;
  }
}
DotRowsQ8Fn quant_entry(const Kernels& k, DType t) {
  return t == DType::kQ8_0 ? k.dot_rows_q8_0 : k.dot_rows_q4_0;
}

class KernelsTest : public ::testing::TestWithParam<Isa> {
 protected:
  Kernels k_ = make_kernels(GetParam());
  Kernels scalar_ = make_kernels(Isa::kScalar);
};

TEST_P(KernelsTest, DotF32) {
  for (int64_t n : {1, 7, 15, 16, 17, 33, 64, 4097}) {
    const auto a = random_floats(n, 1), b = random_floats(n, 2);
    double exact = 0;
    for (int64_t i = 0; i < n; ++i) exact += double(a[i]) * double(b[i]);
    const double tol = n * kU * abs_dot(a.data(), b.data(), n) + 1e-30;
    EXPECT_NEAR(k_.dot_f32(a.data(), b.data(), n), exact, tol) << "n " << n;
  }
}

TEST_P(KernelsTest, FloatRowsMatchScalar) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (int64_t cols : {7, 32, 33, 64, 96, 4096 + 32}) {
      for (int64_t rows : {1, 7, 33}) {
        const auto tm = random_matrix(t, rows, cols, uint32_t(rows * 1000 + cols));
        const auto x = random_floats(cols, 7);
        std::vector<float> got(rows), want(rows);
        float_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, x.data(), got.data());
        float_entry(scalar_, t)(tm.m.data, tm.m.row_bytes, rows, cols, x.data(), want.data());
        for (int64_t r = 0; r < rows; ++r) {
          const double tol = 2 * cols * kU * abs_dot(tm.deq.data() + r * cols, x.data(), cols);
          ASSERT_NEAR(got[r], want[r], tol) << dtype_name(t) << " cols " << cols << " row " << r;
        }
      }
    }
  }
}

TEST_P(KernelsTest, QuantizedActivationRoundTrip) {
  const int64_t n = 4096 + 32;
  auto x = random_floats(n, 3);
  for (int j = 0; j < 32; ++j) x[64 + j] = 0.f;  // an all-zero block: scale 0
  std::vector<int8_t> qs(n);
  std::vector<float> d(n / kActBlock);
  k_.quantize_act_q8(x.data(), n, qs.data(), d.data());
  EXPECT_EQ(d[2], 0.f);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_GE(qs[i], -127);
    ASSERT_NEAR(qs[i] * d[i / kActBlock], x[i], 0.5001 * d[i / kActBlock] + 1e-30) << i;
  }
}

// Every ISA rounds the activation like the scalar kernel (d = max|x| / 127,
// q = nearbyint(x * (1 / d))), so Q8_0/Q4_0 results differ between ISAs only
// in float summation order.
TEST_P(KernelsTest, QuantizedActivationMatchesScalar) {
  const int64_t n = 1024;
  auto x = random_floats(n, 4);
  for (int j = 0; j < 32; ++j) x[96 + j] = 0.f;                   // scale 0
  // d = 127 / 127 = 1, so x / d = k + 1/2 are exact ties (to even: 0, 2, -2, ...).
  for (int j = 0; j < 31; ++j) x[128 + j] = float(j - 15) - 0.5f;
  x[128 + 31] = 127.f;
  std::vector<int8_t> got_q(n), want_q(n);
  std::vector<float> got_d(n / kActBlock), want_d(n / kActBlock);
  k_.quantize_act_q8(x.data(), n, got_q.data(), got_d.data());
  scalar_.quantize_act_q8(x.data(), n, want_q.data(), want_d.data());
  EXPECT_EQ(got_d, want_d);
  EXPECT_EQ(got_q, want_q);
}

TEST_P(KernelsTest, QuantRowsMatchScalarAndReference) {
  for (DType t : {DType::kQ8_0, DType::kQ4_0}) {
    for (int64_t cols : {32, 64, 96, 160, 4096 + 32}) {
      for (int64_t rows : {1, 7, 33}) {
        const auto tm = random_matrix(t, rows, cols, uint32_t(rows * 1000 + cols + 5));
        const auto x = random_floats(cols, 9);
        const int64_t nb = cols / kActBlock;
        std::vector<int8_t> qs(cols);
        std::vector<float> d(nb), xq(cols);
        scalar_.quantize_act_q8(x.data(), cols, qs.data(), d.data());
        for (int64_t i = 0; i < cols; ++i) xq[i] = qs[i] * d[i / kActBlock];
        const QuantizedVector qv{qs.data(), d.data(), cols};
        std::vector<float> got(rows), want(rows);
        quant_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, qv, got.data());
        quant_entry(scalar_, t)(tm.m.data, tm.m.row_bytes, rows, cols, qv, want.data());
        for (int64_t r = 0; r < rows; ++r) {
          const float* w = tm.deq.data() + r * cols;
          // Same exact integer block sums; only the order of the per-block
          // float terms differs (and one rounding of the scale product).
          const double s_q = abs_dot(w, xq.data(), cols);
          ASSERT_NEAR(got[r], want[r], 4 * (nb + 8) * kU * s_q + 1e-30)
              << dtype_name(t) << " cols " << cols << " row " << r;
          // Against the exact f32 dot: the activation quantization bound.
          double exact = 0, quant_bound = 0;
          for (int64_t i = 0; i < cols; ++i) {
            exact += double(w[i]) * double(x[i]);
            quant_bound += std::fabs(double(w[i])) * d[i / kActBlock] * 0.5001;
          }
          ASSERT_NEAR(got[r], exact, quant_bound + 4 * cols * kU * abs_dot(w, x.data(), cols))
              << dtype_name(t) << " cols " << cols << " row " << r;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, KernelsTest, ::testing::ValuesIn(available_isas()),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

// The dispatching matmul (whatever ISA this machine selects) against the
// reference one, with strides, several tokens and two threads.
TEST(Matmul, MatchesReference) {
  ThreadPool pool(2);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K}) {
    const int64_t rows = 37, cols = dtype_info(t).block_elems > 32 ? 512 : 96, n_tok = 3;
    const int64_t x_stride = cols + 5, y_stride = rows + 3;
    const auto tm = random_matrix(t, rows, cols, 11);
    const auto x = random_floats(n_tok * x_stride, 12);
    std::vector<float> got(n_tok * y_stride, -1.f), want(n_tok * y_stride, -1.f);
    matmul(tm.m, x.data(), n_tok, x_stride, got.data(), y_stride, pool);
    matmul_reference(tm.m, x.data(), n_tok, x_stride, want.data(), y_stride, pool);
    const bool quantized_act = t == DType::kQ8_0 || t == DType::kQ4_0;
    for (int64_t tok = 0; tok < n_tok; ++tok) {
      const float* xt = x.data() + tok * x_stride;
      for (int64_t r = 0; r < rows; ++r) {
        const float* w = tm.deq.data() + r * cols;
        double tol = 2 * cols * kU * abs_dot(w, xt, cols);
        if (quantized_act) {
          for (int64_t b = 0; b < cols / kActBlock; ++b) {
            float amax = 0;
            double wsum = 0;
            for (int j = 0; j < kActBlock; ++j) {
              amax = std::max(amax, std::fabs(xt[b * kActBlock + j]));
              wsum += std::fabs(w[b * kActBlock + j]);
            }
            tol += 0.5001 * amax / 127 * wsum;
          }
        }
        ASSERT_NEAR(got[tok * y_stride + r], want[tok * y_stride + r], tol)
            << dtype_name(t) << " token " << tok << " row " << r;
      }
      // Padding between rows of Y is left alone.
      for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(got[tok * y_stride + r], -1.f);
    }
  }
}

TEST(Dispatch, NagiIsaForcesALevel) {
  const char* old = std::getenv("NAGI_ISA");
  const std::string saved = old ? old : "";
  ::setenv("NAGI_ISA", "scalar", 1);
  EXPECT_EQ(selected_isa(), Isa::kScalar);
  ::unsetenv("NAGI_ISA");
  const Isa best = selected_isa();
  ::setenv("NAGI_ISA", "no-such-isa", 1);
  EXPECT_EQ(selected_isa(), best);
  for (Isa isa : available_isas()) {
    ::setenv("NAGI_ISA", std::string(isa_name(isa)).c_str(), 1);
    EXPECT_EQ(selected_isa(), isa);
  }
  if (old) {
    ::setenv("NAGI_ISA", saved.c_str(), 1);
  } else {
    ::unsetenv("NAGI_ISA");
  }
  EXPECT_STREQ(kernels().isa, std::string(isa_name(selected_isa())).c_str());
}

}  // namespace
}  // namespace nagi
