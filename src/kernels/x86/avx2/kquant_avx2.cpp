// AVX2 K-quant row dots: per 32 weights, vpmaddubsw (unsigned weight x int8
// activation, pairs in int16 without saturation) then vpmaddwd by the
// sub-block scale into int32. Same integer results as the scalar kernels.
// The scales reach their int16 lanes by one byte shuffle each, from the
// block's scale bytes in a register.
#include <immintrin.h>

#include "../kquant_scales_x86.h"
#include "avx2_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/kquant_layout.h"
#include "kernels/page_ahead.h"

namespace nagi {
namespace {

// Byte shuffles that widen Q4_K/Q5_K's unpacked scales (16 bytes, repeated
// in both 128-bit halves) to int16 lanes, 0x80 zeroing each high byte:
// sub[k] puts scale k in every lane (the mins: mins_per_16). One shuffle
// each, where a scalar unpack and a broadcast per sub-block took several ops.
struct Q45KShuffles {
  alignas(32) uint8_t sub[8][32];
};
constexpr Q45KShuffles make_q45k_shuffles() {
  Q45KShuffles t{};
  for (int k = 0; k < 8; ++k) {
    for (int i = 0; i < 32; ++i) t.sub[k][i] = i % 2 ? 0x80 : uint8_t(k);
  }
  return t;
}
constexpr Q45KShuffles kQ45KShuffles = make_q45k_shuffles();

inline __m256i load_shuffle(const uint8_t* idx) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(idx)); }

template <bool kHasHigh>
void dot_rows_q45_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                    const QuantizedVectorK& x, float* y) {
  const int64_t blocks = cols / kActBlockK;
  constexpr int kBlockBytes = kHasHigh ? kq::kQ5KBytes : kq::kQ4KBytes;
  const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
  LineAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    ahead.before(b + row_bytes);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < blocks; ++i, b += kBlockBytes) {
      const __m256i sm = _mm256_broadcastsi128_si256(unpack_scales_mins_128(b + 4));
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
        const __m256i s0 = _mm256_shuffle_epi8(sm, load_shuffle(kQ45KShuffles.sub[2 * c]));
        const __m256i s1 = _mm256_shuffle_epi8(sm, load_shuffle(kQ45KShuffles.sub[2 * c + 1]));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p0, s0));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p1, s1));
      }
      const __m256i msum = _mm256_madd_epi16(load32(x.bsums + i * 16), mins_per_16(sm));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(half_to_f32(b) * x.d[i]), acc);
      accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(half_to_f32(b + 2) * x.d[i]), accm);
    }
    y[r] = hsum(acc) - hsum(accm);
  }
}

// Byte shuffles that spread Q6_K's int8 scales over the int16 lanes of each
// 32-value chunk (h, j): lanes 0-7 take scale g = 8h + 2j, lanes 8-15 scale
// g + 1. Each scale lands in the high byte of its word (0x80 zeroes the low
// byte), and an arithmetic shift by 8 then sign-extends it: two ops per
// chunk, from the 16 scale bytes repeated in both 128-bit halves, where
// broadcasting two scalars and joining them took five.
struct Q6KScaleShuffles {
  alignas(32) uint8_t chunk[8][32];
};
constexpr Q6KScaleShuffles make_q6k_scale_shuffles() {
  Q6KScaleShuffles t{};
  for (int c = 0; c < 8; ++c) {
    for (int i = 0; i < 32; ++i) t.chunk[c][i] = i % 2 ? uint8_t(2 * c + i / 16) : 0x80;
  }
  return t;
}
constexpr Q6KScaleShuffles kQ6KScaleShuffles = make_q6k_scale_shuffles();

void dot_rows_q6_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                   const QuantizedVectorK& x, float* y) {
  const int64_t blocks = cols / kActBlockK;
  const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
  LineAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    ahead.before(b + row_bytes);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < blocks; ++i, b += kq::kQ6KBytes) {
      const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192));
      const __m256i sc_both = _mm256_broadcastsi128_si256(sc8);
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
          const __m256i shuf = load_shuffle(kQ6KScaleShuffles.chunk[4 * h + j]);
          const __m256i s = _mm256_srai_epi16(_mm256_shuffle_epi8(sc_both, shuf), 8);
          const __m256i p = _mm256_maddubs_epi16(q[j], load32(a + 128 * h + 32 * j));
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, s));
        }
      }
      // q is stored + 32: subtract 32 * sum_g sc[g] * bsum[g], exactly, in
      // int32 (|isum| < 2^25, |32 * corr| < 2^25).
      const __m256i corr = _mm256_madd_epi16(load32(x.bsums + i * 16), _mm256_cvtepi8_epi16(sc8));
      isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(corr, 5));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(half_to_f32(b + 208) * x.d[i]), acc);
    }
    y[r] = hsum(acc);
  }
}

}  // namespace

void fill_kernels_avx2_kquant(Kernels& k) {
  k.dot_rows_q4_k = dot_rows_q45_k<false>;
  k.dot_rows_q5_k = dot_rows_q45_k<true>;
  k.dot_rows_q6_k = dot_rows_q6_k;
}

}  // namespace nagi
