// AVX-512 VBMI row kernel for Q4_0 (and I4G32, the same blocks): four blocks
// (72 bytes, 128 values) per quad, four quads per group.
//
// One vpermt2b gathers a quad's 64 nibble bytes out of the 72-byte span into
// block order, so a single register holds all of them: low nibbles are
// values 0-15 of each block, high nibbles values 16-31. The activation is
// rearranged once per call to match (lanes 4b..4b+3 belong to block b in
// both halves), so the two vpdpbusd give exact int32 partial sums, four
// lanes per block. A group's four quads are then reduced to one lane per
// block in int32 (exact), the block's offset (-8 * sum of its activation
// bytes) added, and the 16 sums scaled by one fma against their 16 f16
// scales, gathered and converted once. That is about half the instructions
// per value of the block-pair kernel in x86/avx512/groupq_avx512.cpp, and
// fewer float conversions than scaling each quad (docs/KERNELS.md has the
// figures). It reads one row at a time, a single forward stream per thread
// that LineAhead (kernels/page_ahead.h) requests line by line, 4-12 KiB ahead
// (two rows at a time computed faster from L2 but decoded slower from
// DRAM).
#include <immintrin.h>

#include "../avx512/avx512_util.h"
#include "gfni_nibbles.h"
#include "kernels/kernels_fill.h"
#include "kernels/page_ahead.h"
#include "kernels/row_blocks.h"

namespace nagi {
namespace {

constexpr int kBlockBytes = 18, kQuadBytes = 4 * kBlockBytes;

// The activation side of one quad of blocks (computed once per call).
struct QuadTerms {
  __m512i lo, hi;      // activation bytes facing the low / high nibbles
  __m512i neg_offset;  // -8 * (sum of each lane's 8 activation bytes)
  __m512 scale;        // activation scale of each lane's block
};

// Nibble bytes of one quad in block order: byte 16b + j is nibble byte j of
// block b, at 18b + 2 + j in the 72-byte span (indices >= 64 select from
// the 8-byte tail, an 8-byte load, never past the row).
inline __m512i quad_nibbles(const uint8_t* quad, __m512i head) {
  const __m512i nib_idx = _mm512_set_epi8(71, 70, 69, 68, 67, 66, 65, 64, 63, 62, 61, 60, 59, 58, 57, 56,  //
                                          53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38,  //
                                          35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20,  //
                                          17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2);
  const __m512i tail = _mm512_castsi128_si512(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(quad + 64)));
  return _mm512_permutex2var_epi8(head, nib_idx, tail);
}

// Lane-wise partial sums of one quad of one row (the rows' last quads, when
// their count is not a multiple of four).
inline __m512 quad_dot(const uint8_t* quad, const QuadTerms& t) {
  // Word i < 16 is the scale of block i / 4, at byte 18 * (i / 4).
  const __m512i scale_idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                             27, 27, 27, 27, 18, 18, 18, 18, 9, 9, 9, 9, 0, 0, 0, 0);
  const __m512i head = _mm512_loadu_si512(quad);
  const __m512i nib = quad_nibbles(quad, head);
  // Exact int32 dot of each lane's 8 values, seeded with the offset.
  const __m512i dot = _mm512_dpbusd_epi32(
      _mm512_dpbusd_epi32(t.neg_offset, _mm512_and_si512(nib, _mm512_set1_epi8(0x0f)), t.lo), high_nibbles(nib), t.hi);
  const __m512 ws = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(scale_idx, head)));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(ws, t.scale));
}

// The activation side of four quads (16 blocks), lane 4b + q for block
// 4q + b (the order group_dot's sums come out in).
struct GroupTerms {
  __m512i neg_offset;  // -8 * (sum of the block's 32 activation bytes)
  __m512 scale;        // the block's activation scale
};

// Four quads' lane sums (four lanes per block) reduced to one lane per
// block, exactly: lane 4b + q holds block b of quad q (block 4q + b).
inline __m512i reduce_quads(__m512i d0, __m512i d1, __m512i d2, __m512i d3) {
  const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(d0, d1), _mm512_unpackhi_epi32(d0, d1));
  const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(d2, d3), _mm512_unpackhi_epi32(d2, d3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
}

// One group (four quads, 16 blocks) of one row, unpacked once for every
// token: each quad's low and high nibbles, and the 16 f16 scales in the
// order of reduce_quads' lanes (word 4b + q: block b of quad q, word 9b of
// quad q's head), converted by one vcvtph2ps where a quad at a time took
// four conversions and four word permutes.
struct GroupWeights {
  __m512i lo[4], hi[4];
  __m512 scale;
};

inline GroupWeights unpack_group(const uint8_t* g) {
  GroupWeights gw;
  __m512i h[4];
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    h[q] = _mm512_loadu_si512(g + q * kQuadBytes);
    const __m512i nib = quad_nibbles(g + q * kQuadBytes, h[q]);
    gw.lo[q] = _mm512_and_si512(nib, _mm512_set1_epi8(0x0f));
    gw.hi[q] = high_nibbles(nib);
  }
  // Words 4b, 4b+1 come from quads 0, 1 (indices 32+ select the second),
  // 4b+2, 4b+3 from quads 2, 3 in the second permute; the blend takes that
  // pair.
  const __m512i idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                       59, 27, 59, 27, 50, 18, 50, 18, 41, 9, 41, 9, 32, 0, 32, 0);
  const __m512i w01 = _mm512_permutex2var_epi16(h[0], idx, h[1]), w23 = _mm512_permutex2var_epi16(h[2], idx, h[3]);
  gw.scale = _mm512_cvtph_ps(_mm256_mask_blend_epi16(0xcccc, _mm512_castsi512_si256(w01), _mm512_castsi512_si256(w23)));
  return gw;
}

// One token's part of a group: the quads' exact int32 dots reduced to one
// lane per block, the blocks' offsets added, scaled once.
inline __m512 group_dot(const GroupWeights& gw, const QuadTerms* t, const GroupTerms& gt, __m512 acc) {
  __m512i d[4];
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    d[q] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), gw.lo[q], t[q].lo), gw.hi[q], t[q].hi);
  }
  const __m512i sum = _mm512_add_epi32(reduce_quads(d[0], d[1], d[2], d[3]), gt.neg_offset);
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(gw.scale, gt.scale), acc);
}

// The activation side of one token, computed once per call.
struct TokenTerms {
  const QuadTerms* quads;
  const GroupTerms* groups;
  const QuantizedVector* x;
};

void make_terms(const QuantizedVector& x, int64_t quads, QuadTerms* terms, GroupTerms* group_terms) {
  const int64_t groups = quads / 4;
  const __m512i eight = _mm512_set1_epi8(8);
  for (int64_t k = 0; k < quads; ++k) {
    // 128-bit lane b of lo: bytes 0-15 of block b; of hi: bytes 16-31.
    const __m512i a0 = _mm512_loadu_si512(x.qs + 128 * k), a1 = _mm512_loadu_si512(x.qs + 128 * k + 64);
    const __m512i lo = _mm512_permutex2var_epi64(a0, _mm512_set_epi64(13, 12, 9, 8, 5, 4, 1, 0), a1);
    const __m512i hi = _mm512_permutex2var_epi64(a0, _mm512_set_epi64(15, 14, 11, 10, 7, 6, 3, 2), a1);
    terms[k].lo = lo;
    terms[k].hi = hi;
    terms[k].neg_offset = _mm512_sub_epi32(
        _mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, lo), eight, hi));
    terms[k].scale = _mm512_permutexvar_ps(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                                           _mm512_castps128_ps512(_mm_loadu_ps(x.d + 4 * k)));
  }
  for (int64_t j = 0; j < groups; ++j) {
    const QuadTerms* t = terms + 4 * j;
    group_terms[j].neg_offset = reduce_quads(t[0].neg_offset, t[1].neg_offset, t[2].neg_offset, t[3].neg_offset);
    group_terms[j].scale = _mm512_permutexvar_ps(_mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0),
                                                 _mm512_loadu_ps(x.d + 16 * j));
  }
}

// One row against T tokens: the row's weights are unpacked once per group
// for all of them, and each token's arithmetic is the same whatever T is,
// so every token gets bit for bit what a call with it alone gives.
template <int T>
inline void row_q4_0(const uint8_t* row, int64_t blocks, const TokenTerms* tt, float* y, int64_t y_stride) {
  const int64_t quads = blocks / 4, groups = quads / 4;
  // Two accumulators per token: consecutive groups do not wait on each
  // other's fma.
  __m512 acc0[T], acc1[T];
  for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 2 <= groups; j += 2) {
    const GroupWeights g0 = unpack_group(row + 4 * j * kQuadBytes);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc0[t] = group_dot(g0, tt[t].quads + 4 * j, tt[t].groups[j], acc0[t]);
    const GroupWeights g1 = unpack_group(row + 4 * (j + 1) * kQuadBytes);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc1[t] = group_dot(g1, tt[t].quads + 4 * (j + 1), tt[t].groups[j + 1], acc1[t]);
  }
  if (j < groups) {
    const GroupWeights g0 = unpack_group(row + 4 * j * kQuadBytes);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc0[t] = group_dot(g0, tt[t].quads + 4 * j, tt[t].groups[j], acc0[t]);
  }
  for (int t = 0; t < T; ++t) {
    for (int64_t k = 4 * groups; k < quads; ++k) acc1[t] = _mm512_add_ps(acc1[t], quad_dot(row + k * kQuadBytes, tt[t].quads[k]));
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));
    const QuantizedVector& x = *tt[t].x;
    for (int64_t b = 4 * quads; b < blocks; ++b) sum += dot_lone_block<4>(row + b * kBlockBytes, x.qs + 32 * b, x.d[b]);
    y[t * y_stride] = sum;
  }
}

// n_tok tokens over n_rows rows: y[t * y_stride + r].
void rows_q4_0(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector* x, int n_tok,
               float* y, int64_t y_stride) {
  const int64_t blocks = cols / 32, quads = blocks / 4, groups = quads / 4;
  const size_t per_token = size_t(quads) * sizeof(QuadTerms) + size_t(groups) * sizeof(GroupTerms);
  thread_local Scratch scratch, token_scratch;
  auto* base = static_cast<uint8_t*>(scratch.get(per_token * size_t(n_tok)));
  auto* tt = static_cast<TokenTerms*>(token_scratch.get(sizeof(TokenTerms) * size_t(n_tok)));
  for (int t = 0; t < n_tok; ++t) {
    auto* terms = reinterpret_cast<QuadTerms*>(base + per_token * size_t(t));
    auto* group_terms = reinterpret_cast<GroupTerms*>(terms + quads);
    make_terms(x[t], quads, terms, group_terms);
    tt[t] = TokenTerms{terms, group_terms, &x[t]};
  }
  // Up to four tokens per pass over the row (registers: two accumulators
  // each beside the unpacked group); more take further passes from L1.
  for_each_row_ahead(w, row_bytes, n_rows, [&](int64_t r, const uint8_t* row) {
    for_token_passes(n_tok, [&](int t0, auto tokens) {
      row_q4_0<decltype(tokens)::value>(row, blocks, tt + t0, y + t0 * y_stride + r, y_stride);
    });
  });
}

void dot_rows_q4_0(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x,
                   float* y) {
  rows_q4_0(w, row_bytes, n_rows, cols, &x, 1, y, 0);
}

}  // namespace

void fill_kernels_avx512_vbmi(Kernels& k) {
  k.isa = "avx512vbmi";
  k.dot_rows_q4_0 = dot_rows_q4_0;
  k.dot_rows_q4_0_multi = rows_q4_0;
  fill_kernels_avx512vbmi_kquant(k);
}

}  // namespace nagi
