// The AVX-512 Q4_K and Q6_K row kernels (decode GEMVs), shared by two
// levels: x86/avx512/kquant_avx512.cpp and, with the high nibbles taken by
// one GFNI affine op instead of a shift and a mask,
// x86/avx512vbmi/kquant_avx512vbmi.cpp. The including file defines
// `high_nibbles(__m512i)` (each byte's high nibble in its low four bits, the
// high four bits zero) in nagi's anonymous namespace first.
//
// Per 64 weights: unsigned bytes, vpdpbusd against the int8 activation
// (four products per int32 lane, each lane within one sub-block), then the
// lanes of two such registers packed to int16 (exact: |4 * 63 * 128| <
// 2^15) and vpdpwssd multiplies each pair of words by its sub-block scale
// and accumulates in int32. That is 1.5 multiply-pipe ops per 64 weights
// where vpmaddubsw + vpdpwssd took 2; on one Zen 4 core from L2 it cut
// 7-10% of the Q4_K and Q6_K kernels' time (docs/KERNELS.md). The
// anonymous namespace gives every including file its own copy, compiled
// with its own flags.
#pragma once

#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "avx512_util.h"
#include "kernels/kernels.h"
#include "kernels/kquant_layout.h"
#include "kernels/page_ahead.h"
#include "kernels/row_blocks.h"
#include "kernels/scratch.h"

namespace nagi {
namespace {

// Lane k (of 32 int16) of the Q6_K scale vector for the packed pair of
// 64-value chunks (2h, 2h + 1): 128-bit lane s of chunk c holds 16-value
// sub-block 4c + s, and the pack puts chunk 2h's four int32 lanes of it in
// words 0-3 of lane s and chunk 2h + 1's in words 4-7.
alignas(64) constexpr int16_t kIdxK6[2][32] = {
    {0, 0, 0, 0, 4, 4, 4, 4, 1, 1, 1, 1, 5, 5, 5, 5, 2, 2, 2, 2, 6, 6, 6, 6, 3, 3, 3, 3, 7, 7, 7, 7},
    {8, 8, 8, 8, 12, 12, 12, 12, 9, 9, 9, 9, 13, 13, 13, 13, 10, 10, 10, 10, 14, 14, 14, 14, 11, 11, 11, 11, 15, 15, 15, 15}};

// Q4_K. A 64-byte load of the nibbles (half p of a block) holds two 32-byte
// chunks: low nibbles are sub-blocks 4p and 4p+2, high ones 4p+1 and 4p+3,
// so the activation is reordered once per call to match ([sb 0|sb 2],
// [sb 1|sb 3], [sb 4|sb 6], [sb 5|sb 7] per block). After vpdpbusd, the
// low nibbles' int32 lanes 0-7 belong to sub-block 4p, 8-15 to 4p+2 (high:
// 4p+1, 4p+3), and packing the two registers puts, in 128-bit lane k,
// words 0-3 from the low register and 4-7 from the high one.
//
// In-lane byte shuffles (vpshufb) widen the unpacked scales (and, through
// mins_per_16, the mins) to the int16 lanes they multiply, from the 16
// unpacked bytes repeated in every 128-bit lane: cheaper on cores that
// execute 512-bit ops as two halves (Zen 4) than word permutes (vpermw).
// 0x80 writes a zero byte, so each word is its scale / min zero-extended.
struct Q4KShuffles {
  alignas(64) uint8_t half[2][64];  // half p: the scale of each packed word
};
constexpr Q4KShuffles make_q4k_shuffles() {
  Q4KShuffles t{};
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < 64; ++i) {
      const int lane = i / 16, word = (i % 16) / 2;
      const int sub_block = 4 * p + (lane >= 2 ? 2 : 0) + (word >= 4 ? 1 : 0);
      t.half[p][i] = i % 2 ? 0x80 : uint8_t(sub_block);
    }
  }
  return t;
}
constexpr Q4KShuffles kQ4KShuffles = make_q4k_shuffles();

// One row at a time: a single forward stream, requested line by line 4-12
// KiB ahead (LineAhead, kernels/page_ahead.h). Four interleaved rows with
// software prefetch two row groups ahead streamed 20 GB/s from DRAM on one
// Zen 5 core against 25 for one row (docs/KERNELS.md), and the activation
// loads it saved come from L1 anyway.
//
// Against T tokens at once (acc[t], a_perm[t], x[t]): each block's weights
// and scales are unpacked once for all of them, and each token's arithmetic
// is the same whatever T is (bit for bit a one-token call's).
template <int T>
inline void q4_k_row(const uint8_t* row, int64_t blocks, const int8_t* const* a_perm, const QuantizedVectorK* x,
                     __m512* out) {
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  __m512i shuf[2];
  for (int p = 0; p < 2; ++p) shuf[p] = _mm512_load_si512(kQ4KShuffles.half[p]);
  __m512 acc[T];
  __m256 accm[T];
  for (int t = 0; t < T; ++t) {
    acc[t] = _mm512_setzero_ps();
    accm[t] = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* b = row + i * kq::kQ4KBytes;
    const __m512i sm = _mm512_broadcast_i32x4(unpack_scales_mins_128(b + 4));
    // Each half's nibbles unpacked and used by every token in turn (the
    // order of the one-token kernel, which ran ~10% slower from L2 with all
    // four registers unpacked first).
    __m512i isum[T];
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      const __m512i z = _mm512_loadu_si512(b + 16 + 64 * p);
      const __m512i lo = _mm512_and_si512(z, m4), hi = high_nibbles(z);
      const __m512i sc = _mm512_shuffle_epi8(sm, shuf[p]);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const int8_t* a = a_perm[t] + i * kActBlockK + 128 * p;
        const __m512i dot_lo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_load_si512(a));
        const __m512i dot_hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi, _mm512_load_si512(a + 64));
        isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_packs_epi32(dot_lo, dot_hi), sc);
      }
    }
    const __m256i mins = mins_per_16(_mm512_castsi512_si256(sm));
    uint32_t d_dmin;
    std::memcpy(&d_dmin, b, 4);
    const __m128 dw = _mm_cvtph_ps(_mm_cvtsi32_si128(int(d_dmin)));
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t].bsums + i * 16));
      const __m256i msum = _mm256_madd_epi16(bs, mins);
      // {d, dmin} * the activation scale, in one vector multiply.
      const __m128 dd = _mm_mul_ps(dw, _mm_set1_ps(x[t].d[i]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_broadcastss_ps(dd), acc[t]);
      accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_broadcastss_ps(_mm_movehdup_ps(dd)), accm[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = _mm512_sub_ps(acc[t], _mm512_zextps256_ps512(accm[t]));
}

// Q6_K, one row at a time (a single stream, as q4_k_row), against T tokens.
template <int T>
inline void q6_k_row(const uint8_t* row, int64_t blocks, const QuantizedVectorK* x, __m512* acc) {
  const __m512i m30 = _mm512_set1_epi8(0x30), m63 = _mm512_set1_epi8(0x3f);
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* b = row + i * kq::kQ6KBytes;
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192)));
    const __m512i sc512 = _mm512_castsi256_si512(sc16);
    __m512i q[4], sc[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(b + 64 * h);
      // The half's 32 qh bytes in both 256-bit halves (a load, no shuffle).
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h)));
      // Values 0-63 of the half: low nibbles, top bits from qh bits 0-1 (first 32) and 2-3;
      // values 64-127: high nibbles, qh bits 4-5 and 6-7. Each value is
      // (nibble) | (two qh bits << 4): one ternary-logic op per register
      // (0xd8 selects its second operand where the mask 0x30 is set). One
      // variable shift per register moves each half's two bits to 4-5 (a
      // qword shift: bits 4-5 of every byte come from the same byte).
      const __m512i qh4 = _mm512_sllv_epi64(qh, _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4));  // bits 0-1 / 2-3
      const __m512i qh6 = _mm512_srlv_epi64(qh, _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0));  // bits 4-5 / 6-7
      // high_nibbles leaves bits 6-7 zero, so q1 needs no mask; q0 keeps
      // ql's high nibble in bits 6-7 until the mask.
      q[2 * h] = _mm512_and_si512(_mm512_ternarylogic_epi32(ql, qh4, m30, 0xd8), m63);
      q[2 * h + 1] = _mm512_ternarylogic_epi32(high_nibbles(ql), qh6, m30, 0xd8);
      sc[h] = _mm512_permutexvar_epi16(_mm512_load_si512(kIdxK6[h]), sc512);
    }
    const float dw = half_to_f32(b + 208);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const int8_t* a = x[t].qs + i * kActBlockK;
      __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m512i d0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[2 * h], _mm512_loadu_si512(a + 128 * h));
        const __m512i d1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[2 * h + 1], _mm512_loadu_si512(a + 128 * h + 64));
        isum = _mm512_dpwssd_epi32(isum, _mm512_packs_epi32(d0, d1), sc[h]);
      }
      // q is stored + 32: subtract 32 * sum_g sc[g] * bsum[g], exactly, in
      // int32 (|isum| < 2^25, |32 * corr| < 2^25).
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t].bsums + i * 16));
      const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5);
      isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(corr));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(dw * x[t].d[i]), acc[t]);
    }
  }
}

// Rows of w against n_tok tokens, up to four per pass over a row (more take
// further passes, from L1): row_fn(row, t0, tokens, acc) leaves the pass's
// sums in acc[0, T); y[t * y_stride + r].
template <class RowFn>
inline void rows_by_token_passes(const uint8_t* w, size_t row_bytes, int64_t n_rows, int n_tok, float* y,
                                 int64_t y_stride, RowFn row_fn) {
  for_each_row_ahead(w, row_bytes, n_rows, [&](int64_t r, const uint8_t* row) {
    for_token_passes(n_tok, [&](int t0, auto tokens) {
      constexpr int T = decltype(tokens)::value;
      __m512 acc[T];
      row_fn(row, t0, tokens, acc);
      for (int t = 0; t < T; ++t) y[(t0 + t) * y_stride + r] = _mm512_reduce_add_ps(acc[t]);
    });
  });
}

// One token through the same row routine, in its own loop so that the
// routine is compiled for it alone (through rows_by_token_passes it ran ~10%
// slower from L2 on Zen 4).
template <class RowFn>
inline void rows_one_token(const uint8_t* w, size_t row_bytes, int64_t n_rows, float* y, RowFn row_fn) {
  for_each_row_ahead(w, row_bytes, n_rows, [&](int64_t r, const uint8_t* row) {
    __m512 acc;
    row_fn(row, &acc);
    y[r] = _mm512_reduce_add_ps(acc);
  });
}

void rows_q6_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVectorK* x,
               int n_tok, float* y, int64_t y_stride) {
  const int64_t blocks = cols / kActBlockK;
  rows_by_token_passes(w, row_bytes, n_rows, n_tok, y, y_stride, [&](const uint8_t* row, int t0, auto tokens, __m512* acc) {
    q6_k_row<decltype(tokens)::value>(row, blocks, x + t0, acc);
  });
}

void dot_rows_q6_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVectorK& x,
                   float* y) {
  const int64_t blocks = cols / kActBlockK;
  rows_one_token(w, row_bytes, n_rows, y, [&](const uint8_t* row, __m512* acc) { q6_k_row<1>(row, blocks, &x, acc); });
}

// The activation of each of n_tok tokens, reordered to match the nibble
// order of q4_k_row: a_perm[t] (in a per-thread buffer).
const int8_t* const* permute_q4_k_act(const QuantizedVectorK* x, int n_tok, int64_t cols) {
  thread_local Scratch scratch, ptr_scratch;
  auto* perm = static_cast<int8_t*>(scratch.get(size_t(cols) * size_t(n_tok)));
  auto* a_perm = static_cast<const int8_t**>(ptr_scratch.get(sizeof(int8_t*) * size_t(n_tok)));
  const __m512i lo_idx = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0), hi_idx = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
  for (int t = 0; t < n_tok; ++t) {
    int8_t* dst = perm + size_t(cols) * size_t(t);
    for (int64_t i = 0; i < cols; i += 128) {
      const __m512i z0 = _mm512_loadu_si512(x[t].qs + i), z1 = _mm512_loadu_si512(x[t].qs + i + 64);
      _mm512_store_si512(dst + i, _mm512_permutex2var_epi64(z0, lo_idx, z1));
      _mm512_store_si512(dst + i + 64, _mm512_permutex2var_epi64(z0, hi_idx, z1));
    }
    a_perm[t] = dst;
  }
  return a_perm;
}

void rows_q4_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVectorK* x,
               int n_tok, float* y, int64_t y_stride) {
  const int64_t blocks = cols / kActBlockK;
  const int8_t* const* a_perm = permute_q4_k_act(x, n_tok, cols);
  rows_by_token_passes(w, row_bytes, n_rows, n_tok, y, y_stride, [&](const uint8_t* row, int t0, auto tokens, __m512* acc) {
    q4_k_row<decltype(tokens)::value>(row, blocks, a_perm + t0, x + t0, acc);
  });
}

void dot_rows_q4_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVectorK& x,
                   float* y) {
  const int64_t blocks = cols / kActBlockK;
  const int8_t* const* a_perm = permute_q4_k_act(&x, 1, cols);
  rows_one_token(w, row_bytes, n_rows, y,
                 [&](const uint8_t* row, __m512* acc) { q4_k_row<1>(row, blocks, a_perm, &x, acc); });
}

}  // namespace
}  // namespace nagi
