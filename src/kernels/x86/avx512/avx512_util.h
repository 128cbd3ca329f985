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
