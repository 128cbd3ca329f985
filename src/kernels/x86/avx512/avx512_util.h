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
