// DType metadata plus GGML block-format (de)quantization.
//
// Block layouts follow ggml's ggml-common.h byte for byte (all little-endian,
// fp16 scales). Multi-byte fields are assembled from single bytes, so blocks
// may sit at any alignment inside a mapped file.
#include "format/dtype.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/half.h"
#include "format/group_quant.h"
#include "nagi/error.hpp"

namespace nagi {

namespace {

constexpr int kQK4_0 = 32, kQK4_1 = 32, kQK5_0 = 32, kQK5_1 = 32, kQK8_0 = 32;
constexpr int kQK_K = 256;
constexpr int kScaleBytesK = 12;  // 8 six-bit scales + 8 six-bit mins

// Sizes of ggml's block structs.
constexpr int kBytesQ4_0 = 2 + kQK4_0 / 2;                           // 18
constexpr int kBytesQ4_1 = 2 + 2 + kQK4_1 / 2;                       // 20
constexpr int kBytesQ5_0 = 2 + 4 + kQK5_0 / 2;                       // 22
constexpr int kBytesQ5_1 = 2 + 2 + 4 + kQK5_1 / 2;                   // 24
constexpr int kBytesQ8_0 = 2 + kQK8_0;                               // 34
constexpr int kBytesQ4_K = 2 + 2 + kScaleBytesK + kQK_K / 2;         // 144
constexpr int kBytesQ5_K = 2 + 2 + kScaleBytesK + kQK_K / 8 + kQK_K / 2;  // 176
constexpr int kBytesQ6_K = kQK_K / 2 + kQK_K / 4 + kQK_K / 16 + 2;   // 210

// Indexed by DType's underlying value; order must match the enum.
constexpr std::array<DTypeInfo, 26> kInfo = {{
    {"F32", 1, 4, true},
    {"F16", 1, 2, true},
    {"BF16", 1, 2, true},
    {"F64", 1, 8, true},
    {"I8", 1, 1, false},
    {"I16", 1, 2, false},
    {"I32", 1, 4, false},
    {"I64", 1, 8, false},
    {"U8", 1, 1, false},
    {"BOOL", 1, 1, false},
    {"Q4_0", kQK4_0, kBytesQ4_0, true},
    {"Q4_1", kQK4_1, kBytesQ4_1, true},
    {"Q5_0", kQK5_0, kBytesQ5_0, true},
    {"Q5_1", kQK5_1, kBytesQ5_1, true},
    {"Q8_0", kQK8_0, kBytesQ8_0, true},
    {"Q4_K", kQK_K, kBytesQ4_K, true},
    {"Q5_K", kQK_K, kBytesQ5_K, true},
    {"Q6_K", kQK_K, kBytesQ6_K, true},
    {"Q4_0x16", 16 * kQK4_0, 16 * kBytesQ4_0, true},
    {"Q8_0x16", 16 * kQK8_0, 16 * kBytesQ8_0, true},
    // nagi's group types (format/group_quant.h): f16 scale + int8 codes or
    // int4 nibbles per group.
    {"I8G32", 32, 2 + 32, true},
    {"I8G64", 64, 2 + 64, true},
    {"I8G128", 128, 2 + 128, true},
    {"I4G32", 32, 2 + 16, true},
    {"I4G64", 64, 2 + 32, true},
    {"I4G128", 128, 2 + 64, true},
}};

struct GgmlId {
  uint32_t id;
  DType dtype;
};
constexpr GgmlId kGgmlIds[] = {
    {0, DType::kF32},   {1, DType::kF16},   {2, DType::kQ4_0},  {3, DType::kQ4_1},
    {6, DType::kQ5_0},  {7, DType::kQ5_1},  {8, DType::kQ8_0},  {12, DType::kQ4_K},
    {13, DType::kQ5_K}, {14, DType::kQ6_K}, {24, DType::kI8},   {25, DType::kI16},
    {26, DType::kI32},  {27, DType::kI64},  {28, DType::kF64},  {30, DType::kBF16},
    // nagi's own types: a private range no GGML id comes near (GGML's ids are
    // below 64), so GGUF files with them can only be read by nagi.
    {kNagiGgufTypeBase + 0, DType::kI8G32}, {kNagiGgufTypeBase + 1, DType::kI8G64},
    {kNagiGgufTypeBase + 2, DType::kI8G128}, {kNagiGgufTypeBase + 3, DType::kI4G32},
    {kNagiGgufTypeBase + 4, DType::kI4G64}, {kNagiGgufTypeBase + 5, DType::kI4G128},
    // Q4_0 / Q8_0 stored in the x16 superblocks the AVX-512 kernels stream
    // (`nagi repack`), so such files load with no repacking copy.
    {kNagiGgufTypeBase + 6, DType::kQ4_0x16}, {kNagiGgufTypeBase + 7, DType::kQ8_0x16},
};

inline uint16_t load_u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline void store_u16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
inline void store_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline float load_half(const uint8_t* p) { return fp16_to_f32(load_u16(p)); }

// Round half away from zero, like ggml's nearest_int for the values we feed it.
inline int round_int(float x) { return int(std::lround(x)); }

// ---- Dequantization -------------------------------------------------------

void dequant_q4_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < kQK4_0 / 2; ++j) {
    y[j] = float((qs[j] & 0x0f) - 8) * d;
    y[j + kQK4_0 / 2] = float((qs[j] >> 4) - 8) * d;
  }
}

// Q4_0x16 / Q8_0x16: block j's scale at b + 2j, its values at
// b + 32 + j * (block bytes - 2).
void dequant_q4_0x16(const uint8_t* b, float* y) {
  for (int j = 0; j < 16; ++j) {
    const float d = load_half(b + 2 * j);
    const uint8_t* qs = b + 32 + 16 * j;
    for (int e = 0; e < kQK4_0 / 2; ++e) {
      y[kQK4_0 * j + e] = float((qs[e] & 0x0f) - 8) * d;
      y[kQK4_0 * j + e + kQK4_0 / 2] = float((qs[e] >> 4) - 8) * d;
    }
  }
}
void dequant_q8_0x16(const uint8_t* b, float* y) {
  for (int j = 0; j < 16; ++j) {
    const float d = load_half(b + 2 * j);
    const auto* qs = reinterpret_cast<const int8_t*>(b + 32 + kQK8_0 * j);
    for (int e = 0; e < kQK8_0; ++e) y[kQK8_0 * j + e] = float(qs[e]) * d;
  }
}

void dequant_q4_1(const uint8_t* b, float* y) {
  const float d = load_half(b), m = load_half(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < kQK4_1 / 2; ++j) {
    y[j] = float(qs[j] & 0x0f) * d + m;
    y[j + kQK4_1 / 2] = float(qs[j] >> 4) * d + m;
  }
}

// Q5: the low 4 bits live in qs (two per byte), the fifth bit of element j in
// bit j of the 32-bit qh word.
void dequant_q5_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const uint32_t qh = load_u32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < kQK5_0 / 2; ++j) {
    const int hi0 = (qh >> j) & 1, hi1 = (qh >> (j + kQK5_0 / 2)) & 1;
    y[j] = float(((qs[j] & 0x0f) | (hi0 << 4)) - 16) * d;
    y[j + kQK5_0 / 2] = float(((qs[j] >> 4) | (hi1 << 4)) - 16) * d;
  }
}

void dequant_q5_1(const uint8_t* b, float* y) {
  const float d = load_half(b), m = load_half(b + 2);
  const uint32_t qh = load_u32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < kQK5_1 / 2; ++j) {
    const int hi0 = (qh >> j) & 1, hi1 = (qh >> (j + kQK5_1 / 2)) & 1;
    y[j] = float((qs[j] & 0x0f) | (hi0 << 4)) * d + m;
    y[j + kQK5_1 / 2] = float((qs[j] >> 4) | (hi1 << 4)) * d + m;
  }
}

void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  for (int j = 0; j < kQK8_0; ++j) y[j] = float(int8_t(b[2 + j])) * d;
}

// The 12 scale bytes of Q4_K/Q5_K hold eight 6-bit (scale, min) pairs: pairs
// 0-3 in the low 6 bits of bytes 0-3 / 4-7; pairs 4-7 keep their low nibbles
// in bytes 8-11 and their top 2 bits in the spare high bits of bytes 0-7.
void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = load_half(b), dmin = load_half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 4 + kScaleBytesK;
  // Each 64-value chunk uses 32 bytes: low nibbles are sub-block 2c, high
  // nibbles sub-block 2c+1.
  for (int c = 0; c < kQK_K / 64; ++c) {
    int sc0, m0, sc1, m1;
    scale_min_k4(2 * c, scales, &sc0, &m0);
    scale_min_k4(2 * c + 1, scales, &sc1, &m1);
    const float d0 = d * float(sc0), mm0 = dmin * float(m0);
    const float d1 = d * float(sc1), mm1 = dmin * float(m1);
    for (int l = 0; l < 32; ++l) y[l] = d0 * float(q[l] & 0x0f) - mm0;
    for (int l = 0; l < 32; ++l) y[32 + l] = d1 * float(q[l] >> 4) - mm1;
    q += 32;
    y += 64;
  }
}

void dequant_q5_k(const uint8_t* b, float* y) {
  const float d = load_half(b), dmin = load_half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 4 + kScaleBytesK;
  const uint8_t* ql = qh + kQK_K / 8;
  // Like Q4_K, plus a fifth bit per value: qh[l] bit 2c for value l of
  // sub-block 2c and bit 2c+1 for sub-block 2c+1.
  for (int c = 0; c < kQK_K / 64; ++c) {
    int sc0, m0, sc1, m1;
    scale_min_k4(2 * c, scales, &sc0, &m0);
    scale_min_k4(2 * c + 1, scales, &sc1, &m1);
    const float d0 = d * float(sc0), mm0 = dmin * float(m0);
    const float d1 = d * float(sc1), mm1 = dmin * float(m1);
    for (int l = 0; l < 32; ++l) {
      const int hi = (qh[l] >> (2 * c)) & 1;
      y[l] = d0 * float((ql[l] & 0x0f) | (hi << 4)) - mm0;
    }
    for (int l = 0; l < 32; ++l) {
      const int hi = (qh[l] >> (2 * c + 1)) & 1;
      y[32 + l] = d1 * float((ql[l] >> 4) | (hi << 4)) - mm1;
    }
    ql += 32;
    y += 64;
  }
}

void dequant_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + kQK_K / 2;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + kQK_K / 2 + kQK_K / 4);
  const float d = load_half(b + kQK_K / 2 + kQK_K / 4 + kQK_K / 16);
  // Two halves of 128 values. Within a half, values l and l+32 take the low
  // nibbles of ql[l] and ql[l+32], values l+64 and l+96 their high nibbles;
  // value l + 32k takes its top 2 bits from qh[l] bits 2k..2k+1. Sixteen
  // consecutive values share one int8 scale.
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * float(sc[is + 0]) * float(q1);
      y[l + 32] = d * float(sc[is + 2]) * float(q2);
      y[l + 64] = d * float(sc[is + 4]) * float(q3);
      y[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

// ---- Quantization ---------------------------------------------------------

// The value with the largest magnitude, keeping its sign (ggml maps it to the
// most negative code so the full code range is used).
float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

void quant_q4_0(const float* x, uint8_t* b) {
  const float d = signed_absmax(x, kQK4_0) / -8.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_u16(b, f32_to_fp16(d));
  for (int j = 0; j < kQK4_0 / 2; ++j) {
    const int q0 = std::clamp(int(x[j] * id + 8.5f), 0, 15);
    const int q1 = std::clamp(int(x[j + kQK4_0 / 2] * id + 8.5f), 0, 15);
    b[2 + j] = uint8_t(q0 | (q1 << 4));
  }
}

void min_max(const float* x, int n, float* lo, float* hi) {
  *lo = std::numeric_limits<float>::max();
  *hi = -std::numeric_limits<float>::max();
  for (int i = 0; i < n; ++i) {
    *lo = std::min(*lo, x[i]);
    *hi = std::max(*hi, x[i]);
  }
}

void quant_q4_1(const float* x, uint8_t* b) {
  float lo, hi;
  min_max(x, kQK4_1, &lo, &hi);
  const float d = (hi - lo) / 15.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_u16(b, f32_to_fp16(d));
  store_u16(b + 2, f32_to_fp16(lo));
  for (int j = 0; j < kQK4_1 / 2; ++j) {
    const int q0 = std::clamp(int((x[j] - lo) * id + 0.5f), 0, 15);
    const int q1 = std::clamp(int((x[j + kQK4_1 / 2] - lo) * id + 0.5f), 0, 15);
    b[4 + j] = uint8_t(q0 | (q1 << 4));
  }
}

void quant_q5_0(const float* x, uint8_t* b) {
  const float d = signed_absmax(x, kQK5_0) / -16.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_u16(b, f32_to_fp16(d));
  uint32_t qh = 0;
  for (int j = 0; j < kQK5_0 / 2; ++j) {
    const int q0 = std::clamp(int(x[j] * id + 16.5f), 0, 31);
    const int q1 = std::clamp(int(x[j + kQK5_0 / 2] * id + 16.5f), 0, 31);
    b[6 + j] = uint8_t((q0 & 0x0f) | ((q1 & 0x0f) << 4));
    qh |= uint32_t(q0 >> 4) << j;
    qh |= uint32_t(q1 >> 4) << (j + kQK5_0 / 2);
  }
  store_u32(b + 2, qh);
}

void quant_q5_1(const float* x, uint8_t* b) {
  float lo, hi;
  min_max(x, kQK5_1, &lo, &hi);
  const float d = (hi - lo) / 31.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_u16(b, f32_to_fp16(d));
  store_u16(b + 2, f32_to_fp16(lo));
  uint32_t qh = 0;
  for (int j = 0; j < kQK5_1 / 2; ++j) {
    const int q0 = std::clamp(int((x[j] - lo) * id + 0.5f), 0, 31);
    const int q1 = std::clamp(int((x[j + kQK5_1 / 2] - lo) * id + 0.5f), 0, 31);
    b[8 + j] = uint8_t((q0 & 0x0f) | ((q1 & 0x0f) << 4));
    qh |= uint32_t(q0 >> 4) << j;
    qh |= uint32_t(q1 >> 4) << (j + kQK5_1 / 2);
  }
  store_u32(b + 4, qh);
}

void quant_q8_0(const float* x, uint8_t* b) {
  float amax = 0;
  for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_u16(b, f32_to_fp16(d));
  for (int j = 0; j < kQK8_0; ++j) {
    b[2 + j] = uint8_t(int8_t(std::clamp(round_int(x[j] * id), -127, 127)));
  }
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): one affine (scale, min) per 32
// values, both then quantized to 6 bits against per-block fp16 d / dmin.
// Writes d, dmin and the packed scales; L receives codes 0..nmax.
void quant_k_affine(const float* x, uint8_t* b, int nmax, uint8_t* L) {
  float scales[8], mins[8];
  float max_scale = 0, max_min = 0;
  for (int s = 0; s < 8; ++s) {
    float lo, hi;
    min_max(x + 32 * s, 32, &lo, &hi);
    // The format stores y = d*q - m with m >= 0, so the range must include 0.
    lo = std::min(lo, 0.0f);
    scales[s] = (hi - lo) / float(nmax);
    mins[s] = -lo;
    max_scale = std::max(max_scale, scales[s]);
    max_min = std::max(max_min, mins[s]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int s = 0; s < 8; ++s) {
    // Round the scale up so the largest value still fits in nmax codes.
    ls[s] = uint8_t(std::clamp(int(std::ceil(inv_scale * scales[s])), 0, 63));
    lm[s] = uint8_t(std::clamp(round_int(inv_min * mins[s]), 0, 63));
  }
  const uint16_t d_bits = f32_to_fp16(max_scale / 63.0f);
  const uint16_t dmin_bits = f32_to_fp16(max_min / 63.0f);
  store_u16(b, d_bits);
  store_u16(b + 2, dmin_bits);
  uint8_t* packed = b + 4;
  std::memset(packed, 0, kScaleBytesK);
  for (int s = 0; s < 8; ++s) {
    if (s < 4) {
      packed[s] = ls[s];
      packed[s + 4] = lm[s];
    } else {
      packed[s + 4] = uint8_t((ls[s] & 0x0f) | ((lm[s] & 0x0f) << 4));
      packed[s - 4] |= uint8_t((ls[s] >> 4) << 6);
      packed[s] |= uint8_t((lm[s] >> 4) << 6);
    }
  }
  // Codes are chosen against the scales as they will be decoded (after fp16
  // and 6-bit rounding), so rounding of the scales does not bias the values.
  const float d = fp16_to_f32(d_bits), dmin = fp16_to_f32(dmin_bits);
  for (int s = 0; s < 8; ++s) {
    const float sd = d * float(ls[s]);
    const float sm = dmin * float(lm[s]);
    for (int i = 0; i < 32; ++i) {
      const int q = sd > 0 ? round_int((x[32 * s + i] + sm) / sd) : 0;
      L[32 * s + i] = uint8_t(std::clamp(q, 0, nmax));
    }
  }
}

void quant_q4_k(const float* x, uint8_t* b) {
  uint8_t L[kQK_K];
  quant_k_affine(x, b, 15, L);
  uint8_t* q = b + 4 + kScaleBytesK;
  for (int c = 0; c < kQK_K / 64; ++c) {
    for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    q += 32;
  }
}

void quant_q5_k(const float* x, uint8_t* b) {
  uint8_t L[kQK_K];
  quant_k_affine(x, b, 31, L);
  uint8_t* qh = b + 4 + kScaleBytesK;
  uint8_t* ql = qh + kQK_K / 8;
  std::memset(qh, 0, kQK_K / 8);
  for (int c = 0; c < kQK_K / 64; ++c) {
    for (int l = 0; l < 32; ++l) {
      const int a = L[64 * c + l], h = L[64 * c + 32 + l];
      ql[l] = uint8_t((a & 0x0f) | ((h & 0x0f) << 4));
      qh[l] |= uint8_t(((a >> 4) << (2 * c)) | ((h >> 4) << (2 * c + 1)));
    }
    ql += 32;
  }
}

void quant_q6_k(const float* x, uint8_t* b) {
  // Symmetric: 16 values per int8 scale, codes -32..31, one fp16 d per block.
  float scales[16];
  float max_scale = 0, max_abs_scale = 0;
  for (int s = 0; s < 16; ++s) {
    scales[s] = signed_absmax(x + 16 * s, 16) / -32.0f;
    if (std::fabs(scales[s]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[s]);
      max_scale = scales[s];
    }
  }
  uint8_t* ql = b;
  uint8_t* qh = b + kQK_K / 2;
  int8_t* sc = reinterpret_cast<int8_t*>(b + kQK_K / 2 + kQK_K / 4);
  uint8_t* d_ptr = b + kQK_K / 2 + kQK_K / 4 + kQK_K / 16;
  const float iscale = max_scale != 0 ? -128.0f / max_scale : 0.0f;
  const uint16_t d_bits = f32_to_fp16(max_scale != 0 ? 1.0f / iscale : 0.0f);
  store_u16(d_ptr, d_bits);
  const float d = fp16_to_f32(d_bits);
  uint8_t L[kQK_K];
  for (int s = 0; s < 16; ++s) {
    sc[s] = int8_t(std::clamp(round_int(iscale * scales[s]), -128, 127));
    const float sd = d * float(sc[s]);
    for (int i = 0; i < 16; ++i) {
      const int q = sd != 0 ? round_int(x[16 * s + i] / sd) : 0;
      L[16 * s + i] = uint8_t(std::clamp(q, -32, 31) + 32);
    }
  }
  for (int half = 0; half < 2; ++half) {
    const uint8_t* Lh = L + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
      ql[l] = uint8_t((q1 & 0x0f) | ((q3 & 0x0f) << 4));
      ql[l + 32] = uint8_t((q2 & 0x0f) | ((q4 & 0x0f) << 4));
      qh[l] = uint8_t((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
    ql += 64;
    qh += 32;
  }
}

using BlockFn = void (*)(const uint8_t*, float*);
using QuantFn = void (*)(const float*, uint8_t*);

void check_whole_blocks(DType t, int64_t n, const char* what) {
  const DTypeInfo& info = dtype_info(t);
  if (n < 0 || n % info.block_elems != 0) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(what) + ": " + std::to_string(n) + " elements is not a whole number of " +
                    std::string(info.name) + " blocks (" + std::to_string(info.block_elems) + ")");
  }
}

}  // namespace

const DTypeInfo& dtype_info(DType t) {
  const auto i = static_cast<size_t>(t);
  NAGI_CHECK(i < kInfo.size());
  return kInfo[i];
}

std::optional<size_t> dtype_bytes(DType t, uint64_t n) {
  const DTypeInfo& info = dtype_info(t);
  if (n % uint64_t(info.block_elems) != 0) return std::nullopt;
  const uint64_t blocks = n / uint64_t(info.block_elems);
  if (blocks > std::numeric_limits<size_t>::max() / uint64_t(info.block_bytes)) return std::nullopt;
  return size_t(blocks * uint64_t(info.block_bytes));
}

std::optional<DType> dtype_from_ggml(uint32_t ggml_type) {
  for (const GgmlId& g : kGgmlIds) {
    if (g.id == ggml_type) return g.dtype;
  }
  return std::nullopt;
}

uint32_t dtype_to_ggml(DType t) {
  for (const GgmlId& g : kGgmlIds) {
    if (g.dtype == t) return g.id;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "dtype " + std::string(dtype_name(t)) + " has no GGML type id");
}

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  check_whole_blocks(t, n, "dequantize_row");
  const auto* s = static_cast<const uint8_t*>(src);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, s, size_t(n) * 4);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(load_u16(s + 2 * i));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(s + 2 * i));
      return;
    case DType::kF64:
      for (int64_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, s + 8 * i, 8);
        dst[i] = float(v);
      }
      return;
    default:
      break;
  }
  if (group_quant_of(t)) {
    dequantize_groups(t, s, dst, n / dtype_info(t).block_elems);
    return;
  }
  BlockFn fn = nullptr;
  switch (t) {
    case DType::kQ4_0: fn = dequant_q4_0; break;
    case DType::kQ4_0x16: fn = dequant_q4_0x16; break;
    case DType::kQ8_0x16: fn = dequant_q8_0x16; break;
    case DType::kQ4_1: fn = dequant_q4_1; break;
    case DType::kQ5_0: fn = dequant_q5_0; break;
    case DType::kQ5_1: fn = dequant_q5_1; break;
    case DType::kQ8_0: fn = dequant_q8_0; break;
    case DType::kQ4_K: fn = dequant_q4_k; break;
    case DType::kQ5_K: fn = dequant_q5_k; break;
    case DType::kQ6_K: fn = dequant_q6_k; break;
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  "dequantize_row: " + std::string(dtype_name(t)) + " is not a float type");
  }
  const DTypeInfo& info = dtype_info(t);
  const int64_t blocks = n / info.block_elems;
  for (int64_t i = 0; i < blocks; ++i) fn(s + i * info.block_bytes, dst + i * info.block_elems);
}

DType x16_of(DType from) {
  // I4G32 / I8G32 blocks are byte for byte Q4_0 / Q8_0 blocks.
  if (from == DType::kQ4_0 || from == DType::kI4G32) return DType::kQ4_0x16;
  if (from == DType::kQ8_0 || from == DType::kI8G32) return DType::kQ8_0x16;
  throw Error(ErrorCode::kInvalidArgument, "repack_x16: no superblock layout for " + std::string(dtype_name(from)));
}

namespace {

// Moves n values between 16-block groups of `blocks` (a 2-byte scale, then
// the payload, per block) and their superblocks (the 16 scales, then the 16
// payloads): into superblocks when to_x16, else back.
void move_x16(DType blocks, const uint8_t* src, uint8_t* dst, int64_t n, bool to_x16) {
  const int block_bytes = dtype_info(blocks).block_bytes, payload = block_bytes - 2;
  for (int64_t sb = 0; sb < n / 512; ++sb, src += 16 * block_bytes, dst += 16 * block_bytes) {
    for (int j = 0; j < 16; ++j) {
      // Block j's bytes in the block layout, and its scale and values in the superblock.
      const size_t block = size_t(j) * block_bytes, scale = 2 * size_t(j), values = 32 + size_t(payload) * j;
      if (to_x16) {
        std::memcpy(dst + scale, src + block, 2);
        std::memcpy(dst + values, src + block + 2, size_t(payload));
      } else {
        std::memcpy(dst + block, src + scale, 2);
        std::memcpy(dst + block + 2, src + values, size_t(payload));
      }
    }
  }
}

}  // namespace

void repack_x16(DType from, const void* src, void* dst, int64_t n) {
  check_whole_blocks(x16_of(from), n, "repack_x16");
  move_x16(from, static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), n, true);
}

DType blocks_of_x16(DType x16) {
  if (x16 == DType::kQ4_0x16) return DType::kQ4_0;
  if (x16 == DType::kQ8_0x16) return DType::kQ8_0;
  throw Error(ErrorCode::kInvalidArgument, "unpack_x16: " + std::string(dtype_name(x16)) + " is not a superblock type");
}

void unpack_x16(DType x16, const void* src, void* dst, int64_t n) {
  const DType to = blocks_of_x16(x16);
  check_whole_blocks(x16, n, "unpack_x16");
  move_x16(to, static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), n, false);
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  check_whole_blocks(t, n, "quantize_row");
  auto* d = static_cast<uint8_t*>(dst);
  if (t == DType::kQ4_0x16 || t == DType::kQ8_0x16) {  // the block type's rounding, then the reordering
    const DType from = t == DType::kQ4_0x16 ? DType::kQ4_0 : DType::kQ8_0;
    std::vector<uint8_t> blocks(*dtype_bytes(from, uint64_t(n)));
    quantize_row(from, src, blocks.data(), n);
    repack_x16(from, blocks.data(), d, n);
    return;
  }
  switch (t) {
    case DType::kF32:
      std::memcpy(d, src, size_t(n) * 4);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) store_u16(d + 2 * i, f32_to_fp16(src[i]));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) store_u16(d + 2 * i, f32_to_bf16(src[i]));
      return;
    default:
      break;
  }
  if (group_quant_of(t)) {
    quantize_groups(t, src, d, n / dtype_info(t).block_elems);
    return;
  }
  QuantFn fn = nullptr;
  switch (t) {
    case DType::kQ4_0: fn = quant_q4_0; break;
    case DType::kQ4_1: fn = quant_q4_1; break;
    case DType::kQ5_0: fn = quant_q5_0; break;
    case DType::kQ5_1: fn = quant_q5_1; break;
    case DType::kQ8_0: fn = quant_q8_0; break;
    case DType::kQ4_K: fn = quant_q4_k; break;
    case DType::kQ5_K: fn = quant_q5_k; break;
    case DType::kQ6_K: fn = quant_q6_k; break;
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  "quantize_row: cannot quantize to " + std::string(dtype_name(t)));
  }
  const DTypeInfo& info = dtype_info(t);
  const int64_t blocks = n / info.block_elems;
  for (int64_t i = 0; i < blocks; ++i) fn(src + i * info.block_elems, d + i * info.block_bytes);
}

}  // namespace nagi
