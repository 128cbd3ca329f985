// Small helpers shared by the AVX2 kernel files of this folder. Include it
// only from files compiled with the AVX2 flags (src/CMakeLists.txt): the
// helpers are inline code built for AVX2. They sit in an unnamed namespace
// so that each file keeps its own internal copy, as when they were local,
// and no AVX2 copy can be picked by the linker for another file.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace nagi {
namespace {

// Sum of the eight lanes.
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// A little-endian f16 at p (block scales) as f32.
inline float half_to_f32(const uint8_t* p) { return _cvtsh_ss(static_cast<unsigned short>(p[0] | (p[1] << 8))); }

// Signed int8 x signed int8 over 32 lanes -> 8 int32 partial sums.
// maddubs wants one unsigned operand, so move w's sign onto a: |w| * (a * sign(w)).
// |w| <= 128 and |a| <= 127 keep each pair sum (<= 2 * 128 * 127) inside int16.
inline __m256i dot_i8(__m256i w, __m256i a) {
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

// 32 bytes, unaligned.
inline __m256i load32(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

}  // namespace
}  // namespace nagi
