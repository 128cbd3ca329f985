// Internal to kernels/arm/: the K-quant row kernels (Q4_K, Q5_K, Q6_K)
// against a Q8_K-style activation, shared by the NEON levels, which differ
// only in the 16-byte dot (SMULL/SADALP vs SDOT). Anonymous namespace for the
// reason given in neon_common.h.
//
// Same arithmetic as the scalar kernels (kernels/scalar/kquant_scalar.cpp):
// each 256-value block's dot is an exact int32 with the sub-block scales
// applied in integers; only the per-block float terms round, so results
// differ from scalar by float summation order alone.
#pragma once

#include "kernels/arm/neon_common.h"
#include "kernels/kquant_layout.h"

namespace nagi {
namespace {

// acc + the 16 products w[i] * a[i], summed into four int32 lanes (which
// lane gets which product is the implementation's choice; only lane totals
// matter). Weights here are unsigned codes of at most 6 bits, activations
// in [-127, 127].
using NeonDot16 = int32x4_t (*)(int32x4_t acc, int8x16_t w, int8x16_t a);

inline int8x16_t neon_s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

// Q4_K (kHasHigh = false) and Q5_K (true): value = d * sc[s] * q - dmin *
// m[s] for sub-block s of 32 values. Chunk c of the 4-bit codes (32 bytes)
// holds sub-block 2c in its low nibbles and 2c + 1 in its high nibbles;
// Q5_K's fifth bits for chunk c are bits 2c and 2c + 1 of qh[0..31].
template <bool kHasHigh, NeonDot16 Dot>
void neon_dot_rows_q45_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                         const QuantizedVectorK& x, float* y) {
  constexpr int kBlockBytes = kHasHigh ? kq::kQ5KBytes : kq::kQ4KBytes;
  const int64_t blocks = cols / kActBlockK;
  const uint8x16_t m4 = vdupq_n_u8(0x0f), bit4 = vdupq_n_u8(0x10);
  const int32x4_t zero = vdupq_n_s32(0);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    float sum = 0.f;
    for (int64_t i = 0; i < blocks; ++i, b += kBlockBytes) {
      alignas(16) uint8_t sm[16];
      kq::unpack_scales_mins(b + 4, sm);
      const int8_t* a = x.qs + i * kActBlockK;
      const uint8_t* ql = kHasHigh ? b + 48 : b + 16;
      uint8x16_t qh0 = vdupq_n_u8(0), qh1 = vdupq_n_u8(0);
      if constexpr (kHasHigh) {
        qh0 = vld1q_u8(b + 16);
        qh1 = vld1q_u8(b + 32);
      }
      int32x4_t acc = zero;
      for (int c = 0; c < 4; ++c) {
        const uint8x16_t p0 = vld1q_u8(ql + 32 * c), p1 = vld1q_u8(ql + 32 * c + 16);
        uint8x16_t lo0 = vandq_u8(p0, m4), lo1 = vandq_u8(p1, m4);
        uint8x16_t hi0 = vshrq_n_u8(p0, 4), hi1 = vshrq_n_u8(p1, 4);
        if constexpr (kHasHigh) {
          // vtst gives 0xff where the bit is set; keep 0x10 of it.
          const uint8x16_t bl = vdupq_n_u8(uint8_t(1u << (2 * c))), bh = vdupq_n_u8(uint8_t(2u << (2 * c)));
          lo0 = vorrq_u8(lo0, vandq_u8(vtstq_u8(qh0, bl), bit4));
          lo1 = vorrq_u8(lo1, vandq_u8(vtstq_u8(qh1, bl), bit4));
          hi0 = vorrq_u8(hi0, vandq_u8(vtstq_u8(qh0, bh), bit4));
          hi1 = vorrq_u8(hi1, vandq_u8(vtstq_u8(qh1, bh), bit4));
        }
        const int8_t* ac = a + 64 * c;
        const int32x4_t s0 = Dot(Dot(zero, neon_s8(lo0), vld1q_s8(ac)), neon_s8(lo1), vld1q_s8(ac + 16));
        const int32x4_t s1 = Dot(Dot(zero, neon_s8(hi0), vld1q_s8(ac + 32)), neon_s8(hi1), vld1q_s8(ac + 48));
        acc = vmlaq_n_s32(acc, s0, sm[2 * c]);
        acc = vmlaq_n_s32(acc, s1, sm[2 * c + 1]);
      }
      const int32_t isum = vaddvq_s32(acc);
      // Sub-block s of 32 values spans bsums 2s and 2s + 1.
      const int16_t* bs = x.bsums + i * 16;
      const int16x8_t pairs = vpaddq_s16(vld1q_s16(bs), vld1q_s16(bs + 8));
      const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(sm + 8)));
      const int32_t msum = vaddvq_s32(vmlal_high_s16(vmull_s16(vget_low_s16(pairs), vget_low_s16(mins)), pairs, mins));
      sum += x.d[i] * (neon_half_to_f32(b) * float(isum) - neon_half_to_f32(b + 2) * float(msum));
    }
    y[r] = sum;
  }
}

// Q6_K: value = d * sc[g] * (q - 32) for group g of 16 values, q in
// [0, 63]. Half h (128 values) has low nibbles ql[64h ..] and top bits
// qh[128 + 32h ..]: with l < 32, values l, l + 32, l + 64, l + 96 of the half
// are the low / low / high / high nibbles of ql[l], ql[l + 32], ql[l],
// ql[l + 32] with bits 0-1 / 2-3 / 4-5 / 6-7 of qh[l] on top. Each 16-byte
// vector below is one group of 16.
template <NeonDot16 Dot>
void neon_dot_rows_q6_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVectorK& x,
                        float* y) {
  const int64_t blocks = cols / kActBlockK;
  const uint8x16_t m4 = vdupq_n_u8(0x0f), m2 = vdupq_n_u8(0x03), m2hi = vdupq_n_u8(0x30);
  const int32x4_t zero = vdupq_n_s32(0);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    float sum = 0.f;
    for (int64_t i = 0; i < blocks; ++i, b += kq::kQ6KBytes) {
      const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
      const int8_t* a = x.qs + i * kActBlockK;
      int32x4_t acc = zero;
      for (int h = 0; h < 2; ++h) {
        const uint8_t* ql = b + 64 * h;
        const uint8_t* qhp = b + 128 + 32 * h;
        const uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 16), l2 = vld1q_u8(ql + 32), l3 = vld1q_u8(ql + 48);
        const uint8x16_t h0 = vld1q_u8(qhp), h1 = vld1q_u8(qhp + 16);
        const uint8x16_t q[8] = {
            vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(h0, m2), 4)),    // values 0-15
            vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(h1, m2), 4)),    // 16-31
            vorrq_u8(vandq_u8(l2, m4), vandq_u8(vshlq_n_u8(h0, 2), m2hi)),  // 32-47
            vorrq_u8(vandq_u8(l3, m4), vandq_u8(vshlq_n_u8(h1, 2), m2hi)),  // 48-63
            vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(h0, m2hi)),                // 64-79
            vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(h1, m2hi)),                // 80-95
            vorrq_u8(vshrq_n_u8(l2, 4), vandq_u8(vshrq_n_u8(h0, 2), m2hi)), // 96-111
            vorrq_u8(vshrq_n_u8(l3, 4), vandq_u8(vshrq_n_u8(h1, 2), m2hi)), // 112-127
        };
        for (int g = 0; g < 8; ++g) {
          const int32x4_t dot = Dot(zero, neon_s8(q[g]), vld1q_s8(a + 128 * h + 16 * g));
          acc = vmlaq_n_s32(acc, dot, sc[8 * h + g]);
        }
      }
      // The -32 offset: sum_g sc[g] * 32 * bsums[g].
      const int8x16_t scv = vld1q_s8(sc);
      const int16x8_t sc_lo = vmovl_s8(vget_low_s8(scv)), sc_hi = vmovl_high_s8(scv);
      const int16x8_t bs_lo = vld1q_s16(x.bsums + i * 16), bs_hi = vld1q_s16(x.bsums + i * 16 + 8);
      int32x4_t off = vmull_s16(vget_low_s16(sc_lo), vget_low_s16(bs_lo));
      off = vmlal_high_s16(off, sc_lo, bs_lo);
      off = vmlal_s16(off, vget_low_s16(sc_hi), vget_low_s16(bs_hi));
      off = vmlal_high_s16(off, sc_hi, bs_hi);
      const int32_t isum = vaddvq_s32(acc) - 32 * vaddvq_s32(off);
      sum += x.d[i] * neon_half_to_f32(b + 208) * float(isum);
    }
    y[r] = sum;
  }
}

// Fills the K-quant row entries of a NEON table with one 16-byte dot.
template <NeonDot16 Dot>
void neon_fill_kquant(Kernels& k) {
  k.dot_rows_q4_k = neon_dot_rows_q45_k<false, Dot>;
  k.dot_rows_q5_k = neon_dot_rows_q45_k<true, Dot>;
  k.dot_rows_q6_k = neon_dot_rows_q6_k<Dot>;
}

}  // namespace
}  // namespace nagi
