// ARMv8-A Advanced SIMD kernels (every AArch64 CPU has them; built with no
// extra flags). The dot-product level (arm/neon_dot/) starts from this table
// and replaces the Q8_0 / Q4_0 block dots with SDOT. Like the x86 files, this
// one includes only intrinsics and table headers and keeps everything in an
// anonymous namespace.
#include <arm_neon.h>

#include <cstring>

#include "kernels/arm/neon_common.h"
#include "kernels/arm/neon_groupq.h"
#include "kernels/arm/neon_kquant.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

// Four f32 lanes of weights from each element type.
inline float32x4_t load4_f32(const uint8_t* p) { return vld1q_f32(reinterpret_cast<const float*>(p)); }
inline float32x4_t load4_f16(const uint8_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
}
// bf16 is the top half of an f32: widen each u16 and shift it up by 16.
inline float32x4_t load4_bf16(const uint8_t* p) {
  return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16));
}

inline float scalar_f32(const uint8_t* p, int64_t i) {
  float f;
  std::memcpy(&f, p + 4 * i, 4);
  return f;
}
inline float scalar_f16(const uint8_t* p, int64_t i) { return neon_half_to_f32(p + 2 * i); }
inline float scalar_bf16(const uint8_t* p, int64_t i) {
  const uint32_t bits = uint32_t(p[2 * i] | (p[2 * i + 1] << 8)) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Four independent accumulators of 4 lanes hide the FMA latency; the tail
// (cols not a multiple of 4, possible for F32/F16/BF16 rows) is done one value
// at a time.
template <int kElemBytes, float32x4_t (*Load)(const uint8_t*), float (*Scalar)(const uint8_t*, int64_t)>
float dot_row(const uint8_t* w, const float* x, int64_t n) {
  float32x4_t acc0 = vdupq_n_f32(0.f), acc1 = vdupq_n_f32(0.f);
  float32x4_t acc2 = vdupq_n_f32(0.f), acc3 = vdupq_n_f32(0.f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = vfmaq_f32(acc0, Load(w + (i + 0) * kElemBytes), vld1q_f32(x + i + 0));
    acc1 = vfmaq_f32(acc1, Load(w + (i + 4) * kElemBytes), vld1q_f32(x + i + 4));
    acc2 = vfmaq_f32(acc2, Load(w + (i + 8) * kElemBytes), vld1q_f32(x + i + 8));
    acc3 = vfmaq_f32(acc3, Load(w + (i + 12) * kElemBytes), vld1q_f32(x + i + 12));
  }
  for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, Load(w + i * kElemBytes), vld1q_f32(x + i));
  float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
  for (; i < n; ++i) s += Scalar(w, i) * x[i];
  return s;
}

float dot_f32(const float* a, const float* b, int64_t n) {
  return dot_row<4, load4_f32, scalar_f32>(reinterpret_cast<const uint8_t*>(a), b, n);
}
float dot_f16(const uint16_t* a, const float* b, int64_t n) {
  return dot_row<2, load4_f16, scalar_f16>(reinterpret_cast<const uint8_t*>(a), b, n);
}

// y += a * x (attention's value rows), four lanes at a time.
template <int kElemBytes, float32x4_t (*Load)(const uint8_t*), float (*Scalar)(const uint8_t*, int64_t)>
void axpy(float a, const uint8_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), Load(x + i * kElemBytes), a));
  for (; i < n; ++i) y[i] += a * Scalar(x, i);
}
void axpy_f32(float a, const float* x, float* y, int64_t n) {
  axpy<4, load4_f32, scalar_f32>(a, reinterpret_cast<const uint8_t*>(x), y, n);
}
void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  axpy<2, load4_f16, scalar_f16>(a, reinterpret_cast<const uint8_t*>(x), y, n);
}

template <int kElemBytes, float32x4_t (*Load)(const uint8_t*), float (*Scalar)(const uint8_t*, int64_t)>
void dot_rows(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const float* x, float* y) {
  for (int64_t r = 0; r < n_rows; ++r) y[r] = dot_row<kElemBytes, Load, Scalar>(w + r * row_bytes, x, cols);
}

// Same arithmetic as the scalar kernel, so the result is bit-identical:
// d = max|x| / 127, q = x * (1 / d) rounded to nearest, ties to even (FCVTNS
// rounds like nearbyint in the default rounding mode); |q| <= 127, so the
// saturating narrows never saturate.
void quantize_act_q8(const float* x, int64_t n, int8_t* qs, float* d) {
  for (int64_t b = 0; b < n / kActBlock; ++b) {
    const float* xb = x + b * kActBlock;
    float32x4_t v[8];
    for (int j = 0; j < 8; ++j) v[j] = vld1q_f32(xb + 4 * j);
    float32x4_t m0 = vmaxq_f32(vabsq_f32(v[0]), vabsq_f32(v[1]));
    float32x4_t m1 = vmaxq_f32(vabsq_f32(v[2]), vabsq_f32(v[3]));
    float32x4_t m2 = vmaxq_f32(vabsq_f32(v[4]), vabsq_f32(v[5]));
    float32x4_t m3 = vmaxq_f32(vabsq_f32(v[6]), vabsq_f32(v[7]));
    const float amax = vmaxvq_f32(vmaxq_f32(vmaxq_f32(m0, m1), vmaxq_f32(m2, m3)));
    const float scale = amax / 127.f;
    const float inv = scale != 0.f ? 1.f / scale : 0.f;
    d[b] = scale;
    int16x8_t h[4];
    for (int j = 0; j < 4; ++j) {
      const int32x4_t q0 = vcvtnq_s32_f32(vmulq_n_f32(v[2 * j], inv));
      const int32x4_t q1 = vcvtnq_s32_f32(vmulq_n_f32(v[2 * j + 1], inv));
      h[j] = vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1));
    }
    vst1q_s8(qs + b * kActBlock, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
    vst1q_s8(qs + b * kActBlock + 16, vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3])));
  }
}

// Signed int8 block dot without SDOT: SMULL/SMLAL2 give int16 sums of two
// products (|w| <= 128, |a| <= 127, so each sum is <= 2 * 128 * 127 = 32512,
// inside int16), then SADALP widens pairs into int32.
inline int32x4_t block_dot_mull(int8x16x2_t w, int8x16x2_t a) {
  int16x8_t p0 = vmull_s8(vget_low_s8(w.val[0]), vget_low_s8(a.val[0]));
  p0 = vmlal_high_s8(p0, w.val[0], a.val[0]);
  int16x8_t p1 = vmull_s8(vget_low_s8(w.val[1]), vget_low_s8(a.val[1]));
  p1 = vmlal_high_s8(p1, w.val[1], a.val[1]);
  return vpadalq_s16(vpaddlq_s16(p0), p1);
}

// The K-quants' activation quantizer, bit-identical to the scalar one for
// the same reasons as quantize_act_q8 (blocks of 256, bsums per 16).
void quantize_act_q8k(const float* x, int64_t n, int8_t* qs, float* d, int16_t* bsums) {
  for (int64_t b = 0; b < n / kActBlockK; ++b) {
    const float* xb = x + b * kActBlockK;
    float32x4_t m0 = vdupq_n_f32(0.f), m1 = vdupq_n_f32(0.f);
    for (int j = 0; j < kActBlockK; j += 8) {
      m0 = vmaxq_f32(m0, vabsq_f32(vld1q_f32(xb + j)));
      m1 = vmaxq_f32(m1, vabsq_f32(vld1q_f32(xb + j + 4)));
    }
    const float scale = vmaxvq_f32(vmaxq_f32(m0, m1)) / 127.f;
    const float inv = scale != 0.f ? 1.f / scale : 0.f;
    d[b] = scale;
    for (int g = 0; g < kActBlockK / 16; ++g) {
      const float* xg = xb + 16 * g;
      int16x8_t h[2];
      for (int j = 0; j < 2; ++j) {
        const int32x4_t q0 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xg + 8 * j), inv));
        const int32x4_t q1 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xg + 8 * j + 4), inv));
        h[j] = vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1));
      }
      const int8x16_t q = vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1]));
      vst1q_s8(qs + b * kActBlockK + 16 * g, q);
      bsums[b * 16 + g] = vaddlvq_s8(q);
    }
  }
}

// 16 products into four int32 lanes without SDOT: SMULL/SMLAL2 pair them in
// int16 (K-quant codes are at most 63, so a pair is at most 2 * 63 * 127),
// SADALP widens the pairs into the accumulator.
inline int32x4_t dot16_mull(int32x4_t acc, int8x16_t w, int8x16_t a) {
  return vpadalq_s16(acc, vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(a)), w, a));
}

}  // namespace

void fill_kernels_neon(Kernels& k) {
  k.isa = "neon";
  k.dot_f32 = dot_f32;
  k.dot_f16 = dot_f16;
  k.axpy_f32 = axpy_f32;
  k.axpy_f16 = axpy_f16;
  k.dot_rows_f32 = dot_rows<4, load4_f32, scalar_f32>;
  k.dot_rows_f16 = dot_rows<2, load4_f16, scalar_f16>;
  k.dot_rows_bf16 = dot_rows<2, load4_bf16, scalar_bf16>;
  k.quantize_act_q8 = quantize_act_q8;
  k.dot_rows_q8_0 = neon_dot_rows_quant<34, neon_load_q8_0, block_dot_mull>;
  k.dot_rows_q4_0 = neon_dot_rows_quant<18, neon_load_q4_0, block_dot_mull>;
  neon_fill_groupq<block_dot_mull>(k);
  k.quantize_act_q8k = quantize_act_q8k;
  neon_fill_kquant<dot16_mull>(k);
  fill_kernels_neon_gemm(k);
  fill_kernels_neon_activation(k);
  fill_kernels_neon_kv(k);
}

}  // namespace nagi
