// AVX2 prefill GEMMs for Q8_0 and Q4_0 (and the I8G32 / I4G32 group types,
// the same blocks): tiles of 2 rows x 4 tokens, so each unpacked weight
// block serves four tokens and each activation block two rows. Without them
// an AVX2 machine ran a prompt as one GEMV per token.
//
// Per block the int32 dot is exact, as in the row kernels: Q8_0 by the sign
// trick of dot_i8 (|w| against a * sign(w) in vpmaddubsw); Q4_0 keeps its
// nibbles unsigned (0..15, so vpmaddubsw's int16 pairs cannot saturate) and
// removes the +8 offset as 8 * sum(a): each of the eight int32 lanes gives
// back sum(a) of the block, taken from the caller's per-16 sums. Then one
// FMA per block with the two scales. Tokens are walked in tiles of 32 so a
// tile's activations stay in L1/L2 while the rows stream past.
#include <immintrin.h>

#include <algorithm>

#include "avx2_util.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

constexpr int64_t kTokenTile = 32;

template <bool kQ4>
struct BlockFormat {
  static constexpr int kBytes = kQ4 ? 18 : 34;
  // The block's 32 quants in activation order: Q4_0 unsigned 0..15, Q8_0 signed.
  static __m256i quants(const uint8_t* block) {
    if constexpr (kQ4) {
      const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
      const __m128i m4 = _mm_set1_epi8(0x0f);
      return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), m4), _mm_and_si128(packed, m4));
    } else {
      return load32(block + 2);
    }
  }
};

// y[t, r] for rows [0, R) and tokens [t0, t0 + T).
template <bool kQ4, int R, int T>
inline void tile(const uint8_t* w, size_t row_bytes, int64_t nb, int64_t cols, const int8_t* qs, const float* d,
                 const int32_t* sums, int64_t t0, float* y, int64_t y_stride) {
  using F = BlockFormat<kQ4>;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wq[R], wabs[R];
    __m256 dw[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* block = w + r * row_bytes + b * F::kBytes;
      dw[r] = _mm256_set1_ps(half_to_f32(block));
      wq[r] = F::quants(block);
      if constexpr (!kQ4) wabs[r] = _mm256_sign_epi8(wq[r], wq[r]);
    }
    for (int t = 0; t < T; ++t) {
      const int64_t tok = t0 + t;
      const __m256i a = load32(qs + tok * cols + 32 * b);
      const __m256 da = _mm256_broadcast_ss(d + tok * nb + b);
      __m256i offset = _mm256_setzero_si256();
      if constexpr (kQ4) offset = _mm256_set1_epi32(sums[tok * 2 * nb + 2 * b] + sums[tok * 2 * nb + 2 * b + 1]);
      for (int r = 0; r < R; ++r) {
        __m256i v;
        if constexpr (kQ4) {
          v = _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(wq[r], a), ones), offset);
        } else {
          v = _mm256_madd_epi16(_mm256_maddubs_epi16(wabs[r], _mm256_sign_epi8(a, wq[r])), ones);
        }
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), _mm256_mul_ps(dw[r], da), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[(t0 + t) * y_stride + r] = hsum(acc[r][t]);
}

// Tokens [t0, t1) of rows [0, R): four at a time, then the rest.
template <bool kQ4, int R>
void token_run(const uint8_t* w, size_t row_bytes, int64_t nb, int64_t cols, const int8_t* qs, const float* d,
               const int32_t* sums, int64_t t0, int64_t t1, float* y, int64_t y_stride) {
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) tile<kQ4, R, 4>(w, row_bytes, nb, cols, qs, d, sums, t, y, y_stride);
  switch (t1 - t) {
    case 3: tile<kQ4, R, 3>(w, row_bytes, nb, cols, qs, d, sums, t, y, y_stride); break;
    case 2: tile<kQ4, R, 2>(w, row_bytes, nb, cols, qs, d, sums, t, y, y_stride); break;
    case 1: tile<kQ4, R, 1>(w, row_bytes, nb, cols, qs, d, sums, t, y, y_stride); break;
    default: break;
  }
}

template <bool kQ4>
void gemm(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const int8_t* qs, const float* d,
          const int32_t* sums, int64_t n_tok, float* y, int64_t y_stride) {
  const int64_t nb = cols / 32;
  for (int64_t t0 = 0; t0 < n_tok; t0 += kTokenTile) {
    const int64_t t1 = std::min(n_tok, t0 + kTokenTile);
    int64_t r = 0;
    for (; r + 2 <= n_rows; r += 2) {
      token_run<kQ4, 2>(w + r * row_bytes, row_bytes, nb, cols, qs, d, sums, t0, t1, y + r, y_stride);
    }
    if (r < n_rows) token_run<kQ4, 1>(w + r * row_bytes, row_bytes, nb, cols, qs, d, sums, t0, t1, y + r, y_stride);
  }
}

}  // namespace

void fill_kernels_avx2_gemm(Kernels& k) {
  k.gemm_q8_0 = gemm<false>;
  k.gemm_q4_0 = gemm<true>;
}

}  // namespace nagi
