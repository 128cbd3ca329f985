// dtype tests: the dequantizers are checked against a float64 reference that
// is written here from ggml's block struct definitions, element by element
// (which byte, which bits), independently of the library's loop structure.
#include "format/dtype.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/half.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

// ---- Independent reference decoders --------------------------------------

double ref_half(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
  double v;
  if (exp == 0) {
    v = std::ldexp(double(mant), -24);
  } else if (exp == 31) {
    v = mant ? std::nan("") : INFINITY;
  } else {
    v = std::ldexp(1.0 + mant / 1024.0, exp - 15);
  }
  return sign ? -v : v;
}

double ref_bf16(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 7) & 255, mant = h & 127;
  double v;
  if (exp == 0) {
    v = std::ldexp(double(mant), -133);  // 2^-126 * mant/128
  } else if (exp == 255) {
    v = mant ? std::nan("") : INFINITY;
  } else {
    v = std::ldexp(1.0 + mant / 128.0, exp - 127);
  }
  return sign ? -v : v;
}

uint16_t u16_at(const uint8_t* p) { return uint16_t(p[0] + 256 * p[1]); }
double half_at(const uint8_t* p) { return ref_half(u16_at(p)); }

// Value i's 4-bit code when codes for i and i+half share a byte (low nibble
// for the first half of the range).
int nibble(const uint8_t* qs, int i, int half) {
  const uint8_t byte = qs[i % half];
  return i < half ? (byte & 15) : (byte >> 4);
}

// Each reference returns the value and a magnitude (sum of |terms|) used to
// bound float32 rounding in the library's result.
struct Ref {
  std::vector<double> value, mag;
  void add(double v, double m) {
    value.push_back(v);
    mag.push_back(m);
  }
};

void ref_q4_0(const uint8_t* b, Ref& r) {  // {f16 d; u8 qs[16]}
  const double d = half_at(b);
  for (int i = 0; i < 32; ++i) r.add((nibble(b + 2, i, 16) - 8) * d, std::fabs(8 * d));
}

void ref_q4_1(const uint8_t* b, Ref& r) {  // {f16 d; f16 m; u8 qs[16]}
  const double d = half_at(b), m = half_at(b + 2);
  for (int i = 0; i < 32; ++i) {
    const int q = nibble(b + 4, i, 16);
    r.add(q * d + m, std::fabs(q * d) + std::fabs(m));
  }
}

// qh: 32 bits, bit i is the fifth bit of value i.
int bit_of(const uint8_t* qh, int i) { return (qh[i / 8] >> (i % 8)) & 1; }

void ref_q5_0(const uint8_t* b, Ref& r) {  // {f16 d; u8 qh[4]; u8 qs[16]}
  const double d = half_at(b);
  for (int i = 0; i < 32; ++i) {
    const int q = nibble(b + 6, i, 16) + 16 * bit_of(b + 2, i);
    r.add((q - 16) * d, std::fabs(16 * d));
  }
}

void ref_q5_1(const uint8_t* b, Ref& r) {  // {f16 d; f16 m; u8 qh[4]; u8 qs[16]}
  const double d = half_at(b), m = half_at(b + 2);
  for (int i = 0; i < 32; ++i) {
    const int q = nibble(b + 8, i, 16) + 16 * bit_of(b + 4, i);
    r.add(q * d + m, std::fabs(q * d) + std::fabs(m));
  }
}

void ref_q8_0(const uint8_t* b, Ref& r) {  // {f16 d; i8 qs[32]}
  const double d = half_at(b);
  for (int i = 0; i < 32; ++i) {
    const int q = b[2 + i] < 128 ? b[2 + i] : b[2 + i] - 256;
    r.add(q * d, std::fabs(q * d));
  }
}

// The 12-byte K-quant scale block as 8 (scale, min) pairs of 6 bits each.
// Sub-blocks 0-3: low 6 bits of bytes s (scale) and s+4 (min). Sub-blocks
// 4-7: low 4 bits in byte s+4 (scale low nibble, min high nibble), top 2
// bits in bits 6-7 of bytes s-4 (scale) and s (min).
void k_scale_min(const uint8_t* sc, int s, int* scale, int* min) {
  if (s < 4) {
    *scale = sc[s] % 64;
    *min = sc[s + 4] % 64;
  } else {
    *scale = sc[s + 4] % 16 + 16 * (sc[s - 4] / 64);
    *min = sc[s + 4] / 16 + 16 * (sc[s] / 64);
  }
}

// Q4_K {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}: 8 sub-blocks of 32;
// sub-block s lives in bytes 32*(s/2).. of qs, low nibble if s is even.
void ref_q4_k(const uint8_t* b, Ref& r) {
  const double d = half_at(b), dmin = half_at(b + 2);
  for (int i = 0; i < 256; ++i) {
    const int s = i / 32;
    int sc, mn;
    k_scale_min(b + 4, s, &sc, &mn);
    const uint8_t byte = b[16 + 32 * (s / 2) + i % 32];
    const int q = s % 2 == 0 ? byte % 16 : byte / 16;
    r.add(d * sc * q - dmin * mn, std::fabs(d * sc * q) + std::fabs(dmin * mn));
  }
}

// Q5_K {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: as Q4_K plus
// bit s of qh[i % 32] as the fifth bit.
void ref_q5_k(const uint8_t* b, Ref& r) {
  const double d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int i = 0; i < 256; ++i) {
    const int s = i / 32;
    int sc, mn;
    k_scale_min(b + 4, s, &sc, &mn);
    const uint8_t byte = qs[32 * (s / 2) + i % 32];
    const int q = (s % 2 == 0 ? byte % 16 : byte / 16) + 16 * ((qh[i % 32] >> s) & 1);
    r.add(d * sc * q - dmin * mn, std::fabs(d * sc * q) + std::fabs(dmin * mn));
  }
}

// Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: value i = 128h + 32k + l
// has low nibble from ql[64h + 32(k%2) + l] (high nibble if k >= 2), top two
// bits from qh[32h + l] bits 2k..2k+1, scale scales[i/16], offset -32.
void ref_q6_k(const uint8_t* b, Ref& r) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const uint8_t* sc = b + 192;
  const double d = half_at(b + 208);
  for (int i = 0; i < 256; ++i) {
    const int h = i / 128, k = (i % 128) / 32, l = i % 32;
    const uint8_t lo_byte = ql[64 * h + 32 * (k % 2) + l];
    const int lo = k < 2 ? lo_byte % 16 : lo_byte / 16;
    const int hi = (qh[32 * h + l] >> (2 * k)) & 3;
    const int scale = sc[i / 16] < 128 ? sc[i / 16] : sc[i / 16] - 256;
    const int q = lo + 16 * hi - 32;
    r.add(d * scale * q, std::fabs(d * scale * q));
  }
}

// nagi's group types (format/group_quant.h): {f16 d; G int8 codes} or
// {f16 d; G/2 bytes}, int4 in chunks of 64 values (32 for G = 32) whose byte j
// holds value j (low nibble) and j + chunk/2 (high), each stored as q + 8.
template <int kG>
void ref_i8g(const uint8_t* b, Ref& r) {
  const double d = half_at(b);
  for (int i = 0; i < kG; ++i) r.add(int8_t(b[2 + i]) * d, std::fabs(128 * d));
}

template <int kG>
void ref_i4g(const uint8_t* b, Ref& r) {
  const double d = half_at(b);
  const int chunk = kG < 64 ? kG : 64;
  for (int i = 0; i < kG; ++i) {
    const int c = i / chunk;
    r.add((nibble(b + 2 + c * chunk / 2, i % chunk, chunk / 2) - 8) * d, std::fabs(8 * d));
  }
}

struct QuantCase {
  DType dtype;
  int block_elems, block_bytes;
  std::vector<int> half_fields;  // byte offsets of fp16 scale fields
  void (*ref)(const uint8_t*, Ref&);
};

std::vector<QuantCase> quant_cases() {
  return {
      {DType::kQ4_0, 32, 18, {0}, ref_q4_0},      {DType::kQ4_1, 32, 20, {0, 2}, ref_q4_1},
      {DType::kQ5_0, 32, 22, {0}, ref_q5_0},      {DType::kQ5_1, 32, 24, {0, 2}, ref_q5_1},
      {DType::kQ8_0, 32, 34, {0}, ref_q8_0},      {DType::kQ4_K, 256, 144, {0, 2}, ref_q4_k},
      {DType::kQ5_K, 256, 176, {0, 2}, ref_q5_k}, {DType::kQ6_K, 256, 210, {208}, ref_q6_k},
      {DType::kI8G32, 32, 34, {0}, ref_i8g<32>},  {DType::kI8G64, 64, 66, {0}, ref_i8g<64>},
      {DType::kI8G128, 128, 130, {0}, ref_i8g<128>}, {DType::kI4G32, 32, 18, {0}, ref_i4g<32>},
      {DType::kI4G64, 64, 34, {0}, ref_i4g<64>},  {DType::kI4G128, 128, 66, {0}, ref_i4g<128>},
  };
}

TEST(DType, BlockSizesMatchGgml) {
  for (const QuantCase& c : quant_cases()) {
    EXPECT_EQ(dtype_info(c.dtype).block_elems, c.block_elems) << dtype_name(c.dtype);
    EXPECT_EQ(dtype_info(c.dtype).block_bytes, c.block_bytes) << dtype_name(c.dtype);
    EXPECT_TRUE(dtype_info(c.dtype).is_float);
  }
  EXPECT_EQ(dtype_info(DType::kF16).block_bytes, 2);
  EXPECT_FALSE(dtype_info(DType::kI32).is_float);
}

TEST(DType, Bytes) {
  EXPECT_EQ(dtype_bytes(DType::kF32, 10), 40u);
  EXPECT_EQ(dtype_bytes(DType::kQ4_K, 512), 288u);
  EXPECT_EQ(dtype_bytes(DType::kQ8_0, 64), 68u);
  EXPECT_FALSE(dtype_bytes(DType::kQ8_0, 33).has_value());
  EXPECT_FALSE(dtype_bytes(DType::kF64, uint64_t(1) << 62).has_value());  // overflow
}

TEST(DType, GgmlIds) {
  const std::pair<uint32_t, DType> ids[] = {
      {0, DType::kF32},   {1, DType::kF16},   {2, DType::kQ4_0},  {3, DType::kQ4_1},
      {6, DType::kQ5_0},  {7, DType::kQ5_1},  {8, DType::kQ8_0},  {12, DType::kQ4_K},
      {13, DType::kQ5_K}, {14, DType::kQ6_K}, {24, DType::kI8},   {25, DType::kI16},
      {26, DType::kI32},  {27, DType::kI64},  {28, DType::kF64},  {30, DType::kBF16}};
  for (auto [id, t] : ids) {
    EXPECT_EQ(dtype_from_ggml(id), t) << id;
    EXPECT_EQ(dtype_to_ggml(t), id) << dtype_name(t);
  }
  // nagi's group types: a private range, far from GGML's ids.
  const DType group_types[] = {DType::kI8G32, DType::kI8G64,  DType::kI8G128,  DType::kI4G32,
                               DType::kI4G64, DType::kI4G128, DType::kQ4_0x16, DType::kQ8_0x16};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(dtype_to_ggml(group_types[i]), 0x4E410000u + uint32_t(i));
    EXPECT_EQ(dtype_from_ggml(0x4E410000u + uint32_t(i)), group_types[i]);
  }
  for (uint32_t bad : {4u, 5u, 10u, 11u, 15u, 16u, 29u, 31u, 1000u, 0x4E410008u, 0x4E40FFFFu}) {
    EXPECT_FALSE(dtype_from_ggml(bad).has_value()) << bad;
  }
  EXPECT_THROW(dtype_to_ggml(DType::kBool), Error);
}

uint16_t random_sane_half(std::mt19937& rng) {
  // Normal fp16 with exponent in [2^-10, 2^5], random sign and mantissa.
  const uint32_t sign = rng() & 1, exp = 5 + rng() % 16, mant = rng() % 1024;
  return uint16_t((sign << 15) | (exp << 10) | mant);
}

TEST(DType, DequantizeMatchesReference) {
  std::mt19937 rng(1234);
  for (const QuantCase& c : quant_cases()) {
    SCOPED_TRACE(std::string(dtype_name(c.dtype)));
    const int n_blocks = 64;
    std::vector<uint8_t> raw(size_t(n_blocks) * c.block_bytes);
    for (auto& b : raw) b = uint8_t(rng());
    for (int blk = 0; blk < n_blocks; ++blk) {
      for (int off : c.half_fields) {
        const uint16_t h = random_sane_half(rng);
        raw[size_t(blk) * c.block_bytes + off] = uint8_t(h);
        raw[size_t(blk) * c.block_bytes + off + 1] = uint8_t(h >> 8);
      }
    }
    Ref ref;
    for (int blk = 0; blk < n_blocks; ++blk) c.ref(raw.data() + size_t(blk) * c.block_bytes, ref);
    std::vector<float> out(size_t(n_blocks) * c.block_elems, -12345.0f);
    dequantize_row(c.dtype, raw.data(), out.data(), int64_t(out.size()));
    ASSERT_EQ(ref.value.size(), out.size());
    int bad = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      const double tol = 1e-6 * ref.mag[i] + 1e-30;
      if (std::fabs(out[i] - ref.value[i]) > tol && ++bad <= 5) {
        ADD_FAILURE() << "element " << i << ": got " << out[i] << ", reference " << ref.value[i];
      }
    }
    EXPECT_EQ(bad, 0);
  }
}

TEST(DType, DequantizeRejectsPartialBlocks) {
  std::vector<uint8_t> raw(64);
  std::vector<float> out(64);
  EXPECT_THROW(dequantize_row(DType::kQ8_0, raw.data(), out.data(), 31), Error);
  EXPECT_THROW(quantize_row(DType::kQ4_K, out.data(), raw.data(), 32), Error);
}

struct RoundTripCase {
  DType dtype;
  double max_rel_rmse;  // RMSE / RMS of the input, Gaussian data
};

// Quantize -> dequantize error: each value must be within one quantization
// step of its block (how far a reference quantizer can be off at worst), and
// the overall RMSE must be at the level the bit width allows.
TEST(DType, QuantizeRoundTrip) {
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const RoundTripCase cases[] = {
      // About 15% above what these quantizers reach on Gaussian data.
      {DType::kQ4_0, 0.10}, {DType::kQ4_1, 0.09}, {DType::kQ5_0, 0.05}, {DType::kQ5_1, 0.045},
      {DType::kQ8_0, 0.007}, {DType::kQ4_K, 0.09}, {DType::kQ5_K, 0.045}, {DType::kQ6_K, 0.022},
      {DType::kI8G32, 0.007}, {DType::kI8G64, 0.008}, {DType::kI8G128, 0.009},
      {DType::kI4G32, 0.10}, {DType::kI4G64, 0.11}, {DType::kI4G128, 0.12},
  };
  for (const RoundTripCase& c : cases) {
    SCOPED_TRACE(std::string(dtype_name(c.dtype)));
    const DTypeInfo& info = dtype_info(c.dtype);
    const int n = 256 * 16;
    std::vector<float> x(n);
    for (int i = 0; i < n; ++i) x[i] = normal(rng) * (1.0f + float(i / 256));  // varying scale
    x[5] = 0;  // a zero block element must survive
    std::vector<uint8_t> q(*dtype_bytes(c.dtype, n));
    quantize_row(c.dtype, x.data(), q.data(), n);
    std::vector<float> y(n);
    dequantize_row(c.dtype, q.data(), y.data(), n);
    double se = 0, ss = 0;
    for (int b = 0; b < n / info.block_elems; ++b) {
      float lo = 0, hi = 0, amax = 0;
      for (int i = 0; i < info.block_elems; ++i) {
        const float v = x[b * info.block_elems + i];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        amax = std::max(amax, std::fabs(v));
      }
      const bool int8_codes = c.dtype == DType::kQ8_0 || c.dtype == DType::kI8G32 ||
                              c.dtype == DType::kI8G64 || c.dtype == DType::kI8G128;
      const int levels = int8_codes ? 255
                         : (c.dtype == DType::kQ5_0 || c.dtype == DType::kQ5_1 ||
                            c.dtype == DType::kQ5_K) ? 31
                         : c.dtype == DType::kQ6_K ? 63 : 15;
      const double step = std::max(double(hi - lo), 2.0 * amax) / levels;
      for (int i = 0; i < info.block_elems; ++i) {
        const int k = b * info.block_elems + i;
        const double err = std::fabs(double(y[k]) - x[k]);
        ASSERT_LE(err, 1.2 * step) << "element " << k << " x=" << x[k] << " y=" << y[k];
        se += err * err;
        ss += double(x[k]) * x[k];
      }
    }
    const double rel = std::sqrt(se / ss);
    EXPECT_LT(rel, c.max_rel_rmse);
    EXPECT_GT(rel, 0.0);
  }
}

TEST(DType, QuantizeAllZeros) {
  for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ8_0,
                  DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kI8G32, DType::kI8G64,
                  DType::kI8G128, DType::kI4G32, DType::kI4G64, DType::kI4G128}) {
    std::vector<float> x(256, 0.0f), y(256, 1.0f);
    std::vector<uint8_t> q(*dtype_bytes(t, 256));
    quantize_row(t, x.data(), q.data(), 256);
    dequantize_row(t, q.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f) << dtype_name(t);
  }
}

// I8G32 / I4G32 blocks are Q8_0 / Q4_0 blocks byte for byte (so matmul runs
// them on those kernels): the same bytes decode to the same values.
TEST(DType, GroupG32BlocksAreGgmlBlocks) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int n = 32 * 7;
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  for (auto [own, ggml] : {std::pair{DType::kI8G32, DType::kQ8_0}, std::pair{DType::kI4G32, DType::kQ4_0}}) {
    std::vector<uint8_t> q(*dtype_bytes(own, n));
    quantize_row(own, x.data(), q.data(), n);
    std::vector<float> a(n), b(n);
    dequantize_row(own, q.data(), a.data(), n);
    dequantize_row(ggml, q.data(), b.data(), n);
    EXPECT_EQ(a, b) << dtype_name(own);
  }
}

// The x16 superblocks hold the blocks' bits, reordered: repack then unpack
// gives back the bytes, and both layouts dequantize to the same values.
TEST(DType, X16RepackAndUnpackAreInverse) {
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int n = 512 * 3;
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  for (DType blocks : {DType::kQ4_0, DType::kQ8_0}) {
    const DType x16 = x16_of(blocks);
    EXPECT_EQ(blocks_of_x16(x16), blocks);
    std::vector<uint8_t> q(*dtype_bytes(blocks, n)), packed(q.size()), back(q.size());
    ASSERT_EQ(*dtype_bytes(x16, n), q.size());
    quantize_row(blocks, x.data(), q.data(), n);
    repack_x16(blocks, q.data(), packed.data(), n);
    EXPECT_NE(packed, q) << dtype_name(blocks);  // the layout does change
    unpack_x16(x16, packed.data(), back.data(), n);
    EXPECT_EQ(back, q) << dtype_name(blocks);
    std::vector<float> a(n), b(n);
    dequantize_row(blocks, q.data(), a.data(), n);
    dequantize_row(x16, packed.data(), b.data(), n);
    EXPECT_EQ(a, b) << dtype_name(blocks);
  }
  EXPECT_THROW(blocks_of_x16(DType::kQ4_0), Error);
  std::vector<uint8_t> buf(1024);
  EXPECT_THROW(unpack_x16(DType::kQ8_0x16, buf.data(), buf.data() + 512, 100), Error);  // not whole superblocks
}

// The int4 quantizer searches its scale: per group its squared error is never
// above that of the plain rule d = max|x| / 7 (f16 d, codes round(x / d)
// clamped to [-8, 7]), which is one of its candidates; on Gaussian data it is
// clearly below on average.
TEST(DType, Int4ScaleSearchBeatsMaxOver7) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (DType t : {DType::kI4G32, DType::kI4G64, DType::kI4G128}) {
    const int g = dtype_info(t).block_elems, n = g * 41;
    std::vector<float> x(n), y(n);
    for (float& v : x) v = normal(rng);
    std::vector<uint8_t> q(*dtype_bytes(t, n));
    quantize_row(t, x.data(), q.data(), n);
    dequantize_row(t, q.data(), y.data(), n);
    double total_best = 0, total_plain = 0;
    for (int b = 0; b < n / g; ++b) {
      float amax = 0;
      for (int i = 0; i < g; ++i) amax = std::max(amax, std::fabs(x[b * g + i]));
      const float d = fp16_to_f32(f32_to_fp16(amax / 7.0f));
      double best = 0, plain = 0;
      for (int i = 0; i < g; ++i) {
        const float v = x[b * g + i];
        const int code = std::clamp(int(std::lround(v / d)), -8, 7);
        plain += std::pow(double(v) - double(d) * code, 2);
        best += std::pow(double(v) - double(y[b * g + i]), 2);
      }
      ASSERT_LE(best, plain * (1 + 1e-9)) << dtype_name(t) << " group " << b;
      total_best += best;
      total_plain += plain;
    }
    EXPECT_LT(total_best, 0.95 * total_plain) << dtype_name(t);
  }
}

bool same_float(float a, double ref) {
  if (std::isnan(ref)) return std::isnan(a);
  return double(a) == ref && std::signbit(a) == std::signbit(ref);
}

TEST(Half, Fp16DecodeExhaustive) {
  std::vector<uint8_t> all(65536 * 2);
  for (uint32_t h = 0; h < 65536; ++h) {
    all[2 * h] = uint8_t(h);
    all[2 * h + 1] = uint8_t(h >> 8);
  }
  std::vector<float> out(65536);
  dequantize_row(DType::kF16, all.data(), out.data(), 65536);
  for (uint32_t h = 0; h < 65536; ++h) {
    const double ref = ref_half(uint16_t(h));
    ASSERT_TRUE(same_float(fp16_to_f32(uint16_t(h)), ref)) << std::hex << h;
    ASSERT_TRUE(same_float(out[h], ref)) << std::hex << h;
    if (!std::isnan(ref)) {
      ASSERT_EQ(f32_to_fp16(float(ref)), h) << std::hex << h;
    }
  }
}

// Encoding: halfway between two adjacent halves rounds to the even one, a
// hair either side rounds to the nearer one. Covers subnormals and overflow.
TEST(Half, Fp16EncodeRounding) {
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const double lo = ref_half(uint16_t(h));
    const double hi = h + 1 == 0x7c00 ? 65536.0 : ref_half(uint16_t(h + 1));  // 65536: "next" past max
    const double mid = (lo + hi) / 2;
    const uint16_t even = (h & 1) ? uint16_t(h + 1) : uint16_t(h);
    for (int sign = 0; sign < 2; ++sign) {
      const double s = sign ? -1.0 : 1.0;
      const uint16_t sbit = uint16_t(sign << 15);
      ASSERT_EQ(f32_to_fp16(float(s * mid)), uint16_t(even | sbit)) << std::hex << h;
      ASSERT_EQ(f32_to_fp16(std::nextafter(float(s * mid), 0.0f)), uint16_t(h | sbit)) << std::hex << h;
      ASSERT_EQ(f32_to_fp16(std::nextafter(float(s * mid), float(s * 1e9))), uint16_t((h + 1) | sbit))
          << std::hex << h;
    }
  }
  EXPECT_EQ(f32_to_fp16(1e6f), 0x7c00);
  EXPECT_EQ(f32_to_fp16(-INFINITY), 0xfc00);
  EXPECT_TRUE(std::isnan(fp16_to_f32(f32_to_fp16(NAN))));
}

TEST(Half, Bf16Exhaustive) {
  std::vector<uint8_t> all(65536 * 2);
  for (uint32_t h = 0; h < 65536; ++h) {
    all[2 * h] = uint8_t(h);
    all[2 * h + 1] = uint8_t(h >> 8);
  }
  std::vector<float> out(65536);
  dequantize_row(DType::kBF16, all.data(), out.data(), 65536);
  for (uint32_t h = 0; h < 65536; ++h) {
    const double ref = ref_bf16(uint16_t(h));
    ASSERT_TRUE(same_float(bf16_to_f32(uint16_t(h)), ref)) << std::hex << h;
    ASSERT_TRUE(same_float(out[h], ref)) << std::hex << h;
    if (std::isnan(ref)) continue;
    ASSERT_EQ(f32_to_bf16(float(ref)), h) << std::hex << h;
    // Ties to even between h and the next value of the same sign.
    if ((h & 0x7f80) != 0x7f80 && (h & 0x7fff) != 0x7f7f) {
      const double next = ref_bf16(uint16_t(h + 1));
      const float mid = float((ref + next) / 2);  // 9 significant bits: exact
      ASSERT_EQ(f32_to_bf16(mid), (h & 1) ? h + 1 : h) << std::hex << h;
    }
  }
}

TEST(DType, F16AndBf16QuantizeRow) {
  const float x[4] = {1.0f, -2.5f, 65504.0f, 0.0001f};
  uint8_t buf[8];
  float y[4];
  quantize_row(DType::kF16, x, buf, 4);
  dequantize_row(DType::kF16, buf, y, 4);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], x[i], std::fabs(x[i]) * 1e-3);
  quantize_row(DType::kBF16, x, buf, 4);
  dequantize_row(DType::kBF16, buf, y, 4);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], x[i], std::fabs(x[i]) * 4e-3);
}

}  // namespace
}  // namespace nagi
