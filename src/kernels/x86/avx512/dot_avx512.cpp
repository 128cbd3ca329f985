// AVX-512 (F/BW/VL/VNNI) kernels. Compiled with the AVX-512 flags listed in
// src/CMakeLists.txt and only called when the CPU has all of them. Like the
// AVX2 file, it includes no header whose inline code baseline files share.
#include <immintrin.h>

#include <cstdlib>

#include "avx512_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/page_ahead.h"

namespace nagi {
namespace {

// Sixteen values of each weight type as f32; `mask` selects the valid lanes
// (the masked loads never touch memory past the row).
inline __m512 load_f32(const uint8_t* p, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p));
}
inline __m512 load_f16(const uint8_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512 load_bf16(const uint8_t* p, __mmask16 m) {
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

template <int kElemBytes, __m512 (*Load)(const uint8_t*, __mmask16)>
float dot_row(const uint8_t* w, const float* x, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  const __mmask16 all = 0xffff;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_fmadd_ps(Load(w + (i + 0) * kElemBytes, all), _mm512_loadu_ps(x + i + 0), acc0);
    acc1 = _mm512_fmadd_ps(Load(w + (i + 16) * kElemBytes, all), _mm512_loadu_ps(x + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(Load(w + (i + 32) * kElemBytes, all), _mm512_loadu_ps(x + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(Load(w + (i + 48) * kElemBytes, all), _mm512_loadu_ps(x + i + 48), acc3);
  }
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm512_fmadd_ps(Load(w + i * kElemBytes, all), _mm512_loadu_ps(x + i), acc0);
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(Load(w + i * kElemBytes, m), _mm512_maskz_loadu_ps(m, x + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

float dot_f32(const float* a, const float* b, int64_t n) {
  return dot_row<4, load_f32>(reinterpret_cast<const uint8_t*>(a), b, n);
}

float dot_f16(const uint16_t* a, const float* b, int64_t n) {
  return dot_row<2, load_f16>(reinterpret_cast<const uint8_t*>(a), b, n);
}

template <int kElemBytes, __m512 (*Load)(const uint8_t*, __mmask16)>
void axpy(float a, const uint8_t* x, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, Load(x + i * kElemBytes, 0xffff), _mm512_loadu_ps(y + i)));
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, Load(x + i * kElemBytes, m), _mm512_maskz_loadu_ps(m, y + i)));
  }
}
void axpy_f32(float a, const float* x, float* y, int64_t n) { axpy<4, load_f32>(a, reinterpret_cast<const uint8_t*>(x), y, n); }
void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) { axpy<2, load_f16>(a, reinterpret_cast<const uint8_t*>(x), y, n); }

// Scores of R query rows against up to 64 transposed keys: 4 accumulators
// of 16 keys per row, one broadcast q[r][d] per row and step, each key
// load shared by the R rows; no horizontal sums. Every score adds its d
// terms in order, as the one-row form did.
template <int R>
void attn_scores_block(const float* const* q_rows, const float* kt, int64_t kt_stride, int n, int hd, float scale,
                       float* s, int64_t s_stride) {
  for (int j0 = 0; j0 < n; j0 += 64) {
    const int nj = n - j0 < 64 ? n - j0 : 64;
    __mmask16 m[4];
    for (int c = 0; c < 4; ++c) {
      const int left = nj - 16 * c;
      m[c] = left >= 16 ? __mmask16(0xffff) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
    }
    __m512 a[R][4];
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < 4; ++c) a[r][c] = _mm512_setzero_ps();
    }
    const float* kd = kt + j0;
    for (int d = 0; d < hd; ++d, kd += kt_stride) {
      __m512 kv[4];
      for (int c = 0; c < 4; ++c) kv[c] = _mm512_maskz_loadu_ps(m[c], kd + 16 * c);
      for (int r = 0; r < R; ++r) {
        const __m512 qd = _mm512_set1_ps(q_rows[r][d]);
        for (int c = 0; c < 4; ++c) a[r][c] = _mm512_fmadd_ps(qd, kv[c], a[r][c]);
      }
    }
    const __m512 sc = _mm512_set1_ps(scale);
    for (int r = 0; r < R; ++r) {
      float* sr = s + r * s_stride + j0;
      for (int c = 0; c < 4; ++c) _mm512_mask_storeu_ps(sr + 16 * c, m[c], _mm512_mul_ps(a[r][c], sc));
    }
  }
}

// s[r * s_stride + j] = scale * dot(q_rows[r], key j), keys given
// transposed (kt[d * kt_stride + j]): query rows in blocks of 4, 2, 1.
void attn_scores(const float* const* q_rows, int rows, const float* kt, int64_t kt_stride, int n, int hd,
                 float scale, float* s, int64_t s_stride) {
  for_row_blocks(rows, [&](auto R, int r) {
    attn_scores_block<R>(q_rows + r, kt, kt_stride, n, hd, scale, s + r * s_stride, s_stride);
  });
}

template <int kElemBytes, __m512 (*Load)(const uint8_t*, __mmask16)>
void dot_rows(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const float* x, float* y) {
  PageAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    ahead.before(w + (r + 1) * row_bytes);
    y[r] = dot_row<kElemBytes, Load>(w + r * row_bytes, x, cols);
  }
}

// Same arithmetic as the scalar quantizer (max |x|, d = max / 127, x * (1/d)
// rounded to nearest even), so the results are bit-identical.
void quantize_act_q8(const float* x, int64_t n, int8_t* qs, float* d) {
  for (int64_t b = 0; b < n / kActBlock; ++b) {
    const __m512 x0 = _mm512_loadu_ps(x + b * kActBlock), x1 = _mm512_loadu_ps(x + b * kActBlock + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const float scale = amax / 127.f;
    const float inv = scale != 0.f ? 1.f / scale : 0.f;
    d[b] = scale;
    const __m512 iv = _mm512_set1_ps(inv);
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, iv)), q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, iv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + b * kActBlock), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + b * kActBlock + 16), _mm512_cvtsepi32_epi8(q1));
  }
}

}  // namespace

void fill_kernels_avx512(Kernels& k) {
  k.isa = "avx512";
  k.dot_f32 = dot_f32;
  k.dot_f16 = dot_f16;
  k.axpy_f32 = axpy_f32;
  k.axpy_f16 = axpy_f16;
  k.attn_scores = attn_scores;
  k.dot_rows_f32 = dot_rows<4, load_f32>;
  k.dot_rows_f16 = dot_rows<2, load_f16>;
  k.dot_rows_bf16 = dot_rows<2, load_bf16>;
  k.quantize_act_q8 = quantize_act_q8;
  fill_kernels_avx512_kquant(k);
  fill_kernels_avx512_gemm(k);
  fill_kernels_avx512_kv(k);
  fill_kernels_avx512_x16(k);
  fill_kernels_avx512_groupq(k);  // also the Q4_0 and Q8_0 rows (the same blocks as I4G32 / I8G32)
  fill_kernels_avx512_activation(k);
}

}  // namespace nagi
