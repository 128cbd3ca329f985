// AVX-512 VBMI row kernel for Q4_0 (and I4G32, the same blocks): four blocks
// (72 bytes, 128 values) per step.
//
// One vpermt2b gathers the four blocks' 64 nibble bytes out of the 72-byte
// span into block order, so a single register holds all of them: low
// nibbles are values 0-15 of each block, high nibbles values 16-31. The
// activation is rearranged once per call to match (lanes 4b..4b+3 belong to
// block b in both halves), so the two vpdpbusd chain into one exact int32
// sum per block, seeded with the unsigned offset (-8 * sum of the
// activation bytes). One vpermw + vcvtph2ps spreads the four f16 scales
// over their lanes. That is about half the instructions per value of the
// block-pair kernel in x86/avx512/groupq_avx512.cpp (from L2 one core goes
// from 35 to 45 GB/s), and it reads one row at a time with no software
// prefetch: a single forward stream per thread, which the hardware
// prefetchers follow (docs/KERNELS.md has the figures).
#include <immintrin.h>

#include "../avx512/avx512_util.h"
#include "gfni_nibbles.h"
#include "kernels/kernels_fill.h"
#include "kernels/page_ahead.h"

namespace nagi {
namespace {

constexpr int kBlockBytes = 18, kQuadBytes = 4 * kBlockBytes;

// The activation side of one quad of blocks (computed once per call).
struct QuadTerms {
  __m512i lo, hi;      // activation bytes facing the low / high nibbles
  __m512i neg_offset;  // -8 * (sum of each lane's 8 activation bytes)
  __m512 scale;        // activation scale of each lane's block
};

// Lane-wise partial sums of one quad of one row (reduced by the caller).
inline __m512 quad_dot(const uint8_t* quad, const QuadTerms& t) {
  // Byte 16b + j of the gathered register is nibble byte j of block b, at
  // 18b + 2 + j in the span; indices >= 64 select from the tail register.
  const __m512i nib_idx = _mm512_set_epi8(71, 70, 69, 68, 67, 66, 65, 64, 63, 62, 61, 60, 59, 58, 57, 56,  //
                                          53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38,  //
                                          35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20,  //
                                          17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2);
  // Word i < 16 is the scale of block i / 4, at byte 18 * (i / 4).
  const __m512i scale_idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                             27, 27, 27, 27, 18, 18, 18, 18, 9, 9, 9, 9, 0, 0, 0, 0);
  const __m512i head = _mm512_loadu_si512(quad);
  // Only bytes 64..71 lie past the head: an 8-byte load, never past the row.
  const __m512i tail = _mm512_castsi128_si512(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(quad + 64)));
  const __m512i nib = _mm512_permutex2var_epi8(head, nib_idx, tail);
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  __m512i dot = _mm512_dpbusd_epi32(t.neg_offset, _mm512_and_si512(nib, m4), t.lo);
  dot = _mm512_dpbusd_epi32(dot, high_nibbles(nib), t.hi);
  const __m512 ws = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(scale_idx, head)));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(ws, t.scale));
}

void dot_rows_q4_0(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x,
                   float* y) {
  const int64_t blocks = cols / 32, quads = blocks / 4;
  thread_local Scratch scratch;
  auto* terms = static_cast<QuadTerms*>(scratch.get(size_t(quads) * sizeof(QuadTerms)));
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
  PageAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    ahead.before(row + row_bytes);
    // Two accumulators: consecutive quads do not wait on each other's add.
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 2 <= quads; k += 2) {
      acc0 = _mm512_add_ps(acc0, quad_dot(row + k * kQuadBytes, terms[k]));
      acc1 = _mm512_add_ps(acc1, quad_dot(row + (k + 1) * kQuadBytes, terms[k + 1]));
    }
    if (k < quads) acc0 = _mm512_add_ps(acc0, quad_dot(row + k * kQuadBytes, terms[k]));
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (int64_t b = 4 * quads; b < blocks; ++b) sum += dot_lone_block<4>(row + b * kBlockBytes, x.qs + 32 * b, x.d[b]);
    y[r] = sum;
  }
}

}  // namespace

void fill_kernels_avx512_vbmi(Kernels& k) {
  k.isa = "avx512vbmi";
  k.dot_rows_q4_0 = dot_rows_q4_0;
  fill_kernels_avx512vbmi_kquant(k);
}

}  // namespace nagi
