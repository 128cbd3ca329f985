// AVX-512 VNNI row kernels of nagi's group types with 64 / 128 values per
// scale (I8G64, I8G128, I4G64, I4G128; layout in format/group_quant.h).
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

namespace nagi {
namespace {

constexpr int kRowsPerTile = 4;
// Prefetch distance along each row (the hardware prefetcher handles the
// streams too, but four rows at once is more than it follows well).
constexpr int kPrefetchBytes = 1024;

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
        _mm_prefetch(reinterpret_cast<const char*>(codes + kPrefetchBytes), _MM_HINT_T0);
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

template <int kBits, int kG>
void dot_rows_groupq(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x,
                     float* y) {
  const int64_t chunks = cols / 64;
  thread_local Scratch scratch;
  auto* terms = static_cast<ChunkTerms*>(scratch.get(size_t(chunks) * sizeof(ChunkTerms)));
  const __m512i bias = _mm512_set1_epi8(char(kBits == 8 ? 128 : 8));
  for (int64_t p = 0; p < chunks; ++p) {
    const __m512i a = _mm512_loadu_si512(x.qs + 64 * p);
    terms[p].neg_offset = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, a));
    terms[p].scale = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(x.d[2 * p]), _mm512_set1_ps(x.d[2 * p + 1]));
  }
  const int64_t groups = cols / kG;
  int64_t r = 0;
  for (; r + kRowsPerTile <= n_rows; r += kRowsPerTile) {
    dot_tile<kBits, kG, kRowsPerTile>(w + r * row_bytes, row_bytes, groups, x.qs, terms, y + r);
  }
  for (; r < n_rows; ++r) dot_tile<kBits, kG, 1>(w + r * row_bytes, row_bytes, groups, x.qs, terms, y + r);
}

}  // namespace

void fill_kernels_avx512_groupq(Kernels& k) {
  k.dot_rows_i8g64 = dot_rows_groupq<8, 64>;
  k.dot_rows_i8g128 = dot_rows_groupq<8, 128>;
  k.dot_rows_i4g64 = dot_rows_groupq<4, 64>;
  k.dot_rows_i4g128 = dot_rows_groupq<4, 128>;
}

}  // namespace nagi
