// Internal to kernels/arm/: the weight side of the NEON integer GEMMs (the
// SDOT and SMMLA levels), which differ only in how they lay a panel of four
// rows out for their instruction. This header walks a panel block by block
// (32 values, one activation block) and hands each level the four rows'
// signed codes and, per half of 16 values, their scale dw and min mw:
//   row · x = sum_b d_x[b] * sum_h (dw_h * dot(codes_h, a_h) - mw_h * sum(a_h)).
// Q8_0 / Q4_0 / the group types: mw = 0, both halves the block's (group's)
// scale. K-quants: the unsigned codes of kq::unpack_*; Q6_K's groups of 16
// are the halves, a Q4_K/Q5_K sub-block of 32 gives both halves its own.
// Anonymous namespace for the reason given in neon_common.h.
#pragma once

#include "kernels/arm/neon_common.h"
#include "kernels/arm/neon_groupq.h"
#include "kernels/kquant_layout.h"
#include "kernels/scratch.h"

namespace nagi {
namespace {

constexpr int kNeonPanelRows = 4;

struct NeonPanelBlock {
  int8x16x2_t codes[kNeonPanelRows];
  float dw[kNeonPanelRows][2];
  float mw[kNeonPanelRows][2];
};

// One 32-value block of a Q8_0 / Q4_0 (G = 32) or group-type (G = 64, 128)
// row: its signed codes and its scale (the group's, for every sub-block).
template <int kBits, int kG>
struct NeonBlockSource {
  static constexpr int kSubBlocks = kG / kActBlock;
  static constexpr int kGroupBytes = 2 + kG * kBits / 8;
  static int8x16x2_t codes(const uint8_t* row, int64_t b) {
    const uint8_t* group = row + (b / kSubBlocks) * kGroupBytes;
    if constexpr (kG == kActBlock) {
      return kBits == 8 ? neon_load_q8_0(group + 2) : neon_load_q4_0(group + 2);
    } else {
      return neon_load_group_sub_block<kBits>(group + 2, int(b % kSubBlocks));
    }
  }
  static float scale(const uint8_t* row, int64_t b) { return neon_half_to_f32(row + (b / kSubBlocks) * kGroupBytes); }
};

// Calls fn(b, block) for the nb blocks of rows [0, rows) of a panel
// (rows < 4: the missing rows are zero codes with zero scales).
template <class Src, class Fn>
void neon_visit_panel(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t nb, Fn&& fn) {
  NeonPanelBlock blk{};
  for (int r = 0; r < kNeonPanelRows; ++r) blk.codes[r] = {{vdupq_n_s8(0), vdupq_n_s8(0)}};
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      blk.codes[r] = Src::codes(w + r * row_bytes, b);
      blk.dw[r][0] = blk.dw[r][1] = Src::scale(w + r * row_bytes, b);
    }
    fn(b, blk);
  }
}

// The same for K-quant rows (kType 4: Q4_K, 5: Q5_K, 6: Q6_K) of n_super
// 256-value super-blocks.
template <int kType, class Fn>
void neon_visit_panel_k(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t n_super, Fn&& fn) {
  constexpr int kBlockBytes = kType == 6 ? kq::kQ6KBytes : kType == 5 ? kq::kQ5KBytes : kq::kQ4KBytes;
  constexpr int kBlocks = kActBlockK / kActBlock;
  const auto half = [](const uint8_t* p) { return neon_half_to_f32(p); };
  for (int64_t sb = 0; sb < n_super; ++sb) {
    alignas(16) uint32_t u[kNeonPanelRows][64] = {};
    float dw[kNeonPanelRows][16] = {}, mw[kNeonPanelRows][16] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* src = w + r * row_bytes + sb * kBlockBytes;
      if constexpr (kType == 6) {
        kq::unpack_q6_k(src, u[r], dw[r], mw[r], half);
      } else {
        kq::unpack_q4_k(src, u[r], dw[r], mw[r], kType == 5, half);
      }
    }
    NeonPanelBlock blk;
    for (int j = 0; j < kBlocks; ++j) {
      for (int r = 0; r < kNeonPanelRows; ++r) {
        const int8_t* codes = reinterpret_cast<const int8_t*>(u[r]) + kActBlock * j;
        blk.codes[r] = {{vld1q_s8(codes), vld1q_s8(codes + 16)}};
        for (int h = 0; h < 2; ++h) {
          const int sub = kType == 6 ? 2 * j + h : j;
          blk.dw[r][h] = dw[r][sub];
          blk.mw[r][h] = mw[r][sub];
        }
      }
      fn(sb * kBlocks + j, blk);
    }
  }
}

// Tokens per tile of both levels' GEMMs.
constexpr int kNeonTileTokens = 4;

// The GEMM driver both levels share. Per panel of four rows: every block
// packed once by Pack into the level's layout, then Tile over tokens t0 ..
// t0 + n - 1 (n <= 4) for each tile of tokens. kType 0: Src's 32-value
// blocks; 4 / 5 / 6: Q4_K / Q5_K / Q6_K.
template <class Packed>
using NeonGemmTile = void (*)(const Packed* pw, int64_t nb, int64_t rows, const int8_t* qs, const float* d,
                              const int32_t* sums, int64_t cols, int64_t t0, int n, float* y, int64_t y_stride);
template <int kType, class Src, class Packed, void (*Pack)(const NeonPanelBlock&, Packed&), NeonGemmTile<Packed> Tile>
void neon_gemm_panels(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const int8_t* qs,
                      const float* d, const int32_t* sums, int64_t n_tok, float* y, int64_t y_stride) {
  const int64_t nb = cols / kActBlock;
  thread_local Scratch scratch;
  auto* pw = static_cast<Packed*>(scratch.get(size_t(nb) * sizeof(Packed)));
  const auto pack = [pw](int64_t b, const NeonPanelBlock& blk) { Pack(blk, pw[b]); };
  for (int64_t r0 = 0; r0 < n_rows; r0 += kNeonPanelRows) {
    const int64_t rows = n_rows - r0 < kNeonPanelRows ? n_rows - r0 : kNeonPanelRows;
    const uint8_t* panel = w + r0 * row_bytes;
    if constexpr (kType == 0) {
      neon_visit_panel<Src>(panel, row_bytes, rows, nb, pack);
    } else {
      neon_visit_panel_k<kType>(panel, row_bytes, rows, cols / kActBlockK, pack);
    }
    for (int64_t t0 = 0; t0 < n_tok; t0 += kNeonTileTokens) {
      const int n = int(n_tok - t0 < kNeonTileTokens ? n_tok - t0 : kNeonTileTokens);
      Tile(pw, nb, rows, qs, d, sums, cols, t0, n, y + r0, y_stride);
    }
  }
}

}  // namespace
}  // namespace nagi
