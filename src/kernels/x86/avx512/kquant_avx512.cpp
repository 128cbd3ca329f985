// AVX-512 VNNI K-quant row dots: the Q8_K activation quantizer, Q5_K here,
// and Q4_K / Q6_K from kquant_rows_avx512.h. Per 64 weights: unpack to
// unsigned bytes, vpmaddubsw against the int8 activation (pairs of products
// in int16, no saturation: 63 * 127 * 2 < 2^15), then vpdpwssd multiplies
// the pairs by their sub-block scale and accumulates in int32. Offsets/mins
// use the activation's per-16 sums. One float FMA per 256-value block.
#include <immintrin.h>

#include "avx512_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/kquant_layout.h"
#include "kernels/page_ahead.h"
#include "kernels/row_blocks.h"

namespace nagi {
namespace {

// Each byte's high nibble in its low four bits (the Q4_K / Q6_K rows in
// kquant_rows_avx512.h take it from here; the VBMI level's copy uses GFNI).
inline __m512i high_nibbles(__m512i v) { return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0f)); }

}  // namespace
}  // namespace nagi

#include "kquant_rows_avx512.h"

namespace nagi {
namespace {

// Lane k (of 32 int16) of the scale vector for 64-value chunk c of Q5_K:
// scale 2c + k/16 (32-value sub-blocks).
alignas(64) constexpr int16_t kIdxK4[4][32] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5},
    {6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}};
// Mins of Q5_K against the 16 per-16 activation sums: lane k takes min k/2
// (stored at 8 + k/2 of the unpacked scales/mins).
alignas(32) constexpr int16_t kIdxMins[16] = {8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15};

// Same arithmetic as the scalar quantizer, so the results are bit-identical.
// Each 16-lane register is one group of the per-16 sums.
void quantize_act_q8k(const float* x, int64_t n, int8_t* qs, float* d, int16_t* bsums) {
  for (int64_t b = 0; b < n / kActBlockK; ++b) {
    const float* xb = x + b * kActBlockK;
    __m512 mx = _mm512_setzero_ps();
    for (int g = 0; g < 16; ++g) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(xb + 16 * g)));
    const float amax = _mm512_reduce_max_ps(mx);
    const float scale = amax / 127.f;
    const float inv = scale != 0.f ? 1.f / scale : 0.f;
    d[b] = scale;
    const __m512 iv = _mm512_set1_ps(inv);
    for (int g = 0; g < 16; ++g) {
      const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + 16 * g), iv));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + b * kActBlockK + 16 * g), _mm512_cvtsepi32_epi8(q));
      bsums[b * 16 + g] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
  }
}

// Q5_K, a row at a time: the fifth bit of each value comes from qh. Against
// T tokens (x[t], y[t * y_stride]), as the Q4_K / Q6_K rows: each block is
// unpacked once for all of them, and each token's arithmetic is the same
// whatever T is (bit for bit a one-token call's).
template <int T>
inline void q5_k_row(const uint8_t* b, int64_t blocks, const QuantizedVectorK* x, float* y, int64_t y_stride) {
  constexpr int kBlockBytes = kq::kQ5KBytes;
  const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
  const __m256i idx_min = _mm256_load_si256(reinterpret_cast<const __m256i*>(kIdxMins));
  __m512 acc[T];
  __m256 accm[T];
  for (int t = 0; t < T; ++t) {
    acc[t] = _mm512_setzero_ps();
    accm[t] = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < blocks; ++i, b += kBlockBytes) {
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kBlockBytes), _MM_HINT_T0);
    const __m256i sm16 = _mm256_cvtepu8_epi16(unpack_scales_mins_128(b + 4));
    const __m512i sm512 = _mm512_castsi256_si512(sm16);
    const uint8_t* ql = b + 48;
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
    __m512i isum[T];
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32 * c));
      const __m256i lo = _mm256_or_si256(
          _mm256_and_si256(q, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
      const __m256i hi =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
      const __m512i wq = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
      const __m512i sc = _mm512_permutexvar_epi16(_mm512_load_si512(kIdxK4[c]), sm512);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m512i p = _mm512_maddubs_epi16(wq, _mm512_loadu_si512(x[t].qs + i * kActBlockK + 64 * c));
        isum[t] = _mm512_dpwssd_epi32(isum[t], p, sc);
      }
    }
    const __m256i mins = _mm256_permutexvar_epi16(idx_min, sm16);
    const float d = half_to_f32(b), dmin = half_to_f32(b + 2);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t].bsums + i * 16));
      const __m256i msum = _mm256_madd_epi16(bs, mins);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_set1_ps(d * x[t].d[i]), acc[t]);
      accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * x[t].d[i]), accm[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    y[t * y_stride] = _mm512_reduce_add_ps(acc[t]) - _mm512_reduce_add_ps(_mm512_zextps256_ps512(accm[t]));
  }
}

void dot_rows_q5_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVectorK& x,
                   float* y) {
  const int64_t blocks = cols / kActBlockK;
  for_each_row_ahead(w, row_bytes, n_rows, [&](int64_t r, const uint8_t* row) { q5_k_row<1>(row, blocks, &x, y + r, 0); });
}

// Q5_K against n_tok tokens, up to four per pass over a row.
void rows_q5_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVectorK* x,
               int n_tok, float* y, int64_t y_stride) {
  const int64_t blocks = cols / kActBlockK;
  for_each_row_ahead(w, row_bytes, n_rows, [&](int64_t r, const uint8_t* row) {
    for_token_passes(n_tok, [&](int t0, auto tokens) {
      q5_k_row<decltype(tokens)::value>(row, blocks, x + t0, y + t0 * y_stride + r, y_stride);
    });
  });
}

}  // namespace

void fill_kernels_avx512_kquant(Kernels& k) {
  k.quantize_act_q8k = quantize_act_q8k;
  k.dot_rows_q4_k = dot_rows_q4_k;
  k.dot_rows_q5_k = dot_rows_q5_k;
  k.dot_rows_q6_k = dot_rows_q6_k;
  k.dot_rows_q4_k_multi = rows_q4_k;
  k.dot_rows_q5_k_multi = rows_q5_k;
  k.dot_rows_q6_k_multi = rows_q6_k;
  // The multi-token rows beat the GEMMs below these (bench_ops
  // BM_small_batch, one Zen 4 core: Q4_K 62-68 vs 41-65 GMAC/s at 8-16
  // tokens, Q6_K 62-66 vs 53-61 at 8-12; docs/KERNELS.md).
  k.gemm_q4_k_min_tokens = 16;
  k.gemm_q6_k_min_tokens = 12;
}

}  // namespace nagi
