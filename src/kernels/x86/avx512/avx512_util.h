// Small helpers shared by the AVX-512 kernel files of this folder. Include it
// only from files compiled with the AVX-512 flags (src/CMakeLists.txt): the
// helpers are inline code built for AVX-512. They sit in an unnamed namespace
// so that each file keeps its own internal copy, as when they were local,
// and no AVX-512 copy can be picked by the linker for another file.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "../kquant_scales_x86.h"

#include "../f16c_util.h"
#include <cstdlib>
#include <type_traits>

#include "kernels/scratch.h"
#include "kernels/row_blocks.h"

namespace nagi {
namespace {

// exp(x) for x <= 0 (attention scores minus their row max, -|g| in the
// SwiGLU sigmoid), -inf and anything below -87.3 giving 0: x = k ln2 + f
// with |f| <= ln2/2, exp(f) by its Taylor series to f^7 (error < 2e-8
// relative), scaled by 2^k. Within a few ulp of std::exp; NaN stays NaN.
inline __m512 exp_nonpositive(__m512 x) {
  const __mmask16 zero = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
  // vmaxps returns its second operand when either is NaN: x, so NaN passes.
  x = _mm512_max_ps(_mm512_set1_ps(-87.3f), x);
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504089f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 f = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145751953125f), x);
  f = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.428606765330187e-06f), f);
  __m512 p = _mm512_set1_ps(1.f / 5040.f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f / 720.f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f / 120.f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f / 24.f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f / 6.f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~zero), _mm512_scalef_ps(p, k));
}


// One Q4_0 (kBits 4) or Q8_0 (kBits 8) block at blk against 32 activation
// bytes with scale da, with the 256-bit forms: the last block of a row whose
// block count the wide kernels do not divide.
template <int kBits>
inline float dot_lone_block(const uint8_t* blk, const int8_t* a8, float da) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a8));
  __m256i w;
  if constexpr (kBits == 8) {
    w = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)), _mm256_set1_epi8(char(0x80)));
  } else {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i m4 = _mm_set1_epi8(0x0f);
    w = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), m4), _mm_and_si128(packed, m4));
  }
  const __m256i bias = _mm256_set1_epi8(char(kBits == 8 ? 128 : 8));
  const __m256i dot = _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a),
                                       _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, a));
  const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(da * half_to_f32(blk)));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

// 16 rows x 16 columns of 32-bit values (one register per row) transposed
// in registers: out[c] = column c of the 16 rows. 32- and 64-bit
// interleaves within 128-bit lanes, then two rounds of 128-bit lane
// shuffles (64 shuffles for 256 values).
inline void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
  }
}

}  // namespace
}  // namespace nagi
