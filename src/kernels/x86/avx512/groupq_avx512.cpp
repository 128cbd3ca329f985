// AVX-512 VNNI row kernels of nagi's group types (layout in
// format/group_quant.h). I4G32 blocks are Q4_0 blocks, so the int4 G = 32
// kernel is this table's Q4_0 row entry as well.
//
// One 64-value chunk of a group is one vpdpbusd against 64 activation bytes:
// int8 codes are one 64-byte load (made unsigned, q + 128, by flipping the
// sign bit); int4 is one 32-byte load broadcast to both halves, shifted by 0
// (low half) or 4 (high half) and masked, which lands values 0..31 and 32..63
// of the chunk in activation order. The unsigned offset (bias * sum(a), per
// 4-byte lane) and the two activation scales of a chunk (lanes 0-7: block
// 2p, lanes 8-15: block 2p+1) depend only on the activation, so they are
// computed once per call and the offset seeds vpdpbusd's accumulator: the
// int32 lanes are then exact. Four rows share every activation load.
#include <immintrin.h>

#include "avx512_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/page_ahead.h"
#include "kernels/row_blocks.h"

namespace nagi {
namespace {

constexpr int kRowsPerTile = 4;
// Four rows read side by side are four interleaved streams in one region,
// which the hardware prefetchers follow poorly once the matrix comes from
// DRAM. So each row stream prefetches the same offset kTilesAhead tiles
// further on (its counterpart row there); int8 streams consume more than a
// line per step, so they prefetch two.
constexpr int kTilesAhead = 4;
template <int kBits>
inline void prefetch_ahead(const uint8_t* p, size_t distance) {
  _mm_prefetch(reinterpret_cast<const char*>(p + distance), _MM_HINT_T0);
  if (kBits == 8) _mm_prefetch(reinterpret_cast<const char*>(p + distance + 64), _MM_HINT_T0);
}

template <int kBits>
inline __m512i load_chunk(const uint8_t* codes) {
  if constexpr (kBits == 8) {
    return _mm512_xor_si512(_mm512_loadu_si512(codes), _mm512_set1_epi8(char(0x80)));
  } else {
    const __m512i both = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes)));
    const __m512i shifted = _mm512_srlv_epi64(both, _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0));
    return _mm512_and_si512(shifted, _mm512_set1_epi8(0x0f));
  }
}

// Per 64-value chunk p of the activation: -bias * (sum of each 4 bytes) and
// the scales of its two blocks.
struct ChunkTerms {
  __m512i neg_offset;
  __m512 scale;
};

template <int kBits, int kG, int R>
void dot_tile(const uint8_t* w, size_t row_bytes, int64_t groups, const int8_t* qs, const ChunkTerms* terms,
              float* y) {
  constexpr int kBlockBytes = 2 + kG * kBits / 8;
  constexpr int kChunks = kG / 64;
  constexpr int kChunkBytes = 64 * kBits / 8;
  const size_t prefetch = kTilesAhead * kRowsPerTile * row_bytes;
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* blk = w + g * kBlockBytes;
    __m512 group_acc[R];
    for (int c = 0; c < kChunks; ++c) {
      const int64_t p = g * kChunks + c;
      const __m512i a = _mm512_loadu_si512(qs + 64 * p);
      for (int r = 0; r < R; ++r) {
        const uint8_t* codes = blk + r * row_bytes + 2 + c * kChunkBytes;
        prefetch_ahead<kBits>(codes, prefetch);
        const __m512i dot = _mm512_dpbusd_epi32(terms[p].neg_offset, load_chunk<kBits>(codes), a);
        group_acc[r] = c == 0 ? _mm512_mul_ps(_mm512_cvtepi32_ps(dot), terms[p].scale)
                              : _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), terms[p].scale, group_acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      acc[r] = _mm512_fmadd_ps(group_acc[r], _mm512_set1_ps(half_to_f32(blk + r * row_bytes)), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

// G = 32, int4 (I4G32, byte for byte Q4_0 blocks): a 64-value chunk spans
// two blocks, each with its own scale. The two blocks' 16 bytes go to 128-bit
// lanes [b0, b0, b1, b1], shifted by [0, 4, 0, 4] and masked, which is again
// activation order. The two weight scales are converted together (one
// vcvtph2ps) and spread over lanes 0-7 / 8-15. (int8 G = 32 reads one row
// at a time, see row_q8_g32.)
inline __m512i load_q4_block_pair(const uint8_t* b0, const uint8_t* b1) {
  const __m512i lanes = _mm512_mask_broadcast_i32x4(
      _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b0))), 0xff00,
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b1)));
  const __m512i shifted = _mm512_srlv_epi64(lanes, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0));
  return _mm512_and_si512(shifted, _mm512_set1_epi8(0x0f));
}

inline __m512 pair_scales(const uint8_t* b0, const uint8_t* b1) {
  const uint32_t both = uint32_t(b0[0] | (b0[1] << 8)) | (uint32_t(b1[0] | (b1[1] << 8)) << 16);
  const __m512 two = _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(both))));
  return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), two);
}

template <int R>
void dot_tile_q4_g32(const uint8_t* w, size_t row_bytes, int64_t blocks, const QuantizedVector& x,
                     const ChunkTerms* terms, float* y) {
  constexpr int kBlockBytes = 18;
  const size_t prefetch = kTilesAhead * kRowsPerTile * row_bytes;
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < blocks / 2; ++p) {
    const __m512i a = _mm512_loadu_si512(x.qs + 64 * p);
    for (int r = 0; r < R; ++r) {
      const uint8_t* b0 = w + r * row_bytes + 2 * p * kBlockBytes;
      prefetch_ahead<4>(b0, prefetch);
      const __m512i dot = _mm512_dpbusd_epi32(terms[p].neg_offset, load_q4_block_pair(b0 + 2, b0 + kBlockBytes + 2), a);
      const __m512 scale = _mm512_mul_ps(terms[p].scale, pair_scales(b0, b0 + kBlockBytes));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    y[r] = _mm512_reduce_add_ps(acc[r]);
    if (blocks % 2 != 0) {
      const int64_t last = blocks - 1;
      y[r] += dot_lone_block<4>(w + r * row_bytes + last * kBlockBytes, x.qs + 32 * last, x.d[last]);
    }
  }
}

// int8 G = 32 (Q8_0, I8G32): one row at a time, its stream requested ahead
// by LineAhead (four interleaved 34-byte-block rows measured slower than
// one row at a time once the matrix streams from DRAM), but with the int4 kernel's
// per-chunk activation terms and paired scale conversion: one vpdpbusd per
// two blocks instead of two plus a subtraction, and one vcvtph2ps for both
// weight scales. Against T tokens (x[t], terms[t], y[t * y_stride]): each
// pair of blocks is loaded and its scales converted once for all of them,
// and each token's arithmetic is the same whatever T is (bit for bit a
// one-token call's).
template <int T>
inline void row_q8_g32(const uint8_t* row, int64_t blocks, const QuantizedVector* x, const ChunkTerms* const* terms,
                       float* y, int64_t y_stride) {
  constexpr int kBlockBytes = 34;
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  __m512 acc0[T], acc1[T];
  for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  int64_t p = 0;
  const int64_t pairs = blocks / 2;
  auto pair = [&](int64_t q, __m512* acc) {
    const uint8_t* b0 = row + 2 * q * kBlockBytes;
    const __m512i w = _mm512_xor_si512(
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + 2))),
                           _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + kBlockBytes + 2)), 1),
        flip);
    const __m512 ws = pair_scales(b0, b0 + kBlockBytes);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m512i dot = _mm512_dpbusd_epi32(terms[t][q].neg_offset, w, _mm512_loadu_si512(x[t].qs + 64 * q));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(terms[t][q].scale, ws), acc[t]);
    }
  };
  for (; p + 2 <= pairs; p += 2) {
    pair(p, acc0);
    pair(p + 1, acc1);
  }
  if (p < pairs) pair(p, acc0);
  for (int t = 0; t < T; ++t) {
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));
    if (blocks % 2 != 0) {
      const int64_t last = blocks - 1;
      sum += dot_lone_block<8>(row + last * kBlockBytes, x[t].qs + 32 * last, x[t].d[last]);
    }
    y[t * y_stride] = sum;
  }
}

// The activation terms of one token (cols / 64 chunks).
template <int kBits>
void make_chunk_terms(const QuantizedVector& x, int64_t chunks, ChunkTerms* terms) {
  const __m512i bias = _mm512_set1_epi8(char(kBits == 8 ? 128 : 8));
  for (int64_t p = 0; p < chunks; ++p) {
    const __m512i a = _mm512_loadu_si512(x.qs + 64 * p);
    terms[p].neg_offset = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, a));
    terms[p].scale = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(x.d[2 * p]), _mm512_set1_ps(x.d[2 * p + 1]));
  }
}

// Q8_0 against n_tok tokens, up to four per pass over a row: y[t * y_stride + r].
void rows_q8_0(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector* x, int n_tok,
               float* y, int64_t y_stride) {
  const int64_t chunks = cols / 64;
  thread_local Scratch scratch, ptr_scratch;
  auto* all = static_cast<ChunkTerms*>(scratch.get(size_t(chunks) * size_t(n_tok) * sizeof(ChunkTerms)));
  auto* terms = static_cast<const ChunkTerms**>(ptr_scratch.get(sizeof(ChunkTerms*) * size_t(n_tok)));
  for (int t = 0; t < n_tok; ++t) {
    make_chunk_terms<8>(x[t], chunks, all + chunks * t);
    terms[t] = all + chunks * t;
  }
  const int64_t blocks = cols / 32;
  for_each_row_ahead(w, row_bytes, n_rows, [&](int64_t r, const uint8_t* row) {
    for_token_passes(n_tok, [&](int t0, auto tokens) {
      row_q8_g32<decltype(tokens)::value>(row, blocks, x + t0, terms + t0, y + t0 * y_stride + r, y_stride);
    });
  });
}

template <int kBits, int kG>
void dot_rows_groupq(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x,
                     float* y) {
  const int64_t chunks = cols / 64;
  thread_local Scratch scratch;
  auto* terms = static_cast<ChunkTerms*>(scratch.get(size_t(chunks) * sizeof(ChunkTerms)));
  make_chunk_terms<kBits>(x, chunks, terms);
  const int64_t groups = cols / kG;
  int64_t r = 0;
  LineAhead ahead(w);
  if constexpr (kG == 32 && kBits == 8) {
    const ChunkTerms* const t1[1] = {terms};
    for (; r < n_rows; ++r) {
      ahead.before(w + (r + 1) * row_bytes);
      row_q8_g32<1>(w + r * row_bytes, groups, &x, t1, y + r, 0);
    }
  } else if constexpr (kG == 32) {
    for (; r + kRowsPerTile <= n_rows; r += kRowsPerTile) {
      ahead.before(w + (r + kRowsPerTile) * row_bytes);
      dot_tile_q4_g32<kRowsPerTile>(w + r * row_bytes, row_bytes, groups, x, terms, y + r);
    }
    for (; r < n_rows; ++r) {
      ahead.before(w + (r + 1) * row_bytes);
      dot_tile_q4_g32<1>(w + r * row_bytes, row_bytes, groups, x, terms, y + r);
    }
  } else {
    for (; r + kRowsPerTile <= n_rows; r += kRowsPerTile) {
      ahead.before(w + (r + kRowsPerTile) * row_bytes);
      dot_tile<kBits, kG, kRowsPerTile>(w + r * row_bytes, row_bytes, groups, x.qs, terms, y + r);
    }
    for (; r < n_rows; ++r) {
      ahead.before(w + (r + 1) * row_bytes);
      dot_tile<kBits, kG, 1>(w + r * row_bytes, row_bytes, groups, x.qs, terms, y + r);
    }
  }
}

}  // namespace

void fill_kernels_avx512_groupq(Kernels& k) {
  k.dot_rows_q4_0 = dot_rows_groupq<4, 32>;
  // A multi-token kernel must give each token the bits of the one-token
  // kernel beside it: the AVX2 level's Q4_0 one does not match this level's
  // rows, and this level has none of its own (the VBMI level does).
  k.dot_rows_q4_0_multi = nullptr;
  k.dot_rows_q8_0 = dot_rows_groupq<8, 32>;
  k.dot_rows_q8_0_multi = rows_q8_0;
  k.dot_rows_i8g64 = dot_rows_groupq<8, 64>;
  k.dot_rows_i8g128 = dot_rows_groupq<8, 128>;
  k.dot_rows_i4g64 = dot_rows_groupq<4, 64>;
  k.dot_rows_i4g128 = dot_rows_groupq<4, 128>;
}

}  // namespace nagi
