// AVX2 + FMA + F16C kernels. Compiled with -mavx2 -mfma -mf16c (see
// src/CMakeLists.txt) and only called when the CPU has them. This file must
// not include headers with inline non-template code used elsewhere (half.h,
// ops.h): the linker could keep this file's AVX2 copy for baseline callers.
#include <immintrin.h>

#include <cstring>
#include <utility>

#include "avx2_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/page_ahead.h"
#include "kernels/row_blocks.h"
#include "kernels/scratch.h"

namespace nagi {
namespace {

// Eight bf16 values to f32: bf16 is the top half of an f32.
inline __m256 load_bf16(const uint8_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
inline __m256 load_f16(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 load_f32(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }

inline float scalar_f32(const uint8_t* p, int64_t i) { return reinterpret_cast<const float*>(p)[i]; }
inline float scalar_f16(const uint8_t* p, int64_t i) { return half_to_f32(p + 2 * i); }
inline float scalar_bf16(const uint8_t* p, int64_t i) {
  const uint32_t bits = uint32_t(p[2 * i] | (p[2 * i + 1] << 8)) << 16;
  return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(bits))));
}

// Four independent accumulators of 8 hide the FMA latency; the tail (cols not
// a multiple of 8, possible for F32/F16/BF16 rows) is done one value at a time.
template <int kElemBytes, __m256 (*Load)(const uint8_t*), float (*Scalar)(const uint8_t*, int64_t)>
float dot_row(const uint8_t* w, const float* x, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(Load(w + (i + 0) * kElemBytes), _mm256_loadu_ps(x + i + 0), acc0);
    acc1 = _mm256_fmadd_ps(Load(w + (i + 8) * kElemBytes), _mm256_loadu_ps(x + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(Load(w + (i + 16) * kElemBytes), _mm256_loadu_ps(x + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(Load(w + (i + 24) * kElemBytes), _mm256_loadu_ps(x + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(Load(w + i * kElemBytes), _mm256_loadu_ps(x + i), acc0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) s += Scalar(w, i) * x[i];
  return s;
}

float dot_f32(const float* a, const float* b, int64_t n) {
  return dot_row<4, load_f32, scalar_f32>(reinterpret_cast<const uint8_t*>(a), b, n);
}

float dot_f16(const uint16_t* a, const float* b, int64_t n) {
  return dot_row<2, load_f16, scalar_f16>(reinterpret_cast<const uint8_t*>(a), b, n);
}

template <int kElemBytes, __m256 (*Load)(const uint8_t*), float (*Scalar)(const uint8_t*, int64_t)>
void axpy(float a, const uint8_t* x, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, Load(x + i * kElemBytes), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * Scalar(x, i);
}
void axpy_f32(float a, const float* x, float* y, int64_t n) {
  axpy<4, load_f32, scalar_f32>(a, reinterpret_cast<const uint8_t*>(x), y, n);
}
void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  axpy<2, load_f16, scalar_f16>(a, reinterpret_cast<const uint8_t*>(x), y, n);
}

template <int kElemBytes, __m256 (*Load)(const uint8_t*), float (*Scalar)(const uint8_t*, int64_t)>
void dot_rows(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const float* x, float* y) {
  PageAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    ahead.before(w + (r + 1) * row_bytes);
    y[r] = dot_row<kElemBytes, Load, Scalar>(w + r * row_bytes, x, cols);
  }
}


// Sum of each of eight int32 vectors, exactly: lane k of the result is the
// total of v[k]'s lanes (32-bit, then 64-bit interleaves, then the halves).
inline __m256i reduce8(const __m256i* v) {
  __m256i s[4], t[2];
  for (int p = 0; p < 4; ++p) {
    s[p] = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2 * p], v[2 * p + 1]),
                            _mm256_unpackhi_epi32(v[2 * p], v[2 * p + 1]));
  }
  for (int p = 0; p < 2; ++p) {
    t[p] = _mm256_add_epi32(_mm256_unpacklo_epi64(s[2 * p], s[2 * p + 1]),
                            _mm256_unpackhi_epi64(s[2 * p], s[2 * p + 1]));
  }
  return _mm256_add_epi32(_mm256_permute2x128_si256(t[0], t[1], 0x20), _mm256_permute2x128_si256(t[0], t[1], 0x31));
}

// Q4_0 (kBits 4, 18-byte blocks) and Q8_0 (kBits 8, 34-byte blocks) rows.
// Per block an exact int32 dot in eight lanes: Q8_0 through dot_i8's sign
// trick; Q4_0 with the nibbles unsigned (0..15; one broadcast load, one
// variable shift puts the high nibbles in the upper half, one mask), so
// vpmaddubsw needs no sign trick, and the -8 offset added as -8 * (the
// block's activation sum), precomputed once per call. Eight blocks' dots are
// then reduced to one lane each, and their eight f16 scales converted, and
// multiplied by the activation scales, with one instruction each: one float
// FMA per eight blocks instead of a conversion, a scalar scale and an FMA
// per block. From L2, one Zen 4 core: Q4_0 1.45-1.7x the per-block kernel
// this replaced (docs/KERNELS.md).
template <int kBits>
constexpr int kBlockBytes = kBits == 4 ? 18 : 34;

// Q4_0's offsets for one token: per block, eight lanes whose sum is
// -8 * (sum of the block's activation); per group of eight blocks, lane k
// holding block 8g + k's total.
struct Q4Offsets {
  const __m256i* block = nullptr;
  const __m256i* group = nullptr;
};

// The offsets of n_tok tokens, in per-thread buffers (Q4_0 only).
template <int kBits>
const Q4Offsets* token_offsets(const QuantizedVector* x, int n_tok, int64_t blocks) {
  if constexpr (kBits != 4) return nullptr;
  const int64_t octs = blocks / 8;
  thread_local Scratch block_offsets, group_offsets, views;
  auto* off = static_cast<__m256i*>(block_offsets.get(size_t(n_tok) * size_t(blocks) * sizeof(__m256i)));
  auto* off8 = static_cast<__m256i*>(group_offsets.get(size_t(n_tok) * size_t(octs + 1) * sizeof(__m256i)));
  auto* v = static_cast<Q4Offsets*>(views.get(size_t(n_tok) * sizeof(Q4Offsets)));
  for (int t = 0; t < n_tok; ++t) {
    __m256i* ob = off + size_t(t) * size_t(blocks);
    __m256i* og = off8 + size_t(t) * size_t(octs + 1);
    for (int64_t i = 0; i < blocks; ++i) {
      const __m256i a = load32(x[t].qs + i * kActBlock);
      ob[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), a), _mm256_set1_epi16(-8));
    }
    for (int64_t g = 0; g < octs; ++g) og[g] = reduce8(ob + 8 * g);
    v[t].block = ob;
    v[t].group = og;
  }
  return v;
}

// Block i's weights as maddubs wants them: Q4_0's unsigned nibbles, Q8_0's
// int8 values (the sign goes onto the activation in dot_i8).
template <int kBits>
inline __m256i block_weights(const uint8_t* blk) {
  if constexpr (kBits == 4) {
    const __m256i packed = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
    return _mm256_and_si256(_mm256_srlv_epi32(packed, _mm256_set_epi32(4, 4, 4, 4, 0, 0, 0, 0)),
                            _mm256_set1_epi8(0x0f));
  } else {
    return load32(blk + 2);
  }
}

template <int kBits>
inline __m256i block_dot(__m256i q, const int8_t* a8) {
  const __m256i a = load32(a8);
  if constexpr (kBits == 4) return dot_u8i8(q, a);
  return dot_i8(q, a);
}

// The f16 scales of eight consecutive blocks (at b, b + kBB, ...) in one
// register, with the lane indices as compile-time constants.
inline short f16_bits(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return static_cast<short>(h);
}
template <int kBB, size_t... K>
inline __m128i group_scales(const uint8_t* b, std::index_sequence<K...>) {
  __m128i v = _mm_setzero_si128();
  ((v = _mm_insert_epi16(v, f16_bits(b + kBB * int(K)), int(K))), ...);
  return v;
}

// One row against T tokens (x[t], off[t]; y[t * y_stride]): each group's
// weights and scales are unpacked once for all of them, and each token's
// arithmetic is the same whatever T is, so a T-token call gives every token
// the bits of a one-token call.
template <int kBits, int T>
inline void blocks_row(const uint8_t* b, int64_t blocks, const QuantizedVector* x, const Q4Offsets* off, float* y,
                       int64_t y_stride) {
  constexpr int kBB = kBlockBytes<kBits>;
  const int64_t octs = blocks / 8;
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t g = 0; g < octs; ++g, b += 8 * kBB) {
    __m256i q[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) q[k] = block_weights<kBits>(b + kBB * k);
    const __m256 ws = _mm256_cvtph_ps(group_scales<kBB>(b, std::make_index_sequence<8>{}));
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      __m256i dots[8];
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) dots[k] = block_dot<kBits>(q[k], x[t].qs + (8 * g + k) * kActBlock);
      __m256i dot = reduce8(dots);
      if constexpr (kBits == 4) dot = _mm256_add_epi32(dot, off[t].group[g]);
      const __m256 s = _mm256_mul_ps(ws, _mm256_loadu_ps(x[t].d + 8 * g));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), s, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    float tail = 0.f;  // blocks past the last whole group of eight
    const uint8_t* bt = b;
    for (int64_t i = octs * 8; i < blocks; ++i, bt += kBB) {
      __m256i dot = block_dot<kBits>(block_weights<kBits>(bt), x[t].qs + i * kActBlock);
      if constexpr (kBits == 4) dot = _mm256_add_epi32(dot, off[t].block[i]);
      tail += hsum(_mm256_cvtepi32_ps(dot)) * (half_to_f32(bt) * x[t].d[i]);
    }
    y[t * y_stride] = hsum(acc[t]) + tail;
  }
}

template <int kBits>
void dot_rows_blocks(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x,
                     float* y) {
  const int64_t blocks = cols / kActBlock;
  const Q4Offsets* off = token_offsets<kBits>(&x, 1, blocks);
  for_each_row_ahead(w, row_bytes, n_rows,
                     [&](int64_t r, const uint8_t* row) { blocks_row<kBits, 1>(row, blocks, &x, off, y + r, 0); });
}

// n_tok tokens, up to four per pass over a row (more take further passes,
// from L1): y[t * y_stride + r].
template <int kBits>
void rows_blocks(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector* x,
                 int n_tok, float* y, int64_t y_stride) {
  const int64_t blocks = cols / kActBlock;
  const Q4Offsets* off = token_offsets<kBits>(x, n_tok, blocks);
  for_each_row_ahead(w, row_bytes, n_rows, [&](int64_t r, const uint8_t* row) {
    for_token_passes(n_tok, [&](int t0, auto tokens) {
      blocks_row<kBits, decltype(tokens)::value>(row, blocks, x + t0, off == nullptr ? nullptr : off + t0,
                                                 y + t0 * y_stride + r, y_stride);
    });
  });
}

// Same arithmetic as the scalar quantizer (max |x|, d = max / 127, x * (1/d)
// rounded to nearest even by cvtps under the default MXCSR), so the results
// are bit-identical.
void quantize_act_q8(const float* x, int64_t n, int8_t* qs, float* d) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < n / kActBlock; ++b) {
    const float* xb = x + b * kActBlock;
    __m256 v[4], mx = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(xb + 8 * i);
      mx = _mm256_max_ps(mx, _mm256_and_ps(v[i], abs_mask));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float scale = amax / 127.f;
    const float inv = scale != 0.f ? 1.f / scale : 0.f;
    d[b] = scale;
    const __m256 iv = _mm256_set1_ps(inv);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], iv));
    // Pack 32 int32 -> 32 int8 (values are within [-127, 127]); packs work
    // per 128-bit lane, so fix the order with one permute.
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + b * kActBlock),
                        _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
}

}  // namespace

// Also the avx2vnni level's whole table, as fill_kernels_avx2_vnni (see
// avx2_util.h): the same entries, this file's, groupq_avx2.cpp's and
// gemm_avx2.cpp's built with vpdpbusd.
void NAGI_AVX2_FILL(fill_kernels_avx2)(Kernels& k) {
#ifdef NAGI_AVX_VNNI
  k.isa = "avx2vnni";
#else
  k.isa = "avx2";
#endif
  k.dot_f32 = dot_f32;
  k.dot_f16 = dot_f16;
  k.quantize_act_q8 = quantize_act_q8;
  k.axpy_f32 = axpy_f32;
  k.axpy_f16 = axpy_f16;
  k.dot_rows_f32 = dot_rows<4, load_f32, scalar_f32>;
  k.dot_rows_f16 = dot_rows<2, load_f16, scalar_f16>;
  k.dot_rows_bf16 = dot_rows<2, load_bf16, scalar_bf16>;
  k.dot_rows_q8_0 = dot_rows_blocks<8>;
  k.dot_rows_q4_0 = dot_rows_blocks<4>;
  k.dot_rows_q8_0_multi = rows_blocks<8>;
  k.dot_rows_q4_0_multi = rows_blocks<4>;
  fill_kernels_avx2_kquant(k);
  fill_kernels_avx2_q451(k);
  fill_kernels_avx2_kv(k);
  NAGI_AVX2_FILL(fill_kernels_avx2_groupq)(k);
  fill_kernels_avx2_activation(k);
  NAGI_AVX2_FILL(fill_kernels_avx2_gemm)(k);
}

}  // namespace nagi
