// Q4_K/Q5_K scale unpacking shared by the x86 kernel files (every x86 level
// above scalar is compiled with AVX2). Include it only from those files; the
// unnamed namespace gives each file its own copy (docs/KERNELS.md,
// "Dispatch").
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace nagi {
namespace {

// Q4_K/Q5_K's twelve packed scale/min bytes at s (kq::unpack_scales_mins's
// layout: 8 six-bit scales, then 8 six-bit mins) as 16 bytes in a register.
// Building them with scalar stores and reloading them as a vector stalled
// every block on a failed store-to-load forward. Reads 16 bytes at s; the
// caller's block continues past them.
inline __m128i unpack_scales_mins_128(const uint8_t* s) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));  // words v0 v1 v2 (x)
  // Words 0 and 2 of the result: v0 & low6, v1 & low6. Words 1 and 3:
  // (v2 & low4) | ((v0 & top2) >> 2) and ((v2 >> 4) & low4) | ((v1 & top2) >> 2).
  const __m128i a = _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)), _mm_set_epi32(4, 0, 0, 0));
  const __m128i b = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));
  const __m128i lo = _mm_and_si128(a, _mm_set_epi32(0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f));
  const __m128i hi = _mm_srli_epi32(_mm_and_si128(b, _mm_set_epi32(int(0xc0c0c0c0), 0, int(0xc0c0c0c0), 0)), 2);
  return _mm_or_si128(lo, hi);
}

}  // namespace
}  // namespace nagi
