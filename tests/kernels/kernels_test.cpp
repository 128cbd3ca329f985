// Every kernel of every ISA this machine runs, against the scalar table and
// the f32 reference matmul. Tolerances are error bounds, not guesses:
//  - float summation: any order of n products has |error| <= n * u * S with
//    u = 2^-24 and S = sum |w_i x_i|, so two orders differ by <= 2 n u S;
//  - quantized activation (Q8_0/Q4_0): x_i is replaced by q_i * d_b with
//    |x_i - q_i d_b| <= d_b / 2 (round to nearest, d_b = max|x| / 127 over the
//    block of 32), so the dot moves by <= sum_b (d_b / 2) sum_{i in b} |w_i|.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/thread_pool.h"
#include "format/dtype.h"
#include "kernels/kernels.h"
#include "kernels/line_ahead.h"
#include "kernels/ops.h"

namespace nagi {
namespace {

constexpr double kU = 1.0 / 16777216.0;  // f32 unit roundoff

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa isa : kAllIsas) {
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

// Rows of a quantized-activation dot kernel (GOT) against the scalar kernel
// (WANT), within k * (blocks + 8) roundings of sum |w * xq| (xq: the
// dequantized activation), and against the exact f32 dot, within the
// activation quantization bound (half a step of each block's scale D) plus
// k * cols roundings.
void expect_quant_rows(const std::vector<float>& got, const std::vector<float>& want, const TestMatrix& tm,
                       const std::vector<float>& x, const std::vector<float>& xq, const std::vector<float>& d,
                       int64_t block, double k, DType t) {
  const int64_t rows = static_cast<int64_t>(got.size()), cols = static_cast<int64_t>(x.size());
  const int64_t nb = cols / block;
  for (int64_t r = 0; r < rows; ++r) {
    const float* w = tm.deq.data() + r * cols;
    const double s_q = abs_dot(w, xq.data(), cols);
    ASSERT_NEAR(got[r], want[r], k * (nb + 8) * kU * s_q + 1e-30) << dtype_name(t) << " cols " << cols << " row " << r;
    double exact = 0, quant_bound = 0;
    for (int64_t i = 0; i < cols; ++i) {
      exact += double(w[i]) * double(x[i]);
      quant_bound += std::fabs(double(w[i])) * d[i / block] * 0.5001;
    }
    ASSERT_NEAR(got[r], exact, quant_bound + k * cols * kU * abs_dot(w, x.data(), cols))
        << dtype_name(t) << " cols " << cols << " row " << r;
  }
}

// n_tok activations of x.size() / n_tok values each, quantized token by
// token by the scalar table as matmul does (qs, per-32 scales d), with their
// dequantized values xq and the per-16 sums the GEMMs take.
struct QuantizedAct {
  std::vector<int8_t> qs;
  std::vector<float> d, xq;
  std::vector<int32_t> sums;
  QuantizedAct(const Kernels& scalar, const std::vector<float>& x, int64_t n_tok = 1)
      : qs(x.size()), d(x.size() / kActBlock), xq(x.size()), sums(x.size() / 16) {
    const int64_t cols = int64_t(x.size()) / n_tok;
    for (int64_t t = 0; t < n_tok; ++t) {
      scalar.quantize_act_q8(x.data() + t * cols, cols, qs.data() + t * cols, d.data() + t * cols / kActBlock);
    }
    for (size_t i = 0; i < x.size(); ++i) xq[i] = qs[i] * d[i / kActBlock];
    for (size_t i = 0; i < x.size(); ++i) sums[i / 16] += qs[i];
  }
  QuantizedVector view() const { return {qs.data(), d.data(), int64_t(qs.size())}; }
};

DotRowsF32Fn float_entry(const Kernels& k, DType t) {
  switch (t) {
    case DType::kF32: return k.dot_rows_f32;
    case DType::kF16: return k.dot_rows_f16;
    case DType::kBF16: return k.dot_rows_bf16;
    default: return nullptr;
  }
}
DotRowsQ8Fn quant_entry(const Kernels& k, DType t) {
  switch (t) {
    case DType::kQ8_0: return k.dot_rows_q8_0;
    case DType::kQ4_0: return k.dot_rows_q4_0;
    case DType::kQ4_0x16: return k.dot_rows_q4_0x16;
    case DType::kQ8_0x16: return k.dot_rows_q8_0x16;
    case DType::kQ4_1: return k.dot_rows_q4_1;
    case DType::kQ5_0: return k.dot_rows_q5_0;
    case DType::kI8G64: return k.dot_rows_i8g64;
    case DType::kI8G128: return k.dot_rows_i8g128;
    case DType::kI4G64: return k.dot_rows_i4g64;
    case DType::kI4G128: return k.dot_rows_i4g128;
    default: return k.dot_rows_q5_1;
  }
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

// Block types against the per-32 quantized activation, including nagi's
// group types (64 / 128 values per scale; Q8_0 / Q4_0 are I8G32 / I4G32):
// odd numbers of blocks / groups, row counts around the kernels' row tiles
// (2 and 4), and an outlier that makes one activation block coarse.
TEST_P(KernelsTest, QuantRowsMatchScalarAndReference) {
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kI8G64,
                  DType::kI8G128, DType::kI4G64, DType::kI4G128}) {
    const int64_t g = dtype_info(t).block_elems;
    const std::vector<int64_t> col_counts =
        g == 32 ? std::vector<int64_t>{32, 64, 96, 128, 160, 192, 224, 640, 2464, 4096 + 32} : std::vector<int64_t>{g, 3 * g, 5 * g, 4096 + g};
    for (int64_t cols : col_counts) {
      for (int64_t rows : {1, 2, 3, 4, 5, 7, 33}) {
        const auto tm = random_matrix(t, rows, cols, uint32_t(rows * 1000 + cols + 5));
        auto x = random_floats(cols, 9);
        x[cols - 1] = 25.f;
        const QuantizedAct act(scalar_, x);
        const auto& [qs, d, xq, sums] = act;
        const QuantizedVector qv = act.view();
        std::vector<float> got(rows, -1.f), want(rows, -2.f);
        quant_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, qv, got.data());
        quant_entry(scalar_, t)(tm.m.data, tm.m.row_bytes, rows, cols, qv, want.data());
        // Same exact integer block sums; only the order of the per-block
        // float terms differs (and one rounding of the scale product).
        ASSERT_NO_FATAL_FAILURE(expect_quant_rows(got, want, tm, x, xq, d, kActBlock, 4, t));
      }
    }
  }
}

// How far ahead, and how (plain or non-temporal), the row kernels request
// their lines is tuned while decoding (kernels/line_ahead.h); it must never
// change a result: every tuner candidate and a fixed odd distance against
// the default, bit for bit, over more rows than the largest distance.
TEST_P(KernelsTest, QuantRowsIndependentOfTheLineAheadSetting) {
  const uint32_t saved = __atomic_load_n(&line_ahead_bytes, __ATOMIC_RELAXED);
  std::vector<uint32_t> settings(LineAheadTuner::kCandidates.begin(), LineAheadTuner::kCandidates.end());
  settings.push_back(64 | kLineAheadNonTemporal);
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kI4G128}) {
    const int64_t rows = 97, cols = 1024 + dtype_info(t).block_elems;
    const auto tm = random_matrix(t, rows, cols, uint32_t(cols + 31));
    const QuantizedAct act(scalar_, random_floats(cols, 13));
    std::vector<float> want(rows), got(rows);
    __atomic_store_n(&line_ahead_bytes, LineAheadTuner::kCandidates[0], __ATOMIC_RELAXED);
    quant_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, act.view(), want.data());
    for (uint32_t setting : settings) {
      __atomic_store_n(&line_ahead_bytes, setting, __ATOMIC_RELAXED);
      quant_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, act.view(), got.data());
      EXPECT_EQ(std::memcmp(got.data(), want.data(), sizeof(float) * size_t(rows)), 0)
          << dtype_name(t) << " setting " << setting;
    }
  }
  __atomic_store_n(&line_ahead_bytes, saved, __ATOMIC_RELAXED);
}

// A row's result must not depend on how many rows a call covers (the
// thread split decides that): one call over all rows against one call per
// row, bit for bit, for row counts around the kernels' row tiles.
TEST_P(KernelsTest, QuantRowsIndependentOfRowCount) {
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kI8G64,
                  DType::kI8G128, DType::kI4G64, DType::kI4G128}) {
    const int64_t g = dtype_info(t).block_elems;
    for (int64_t cols : {g, 5 * g, 21 * g, 4096 + g}) {
      const int64_t rows = 11;
      const auto tm = random_matrix(t, rows, cols, uint32_t(cols + 77));
      const QuantizedAct act(scalar_, random_floats(cols, 4));
      const QuantizedVector qv = act.view();
      std::vector<float> all(rows), one(rows);
      quant_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, qv, all.data());
      for (int64_t r = 0; r < rows; ++r) {
        quant_entry(k_, t)(tm.m.data + r * tm.m.row_bytes, tm.m.row_bytes, 1, cols, qv, one.data() + r);
      }
      EXPECT_EQ(all, one) << dtype_name(t) << " cols " << cols;
    }
  }
}

// Q4_0 / Q8_0 repacked in 16-block superblocks: the same bits in another
// order, so the scalar kernels agree exactly and every ISA's within rounding.
TEST_P(KernelsTest, RepackedRowsMatchPlainLayout) {
  for (DType from : {DType::kQ4_0, DType::kQ8_0}) {
    const DType to = x16_of(from);
    for (int64_t cols : {512, 1536, 2560}) {
      for (int64_t rows : {1, 3, 4, 7, 33, 400}) {
        const auto tm = random_matrix(from, rows, cols, uint32_t(rows * 1000 + cols + 7));
        std::vector<uint8_t> repacked(tm.m.row_bytes * rows);
        for (int64_t r = 0; r < rows; ++r) {
          repack_x16(from, tm.m.data + r * tm.m.row_bytes, repacked.data() + r * tm.m.row_bytes, cols);
        }
        std::vector<float> deq(cols);
        dequantize_row(to, repacked.data() + (rows - 1) * tm.m.row_bytes, deq.data(), cols);
        ASSERT_EQ(0, std::memcmp(deq.data(), tm.deq.data() + (rows - 1) * cols, cols * sizeof(float)));
        const auto x = random_floats(cols, 9);
        const QuantizedAct act(scalar_, x);
        const auto& [qs, d, xq, sums] = act;
        const QuantizedVector qv = act.view();
        std::vector<float> got(rows), want(rows), plain(rows);
        quant_entry(k_, to)(repacked.data(), tm.m.row_bytes, rows, cols, qv, got.data());
        quant_entry(scalar_, to)(repacked.data(), tm.m.row_bytes, rows, cols, qv, want.data());
        quant_entry(scalar_, from)(tm.m.data, tm.m.row_bytes, rows, cols, qv, plain.data());
        EXPECT_EQ(want, plain);
        ASSERT_NO_FATAL_FAILURE(expect_quant_rows(got, want, tm, x, xq, d, kActBlock, 4, to));
        const GemmQ8Fn gemm = to == DType::kQ4_0x16 ? k_.gemm_q4_0x16 : k_.gemm_q8_0x16;
        if (gemm == nullptr) continue;
        // The prefill GEMM over the repacked rows, 5 tokens (the same activation).
        const int n_tok = 5;
        std::vector<float> x5;
        for (int t = 0; t < n_tok; ++t) x5.insert(x5.end(), x.begin(), x.end());
        const QuantizedAct act5(scalar_, x5, n_tok);
        std::vector<float> y(n_tok * rows);
        gemm(repacked.data(), tm.m.row_bytes, rows, cols, act5.qs.data(), act5.d.data(), act5.sums.data(), n_tok,
             y.data(), rows);
        for (int t = 0; t < n_tok; ++t) {
          std::vector<float> yt(y.begin() + t * rows, y.begin() + (t + 1) * rows);
          ASSERT_NO_FATAL_FAILURE(expect_quant_rows(yt, want, tm, x, xq, d, kActBlock, 4, to));
        }
      }
    }
  }
}

TEST_P(KernelsTest, QuantizersMatchScalarBitForBit) {
  const int64_t n = 1024 + 256;
  auto x = random_floats(n, 31, 3.f);
  for (int j = 0; j < 32; ++j) x[32 + j] = 0.f;
  x[5] = 1e-30f;
  std::vector<int8_t> qa(n), qb(n);
  std::vector<float> da(n / kActBlock), db(n / kActBlock);
  k_.quantize_act_q8(x.data(), n, qa.data(), da.data());
  scalar_.quantize_act_q8(x.data(), n, qb.data(), db.data());
  EXPECT_EQ(qa, qb);
  EXPECT_EQ(da, db);
  std::vector<float> dka(n / kActBlockK), dkb(n / kActBlockK);
  std::vector<int16_t> ska(n / 16), skb(n / 16);
  k_.quantize_act_q8k(x.data(), n, qa.data(), dka.data(), ska.data());
  scalar_.quantize_act_q8k(x.data(), n, qb.data(), dkb.data(), skb.data());
  EXPECT_EQ(qa, qb);
  EXPECT_EQ(dka, dkb);
  EXPECT_EQ(ska, skb);
}

TEST_P(KernelsTest, QuantizedActivationKRoundTrip) {
  const int64_t n = 256 * 3;
  auto x = random_floats(n, 4);
  for (int j = 0; j < 256; ++j) x[256 + j] = 0.f;  // an all-zero block: scale 0
  std::vector<int8_t> qs(n);
  std::vector<float> d(n / kActBlockK);
  std::vector<int16_t> bsums(n / 16);
  k_.quantize_act_q8k(x.data(), n, qs.data(), d.data(), bsums.data());
  EXPECT_EQ(d[1], 0.f);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_GE(qs[i], -127);
    ASSERT_NEAR(qs[i] * d[i / kActBlockK], x[i], 0.5001 * d[i / kActBlockK] + 1e-30) << i;
  }
  for (int64_t g = 0; g < n / 16; ++g) {
    int s = 0;
    for (int j = 0; j < 16; ++j) s += qs[g * 16 + j];
    ASSERT_EQ(bsums[g], s) << g;
  }
}

DotRowsQ8KFn kquant_entry(const Kernels& k, DType t) {
  switch (t) {
    case DType::kQ4_K: return k.dot_rows_q4_k;
    case DType::kQ5_K: return k.dot_rows_q5_k;
    default: return k.dot_rows_q6_k;
  }
}

TEST_P(KernelsTest, KQuantRowsMatchScalarAndReference) {
  for (DType t : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    for (int64_t cols : {256, 512, 1280}) {
      for (int64_t rows : {1, 7, 33}) {
        const auto tm = random_matrix(t, rows, cols, uint32_t(rows * 1000 + cols + 17));
        auto x = random_floats(cols, 19);
        x[3] = 40.f;  // an outlier: coarse activation scale in block 0
        const int64_t nb = cols / kActBlockK;
        std::vector<int8_t> qs(cols);
        std::vector<float> d(nb), xq(cols);
        std::vector<int16_t> bsums(cols / 16);
        scalar_.quantize_act_q8k(x.data(), cols, qs.data(), d.data(), bsums.data());
        for (int64_t i = 0; i < cols; ++i) xq[i] = qs[i] * d[i / kActBlockK];
        const QuantizedVectorK qv{qs.data(), d.data(), bsums.data(), cols};
        std::vector<float> got(rows), want(rows);
        kquant_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, qv, got.data());
        kquant_entry(scalar_, t)(tm.m.data, tm.m.row_bytes, rows, cols, qv, want.data());
        // Exact integer sums per block on both sides; the per-block float
        // terms (scale products, int->float of sums up to 2^28) round.
        ASSERT_NO_FATAL_FAILURE(expect_quant_rows(got, want, tm, x, xq, d, kActBlockK, 64, t));
      }
    }
  }
}

// The K-quant rows, like the block types above: one call over all rows
// against one call per row, bit for bit.
TEST_P(KernelsTest, KQuantRowsIndependentOfRowCount) {
  for (DType t : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    const int64_t cols = 1280, rows = 11, nb = cols / kActBlockK;
    const auto tm = random_matrix(t, rows, cols, uint32_t(cols + 91));
    const auto x = random_floats(cols, 23);
    std::vector<int8_t> qs(cols);
    std::vector<float> d(nb);
    std::vector<int16_t> bsums(cols / 16);
    scalar_.quantize_act_q8k(x.data(), cols, qs.data(), d.data(), bsums.data());
    const QuantizedVectorK qv{qs.data(), d.data(), bsums.data(), cols};
    std::vector<float> all(rows), one(rows);
    kquant_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, qv, all.data());
    for (int64_t r = 0; r < rows; ++r) {
      kquant_entry(k_, t)(tm.m.data + r * tm.m.row_bytes, tm.m.row_bytes, 1, cols, qv, one.data() + r);
    }
    EXPECT_EQ(all, one) << dtype_name(t);
  }
}

// The multi-token row kernels must give every token bit for bit what the
// one-token kernel gives it alone: speculative verification relies on it
// (model/transformer.h, per_token). Token counts around the kernels' passes
// of four, columns with leftover quads and lone blocks (Q4_0) or several
// super-blocks (K-quants). Levels without them have nothing to check.
TEST_P(KernelsTest, MultiTokenRowsMatchOneTokenBitForBit) {
  const bool any = k_.dot_rows_q8_0_multi || k_.dot_rows_q4_0_multi || k_.dot_rows_q4_k_multi ||
                   k_.dot_rows_q5_k_multi || k_.dot_rows_q6_k_multi;
  if (!any) GTEST_SKIP() << "no multi-token row kernels on " << k_.isa;
  const int64_t rows = 7;
  for (int n_tok : {1, 2, 3, 4, 5, 9}) {
    for (DType t : {DType::kQ8_0, DType::kQ4_0}) {
      const DotRowsQ8MultiFn multi = t == DType::kQ8_0 ? k_.dot_rows_q8_0_multi : k_.dot_rows_q4_0_multi;
      if (multi == nullptr) continue;
      for (int64_t cols : {640, 2464, 4096 + 32}) {
        const auto tm = random_matrix(t, rows, cols, uint32_t(cols + n_tok));
        std::vector<QuantizedAct> acts;
        std::vector<QuantizedVector> xs;
        acts.reserve(n_tok);
        for (int i = 0; i < n_tok; ++i) acts.emplace_back(scalar_, random_floats(cols, 100 + i));
        for (const auto& a : acts) xs.push_back(a.view());
        std::vector<float> got(size_t(n_tok) * rows), want(size_t(n_tok) * rows);
        multi(tm.m.data, tm.m.row_bytes, rows, cols, xs.data(), n_tok, got.data(), rows);
        for (int i = 0; i < n_tok; ++i) quant_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, xs[i], want.data() + i * rows);
        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
            << dtype_name(t) << " cols " << cols << " tokens " << n_tok;
      }
    }
    for (DType t : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
      const DotRowsQ8KMultiFn multi = t == DType::kQ4_K   ? k_.dot_rows_q4_k_multi
                                      : t == DType::kQ5_K ? k_.dot_rows_q5_k_multi
                                                          : k_.dot_rows_q6_k_multi;
      if (multi == nullptr) continue;
      const int64_t cols = 1280, nb = cols / kActBlockK;
      const auto tm = random_matrix(t, rows, cols, uint32_t(cols + 7 * n_tok));
      std::vector<int8_t> qs(size_t(n_tok) * cols);
      std::vector<float> d(size_t(n_tok) * nb);
      std::vector<int16_t> bsums(size_t(n_tok) * (cols / 16));
      std::vector<QuantizedVectorK> xs;
      for (int i = 0; i < n_tok; ++i) {
        const auto x = random_floats(cols, 200 + i);
        scalar_.quantize_act_q8k(x.data(), cols, qs.data() + i * cols, d.data() + i * nb, bsums.data() + i * (cols / 16));
        xs.push_back(QuantizedVectorK{qs.data() + i * cols, d.data() + i * nb, bsums.data() + i * (cols / 16), cols});
      }
      std::vector<float> got(size_t(n_tok) * rows), want(size_t(n_tok) * rows);
      multi(tm.m.data, tm.m.row_bytes, rows, cols, xs.data(), n_tok, got.data(), rows);
      for (int i = 0; i < n_tok; ++i) kquant_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, xs[i], want.data() + i * rows);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0) << dtype_name(t) << " tokens " << n_tok;
    }
  }
}

GemmQ8Fn q8_gemm_entry(const Kernels& k, DType t) {
  switch (t) {
    case DType::kQ8_0: return k.gemm_q8_0;
    case DType::kQ4_0: return k.gemm_q4_0;
    case DType::kI8G64: return k.gemm_i8g64;
    case DType::kI8G128: return k.gemm_i8g128;
    case DType::kI4G64: return k.gemm_i4g64;
    default: return k.gemm_i4g128;
  }
}

TEST_P(KernelsTest, GemmMatchesRowKernels) {
  if (k_.gemm_q8_0 == nullptr) GTEST_SKIP() << "no GEMM at this level";
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kI8G64, DType::kI8G128, DType::kI4G64, DType::kI4G128}) {
    const GemmQ8Fn gemm = q8_gemm_entry(k_, t);
    if (gemm == nullptr) continue;  // this level runs these rows token by token
    const int64_t g = dtype_info(t).block_elems;  // odd numbers of blocks / groups:
    for (int64_t cols : {g, 3 * g, 1024 + g}) {
      for (int64_t rows : {1, 15, 16, 17, 40}) {
        // 33 tokens over 1024 + g columns: whole 16 x 16 tiles of tokens and
        // blocks plus both edges (the AVX-512 GEMM transposes the activation
        // scales and sums by such tiles); 70 tokens: several token tiles
        // (NAGI_GEMM_ORDER=morton).
        for (int64_t n_tok : {1, 3, 4, 5, 9, 33, 70}) {
          if ((n_tok == 70 && cols > 3 * g) || (n_tok == 33 && cols < 1024)) continue;
          const auto tm = random_matrix(t, rows, cols, uint32_t(rows * 1000 + cols + n_tok));
          const auto x = random_floats(n_tok * cols, 21);
          const int64_t nb = cols / kActBlock, y_stride = rows + 3;
          const QuantizedAct act(scalar_, x, n_tok);
          const auto& [qs, d, xq_all, sums] = act;
          std::vector<float> got(n_tok * y_stride, -1.f), want(n_tok * y_stride, -1.f);
          gemm(tm.m.data, tm.m.row_bytes, rows, cols, qs.data(), d.data(), sums.data(), n_tok, got.data(), y_stride);
          for (int64_t tok = 0; tok < n_tok; ++tok) {
            const QuantizedVector qv{qs.data() + tok * cols, d.data() + tok * nb, cols};
            quant_entry(scalar_, t)(tm.m.data, tm.m.row_bytes, rows, cols, qv, want.data() + tok * y_stride);
            const float* xq = xq_all.data() + tok * cols;
            for (int64_t r = 0; r < rows; ++r) {
              const double s_q = abs_dot(tm.deq.data() + r * cols, xq, cols);
              ASSERT_NEAR(got[tok * y_stride + r], want[tok * y_stride + r], 4 * (nb + 8) * kU * s_q + 1e-30)
                  << dtype_name(t) << " cols " << cols << " rows " << rows << " n_tok " << n_tok << " r " << r;
            }
            for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(got[tok * y_stride + r], -1.f);
          }
        }
      }
    }
  }
}

GemmQ8Fn gemm_entry(const Kernels& k, DType t) {
  switch (t) {
    case DType::kQ4_K: return k.gemm_q4_k;
    case DType::kQ5_K: return k.gemm_q5_k;
    default: return k.gemm_q6_k;
  }
}

// K-quant GEMMs against the exact dot of the dequantized weights and the
// dequantized activation: integer sub-block sums are exact; each sub-block
// adds two f32 terms (scale * sum, min * sum(a)) of at most 3 max|w| sum|xq|.
TEST_P(KernelsTest, KQuantGemmMatchesDequantizedDot) {
  if (k_.gemm_q4_k == nullptr) GTEST_SKIP() << "no GEMM at this level";
  for (DType t : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    for (int64_t cols : {256, 768}) {
      for (int64_t rows : {1, 16, 21}) {
        for (int64_t n_tok : {1, 4, 7, 9, 17}) {
          const auto tm = random_matrix(t, rows, cols, uint32_t(rows * 100 + cols + n_tok + 3));
          const auto x = random_floats(n_tok * cols, 23);
          const int64_t nb = cols / kActBlock, y_stride = rows + 2;
          const QuantizedAct act(scalar_, x, n_tok);
          const auto& [qs, d, xq_all, sums] = act;
          std::vector<float> got(n_tok * y_stride, -1.f);
          gemm_entry(k_, t)(tm.m.data, tm.m.row_bytes, rows, cols, qs.data(), d.data(), sums.data(), n_tok, got.data(),
                            y_stride);
          for (int64_t tok = 0; tok < n_tok; ++tok) {
            for (int64_t r = 0; r < rows; ++r) {
              const float* w = tm.deq.data() + r * cols;
              double exact = 0, wmax = 0, xsum = 0;
              for (int64_t i = 0; i < cols; ++i) {
                const double xq = double(qs[tok * cols + i]) * d[tok * nb + i / kActBlock];
                exact += double(w[i]) * xq;
                wmax = std::max(wmax, std::fabs(double(w[i])));
                xsum += std::fabs(xq);
              }
              const double tol = 4 * (cols / 16 + 8) * kU * 3 * wmax * xsum;
              ASSERT_NEAR(got[tok * y_stride + r], exact, tol)
                  << dtype_name(t) << " cols " << cols << " rows " << rows << " n_tok " << n_tok << " r " << r;
            }
            for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(got[tok * y_stride + r], -1.f);
          }
        }
      }
    }
  }
}

TEST_P(KernelsTest, FloatGemmMatchesRows) {
  if (k_.gemm_f16 == nullptr) GTEST_SKIP() << "no GEMM at this level";
  for (DType t : {DType::kF16, DType::kBF16}) {
    for (int64_t cols : {7, 32, 33, 62, 1024 + 16}) {
      for (int64_t rows : {1, 16, 19, 32, 45, 70}) {
        for (int64_t n_tok : {1, 5, 6, 8, 13, 17}) {
          const auto tm = random_matrix(t, rows, cols, uint32_t(rows * 100 + cols + n_tok + 7));
          const int64_t x_stride = cols + 3, y_stride = rows + 2;
          // BF16 weights get the activation rounded to bf16 (as MatmulInput
          // passes it): then every product is exact in f32 at every level,
          // vdpbf16ps (avx512bf16) included.
          auto x = random_floats(n_tok * x_stride, 29);
          if (t == DType::kBF16) round_to_bf16(x.data(), x.data(), int64_t(x.size()));
          std::vector<float> got(n_tok * y_stride, -1.f);
          (t == DType::kF16 ? k_.gemm_f16 : k_.gemm_bf16)(tm.m.data, tm.m.row_bytes, rows, cols, x.data(), x_stride,
                                                          n_tok, got.data(), y_stride);
          for (int64_t tok = 0; tok < n_tok; ++tok) {
            for (int64_t r = 0; r < rows; ++r) {
              const float* w = tm.deq.data() + r * cols;
              const float* xt = x.data() + tok * x_stride;
              double exact = 0;
              for (int64_t i = 0; i < cols; ++i) exact += double(w[i]) * double(xt[i]);
              ASSERT_NEAR(got[tok * y_stride + r], exact, cols * kU * abs_dot(w, xt, cols) + 1e-30)
                  << dtype_name(t) << " cols " << cols << " rows " << rows << " n_tok " << n_tok << " r " << r;
            }
            for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(got[tok * y_stride + r], -1.f);
          }
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
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ5_K,
                  DType::kQ6_K, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kI8G32, DType::kI8G64,
                  DType::kI8G128, DType::kI4G32, DType::kI4G64, DType::kI4G128}) {
   for (int64_t n_tok : {int64_t(3), int64_t(5), kGemmMinTokens + 3}) {  // 5: AVX-512's block-type GEMMs
    const bool k_quant = t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ6_K;
    const int64_t rows = 37, cols = k_quant ? 512 : dtype_info(t).block_elems > 32 ? 640 : 96;
    const int64_t x_stride = cols + 5, y_stride = rows + 3;
    const auto tm = random_matrix(t, rows, cols, 11);
    const auto x = random_floats(n_tok * x_stride, 12);
    std::vector<float> got(n_tok * y_stride, -1.f), want(n_tok * y_stride, -1.f);
    matmul(tm.m, x.data(), n_tok, x_stride, got.data(), y_stride, pool);
    matmul_reference(tm.m, x.data(), n_tok, x_stride, want.data(), y_stride, pool);
    const bool quantized_act = t != DType::kF32 && t != DType::kF16 && t != DType::kBF16;
    const int act_block = k_quant ? kActBlockK : kActBlock;
    for (int64_t tok = 0; tok < n_tok; ++tok) {
      const float* xt = x.data() + tok * x_stride;
      for (int64_t r = 0; r < rows; ++r) {
        const float* w = tm.deq.data() + r * cols;
        double tol = 2 * cols * kU * abs_dot(w, xt, cols);
        if (quantized_act) {
          for (int64_t b = 0; b < cols / act_block; ++b) {
            float amax = 0;
            double wsum = 0;
            for (int j = 0; j < act_block; ++j) {
              amax = std::max(amax, std::fabs(xt[b * act_block + j]));
              wsum += std::fabs(w[b * act_block + j]);
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
}

// The avx512bf16 and neonbf16 levels run BF16 GEMMs as bf16 dot products
// (vdpbf16ps, BFDOT: two products per f32 lane) instead of widening the
// weights for f32 FMAs as the level below does. With the activation rounded
// to bf16 both compute exact products and differ only in how the f32 sums
// are ordered and rounded; here on shapes that cover whole column steps,
// column tails, odd widths (a pair with one column) and partial panels, and
// token counts on both sides of their token blocks (8 and 4).
TEST(Bf16Products, GemmIsItsOwnAndMatchesTheWidenedGemm) {
  int tested = 0;
  for (const auto& [level, below] : {std::pair{Isa::kAvx512Bf16, Isa::kAvx512Vbmi}, std::pair{Isa::kNeonBf16, Isa::kNeonI8mm}}) {
    if (!isa_supported(level)) continue;
    ++tested;
    const Kernels bf16 = make_kernels(level), wide = make_kernels(below);
    EXPECT_EQ(std::string(bf16.isa), std::string(isa_name(level)));
    EXPECT_NE(bf16.gemm_bf16, wide.gemm_bf16);
    EXPECT_EQ(bf16.gemm_f16, wide.gemm_f16);  // only BF16 weights change
    for (int64_t cols : {1, 31, 64, 95, 1024 + 2}) {
      for (int64_t rows : {7, 32, 50}) {
        for (int64_t n_tok : {1, 3, 8, 9, 20}) {
          const auto tm = random_matrix(DType::kBF16, rows, cols, uint32_t(rows * 7 + cols * 3 + n_tok));
          auto x = random_floats(n_tok * cols, uint32_t(cols + n_tok));
          round_to_bf16(x.data(), x.data(), int64_t(x.size()));
          std::vector<float> got(n_tok * rows), want(n_tok * rows);
          bf16.gemm_bf16(tm.m.data, tm.m.row_bytes, rows, cols, x.data(), cols, n_tok, got.data(), rows);
          wide.gemm_bf16(tm.m.data, tm.m.row_bytes, rows, cols, x.data(), cols, n_tok, want.data(), rows);
          for (int64_t t = 0; t < n_tok; ++t) {
            for (int64_t r = 0; r < rows; ++r) {
              const float* w = tm.deq.data() + r * cols;
              ASSERT_NEAR(got[t * rows + r], want[t * rows + r], 2 * cols * kU * abs_dot(w, x.data() + t * cols, cols))
                  << isa_name(level) << " cols " << cols << " rows " << rows << " n_tok " << n_tok << " row " << r
                  << " token " << t;
            }
          }
        }
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no bf16 dot product (AVX512-BF16, FEAT_BF16) on this CPU or build";
}

// The avx2vnni level is the AVX2 source built with vpdpbusd in place of
// vpmaddubsw + vpmaddwd (x86/avx2/avx2_util.h). Both give exact int32 sums,
// so its int8 kernels must equal AVX2's bit for bit: on random inputs, and
// on activations of +-127 only, which push every pair sum of the AVX2 form
// (and the K-quant GEMMs' int16 sums over several steps) to its largest.
// The exception is the GEMM of int8 weights, which this level runs as
// unsigned panels (gemm_avx2.cpp): exact integer sums too, added up in
// another order, so it is held to the f32 rounding bound of
// GemmMatchesRowKernels instead.
TEST(AvxVnni, IntegerKernelsMatchAvx2BitForBit) {
  if (!isa_supported(Isa::kAvx2Vnni)) GTEST_SKIP() << "no AVX-VNNI on this CPU or build";
  const Kernels avx2 = make_kernels(Isa::kAvx2), vnni = make_kernels(Isa::kAvx2Vnni),
                scalar = make_kernels(Isa::kScalar);
  EXPECT_STREQ(vnni.isa, "avx2vnni");
  // Really another build of the kernels, not the AVX2 entries again.
  EXPECT_NE(vnni.dot_rows_q8_0, avx2.dot_rows_q8_0);
  EXPECT_NE(vnni.gemm_q4_k, avx2.gemm_q4_k);
  auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  for (bool extreme : {false, true}) {
    for (int64_t cols : {256, 1280, 4096 + 256}) {
      const int64_t rows = 21, n_tok = 7;
      auto x = random_floats(n_tok * cols, uint32_t(cols) + (extreme ? 1 : 0));
      if (extreme) {
        for (float& v : x) v = v < 0 ? -1.f : 1.f;  // every quantized value +-127
      }
      const QuantizedAct act(scalar, x, n_tok);
      const auto& [qs, d, xq_all, sums] = act;
      std::vector<QuantizedVector> xs;
      for (int64_t t = 0; t < n_tok; ++t) xs.push_back({qs.data() + t * cols, d.data() + t * (cols / kActBlock), cols});
      for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kI8G64, DType::kI8G128, DType::kI4G64, DType::kI4G128}) {
        const auto tm = random_matrix(t, rows, cols, uint32_t(cols + int(t)));
        std::vector<float> a(rows), b(rows);
        quant_entry(avx2, t)(tm.m.data, tm.m.row_bytes, rows, cols, xs[0], a.data());
        quant_entry(vnni, t)(tm.m.data, tm.m.row_bytes, rows, cols, xs[0], b.data());
        EXPECT_TRUE(same(a, b)) << "rows " << dtype_name(t) << " cols " << cols << " extreme " << extreme;
        std::vector<float> ga(n_tok * rows), gb(n_tok * rows);
        q8_gemm_entry(avx2, t)(tm.m.data, tm.m.row_bytes, rows, cols, qs.data(), d.data(), sums.data(), n_tok,
                               ga.data(), rows);
        q8_gemm_entry(vnni, t)(tm.m.data, tm.m.row_bytes, rows, cols, qs.data(), d.data(), sums.data(), n_tok,
                               gb.data(), rows);
        const bool int8 = t == DType::kQ8_0 || t == DType::kI8G64 || t == DType::kI8G128;
        if (!int8) {
          EXPECT_TRUE(same(ga, gb)) << "GEMM " << dtype_name(t) << " cols " << cols << " extreme " << extreme;
        } else {
          for (int64_t tok = 0; tok < n_tok; ++tok) {
            for (int64_t r = 0; r < rows; ++r) {
              const double s_q = abs_dot(tm.deq.data() + r * cols, xq_all.data() + tok * cols, cols);
              ASSERT_NEAR(gb[tok * rows + r], ga[tok * rows + r], 8 * (cols / kActBlock + 8) * kU * s_q)
                  << "GEMM " << dtype_name(t) << " cols " << cols << " extreme " << extreme;
            }
          }
        }
        if (t == DType::kQ8_0 || t == DType::kQ4_0) {
          const auto multi = [&](const Kernels& k) {
            return t == DType::kQ8_0 ? k.dot_rows_q8_0_multi : k.dot_rows_q4_0_multi;
          };
          multi(avx2)(tm.m.data, tm.m.row_bytes, rows, cols, xs.data(), int(n_tok), ga.data(), rows);
          multi(vnni)(tm.m.data, tm.m.row_bytes, rows, cols, xs.data(), int(n_tok), gb.data(), rows);
          EXPECT_TRUE(same(ga, gb)) << "multi-token rows " << dtype_name(t) << " cols " << cols;
        }
      }
      for (DType t : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
        const auto tm = random_matrix(t, rows, cols, uint32_t(cols + 5 * int(t)));
        std::vector<float> ga(n_tok * rows), gb(n_tok * rows);
        gemm_entry(avx2, t)(tm.m.data, tm.m.row_bytes, rows, cols, qs.data(), d.data(), sums.data(), n_tok,
                            ga.data(), rows);
        gemm_entry(vnni, t)(tm.m.data, tm.m.row_bytes, rows, cols, qs.data(), d.data(), sums.data(), n_tok,
                            gb.data(), rows);
        EXPECT_TRUE(same(ga, gb)) << "GEMM " << dtype_name(t) << " cols " << cols << " extreme " << extreme;
      }
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
