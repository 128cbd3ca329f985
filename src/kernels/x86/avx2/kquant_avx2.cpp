// AVX2 K-quant row dots: per 32 weights, vpmaddubsw (unsigned weight x int8
// activation, pairs in int16 without saturation) then vpmaddwd by the
// sub-block scale into int32. Same integer results as the scalar kernels.
#include <immintrin.h>

#include "avx2_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/kquant_layout.h"
#include "kernels/page_ahead.h"

namespace nagi {
namespace {

template <bool kHasHigh>
void dot_rows_q45_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                    const QuantizedVectorK& x, float* y) {
  const int64_t blocks = cols / kActBlockK;
  constexpr int kBlockBytes = kHasHigh ? kq::kQ5KBytes : kq::kQ4KBytes;
  const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
  PageAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    ahead.before(b + row_bytes);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < blocks; ++i, b += kBlockBytes) {
      alignas(16) uint8_t sm[16];
      kq::unpack_scales_mins(b + 4, sm);
      const uint8_t* ql = kHasHigh ? b + 48 : b + 16;
      const int8_t* a = x.qs + i * kActBlockK;
      __m256i qh = _mm256_setzero_si256();
      if (kHasHigh) qh = load32(b + 16);
      __m256i isum = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i q = load32(ql + 32 * c);
        __m256i lo = _mm256_and_si256(q, m4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (kHasHigh) {
          lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
          hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
        }
        const __m256i p0 = _mm256_maddubs_epi16(lo, load32(a + 64 * c));
        const __m256i p1 = _mm256_maddubs_epi16(hi, load32(a + 64 * c + 32));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p0, _mm256_set1_epi16(sm[2 * c])));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p1, _mm256_set1_epi16(sm[2 * c + 1])));
      }
      // Mins: lane k of the per-16 sums takes min k/2.
      const __m128i mins8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm + 8));
      const __m128i mins16 = _mm_cvtepu8_epi16(mins8);
      const __m256i mdup = _mm256_set_m128i(_mm_unpackhi_epi16(mins16, mins16), _mm_unpacklo_epi16(mins16, mins16));
      const __m256i msum = _mm256_madd_epi16(load32(x.bsums + i * 16), mdup);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(half_to_f32(b) * x.d[i]), acc);
      accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(half_to_f32(b + 2) * x.d[i]), accm);
    }
    y[r] = hsum(acc) - hsum(accm);
  }
}

void dot_rows_q6_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                   const QuantizedVectorK& x, float* y) {
  const int64_t blocks = cols / kActBlockK;
  const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
  PageAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    ahead.before(b + row_bytes);
    __m256 acc = _mm256_setzero_ps(), accc = _mm256_setzero_ps();
    for (int64_t i = 0; i < blocks; ++i, b += kq::kQ6KBytes) {
      const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
      const int8_t* a = x.qs + i * kActBlockK;
      __m256i isum = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = load32(b + 64 * h), ql1 = load32(b + 64 * h + 32);
        const __m256i qh = load32(b + 128 + 32 * h);
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
            _mm256_or_si256(_mm256_and_si256(ql1, m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4))};
        for (int j = 0; j < 4; ++j) {
          const int g = 8 * h + 2 * j;  // 32 values = groups g, g+1
          const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
          const __m256i p = _mm256_maddubs_epi16(q[j], load32(a + 128 * h + 32 * j));
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, s));
        }
      }
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)));
      const __m256i corr = _mm256_madd_epi16(load32(x.bsums + i * 16), sc16);
      const float dd = half_to_f32(b + 208) * x.d[i];
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(dd), acc);
      accc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(corr), _mm256_set1_ps(32.f * dd), accc);
    }
    y[r] = hsum(acc) - hsum(accc);
  }
}

}  // namespace

void fill_kernels_avx2_kquant(Kernels& k) {
  k.dot_rows_q4_k = dot_rows_q45_k<false>;
  k.dot_rows_q5_k = dot_rows_q45_k<true>;
  k.dot_rows_q6_k = dot_rows_q6_k;
}

}  // namespace nagi
