// Byte layout of GGML's K-quant blocks (256 values), shared by the scalar and
// SIMD kernels. Header-only and free of ISA-specific code, so including it in
// per-ISA files is safe (constexpr data and a function inlined there).
#pragma once

#include <cstdint>
#include <cstring>

namespace nagi::kq {

// Q4_K: d f16, dmin f16, scales[12], qs[128] (4-bit).
inline constexpr int kQ4KBytes = 144;
// Q5_K: d, dmin, scales[12], qh[32] (5th bits), qs[128].
inline constexpr int kQ5KBytes = 176;
// Q6_K: ql[128] (low 4 bits), qh[64] (top 2 bits), scales int8[16], d f16.
inline constexpr int kQ6KBytes = 210;

// The 12 scale bytes of Q4_K/Q5_K hold eight 6-bit (scale, min) pairs: pairs
// 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); pairs 4-7 keep
// their low nibbles in bytes 8-11 (scale low, min high) and their top 2 bits
// in the spare high bits of bytes 0-3 (scales) and 4-7 (mins).
// out[0..7] = scales, out[8..15] = mins. Word-wide, like the bit layout.
static inline __attribute__((always_inline)) void unpack_scales_mins(const uint8_t* s, uint8_t out[16]) {
  uint32_t v[3];
  std::memcpy(v, s, 12);
  const uint32_t low6 = 0x3f3f3f3fu, low4 = 0x0f0f0f0fu, top2 = 0xc0c0c0c0u;
  const uint32_t r[4] = {
      v[0] & low6,                                        // scales 0-3
      (v[2] & low4) | ((v[0] & top2) >> 2),               // scales 4-7
      v[1] & low6,                                        // mins 0-3
      ((v[2] >> 4) & low4) | ((v[1] & top2) >> 2),        // mins 4-7
  };
  std::memcpy(out, r, 16);
}

}  // namespace nagi::kq
