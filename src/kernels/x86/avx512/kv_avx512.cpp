// AVX-512 KV-cache kernels: f16/int8 rows <-> f32 and decode-shaped scores.
// Compiled with the AVX-512 flags; includes no header whose inline code
// baseline files share.
#include <immintrin.h>

#include "avx512_util.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
}

// One key row at a time, loaded once for every query row (the q heads of
// a KV group); four keys per pass so the horizontal sums are done together.
void attn_scores_rows(const float* const* q_rows, int rows, const float* k, int64_t k_stride, int n, int hd,
                      float scale, float* s, int64_t s_stride) {
  for (int r = 0; r < rows; ++r) {
    const float* q = q_rows[r];
    float* sr = s + r * s_stride;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
      const float* k0 = k + j * k_stride;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int d = 0; d < hd; d += 16) {
        const __mmask16 m = tail_mask(hd - d);
        const __m512 qd = _mm512_maskz_loadu_ps(m, q + d);
        a0 = _mm512_fmadd_ps(qd, _mm512_maskz_loadu_ps(m, k0 + d), a0);
        a1 = _mm512_fmadd_ps(qd, _mm512_maskz_loadu_ps(m, k0 + k_stride + d), a1);
        a2 = _mm512_fmadd_ps(qd, _mm512_maskz_loadu_ps(m, k0 + 2 * k_stride + d), a2);
        a3 = _mm512_fmadd_ps(qd, _mm512_maskz_loadu_ps(m, k0 + 3 * k_stride + d), a3);
      }
      sr[j] = _mm512_reduce_add_ps(a0) * scale;
      sr[j + 1] = _mm512_reduce_add_ps(a1) * scale;
      sr[j + 2] = _mm512_reduce_add_ps(a2) * scale;
      sr[j + 3] = _mm512_reduce_add_ps(a3) * scale;
    }
    for (; j < n; ++j) {
      const float* kj = k + j * k_stride;
      __m512 a = _mm512_setzero_ps();
      for (int d = 0; d < hd; d += 16) {
        const __mmask16 m = tail_mask(hd - d);
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), _mm512_maskz_loadu_ps(m, kj + d), a);
      }
      sr[j] = _mm512_reduce_add_ps(a) * scale;
    }
  }
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
  }
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16(y + i, m, h);
  }
}

void dequantize_q8_32(const int8_t* qs, const float* d, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 32) {
    const __m512 dv = _mm512_set1_ps(d[i / 32]);
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + i))));
    const __m512 hi =
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + i + 16))));
    _mm512_storeu_ps(y + i, _mm512_mul_ps(lo, dv));
    _mm512_storeu_ps(y + i + 16, _mm512_mul_ps(hi, dv));
  }
}

}  // namespace

void fill_kernels_avx512_kv(Kernels& k) {
  k.attn_scores_rows = attn_scores_rows;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_f16 = f32_to_f16;
  k.dequantize_q8_32 = dequantize_q8_32;
}

}  // namespace nagi
