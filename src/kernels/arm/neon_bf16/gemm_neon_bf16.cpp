// The neonbf16 level: the prefill GEMM of BF16 weights as BFDOT (FEAT_BF16,
// Armv8.6: Cortex-A715 / X3 and later, Neoverse V1 / N2).
//
// BF16 weights multiply the activation rounded to bf16 (kernels/ops.h,
// round_to_bf16), so both operands are bf16 and each product is exact.
// BFDOT adds two of them to each f32 lane per instruction: twice the
// multiply-adds of an f32 FMLA, with no widening of the weights (the plain
// NEON GEMM, arm/neon/gemm_f_neon.cpp, widens every weight). Its sums are
// not IEEE-rounded (round to odd, subnormals flushed, FPCR.EBF = 0): the
// error per addition stays within one f32 ulp.
//
// Layout: a panel of 16 rows stored as column pairs, packed[k * 16 + j] =
// the 32-bit word of row j that holds its columns 2k and 2k+1, so one
// 128-bit load is the pair k of four rows: BFDOT's first operand. The
// activation is converted to bf16 once per call, padded with zeros to a
// multiple of 8 columns; BFDOT by element picks pair k of it.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "kernels/kernels_fill.h"
#include "kernels/row_blocks.h"
#include "kernels/scratch.h"

namespace nagi {
namespace {

constexpr int kPanelRows = 16;  // four groups of four rows
constexpr int kTileTokens = 4;  // 16 accumulators, 4 weight and 4 activation registers

// Each token's activation as bf16 (round to nearest: exact for the bf16
// values MatmulInput passes), zero from cols to cols8.
void pack_activation(const float* x, int64_t x_stride, int64_t n_tok, int64_t cols, int64_t cols8,
                     bfloat16_t* xb) {
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* xt = x + t * x_stride;
    bfloat16_t* out = xb + t * cols8;
    for (int64_t c = 0; c < cols8; c += 8) {
      float v[8] = {};
      const int64_t n = cols - c < 8 ? cols - c : 8;
      std::memcpy(v, xt + c, size_t(n) * sizeof(float));
      vst1q_bf16(out + c, vcvtq_high_bf16_f32(vcvtq_low_bf16_f32(vld1q_f32(v)), vld1q_f32(v + 4)));
    }
  }
}

// Rows [0, n) of a panel as column pairs (cols8 / 2 of them); missing rows,
// and columns from cols on, are zero.
void pack_panel(const uint8_t* w, size_t row_bytes, int n, int64_t cols, int64_t cols8, uint32_t* packed) {
  const int64_t pairs = cols8 / 2, whole = cols / 2;  // pairs with both columns in the row
  for (int j = 0; j < kPanelRows; ++j) {
    if (j >= n) {
      for (int64_t k = 0; k < pairs; ++k) packed[k * kPanelRows + j] = 0u;
      continue;
    }
    const uint8_t* row = w + j * row_bytes;
    for (int64_t k = 0; k < whole; ++k) std::memcpy(&packed[k * kPanelRows + j], row + 4 * k, 4);
    for (int64_t k = whole; k < pairs; ++k) {
      uint16_t lo = 0;
      if (2 * k < cols) std::memcpy(&lo, row + 4 * k, 2);
      packed[k * kPanelRows + j] = lo;
    }
  }
}

// acc[t][g] += pair L of token t's eight activation values, dotted with the
// pair of each row of group g.
template <int T, int L>
inline void step(float32x4_t (&acc)[kTileTokens][4], const uint32_t* pk, const bfloat16x8_t (&xv)[kTileTokens]) {
  bfloat16x8_t w[4];
  for (int g = 0; g < 4; ++g) w[g] = vreinterpretq_bf16_u32(vld1q_u32(pk + 4 * g));
  for (int t = 0; t < T; ++t) {
    for (int g = 0; g < 4; ++g) acc[t][g] = vbfdotq_laneq_f32(acc[t][g], w[g], xv[t], L);
  }
}

template <int T>
void panel_kernel(const uint32_t* packed, int64_t cols8, const bfloat16_t* xb, int64_t t0, float* y,
                  int64_t y_stride, int n) {
  float32x4_t acc[kTileTokens][4];
  for (int t = 0; t < T; ++t) {
    for (int g = 0; g < 4; ++g) acc[t][g] = vdupq_n_f32(0.f);
  }
  for (int64_t c = 0; c < cols8; c += 8) {
    bfloat16x8_t xv[kTileTokens];
    for (int t = 0; t < T; ++t) xv[t] = vld1q_bf16(xb + (t0 + t) * cols8 + c);
    const uint32_t* pk = packed + (c / 2) * kPanelRows;
    step<T, 0>(acc, pk, xv);
    step<T, 1>(acc, pk + kPanelRows, xv);
    step<T, 2>(acc, pk + 2 * kPanelRows, xv);
    step<T, 3>(acc, pk + 3 * kPanelRows, xv);
  }
  for (int t = 0; t < T; ++t) {
    float* yt = y + (t0 + t) * y_stride;
    for (int g = 0; g < 4; ++g) {
      if (4 * g + 4 <= n) {
        vst1q_f32(yt + 4 * g, acc[t][g]);
      } else if (4 * g < n) {
        float v[4];
        vst1q_f32(v, acc[t][g]);
        for (int i = 0; 4 * g + i < n; ++i) yt[4 * g + i] = v[i];
      }
    }
  }
}

void gemm_bf16(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const float* x, int64_t x_stride,
               int64_t n_tok, float* y, int64_t y_stride) {
  const int64_t cols8 = (cols + 7) / 8 * 8;
  thread_local Scratch act_scratch, panel_scratch;
  auto* xb = static_cast<bfloat16_t*>(act_scratch.get(static_cast<size_t>(n_tok * cols8) * sizeof(bfloat16_t)));
  auto* packed = static_cast<uint32_t*>(panel_scratch.get(static_cast<size_t>(cols8 / 2) * kPanelRows * 4));
  pack_activation(x, x_stride, n_tok, cols, cols8, xb);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelRows) {
    const int n = static_cast<int>(n_rows - r0 < kPanelRows ? n_rows - r0 : kPanelRows);
    pack_panel(w + r0 * row_bytes, row_bytes, n, cols, cols8, packed);
    for_token_tiles<kTileTokens>(n_tok, [&](int64_t t, auto tokens) {
      panel_kernel<decltype(tokens)::value>(packed, cols8, xb, t, y + r0, y_stride, n);
    });
  }
}

}  // namespace

void fill_kernels_neon_bf16(Kernels& k) {
  k.isa = "neonbf16";
  k.gemm_bf16 = gemm_bf16;
}

}  // namespace nagi
