// Internal to kernels/arm/: helpers shared by the NEON levels. Everything is
// in an anonymous namespace on purpose: arm/neon/ and arm/neon_dot/ are
// compiled with different flags, and an inline function with external
// linkage compiled in both could be merged by the linker into the SDOT copy,
// putting dot-product instructions on the plain NEON path. Internal linkage
// gives each file its own copy. Include only from files under kernels/arm/.
#pragma once

#if !defined(__aarch64__)
#error "kernels/arm/ is for AArch64 builds only"
#endif

#include <arm_neon.h>

#include <cstring>

#include "kernels/kernels.h"

namespace nagi {
namespace {

// IEEE binary16 at p (little-endian) to f32; exact (FCVT), subnormals included.
inline float neon_half_to_f32(const uint8_t* p) {
  __fp16 h;
  std::memcpy(&h, p, sizeof h);
  return static_cast<float>(h);
}

// A Q8_0 block's 32 int8 weights (after the 2-byte scale).
inline int8x16x2_t neon_load_q8_0(const uint8_t* qs) {
  const int8_t* p = reinterpret_cast<const int8_t*>(qs);
  return {{vld1q_s8(p), vld1q_s8(p + 16)}};
}

// A Q4_0 block's 16 bytes: low nibbles are elements 0..15, high nibbles
// 16..31, each re-centred from 0..15 to -8..7.
inline int8x16x2_t neon_load_q4_0(const uint8_t* qs) {
  const uint8x16_t packed = vld1q_u8(qs);
  const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(packed, vdupq_n_u8(0x0f)));
  const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(packed, 4));
  const int8x16_t eight = vdupq_n_s8(8);
  return {{vsubq_s8(lo, eight), vsubq_s8(hi, eight)}};
}

using NeonLoadW = int8x16x2_t (*)(const uint8_t*);
// Exact int32 dot of one block of 32 weights with 32 activations, as four
// partial sums (their total is the block's integer dot).
using NeonBlockDot = int32x4_t (*)(int8x16x2_t w, int8x16x2_t a);

// Q8_0 / Q4_0 rows against a quantized activation: per block an exact int32
// dot, converted to f32 and multiplied-added with d_w * d_x. Two accumulators
// so consecutive blocks' FMAs don't serialise; only the order of the
// per-block float terms differs from the scalar kernel.
template <int kBlockBytes, NeonLoadW LoadW, NeonBlockDot BlockDot>
void neon_dot_rows_quant(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                         const QuantizedVector& x, float* y) {
  const int64_t blocks = cols / kActBlock;
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    float32x4_t acc0 = vdupq_n_f32(0.f), acc1 = vdupq_n_f32(0.f);
    int64_t i = 0;
    for (; i + 2 <= blocks; i += 2, b += 2 * kBlockBytes) {
      const int8_t* a = x.qs + i * kActBlock;
      const int8x16x2_t a0 = {{vld1q_s8(a), vld1q_s8(a + 16)}};
      const int8x16x2_t a1 = {{vld1q_s8(a + 32), vld1q_s8(a + 48)}};
      const float32x4_t p0 = vcvtq_f32_s32(BlockDot(LoadW(b + 2), a0));
      const float32x4_t p1 = vcvtq_f32_s32(BlockDot(LoadW(b + kBlockBytes + 2), a1));
      acc0 = vfmaq_n_f32(acc0, p0, neon_half_to_f32(b) * x.d[i]);
      acc1 = vfmaq_n_f32(acc1, p1, neon_half_to_f32(b + kBlockBytes) * x.d[i + 1]);
    }
    if (i < blocks) {
      const int8_t* a = x.qs + i * kActBlock;
      const int8x16x2_t a0 = {{vld1q_s8(a), vld1q_s8(a + 16)}};
      const float32x4_t p0 = vcvtq_f32_s32(BlockDot(LoadW(b + 2), a0));
      acc0 = vfmaq_n_f32(acc0, p0, neon_half_to_f32(b) * x.d[i]);
    }
    y[r] = vaddvq_f32(vaddq_f32(acc0, acc1));
  }
}

}  // namespace
}  // namespace nagi
