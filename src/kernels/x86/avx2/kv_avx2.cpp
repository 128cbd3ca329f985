// AVX2 (+F16C, FMA) KV-cache kernels: f16/int8 rows <-> f32 and
// decode-shaped scores. Tails (fewer than 8 values) go element by element.
#include <immintrin.h>

#include "avx2_util.h"
#include "kernels/row_blocks.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

inline float to_f32(uint16_t h) { return _cvtsh_ss(h); }
inline uint16_t to_f16(float f) { return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }

// Keys / values as f32 or f16 (an f16 cache is widened in the register,
// with no f32 copy of the tile).
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return to_f32(*p); }

// Two keys per pass share each q load; the horizontal sums come last.
template <typename T>
void attn_scores_rows(const float* const* q_rows, int rows, const T* k, int64_t k_stride, int n, int hd,
                      float scale, float* s, int64_t s_stride) {
  const int hd8 = hd / 8 * 8;
  for (int r = 0; r < rows; ++r) {
    const float* q = q_rows[r];
    float* sr = s + r * s_stride;
    int j = 0;
    for (; j + 2 <= n; j += 2) {
      const T* k0 = k + j * k_stride;
      const T* k1 = k0 + k_stride;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0;
      for (int d = 0; d < hd8; d += 8) {
        const __m256 qd = _mm256_loadu_ps(q + d);
        a0 = _mm256_fmadd_ps(qd, load8(k0 + d), a0);
        a1 = _mm256_fmadd_ps(qd, load8(k1 + d), a1);
      }
      float s0 = hsum(a0), s1 = hsum(a1);
      for (int d = hd8; d < hd; ++d) s0 += q[d] * load1(k0 + d), s1 += q[d] * load1(k1 + d);
      sr[j] = s0 * scale;
      sr[j + 1] = s1 * scale;
    }
    for (; j < n; ++j) {
      const T* kj = k + j * k_stride;
      __m256 a = _mm256_setzero_ps();
      for (int d = 0; d < hd8; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load8(kj + d), a);
      float s0 = hsum(a);
      for (int d = hd8; d < hd; ++d) s0 += q[d] * load1(kj + d);
      sr[j] = s0 * scale;
    }
  }
}

// Scores of R query rows against up to 16 transposed keys per pass: two
// accumulators of 8 keys per row, one broadcast q[r][d] per row and step,
// each key load shared by the R rows; no horizontal sums. Every score adds
// its d terms in order, as the scalar form does.
template <int R>
void attn_scores_block(const float* const* q_rows, const float* kt, int64_t kt_stride, int n, int hd, float scale,
                       float* s, int64_t s_stride) {
  for (int j0 = 0; j0 < n; j0 += 16) {
    const int nj = n - j0 < 16 ? n - j0 : 16;
    const __m256i m0 = tail_mask8(nj), m1 = tail_mask8(nj - 8);
    __m256 a[R][2];
    #pragma GCC unroll 4
    for (int r = 0; r < R; ++r) a[r][0] = a[r][1] = _mm256_setzero_ps();
    const float* kd = kt + j0;
    for (int d = 0; d < hd; ++d, kd += kt_stride) {
      const __m256 k0 = _mm256_maskload_ps(kd, m0), k1 = _mm256_maskload_ps(kd + 8, m1);
      #pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256 qd = _mm256_broadcast_ss(q_rows[r] + d);
        a[r][0] = _mm256_fmadd_ps(qd, k0, a[r][0]);
        a[r][1] = _mm256_fmadd_ps(qd, k1, a[r][1]);
      }
    }
    const __m256 sc = _mm256_set1_ps(scale);
    #pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      float* sr = s + r * s_stride + j0;
      _mm256_maskstore_ps(sr, m0, _mm256_mul_ps(a[r][0], sc));
      _mm256_maskstore_ps(sr + 8, m1, _mm256_mul_ps(a[r][1], sc));
    }
  }
}

// s[r * s_stride + j] = scale * dot(q_rows[r], key j), keys given
// transposed (kt[d * kt_stride + j]): the prefill shape.
void attn_scores(const float* const* q_rows, int rows, const float* kt, int64_t kt_stride, int n, int hd,
                 float scale, float* s, int64_t s_stride) {
  for_row_blocks(rows, [&](auto R, int r) {
    attn_scores_block<R>(q_rows + r, kt, kt_stride, n, hd, scale, s + r * s_stride, s_stride);
  });
}

// Eight registers (rows) transposed in place: r[c] becomes column c.
inline void transpose8(__m256* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4b + k], 128-bit half L: element 4L + k of rows 4b .. 4b + 3.
  for (int b = 0; b < 2; ++b) {
    u[4 * b] = _mm256_shuffle_ps(t[4 * b], t[4 * b + 2], 0x44);
    u[4 * b + 1] = _mm256_shuffle_ps(t[4 * b], t[4 * b + 2], 0xee);
    u[4 * b + 2] = _mm256_shuffle_ps(t[4 * b + 1], t[4 * b + 3], 0x44);
    u[4 * b + 3] = _mm256_shuffle_ps(t[4 * b + 1], t[4 * b + 3], 0xee);
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
    r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
  }
}

// The key tile in blocks of 8 keys x 8 values, transposed in registers;
// head sizes that are not a multiple of 8 finish value by value.
template <typename T>
void transpose_keys(const T* k, int64_t k_stride, int n, int hd, float* kt, int64_t kt_stride) {
  const int hd8 = hd / 8 * 8;
  for (int j0 = 0; j0 < n; j0 += 8) {
    const int nj = n - j0 < 8 ? n - j0 : 8;
    const __m256i keys = tail_mask8(nj);
    for (int d0 = 0; d0 < hd8; d0 += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = i < nj ? load8(k + (j0 + i) * k_stride + d0) : _mm256_setzero_ps();
      transpose8(r);
      for (int c = 0; c < 8; ++c) _mm256_maskstore_ps(kt + (d0 + c) * kt_stride + j0, keys, r[c]);
    }
    for (int d = hd8; d < hd; ++d) {
      for (int i = 0; i < nj; ++i) kt[d * kt_stride + j0 + i] = load1(k + (j0 + i) * k_stride + d);
    }
  }
}

// Columns [0, c) of a V row (c <= 8; none when c <= 0), the rest zero.
inline __m256 load8_cols(const float* p, int c) { return _mm256_maskload_ps(p, tail_mask8(c)); }
inline __m256 load8_cols(const uint16_t* p, int c) {
  if (c >= 8) return load8(p);
  alignas(16) uint16_t tmp[8] = {};  // no masked 16-bit load: a tail goes through a buffer
  for (int i = 0; i < c; ++i) tmp[i] = p[i];
  return load8(tmp);
}

// R accumulator rows += sum_j p[r][j] * V row j, 16 columns per pass (two
// registers per row), each V load shared by the R rows. Every row adds its
// keys in order j = 0, 1, ..., skipping zero weights (a hidden key's row
// of V is never multiplied in), like the AVX-512 form.
template <typename T, int R>
void attn_pv_block(const float* p, int64_t p_stride, const T* v, int64_t v_stride, int n, int hd, float* acc) {
  for (int d0 = 0; d0 < hd; d0 += 16) {
    const __m256i m0 = tail_mask8(hd - d0), m1 = tail_mask8(hd - d0 - 8);
    __m256 a[R][2];
    #pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      a[r][0] = _mm256_maskload_ps(acc + int64_t(r) * hd + d0, m0);
      a[r][1] = _mm256_maskload_ps(acc + int64_t(r) * hd + d0 + 8, m1);
    }
    const T* vj = v + d0;
    for (int j = 0; j < n; ++j, vj += v_stride) {
      float w[R];
      bool any = false;
      #pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        w[r] = p[r * p_stride + j];
        any |= w[r] != 0.f;
      }
      if (!any) continue;
      const __m256 v0 = load8_cols(vj, hd - d0), v1 = load8_cols(vj + 8, hd - d0 - 8);
      #pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        if (w[r] == 0.f) continue;
        const __m256 wv = _mm256_set1_ps(w[r]);
        a[r][0] = _mm256_fmadd_ps(wv, v0, a[r][0]);
        a[r][1] = _mm256_fmadd_ps(wv, v1, a[r][1]);
      }
    }
    #pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      _mm256_maskstore_ps(acc + int64_t(r) * hd + d0, m0, a[r][0]);
      _mm256_maskstore_ps(acc + int64_t(r) * hd + d0 + 8, m1, a[r][1]);
    }
  }
}

template <typename T>
void attn_pv(const float* p, int64_t p_stride, int rows, const T* v, int64_t v_stride, int n, int hd, float* acc) {
  for_row_blocks(rows, [&](auto R, int r) {
    attn_pv_block<T, R>(p + r * p_stride, p_stride, v, v_stride, n, hd, acc + int64_t(r) * hd);
  });
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  }
  for (; i < n; ++i) y[i] = to_f32(x[i]);
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
  }
  for (; i < n; ++i) y[i] = to_f16(x[i]);
}

void dequantize_q8_32(const int8_t* qs, const float* d, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 32) {
    const __m256 dv = _mm256_set1_ps(d[i / 32]);
    for (int c = 0; c < 32; c += 8) {
      const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + i + c));
      _mm256_storeu_ps(y + i + c, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), dv));
    }
  }
}

// The online-softmax tile step (Kernels::attn_softmax_tile), eight scores at
// a time with the polynomial exp; tails under a vpmaskmov mask, hidden lanes
// read as -inf for the max.
void attn_softmax_tile(float* s, int64_t s_stride, int rows, int n, float* m, float* l, float* acc, int hd) {
  const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff());
  for (int r = 0; r < rows; ++r) {
    float* sr = s + r * s_stride;
    __m256 mv = _mm256_set1_ps(m[r]);
    int j = 0;
    for (; j + 8 <= n; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(sr + j));
    if (j < n) {
      const __m256i t = tail_mask8(n - j);
      mv = _mm256_max_ps(mv, _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(sr + j, t), _mm256_castsi256_ps(t)));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    const float mx = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    if (mx == -__builtin_inff()) {  // nothing visible yet in this row
      for (int i = 0; i < n; ++i) sr[i] = 0.f;
      continue;
    }
    const __m256 mxv = _mm256_set1_ps(mx);
    __m256 sum = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
      const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(sr + j), mxv));
      _mm256_storeu_ps(sr + j, e);
      sum = _mm256_add_ps(sum, e);
    }
    if (j < n) {
      const __m256i t = tail_mask8(n - j);
      const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_maskload_ps(sr + j, t), mxv));
      _mm256_maskstore_ps(sr + j, t, e);
      sum = _mm256_add_ps(sum, _mm256_and_ps(e, _mm256_castsi256_ps(t)));
    }
    // 0 on the row's first tile (m = -inf).
    const float corr = _mm256_cvtss_f32(exp_nonpositive(_mm256_set1_ps(m[r] - mx)));
    l[r] = l[r] * corr + hsum(sum);
    m[r] = mx;
    if (corr != 1.f) {
      float* ar = acc + int64_t(r) * hd;
      const __m256 cv = _mm256_set1_ps(corr);
      int d = 0;
      for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(ar + d, _mm256_mul_ps(_mm256_loadu_ps(ar + d), cv));
      for (; d < hd; ++d) ar[d] *= corr;
    }
  }
}

}  // namespace

void fill_kernels_avx2_kv(Kernels& k) {
  k.attn_softmax_tile = attn_softmax_tile;
  k.attn_scores_rows = attn_scores_rows<float>;
  k.attn_scores_rows_f16 = attn_scores_rows<uint16_t>;
  k.attn_scores = attn_scores;
  k.attn_pv = attn_pv<float>;
  k.attn_pv_f16 = attn_pv<uint16_t>;
  k.transpose_keys = transpose_keys<float>;
  k.transpose_keys_f16 = transpose_keys<uint16_t>;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_f16 = f32_to_f16;
  k.dequantize_q8_32 = dequantize_q8_32;
}

}  // namespace nagi
