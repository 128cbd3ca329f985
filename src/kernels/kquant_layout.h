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

// Unpacks one 256-value super-block of a row into u (as 64 words of 4 bytes,
// values in order) and its sub-block dw / mw, for the GEMMs' panel packing.
// `half_to_f32` converts a little-endian f16 at a pointer: each ISA file
// passes its own, and the templates (internal linkage) are instantiated
// there with that file's flags.
template <class Half>
static inline void unpack_q4_k(const uint8_t* b, uint32_t* u, float* dw, float* mw, bool q5, Half half_to_f32) {
  alignas(16) uint8_t sm[16];
  unpack_scales_mins(b + 4, sm);
  const float d = half_to_f32(b), dmin = half_to_f32(b + 2);
  for (int s = 0; s < 8; ++s) {
    dw[s] = d * float(sm[s]);
    mw[s] = dmin * float(sm[8 + s]);
  }
  uint32_t ql[32], qh[8];
  std::memcpy(ql, q5 ? b + 48 : b + 16, 128);
  if (q5) std::memcpy(qh, b + 16, 32);
  for (int c = 0; c < 4; ++c) {
    for (int i = 0; i < 8; ++i) {
      uint32_t lo = ql[8 * c + i] & 0x0f0f0f0fu, hi = (ql[8 * c + i] >> 4) & 0x0f0f0f0fu;
      if (q5) {
        lo |= ((qh[i] >> (2 * c)) & 0x01010101u) << 4;
        hi |= ((qh[i] >> (2 * c + 1)) & 0x01010101u) << 4;
      }
      u[16 * c + i] = lo;
      u[16 * c + 8 + i] = hi;
    }
  }
}

template <class Half>
static inline void unpack_q6_k(const uint8_t* b, uint32_t* u, float* dw, float* mw, Half half_to_f32) {
  const float d = half_to_f32(b + 208);
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  for (int g = 0; g < 16; ++g) {
    dw[g] = d * float(sc[g]);
    mw[g] = 32.f * dw[g];
  }
  for (int h = 0; h < 2; ++h) {
    uint32_t ql[16], qh[8];
    std::memcpy(ql, b + 64 * h, 64);
    std::memcpy(qh, b + 128 + 32 * h, 32);
    const uint32_t m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    for (int i = 0; i < 8; ++i) {
      u[32 * h + i] = (ql[i] & m4) | ((qh[i] & m2) << 4);
      u[32 * h + 8 + i] = (ql[8 + i] & m4) | (((qh[i] >> 2) & m2) << 4);
      u[32 * h + 16 + i] = ((ql[i] >> 4) & m4) | (((qh[i] >> 4) & m2) << 4);
      u[32 * h + 24 + i] = ((ql[8 + i] >> 4) & m4) | (((qh[i] >> 6) & m2) << 4);
    }
  }
}

// Super-block sb of one row into column j of a GEMM panel of kRows rows:
// word i at pw[(sb * 64 + i) * kRows + j], the scales and mins of its
// sub-blocks (kSubs: 8 for Q4_K/Q5_K, 16 for Q6_K) at
// dw / mw[(sb * kSubs + s) * kRows + j].
template <int kRows, int kSubs, class Half>
static inline void pack_super_into_panel(const uint8_t* b, bool q6, bool q5, int64_t sb, int j, uint32_t* pw,
                                         float* dw, float* mw, Half half_to_f32) {
  uint32_t u[64];
  float sdw[kSubs], smw[kSubs];
  if (q6) {
    unpack_q6_k(b, u, sdw, smw, half_to_f32);
  } else {
    unpack_q4_k(b, u, sdw, smw, q5, half_to_f32);
  }
  for (int i = 0; i < 64; ++i) pw[(sb * 64 + i) * kRows + j] = u[i];
  for (int s = 0; s < kSubs; ++s) {
    dw[(sb * kSubs + s) * kRows + j] = sdw[s];
    mw[(sb * kSubs + s) * kRows + j] = smw[s];
  }
}

}  // namespace nagi::kq
