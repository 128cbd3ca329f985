// Internal to kernels/arm/: the row kernel of nagi's group types with 64 /
// 128 values per scale (I8G64, I8G128, I4G64, I4G128; layout in
// format/group_quant.h), shared by the NEON levels, which differ only in the
// block dot (SMULL vs SDOT). Anonymous namespace for the reason given in
// neon_common.h. Per 32-value activation block an exact int32 dot, scaled by
// the block's activation scale into a per-group sum that the group's weight
// scale multiplies once; two rows share every activation load.
#pragma once

#include "kernels/arm/neon_common.h"

namespace nagi {
namespace {

// The 32 signed codes of sub-block s (32 values) of a group's codes.
template <int kBits>
inline int8x16x2_t neon_load_group_sub_block(const uint8_t* codes, int s) {
  if constexpr (kBits == 8) {
    return neon_load_q8_0(codes + 32 * s);
  } else {
    // Chunk s / 2 holds sub-block s in its low (even s) or high (odd s) nibbles.
    const uint8_t* chunk = codes + 32 * (s / 2);
    uint8x16_t p0 = vld1q_u8(chunk), p1 = vld1q_u8(chunk + 16);
    if (s % 2 == 0) {
      p0 = vandq_u8(p0, vdupq_n_u8(0x0f));
      p1 = vandq_u8(p1, vdupq_n_u8(0x0f));
    } else {
      p0 = vshrq_n_u8(p0, 4);
      p1 = vshrq_n_u8(p1, 4);
    }
    const int8x16_t eight = vdupq_n_s8(8);
    return {{vsubq_s8(vreinterpretq_s8_u8(p0), eight), vsubq_s8(vreinterpretq_s8_u8(p1), eight)}};
  }
}

template <int kBits, int kG, int R, NeonBlockDot BlockDot>
void neon_groupq_tile(const uint8_t* w, size_t row_bytes, int64_t groups, const QuantizedVector& x, float* y) {
  constexpr int kBlockBytes = 2 + kG * kBits / 8;
  constexpr int kSubBlocks = kG / kActBlock;
  float32x4_t acc[R];
  for (int r = 0; r < R; ++r) acc[r] = vdupq_n_f32(0.f);
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* blk = w + g * kBlockBytes;
    float32x4_t group_acc[R];
    for (int r = 0; r < R; ++r) group_acc[r] = vdupq_n_f32(0.f);
    for (int s = 0; s < kSubBlocks; ++s) {
      const int64_t b = g * kSubBlocks + s;
      const int8_t* ab = x.qs + b * kActBlock;
      const int8x16x2_t a = {{vld1q_s8(ab), vld1q_s8(ab + 16)}};
      for (int r = 0; r < R; ++r) {
        const int32x4_t dot = BlockDot(neon_load_group_sub_block<kBits>(blk + r * row_bytes + 2, s), a);
        group_acc[r] = vfmaq_n_f32(group_acc[r], vcvtq_f32_s32(dot), x.d[b]);
      }
    }
    for (int r = 0; r < R; ++r) acc[r] = vfmaq_n_f32(acc[r], group_acc[r], neon_half_to_f32(blk + r * row_bytes));
  }
  for (int r = 0; r < R; ++r) y[r] = vaddvq_f32(acc[r]);
}

template <int kBits, int kG, NeonBlockDot BlockDot>
void neon_dot_rows_groupq(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x,
                          float* y) {
  const int64_t groups = cols / kG;
  int64_t r = 0;
  for (; r + 2 <= n_rows; r += 2) neon_groupq_tile<kBits, kG, 2, BlockDot>(w + r * row_bytes, row_bytes, groups, x, y + r);
  for (; r < n_rows; ++r) neon_groupq_tile<kBits, kG, 1, BlockDot>(w + r * row_bytes, row_bytes, groups, x, y + r);
}

// Fills the group entries of a NEON table with one block dot.
template <NeonBlockDot BlockDot>
void neon_fill_groupq(Kernels& k) {
  k.dot_rows_i8g64 = neon_dot_rows_groupq<8, 64, BlockDot>;
  k.dot_rows_i8g128 = neon_dot_rows_groupq<8, 128, BlockDot>;
  k.dot_rows_i4g64 = neon_dot_rows_groupq<4, 64, BlockDot>;
  k.dot_rows_i4g128 = neon_dot_rows_groupq<4, 128, BlockDot>;
}

}  // namespace
}  // namespace nagi
