// AVX-512 VNNI GEMVs for the x16 superblock layouts (format/dtype.h).
// Q4_0x16: one 64-byte load holds four blocks' nibbles: the low
// nibbles are elements 0-15 of blocks 0-3, the high ones elements 16-31, so
// masking and one shift give two registers that dot directly against the
// activation reordered once per call to match. The +8 offset of the nibbles
// is removed in f32 per superblock: sum_b dw_b dx_b (sum(q a) - 8 sum(a)).
// Q8_0x16: one 64-byte load is two blocks in the activation's own order;
// values are made unsigned (w ^ 0x80 = w + 128) for vpdpbusd and the 128
// offset is removed the same way.
#include <immintrin.h>

#include "avx512_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/x16_layout.h"
#include "kernels/page_ahead.h"

namespace nagi {
namespace {

// Scale lane of dpbusd lane k for the blocks 4q..4q+3 of a superblock.
alignas(64) constexpr int32_t kQuadScaleIdx[4][16] = {
    {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3},
    {4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7},
    {8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11},
    {12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15}};


// Scale lane of dpbusd lane k for the blocks 2p, 2p+1 of a superblock.
alignas(64) constexpr int32_t kPairScaleIdx[8][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},         {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},         {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
    {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9},         {10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13},
    {14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15}};

// One row, superblock by superblock. xs[b] = bias * dx_b * sum(a_b), the
// offset of the unsigned weights.
//
// Why one row: decode streams the matrix from DRAM, and a single sequential
// stream (requested line by line 4-12 KiB ahead, LineAhead in
// kernels/page_ahead.h: 21 -> 35-36 GB/s for Q4_0x16, 23-24 -> 33-35 for
// Q8_0x16 on one Zen 5 core) stays near the core's full read bandwidth.
// Four rows at once (four interleaved streams a row apart) defeated it. Measured on one Zen 5 core over a 151936 x 1024
// matrix (bench_ops .../1/1/151936): Q8_0x16 read 13 GB/s with four rows and
// no prefetch, 20 GB/s with prefetch two row groups ahead, and 30-33 GB/s
// with one row and no prefetch, the same as the streaming-read benchmark;
// Q4_0x16 went 8 / 26 / 25-27. Sharing activation loads across rows was worth
// <20% from L2, which decode never reads from. (A variant with two
// accumulators measured slower from DRAM, 22 GB/s.)
template <bool kQ4>
inline __m512 row_dot(const uint8_t* w, int64_t supers, const int8_t* a_perm, const float* xs, const float* xd) {
  constexpr int kSuper = x16::super_bytes(kQ4 ? x16::kQ4Payload : x16::kQ8Payload);
  const __m512i m4 = _mm512_set1_epi8(0x0f), flip = _mm512_set1_epi8(char(0x80));
  __m512 acc = _mm512_setzero_ps();
  for (int64_t s = 0; s < supers; ++s) {
    const uint8_t* sb = w + s * kSuper;
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb)));
    acc = _mm512_fnmadd_ps(dw, _mm512_loadu_ps(xs + 16 * s), acc);
    const __m512 sc = _mm512_mul_ps(dw, _mm512_loadu_ps(xd + 16 * s));
    const int8_t* a = a_perm + s * x16::kValues;
    if constexpr (kQ4) {
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        const __m512i a_lo = _mm512_load_si512(a + 128 * q), a_hi = _mm512_load_si512(a + 128 * q + 64);
        __m512i z = _mm512_loadu_si512(sb + x16::kScaleBytes + 64 * q);
        // Keep z in a register: GCC otherwise folds the load into both the
        // mask and the shift, reading each (line-straddling) 64 bytes twice.
        asm("" : "+v"(z));
        const __m512i lo = _mm512_and_si512(z, m4), hi = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, a_lo), hi, a_hi);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                              _mm512_permutexvar_ps(_mm512_load_si512(kQuadScaleIdx[q]), sc), acc);
      }
    } else {
#pragma GCC unroll 8
      for (int p = 0; p < 8; ++p) {
        const __m512i z = _mm512_xor_si512(_mm512_loadu_si512(sb + x16::kScaleBytes + 64 * p), flip);
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), z, _mm512_loadu_si512(a + 64 * p));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                              _mm512_permutexvar_ps(_mm512_load_si512(kPairScaleIdx[p]), sc), acc);
      }
    }
  }
  return acc;
}

// bias * dx_b * sum(a_b) for every block b of the activation.
void block_offsets(const QuantizedVector& x, int64_t blocks, float bias, float* xs) {
  for (int64_t i = 0; i < blocks; i += 2) {
    const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1),
                                          _mm512_loadu_si512(x.qs + i * kActBlock));
    xs[i] = bias * x.d[i] * float(_mm512_reduce_add_epi32(_mm512_maskz_mov_epi32(0x00ff, s)));
    xs[i + 1] = bias * x.d[i + 1] * float(_mm512_reduce_add_epi32(_mm512_maskz_mov_epi32(0xff00, s)));
  }
}

template <bool kQ4>
void dot_rows_x16(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x,
                  float* y) {
  const int64_t blocks = cols / kActBlock, supers = cols / x16::kValues;
  thread_local Scratch scratch;
  auto* a_perm = static_cast<int8_t*>(scratch.get(size_t(cols) + size_t(blocks) * sizeof(float)));
  float* xs = reinterpret_cast<float*>(a_perm + cols);
  const int8_t* a = x.qs;
  if (kQ4) {
    // Every 4 blocks: [elements 0-15 of blocks 0..3][elements 16-31 of blocks 0..3].
    const __m512i lo_idx = _mm512_set_epi64(13, 12, 9, 8, 5, 4, 1, 0);
    const __m512i hi_idx = _mm512_set_epi64(15, 14, 11, 10, 7, 6, 3, 2);
    for (int64_t i = 0; i < blocks; i += 4) {
      const __m512i z0 = _mm512_loadu_si512(x.qs + i * kActBlock), z1 = _mm512_loadu_si512(x.qs + i * kActBlock + 64);
      _mm512_store_si512(a_perm + i * kActBlock, _mm512_permutex2var_epi64(z0, lo_idx, z1));
      _mm512_store_si512(a_perm + i * kActBlock + 64, _mm512_permutex2var_epi64(z0, hi_idx, z1));
    }
    a = a_perm;
  }
  block_offsets(x, blocks, kQ4 ? 8.f : 128.f, xs);
  LineAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    ahead.before(w + (r + 1) * row_bytes);
    y[r] = _mm512_reduce_add_ps(row_dot<kQ4>(w + r * row_bytes, supers, a, xs, x.d));
  }
}

}  // namespace

void fill_kernels_avx512_x16(Kernels& k) {
  k.dot_rows_q4_0x16 = dot_rows_x16<true>;
  k.dot_rows_q8_0x16 = dot_rows_x16<false>;
  // Loads keep Q4_0 / Q8_0 in the file's blocks (model/repack.cpp): the
  // load is then the mapping alone.
  // Q4_0: from DRAM the plain GEMV (groupq_avx512.cpp, prefetching its row
  // streams ahead) read 49-65 GB/s on two cores against 33-41 for Q4_0x16
  // (bench_ops .../1/2/151936, three alternating passes), and 512-token
  // prefill measured the same either way. Q8_0: plain and x16 rows stream
  // alike from DRAM (45-72 vs 45-46 GB/s, three alternating passes), x16
  // prefill is ~15% faster, but the copy cost 0.3-1.2 s of load on a Zen 5
  // VM (first-touch page faults of 600 MB, Qwen3-0.6B) against 85 ms
  // mapped, and decode from the copy swung between 33 and 79 tok/s where
  // the mapped file gave 64-77 (docs/PERFORMANCE.md). `NAGI_REPACK=x16`
  // still asks for the copy.
}

}  // namespace nagi
