// Small helpers shared by the AVX2 kernel files of this folder. Include it
// only from files compiled with the AVX2 flags (src/CMakeLists.txt): the
// helpers are inline code built for AVX2. They sit in an unnamed namespace
// so that each file keeps its own internal copy, as when they were local,
// and no AVX2 copy can be picked by the linker for another file.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "../f16c_util.h"

namespace nagi {
namespace {

// Sum of the eight lanes.
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The files of this folder are also compiled a second time with AVX-VNNI
// (the avx2vnni level: ../avx2vnni/ includes them with NAGI_AVX_VNNI
// defined and -mavxvnni). There the int8 products below are one vpdpbusd
// instead of vpmaddubsw + vpmaddwd. Every caller keeps its int16 pair sums
// below saturation, so both forms give the same int32 sums, bit for bit;
// the level's table fillers get a _vnni suffix so the two copies link side
// by side.
#ifdef NAGI_AVX_VNNI
#define NAGI_AVX2_FILL(name) name##_vnni
#else
#define NAGI_AVX2_FILL(name) name
#endif

// Unsigned int8 u x signed int8 s over 32 lanes -> 8 int32 sums of four
// products each. Callers keep each pair of products inside int16 (the
// vpmaddubsw form saturates there; vpdpbusd does not).
inline __m256i dot_u8i8(__m256i u, __m256i s) {
#ifdef NAGI_AVX_VNNI
  return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

// Signed int8 x signed int8 over 32 lanes -> 8 int32 partial sums.
// maddubs wants one unsigned operand, so move w's sign onto a: |w| * (a * sign(w)).
// |w| <= 128 and |a| <= 127 keep each pair sum (<= 2 * 128 * 127) inside int16.
inline __m256i dot_i8(__m256i w, __m256i a) { return dot_u8i8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w)); }

// exp(x) for x <= 0, eight lanes: the AVX-512 exp_nonpositive's method
// (x = k ln2 + f, |f| <= ln2/2, Taylor series to f^7, error < 2e-8
// relative), with 2^k built in the exponent bits since AVX2 has no vscalefps
// (k >= -126 above the cut-off, so 2^k is a normal float). -inf and anything
// below -87.3 give 0; NaN stays NaN (vmaxps returns its second operand on
// NaN). Within a few ulp of std::exp.
inline __m256 exp_nonpositive(__m256 x) {
  const __m256 zero = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
  x = _mm256_max_ps(_mm256_set1_ps(-87.3f), x);
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504089f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 f = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693145751953125f), x);
  f = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.428606765330187e-06f), f);
  __m256 p = _mm256_set1_ps(1.f / 5040.f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f / 720.f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f / 120.f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f / 24.f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f / 6.f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
  // NaN in k converts to INT_MIN; the product below is NaN anyway.
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(zero, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

// Lanes [0, n) of `n` (< 8 meaningful lanes) as a vpmaskmov mask.
inline __m256i tail_mask8(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// 32 bytes, unaligned.
inline __m256i load32(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

}  // namespace
}  // namespace nagi
