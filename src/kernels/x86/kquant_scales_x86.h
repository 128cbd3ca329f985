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

// The mins of unpack_scales_mins_128's bytes (repeated in both 128-bit
// halves of sm) widened to the int16 lanes that face a block's 16 per-16
// activation sums: lane k gets min k / 2 (byte 8 + k / 2), zero-extended by
// one byte shuffle (0x80 writes a zero byte).
struct MinsShuffle {
  alignas(32) uint8_t idx[32];
};
constexpr MinsShuffle make_mins_shuffle() {
  MinsShuffle t{};
  for (int i = 0; i < 32; ++i) t.idx[i] = i % 2 ? 0x80 : uint8_t(8 + i / 4);
  return t;
}
constexpr MinsShuffle kMinsShuffle = make_mins_shuffle();

inline __m256i mins_per_16(__m256i sm) {
  return _mm256_shuffle_epi8(sm, _mm256_load_si256(reinterpret_cast<const __m256i*>(kMinsShuffle.idx)));
}

}  // namespace
}  // namespace nagi
