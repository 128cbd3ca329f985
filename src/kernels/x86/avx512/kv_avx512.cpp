// AVX-512 KV-cache kernels: f16/int8 rows <-> f32, decode-shaped scores and
// the P.V sum, over f32 or f16 (read in place) rows.
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

// Keys as f32 or f16 (widened in the register: an f16 cache is read in
// place, with no f32 copy of the tile).
inline __m512 load_keys(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load_keys(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }

// One key row at a time, loaded once for every query row (the q heads of
// a KV group); four keys per pass so the horizontal sums are done together.
template <typename T>
void attn_scores_rows(const float* const* q_rows, int rows, const T* k, int64_t k_stride, int n, int hd,
                      float scale, float* s, int64_t s_stride) {
  for (int r = 0; r < rows; ++r) {
    const float* q = q_rows[r];
    float* sr = s + r * s_stride;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
      const T* k0 = k + j * k_stride;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int d = 0; d < hd; d += 16) {
        const __mmask16 m = tail_mask(hd - d);
        const __m512 qd = _mm512_maskz_loadu_ps(m, q + d);
        a0 = _mm512_fmadd_ps(qd, load_keys(k0 + d, m), a0);
        a1 = _mm512_fmadd_ps(qd, load_keys(k0 + k_stride + d, m), a1);
        a2 = _mm512_fmadd_ps(qd, load_keys(k0 + 2 * k_stride + d, m), a2);
        a3 = _mm512_fmadd_ps(qd, load_keys(k0 + 3 * k_stride + d, m), a3);
      }
      sr[j] = _mm512_reduce_add_ps(a0) * scale;
      sr[j + 1] = _mm512_reduce_add_ps(a1) * scale;
      sr[j + 2] = _mm512_reduce_add_ps(a2) * scale;
      sr[j + 3] = _mm512_reduce_add_ps(a3) * scale;
    }
    for (; j < n; ++j) {
      const T* kj = k + j * k_stride;
      __m512 a = _mm512_setzero_ps();
      for (int d = 0; d < hd; d += 16) {
        const __mmask16 m = tail_mask(hd - d);
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), load_keys(kj + d, m), a);
      }
      sr[j] = _mm512_reduce_add_ps(a) * scale;
    }
  }
}

// Weighted sum of V rows (f32, or f16 read in place) into each accumulator
// row, 64 columns at a time in registers (loaded and stored once per call,
// not once per key).
template <typename T>
void attn_pv(const float* p, int64_t p_stride, int rows, const T* v, int64_t v_stride, int n, int hd, float* acc) {
  for (int r = 0; r < rows; ++r) {
    const float* pr = p + r * p_stride;
    float* ar = acc + int64_t(r) * hd;
    for (int d0 = 0; d0 < hd; d0 += 64) {
      __mmask16 m[4];
      for (int c = 0; c < 4; ++c) m[c] = hd - d0 - 16 * c <= 0 ? __mmask16(0) : tail_mask(hd - d0 - 16 * c);
      __m512 a0 = _mm512_maskz_loadu_ps(m[0], ar + d0), a1 = _mm512_maskz_loadu_ps(m[1], ar + d0 + 16);
      __m512 a2 = _mm512_maskz_loadu_ps(m[2], ar + d0 + 32), a3 = _mm512_maskz_loadu_ps(m[3], ar + d0 + 48);
      const T* vj = v + d0;
      for (int j = 0; j < n; ++j, vj += v_stride) {
        const float w = pr[j];
        if (w == 0.f) continue;
        const __m512 wv = _mm512_set1_ps(w);
        a0 = _mm512_fmadd_ps(wv, load_keys(vj, m[0]), a0);
        a1 = _mm512_fmadd_ps(wv, load_keys(vj + 16, m[1]), a1);
        a2 = _mm512_fmadd_ps(wv, load_keys(vj + 32, m[2]), a2);
        a3 = _mm512_fmadd_ps(wv, load_keys(vj + 48, m[3]), a3);
      }
      _mm512_mask_storeu_ps(ar + d0, m[0], a0);
      _mm512_mask_storeu_ps(ar + d0 + 16, m[1], a1);
      _mm512_mask_storeu_ps(ar + d0 + 32, m[2], a2);
      _mm512_mask_storeu_ps(ar + d0 + 48, m[3], a3);
    }
  }
}

// exp(x) for x <= 0 (scores minus their row max), -inf and anything below
// -87.3 giving 0: x = k ln2 + f with |f| <= ln2/2, exp(f) by its Taylor
// series to f^7 (error < 2e-8 relative), scaled by 2^k. Within a few ulp
// of std::exp.
inline __m512 exp_nonpositive(__m512 x) {
  const __mmask16 zero = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
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

void attn_softmax_tile(float* s, int64_t s_stride, int rows, int n, float* m, float* l, float* acc, int hd) {
  for (int r = 0; r < rows; ++r) {
    float* sr = s + r * s_stride;
    __m512 mv = _mm512_set1_ps(m[r]);
    for (int j = 0; j < n; j += 16) mv = _mm512_mask_max_ps(mv, tail_mask(n - j), mv, _mm512_maskz_loadu_ps(tail_mask(n - j), sr + j));
    const float mx = _mm512_reduce_max_ps(mv);
    if (mx == -__builtin_inff()) {  // nothing visible yet in this row
      for (int j = 0; j < n; j += 16) _mm512_mask_storeu_ps(sr + j, tail_mask(n - j), _mm512_setzero_ps());
      continue;
    }
    const __m512 mxv = _mm512_set1_ps(mx);
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {
      const __mmask16 t = tail_mask(n - j);
      const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, sr + j), mxv));
      _mm512_mask_storeu_ps(sr + j, t, e);
      sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(t, e));
    }
    // 0 on the row's first tile (m = -inf).
    const float corr = _mm512_cvtss_f32(exp_nonpositive(_mm512_set1_ps(m[r] - mx)));
    l[r] = l[r] * corr + _mm512_reduce_add_ps(sum);
    m[r] = mx;
    if (corr != 1.f) {
      float* ar = acc + int64_t(r) * hd;
      const __m512 cv = _mm512_set1_ps(corr);
      for (int d = 0; d < hd; d += 16) {
        const __mmask16 t = tail_mask(hd - d);
        _mm512_mask_storeu_ps(ar + d, t, _mm512_mul_ps(_mm512_maskz_loadu_ps(t, ar + d), cv));
      }
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
  k.attn_scores_rows = attn_scores_rows<float>;
  k.attn_scores_rows_f16 = attn_scores_rows<uint16_t>;
  k.attn_pv = attn_pv<float>;
  k.attn_pv_f16 = attn_pv<uint16_t>;
  k.attn_softmax_tile = attn_softmax_tile;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_f16 = f32_to_f16;
  k.dequantize_q8_32 = dequantize_q8_32;
}

}  // namespace nagi
