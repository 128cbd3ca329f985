// Prefill GEMM for F16 / BF16 weights on plain NEON, against the f32
// activation as given (like the row kernels; for BF16 weights the caller
// has rounded it to bf16, see ops.h round_to_bf16). A panel of 8
// rows is converted to f32 once, column by column (pw[k * 8 + r]), and every
// tile of 4 tokens streams it: per column two panel vectors, each multiplied
// into four token accumulators by FMLA (by element), 8 FMAs per 2 loads
// where the row kernels do 1 per load. Only the order of the f32 sums
// differs from the row kernels.
#include <arm_neon.h>

#include "kernels/arm/neon_common.h"
#include "kernels/kernels_fill.h"
#include "kernels/row_blocks.h"
#include "kernels/scratch.h"

namespace nagi {
namespace {

constexpr int kPanelRows = 8;
constexpr int kTileTokens = 4;

inline float32x4_t load4_f16(const uint8_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
}
inline float32x4_t load4_bf16(const uint8_t* p) {
  return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16));
}
inline float f16_at(const uint8_t* p) { return neon_half_to_f32(p); }
inline float bf16_at(const uint8_t* p) {
  const uint32_t bits = uint32_t(p[0] | (p[1] << 8)) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Rows [0, rows) of the panel as f32, column-major with 8 rows per column;
// rows past `rows` are zero.
template <float32x4_t (*Load4)(const uint8_t*), float (*At)(const uint8_t*)>
void pack_panel(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols, float* pw) {
  for (int64_t r = 0; r < kPanelRows; ++r) {
    if (r >= rows) {
      for (int64_t k = 0; k < cols; ++k) pw[k * kPanelRows + r] = 0.f;
      continue;
    }
    const uint8_t* row = w + r * row_bytes;
    int64_t k = 0;
    for (; k + 4 <= cols; k += 4) {
      float v[4];
      vst1q_f32(v, Load4(row + 2 * k));
      for (int j = 0; j < 4; ++j) pw[(k + j) * kPanelRows + r] = v[j];
    }
    for (; k < cols; ++k) pw[k * kPanelRows + r] = At(row + 2 * k);
  }
}

// acc[t] += column k of the panel (w0: rows 0-3, w1: rows 4-7) times lane
// L of token t's activation vector.
template <int N, int L>
inline void fma_lane(float32x4_t (&acc)[kTileTokens][2], float32x4_t w0, float32x4_t w1,
                     const float32x4_t (&xv)[kTileTokens]) {
  for (int t = 0; t < N; ++t) {
    acc[t][0] = vfmaq_laneq_f32(acc[t][0], w0, xv[t], L);
    acc[t][1] = vfmaq_laneq_f32(acc[t][1], w1, xv[t], L);
  }
}

// N tokens (1..4) starting at x against the packed panel.
template <int N>
void panel_tile(const float* pw, int64_t rows, int64_t cols, const float* x, int64_t x_stride, float* y,
                int64_t y_stride) {
  float32x4_t acc[kTileTokens][2];
  for (auto& a : acc) a[0] = a[1] = vdupq_n_f32(0.f);
  int64_t k = 0;
  for (; k + 4 <= cols; k += 4) {
    float32x4_t xv[kTileTokens];
    for (int t = 0; t < N; ++t) xv[t] = vld1q_f32(x + t * x_stride + k);
    const float* p = pw + k * kPanelRows;
    fma_lane<N, 0>(acc, vld1q_f32(p), vld1q_f32(p + 4), xv);
    fma_lane<N, 1>(acc, vld1q_f32(p + 8), vld1q_f32(p + 12), xv);
    fma_lane<N, 2>(acc, vld1q_f32(p + 16), vld1q_f32(p + 20), xv);
    fma_lane<N, 3>(acc, vld1q_f32(p + 24), vld1q_f32(p + 28), xv);
  }
  for (; k < cols; ++k) {
    const float* p = pw + k * kPanelRows;
    const float32x4_t w0 = vld1q_f32(p), w1 = vld1q_f32(p + 4);
    for (int t = 0; t < N; ++t) {
      acc[t][0] = vfmaq_n_f32(acc[t][0], w0, x[t * x_stride + k]);
      acc[t][1] = vfmaq_n_f32(acc[t][1], w1, x[t * x_stride + k]);
    }
  }
  for (int t = 0; t < N; ++t) {
    float out[kPanelRows];
    vst1q_f32(out, acc[t][0]);
    vst1q_f32(out + 4, acc[t][1]);
    for (int64_t r = 0; r < rows; ++r) y[t * y_stride + r] = out[r];
  }
}

template <float32x4_t (*Load4)(const uint8_t*), float (*At)(const uint8_t*)>
void gemm_float(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const float* x, int64_t x_stride,
                int64_t n_tok, float* y, int64_t y_stride) {
  thread_local Scratch scratch;
  auto* pw = static_cast<float*>(scratch.get(size_t(cols) * kPanelRows * sizeof(float)));
  for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelRows) {
    const int64_t rows = n_rows - r0 < kPanelRows ? n_rows - r0 : kPanelRows;
    pack_panel<Load4, At>(w + r0 * row_bytes, row_bytes, rows, cols, pw);
    for_token_tiles<kTileTokens>(n_tok, [&](int64_t t, auto tokens) {
      panel_tile<decltype(tokens)::value>(pw, rows, cols, x + t * x_stride, x_stride, y + t * y_stride + r0, y_stride);
    });
  }
}

}  // namespace

void fill_kernels_neon_gemm(Kernels& k) {
  k.gemm_f16 = gemm_float<load4_f16, f16_at>;
  k.gemm_bf16 = gemm_float<load4_bf16, bf16_at>;
}

}  // namespace nagi
