// AVX2 (+F16C, FMA) KV-cache kernels: f16/int8 rows <-> f32 and
// decode-shaped scores. Tails (fewer than 8 values) go element by element.
#include <immintrin.h>

#include "avx2_util.h"
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

// acc row r += sum_j p[r][j] * (f16 V row j), 8 columns at a time.
void attn_pv_f16(const float* p, int64_t p_stride, int rows, const uint16_t* v, int64_t v_stride, int n, int hd,
                 float* acc) {
  const int hd8 = hd / 8 * 8;
  for (int r = 0; r < rows; ++r) {
    const float* pr = p + r * p_stride;
    float* ar = acc + int64_t(r) * hd;
    for (int j = 0; j < n; ++j) {
      const float w = pr[j];
      const uint16_t* vj = v + j * v_stride;
      const __m256 wv = _mm256_set1_ps(w);
      for (int d = 0; d < hd8; d += 8) _mm256_storeu_ps(ar + d, _mm256_fmadd_ps(wv, load8(vj + d), _mm256_loadu_ps(ar + d)));
      for (int d = hd8; d < hd; ++d) ar[d] += w * to_f32(vj[d]);
    }
  }
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
  k.attn_pv_f16 = attn_pv_f16;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_f16 = f32_to_f16;
  k.dequantize_q8_32 = dequantize_q8_32;
}

}  // namespace nagi
