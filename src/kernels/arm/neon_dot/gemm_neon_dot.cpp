// Prefill GEMMs on the dot-product level (SDOT, no I8MM): Q8_0, Q4_0
// (= I8G32, I4G32), nagi's I8G64/I8G128/I4G64/I4G128 and the K-quants.
// Compiled with -march=armv8.2-a+dotprod like the rest of arm/neon_dot/.
//
// A panel of four rows is packed once per block as eight vectors, vector j
// holding bytes 4j..4j+3 of each row; SDOT by element (vdotq_laneq_s32)
// multiplies it by four activation bytes of one token, so one instruction
// adds 16 exact products into the four rows' int32 lanes. Tokens go four at
// a time over the packed panel. Block sums are exact; scales, and the
// K-quants' halves and mins (kernels/arm/neon_gemm_panel.h), are applied in
// f32, so results differ from the row kernels by float summation order.
#include <arm_neon.h>

#include "kernels/arm/neon_gemm_panel.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

// A block of the panel's four rows: v[j] = bytes 4j..4j+3 of rows 0-3, and
// per half of 16 values the rows' scales and mins (lane r = row r).
struct PackedBlock {
  int8x16_t v[8];
  float32x4_t dw[2];
  float32x4_t mw[2];
};

// Four 16-byte rows as the SDOT operands of their 4-byte columns: a 4x4
// transpose of 32-bit elements.
inline void transpose_4x4(int8x16_t r0, int8x16_t r1, int8x16_t r2, int8x16_t r3, int8x16_t* out) {
  const uint32x4_t t0 = vtrn1q_u32(vreinterpretq_u32_s8(r0), vreinterpretq_u32_s8(r1));
  const uint32x4_t t1 = vtrn2q_u32(vreinterpretq_u32_s8(r0), vreinterpretq_u32_s8(r1));
  const uint32x4_t t2 = vtrn1q_u32(vreinterpretq_u32_s8(r2), vreinterpretq_u32_s8(r3));
  const uint32x4_t t3 = vtrn2q_u32(vreinterpretq_u32_s8(r2), vreinterpretq_u32_s8(r3));
  const auto u64 = [](uint32x4_t v) { return vreinterpretq_u64_u32(v); };
  out[0] = vreinterpretq_s8_u64(vzip1q_u64(u64(t0), u64(t2)));
  out[1] = vreinterpretq_s8_u64(vzip1q_u64(u64(t1), u64(t3)));
  out[2] = vreinterpretq_s8_u64(vzip2q_u64(u64(t0), u64(t2)));
  out[3] = vreinterpretq_s8_u64(vzip2q_u64(u64(t1), u64(t3)));
}

inline void pack_block(const NeonPanelBlock& in, PackedBlock& out) {
  for (int h = 0; h < 2; ++h) {
    transpose_4x4(in.codes[0].val[h], in.codes[1].val[h], in.codes[2].val[h], in.codes[3].val[h], out.v + 4 * h);
    const float dw[4] = {in.dw[0][h], in.dw[1][h], in.dw[2][h], in.dw[3][h]};
    const float mw[4] = {in.mw[0][h], in.mw[1][h], in.mw[2][h], in.mw[3][h]};
    out.dw[h] = vld1q_f32(dw);
    out.mw[h] = vld1q_f32(mw);
  }
}

// One half (16 values) of a block against activation bytes a: exact int32
// per row.
inline int32x4_t sdot_half(const int8x16_t* v, int8x16_t a) {
  int32x4_t dot = vdotq_laneq_s32(vdupq_n_s32(0), v[0], a, 0);
  dot = vdotq_laneq_s32(dot, v[1], a, 1);
  dot = vdotq_laneq_s32(dot, v[2], a, 2);
  return vdotq_laneq_s32(dot, v[3], a, 3);
}

// The panel's four rows against tokens t0 .. t0 + n - 1 (n <= 4).
template <bool kKQuant>
void panel_tile(const PackedBlock* pw, int64_t nb, int64_t rows, const int8_t* qs, const float* d,
                const int32_t* sums, int64_t cols, int64_t t0, int n, float* y, int64_t y_stride) {
  float32x4_t acc[kNeonTileTokens];
  for (auto& a : acc) a = vdupq_n_f32(0.f);
  const int64_t nbx = cols / kActBlock;
  for (int64_t b = 0; b < nb; ++b) {
    const PackedBlock& wb = pw[b];
    for (int t = 0; t < n; ++t) {
      const int8_t* a = qs + (t0 + t) * cols + b * kActBlock;
      const float dx = d[(t0 + t) * nbx + b];
      const int32x4_t dot0 = sdot_half(wb.v, vld1q_s8(a));
      const int32x4_t dot1 = sdot_half(wb.v + 4, vld1q_s8(a + 16));
      if constexpr (kKQuant) {
        const int32_t* s = sums + (t0 + t) * (cols / 16) + 2 * b;
        float32x4_t v = vmulq_f32(vcvtq_f32_s32(dot0), wb.dw[0]);
        v = vfmaq_f32(v, vcvtq_f32_s32(dot1), wb.dw[1]);
        v = vfmsq_n_f32(v, wb.mw[0], float(s[0]));
        v = vfmsq_n_f32(v, wb.mw[1], float(s[1]));
        acc[t] = vfmaq_n_f32(acc[t], v, dx);
      } else {
        acc[t] = vfmaq_f32(acc[t], vcvtq_f32_s32(vaddq_s32(dot0, dot1)), vmulq_n_f32(wb.dw[0], dx));
      }
    }
  }
  for (int t = 0; t < n; ++t) {
    float out[4];
    vst1q_f32(out, acc[t]);
    for (int64_t r = 0; r < rows; ++r) y[(t0 + t) * y_stride + r] = out[r];
  }
}

template <int kType, class Src = void>
constexpr GemmQ8Fn gemm_sdot = neon_gemm_panels<kType, Src, PackedBlock, pack_block, panel_tile<kType != 0>>;

}  // namespace

void fill_kernels_neon_dot_gemm(Kernels& k) {
  k.gemm_q8_0 = gemm_sdot<0, NeonBlockSource<8, 32>>;
  k.gemm_q4_0 = gemm_sdot<0, NeonBlockSource<4, 32>>;
  k.gemm_i8g64 = gemm_sdot<0, NeonBlockSource<8, 64>>;
  k.gemm_i8g128 = gemm_sdot<0, NeonBlockSource<8, 128>>;
  k.gemm_i4g64 = gemm_sdot<0, NeonBlockSource<4, 64>>;
  k.gemm_i4g128 = gemm_sdot<0, NeonBlockSource<4, 128>>;
  k.gemm_q4_k = gemm_sdot<4>;
  k.gemm_q5_k = gemm_sdot<5>;
  k.gemm_q6_k = gemm_sdot<6>;
}

}  // namespace nagi
