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

// Four key rows per pass against R query rows (the q heads of a KV group):
// each key load (and f16 widening) serves all R rows, where one row at a
// time loaded it R times. Every score adds its d terms in order, as the
// one-row form did.
template <typename T, int R>
void attn_scores_rows_block(const float* const* q_rows, const T* k, int64_t k_stride, int n, int hd, float scale,
                            float* s, int64_t s_stride) {
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const T* k0 = k + j * k_stride;
    __m512 a[R][4];
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < 4; ++c) a[r][c] = _mm512_setzero_ps();
    }
    for (int d = 0; d < hd; d += 16) {
      const __mmask16 m = tail_mask(hd - d);
      __m512 kv[4];
      for (int c = 0; c < 4; ++c) kv[c] = load_keys(k0 + c * k_stride + d, m);
      for (int r = 0; r < R; ++r) {
        const __m512 qd = _mm512_maskz_loadu_ps(m, q_rows[r] + d);
        for (int c = 0; c < 4; ++c) a[r][c] = _mm512_fmadd_ps(qd, kv[c], a[r][c]);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < 4; ++c) s[r * s_stride + j + c] = _mm512_reduce_add_ps(a[r][c]) * scale;
    }
  }
  for (; j < n; ++j) {
    const T* kj = k + j * k_stride;
    __m512 a[R];
    for (int r = 0; r < R; ++r) a[r] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d += 16) {
      const __mmask16 m = tail_mask(hd - d);
      const __m512 kv = load_keys(kj + d, m);
      for (int r = 0; r < R; ++r) a[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q_rows[r] + d), kv, a[r]);
    }
    for (int r = 0; r < R; ++r) s[r * s_stride + j] = _mm512_reduce_add_ps(a[r]) * scale;
  }
}

// Decode-shaped scores, keys row by row: query rows in blocks of 4, 2, 1.
template <typename T>
void attn_scores_rows(const float* const* q_rows, int rows, const T* k, int64_t k_stride, int n, int hd,
                      float scale, float* s, int64_t s_stride) {
  for_row_blocks(rows, [&](auto R, int r) {
    attn_scores_rows_block<T, R>(q_rows + r, k, k_stride, n, hd, scale, s + r * s_stride, s_stride);
  });
}

// R query rows at once, 64 columns in registers: each V load (and f16
// widening) serves all R rows, where one row at a time loaded it R times.
// Every row still adds its keys in order j = 0, 1, ..., skipping zero
// weights, so the sums equal the one-row loop's bit for bit.
template <typename T, int R>
void attn_pv_block(const float* p, int64_t p_stride, const T* v, int64_t v_stride, int n, int hd, float* acc) {
  for (int d0 = 0; d0 < hd; d0 += 64) {
    __mmask16 m[4];
    for (int c = 0; c < 4; ++c) m[c] = hd - d0 - 16 * c <= 0 ? __mmask16(0) : tail_mask(hd - d0 - 16 * c);
    __m512 a[R][4];
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < 4; ++c) a[r][c] = _mm512_maskz_loadu_ps(m[c], acc + int64_t(r) * hd + d0 + 16 * c);
    }
    const T* vj = v + d0;
    for (int j = 0; j < n; ++j, vj += v_stride) {
      float w[R];
      bool any = false;
      for (int r = 0; r < R; ++r) {
        w[r] = p[r * p_stride + j];
        any |= w[r] != 0.f;
      }
      if (!any) continue;
      __m512 vv[4];
      for (int c = 0; c < 4; ++c) vv[c] = load_keys(vj + 16 * c, m[c]);
      for (int r = 0; r < R; ++r) {
        // A zero weight leaves its row untouched (as the one-row loop's skip).
        const __mmask16 live = w[r] != 0.f ? __mmask16(0xffff) : __mmask16(0);
        const __m512 wv = _mm512_set1_ps(w[r]);
        for (int c = 0; c < 4; ++c) a[r][c] = _mm512_mask3_fmadd_ps(wv, vv[c], a[r][c], live);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < 4; ++c) _mm512_mask_storeu_ps(acc + int64_t(r) * hd + d0 + 16 * c, m[c], a[r][c]);
    }
  }
}

// Weighted sum of V rows (f32, or f16 read in place) into each accumulator
// row: query rows in blocks of 4, 2, 1.
template <typename T>
void attn_pv(const float* p, int64_t p_stride, int rows, const T* v, int64_t v_stride, int n, int hd, float* acc) {
  for_row_blocks(rows, [&](auto R, int r) {
    attn_pv_block<T, R>(p + r * p_stride, p_stride, v, v_stride, n, hd, acc + int64_t(r) * hd);
  });
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

// The key tile in blocks of 16 keys x 16 values, transposed in registers
// (the prefill path's scalar transpose was ~12% of its attention time).
template <typename T>
void transpose_keys(const T* k, int64_t k_stride, int n, int hd, float* kt, int64_t kt_stride) {
  for (int j0 = 0; j0 < n; j0 += 16) {
    const int nj = n - j0 < 16 ? n - j0 : 16;
    const __mmask16 keys = tail_mask(nj);
    for (int d0 = 0; d0 < hd; d0 += 16) {
      const __mmask16 m = tail_mask(hd - d0);
      __m512 r[16];
      for (int i = 0; i < 16; ++i) r[i] = i < nj ? load_keys(k + (j0 + i) * k_stride + d0, m) : _mm512_setzero_ps();
      transpose16(r);
      const int nd = hd - d0 < 16 ? hd - d0 : 16;
      for (int c = 0; c < nd; ++c) _mm512_mask_storeu_ps(kt + (d0 + c) * kt_stride + j0, keys, r[c]);
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
  k.transpose_keys = transpose_keys<float>;
  k.transpose_keys_f16 = transpose_keys<uint16_t>;
  k.attn_softmax_tile = attn_softmax_tile;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_f16 = f32_to_f16;
  k.dequantize_q8_32 = dequantize_q8_32;
}

}  // namespace nagi
