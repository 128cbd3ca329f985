// Small helpers shared by the AVX-512 kernel files of this folder. Include it
// only from files compiled with the AVX-512 flags (src/CMakeLists.txt): the
// helpers are inline code built for AVX-512. They sit in an unnamed namespace
// so that each file keeps its own internal copy, as when they were local,
// and no AVX-512 copy can be picked by the linker for another file.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace nagi {
namespace {

// A little-endian f16 at p (block scales) as f32.
inline float half_to_f32(const uint8_t* p) { return _cvtsh_ss(static_cast<unsigned short>(p[0] | (p[1] << 8))); }

// Sums of four accumulators at once: lane r of the result is the sum of
// acc r (multi-row GEMVs reduce their rows together).
inline __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  // Halve twice across 128-bit lanes keeping rows apart (u: lane k holds 4
  // partial sums of row k), then transpose-add within the lanes.
  const __m512 t0 = _mm512_add_ps(_mm512_shuffle_f32x4(a0, a1, 0x44), _mm512_shuffle_f32x4(a0, a1, 0xee));
  const __m512 t1 = _mm512_add_ps(_mm512_shuffle_f32x4(a2, a3, 0x44), _mm512_shuffle_f32x4(a2, a3, 0xee));
  const __m512 u = _mm512_add_ps(_mm512_shuffle_f32x4(t0, t1, 0x88), _mm512_shuffle_f32x4(t0, t1, 0xdd));
  const __m512 v = _mm512_add_ps(u, _mm512_permute_ps(u, 0x4e));
  const __m512 w = _mm512_add_ps(v, _mm512_permute_ps(v, 0xb1));
  return _mm512_castps512_ps128(
      _mm512_permutexvar_ps(_mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0), w));
}

// Q4_K/Q5_K's twelve packed scale/min bytes at s (kq::unpack_scales_mins's
// layout: 8 six-bit scales, then 8 six-bit mins) as 16 bytes in a register.
// Building them with scalar stores and reloading them as a vector stalled
// every block on a failed store-to-load forward. Reads 16 bytes at s; the
// caller's block continues past them.
inline __m128i unpack_scales_mins_128(const uint8_t* s) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));  // words v0 v1 v2 (x)
  // Words 0 and 2 of the result: v0 & low6, v1 & low6. Words 1 and 3:
  // (v2 & low4) | ((v0 & top2) >> 2) and ((v2 >> 4) & low4) | ((v1 & top2) >> 2).
  const __m128i a = _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)), _mm_set_epi32(4, 0, 0, 0));
  const __m128i b = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));
  const __m128i lo = _mm_and_si128(a, _mm_set_epi32(0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f));
  const __m128i hi = _mm_srli_epi32(_mm_and_si128(b, _mm_set_epi32(int(0xc0c0c0c0), 0, int(0xc0c0c0c0), 0)), 2);
  return _mm_or_si128(lo, hi);
}

// A grow-only 64-byte-aligned scratch buffer (one per thread).
struct Scratch {
  void* p = nullptr;
  size_t size = 0;
  ~Scratch() { std::free(p); }
  void* get(size_t bytes) {
    if (bytes > size) {
      std::free(p);
      size = (bytes + 63) & ~size_t(63);
      p = std::aligned_alloc(64, size);
    }
    return p;
  }
};

}  // namespace
}  // namespace nagi
