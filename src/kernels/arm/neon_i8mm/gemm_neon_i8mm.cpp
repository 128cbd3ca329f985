// ARMv8.6 int8 matrix multiply (I8MM, SMMLA) prefill GEMMs: Q8_0, Q4_0
// (= I8G32, I4G32), nagi's I8G64/I8G128/I4G64/I4G128, and the K-quants
// Q4_K/Q5_K/Q6_K. Compiled with -march=armv8.2-a+dotprod+i8mm (see
// src/CMakeLists.txt) and used only when getauxval reports I8MM and the
// dot-product level's features; the table starts from the dot-product one.
//
// SMMLA multiplies a 2x8 int8 matrix by the transpose of another 2x8 and
// adds the 2x2 int32 result: 32 exact multiply-adds per instruction, twice
// SDOT's 16. With two weight rows as the first operand and two tokens as the
// second, the four lanes are (r0 t0, r0 t1, r1 t0, r1 t1), so one 32-value
// block of a row pair against a token pair is four SMMLAs over its 8-byte
// chunks. The block sums are exact int32 (as in the row kernels); each is
// scaled by d_w * d_x in f32, so the result differs from the scalar row
// kernels by float summation order alone. The K-quants take each block as
// two halves of 16 (two SMMLAs each) with their own scales and mins
// (kernels/arm/neon_gemm_panel.h).
#include <arm_neon.h>

#include "kernels/arm/neon_gemm_panel.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

inline int8x16_t zip_lo(int8x16_t a, int8x16_t b) {
  return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
inline int8x16_t zip_hi(int8x16_t a, int8x16_t b) {
  return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

// Two 32-byte code vectors as the four SMMLA operands of their pair: operand
// j is (first's bytes 8j..8j+7, second's bytes 8j..8j+7).
struct PairOperands {
  int8x16_t v[4];
};
inline PairOperands interleave(int8x16x2_t a, int8x16x2_t b) {
  return {{zip_lo(a.val[0], b.val[0]), zip_hi(a.val[0], b.val[0]), zip_lo(a.val[1], b.val[1]),
           zip_hi(a.val[1], b.val[1])}};
}

inline float32x4_t lanes(float a, float b, float c, float d) {
  const float v[4] = {a, b, c, d};
  return vld1q_f32(v);
}

// A block of the panel's four rows (two SMMLA row pairs), packed once and
// read by every token tile: operands, and per row pair and half the scales
// and mins in the result's lane order (r0, r0, r1, r1).
struct PackedBlock {
  PairOperands pair[2];
  float32x4_t dw[2][2];
  float32x4_t mw[2][2];
};

inline void pack_block(const NeonPanelBlock& in, PackedBlock& out) {
  for (int p = 0; p < 2; ++p) {
    const int r0 = 2 * p, r1 = 2 * p + 1;
    out.pair[p] = interleave(in.codes[r0], in.codes[r1]);
    for (int h = 0; h < 2; ++h) {
      out.dw[p][h] = lanes(in.dw[r0][h], in.dw[r0][h], in.dw[r1][h], in.dw[r1][h]);
      out.mw[p][h] = lanes(in.mw[r0][h], in.mw[r0][h], in.mw[r1][h], in.mw[r1][h]);
    }
  }
}

// Block b of the token pair (t0 + 2q, t0 + 2q + 1), of which the first
// n - 2q exist (missing tokens: zero codes, scale 0): the SMMLA operands,
// the scales (d_t0, d_t1, d_t0, d_t1) and, for the K-quants, the sums of the
// block's two halves of 16 codes in the same lane order.
struct ActPair {
  PairOperands ops;
  float32x4_t scale;
  float32x4_t half_sum[2];
};
template <bool kWithSums>
inline ActPair load_act_pair(const int8_t* qs, const float* d, const int32_t* sums, int64_t cols, int64_t t0, int n,
                             int q, int64_t b) {
  int8x16x2_t c[2];
  float s[2], hs[2][2] = {};
  for (int i = 0; i < 2; ++i) {
    const int j = 2 * q + i;
    if (j < n) {
      const int8_t* a = qs + (t0 + j) * cols + b * kActBlock;
      c[i] = {{vld1q_s8(a), vld1q_s8(a + 16)}};
      s[i] = d[(t0 + j) * (cols / kActBlock) + b];
      if constexpr (kWithSums) {
        const int32_t* sj = sums + (t0 + j) * (cols / 16) + 2 * b;
        hs[0][i] = float(sj[0]);
        hs[1][i] = float(sj[1]);
      }
    } else {
      c[i] = {{vdupq_n_s8(0), vdupq_n_s8(0)}};
      s[i] = 0.f;
    }
  }
  ActPair out;
  out.ops = interleave(c[0], c[1]);
  out.scale = lanes(s[0], s[1], s[0], s[1]);
  for (int h = 0; h < 2; ++h) out.half_sum[h] = lanes(hs[h][0], hs[h][1], hs[h][0], hs[h][1]);
  return out;
}

// SMMLA over operands [j0, j0 + kChunks) of a block: exact int32 (r, t) dots.
template <int kChunks>
inline int32x4_t smmla_chunks(const PairOperands& w, const PairOperands& a, int j0) {
  int32x4_t dot = vmmlaq_s32(vdupq_n_s32(0), w.v[j0], a.v[j0]);
  for (int j = 1; j < kChunks; ++j) dot = vmmlaq_s32(dot, w.v[j0 + j], a.v[j0 + j]);
  return dot;
}

// The panel's four rows against tokens t0 .. t0 + n - 1 (n <= 4).
// kKQuant: two halves with their own scales and the mins' term; otherwise
// one scale per block and no mins.
template <bool kKQuant>
void panel_tile(const PackedBlock* pw, int64_t nb, int64_t rows, const int8_t* qs, const float* d,
                const int32_t* sums, int64_t cols, int64_t t0, int n, float* y, int64_t y_stride) {
  float32x4_t acc[2][2];
  for (auto& row : acc) row[0] = row[1] = vdupq_n_f32(0.f);
  for (int64_t b = 0; b < nb; ++b) {
    const ActPair act[2] = {load_act_pair<kKQuant>(qs, d, sums, cols, t0, n, 0, b),
                            load_act_pair<kKQuant>(qs, d, sums, cols, t0, n, 1, b)};
    const PackedBlock& wb = pw[b];
    for (int p = 0; p < 2; ++p) {
      for (int q = 0; q < 2; ++q) {
        if constexpr (kKQuant) {
          const float32x4_t dot0 = vcvtq_f32_s32(smmla_chunks<2>(wb.pair[p], act[q].ops, 0));
          const float32x4_t dot1 = vcvtq_f32_s32(smmla_chunks<2>(wb.pair[p], act[q].ops, 2));
          float32x4_t v = vmulq_f32(dot0, wb.dw[p][0]);
          v = vfmaq_f32(v, dot1, wb.dw[p][1]);
          v = vfmsq_f32(v, wb.mw[p][0], act[q].half_sum[0]);
          v = vfmsq_f32(v, wb.mw[p][1], act[q].half_sum[1]);
          acc[p][q] = vfmaq_f32(acc[p][q], v, act[q].scale);
        } else {
          const int32x4_t dot = smmla_chunks<4>(wb.pair[p], act[q].ops, 0);
          acc[p][q] = vfmaq_f32(acc[p][q], vcvtq_f32_s32(dot), vmulq_f32(wb.dw[p][0], act[q].scale));
        }
      }
    }
  }
  for (int p = 0; p < 2; ++p) {
    for (int q = 0; q < 2; ++q) {
      float out[4];
      vst1q_f32(out, acc[p][q]);
      for (int l = 0; l < 4; ++l) {
        const int64_t r = 2 * p + l / 2;
        const int j = 2 * q + l % 2;
        if (r < rows && j < n) y[(t0 + j) * y_stride + r] = out[l];
      }
    }
  }
}

template <int kType, class Src = void>
constexpr GemmQ8Fn gemm_i8mm = neon_gemm_panels<kType, Src, PackedBlock, pack_block, panel_tile<kType != 0>>;

}  // namespace

void fill_kernels_neon_i8mm(Kernels& k) {
  k.isa = "neoni8mm";
  k.gemm_q8_0 = gemm_i8mm<0, NeonBlockSource<8, 32>>;
  k.gemm_q4_0 = gemm_i8mm<0, NeonBlockSource<4, 32>>;
  k.gemm_i8g64 = gemm_i8mm<0, NeonBlockSource<8, 64>>;
  k.gemm_i8g128 = gemm_i8mm<0, NeonBlockSource<8, 128>>;
  k.gemm_i4g64 = gemm_i8mm<0, NeonBlockSource<4, 64>>;
  k.gemm_i4g128 = gemm_i8mm<0, NeonBlockSource<4, 128>>;
  k.gemm_q4_k = gemm_i8mm<4>;
  k.gemm_q5_k = gemm_i8mm<5>;
  k.gemm_q6_k = gemm_i8mm<6>;
}

}  // namespace nagi
