// A grow-only 64-byte-aligned scratch buffer (one per thread, as a
// thread_local of the kernel using it). The SIMD files use it instead of
// std::vector: a std::vector instantiation compiled with AVX2/AVX-512 flags
// could be the copy the linker keeps for baseline code too (docs/KERNELS.md,
// "Dispatch"). In an unnamed namespace, so each file gets its own copy; it
// calls only C functions.
#pragma once

#include <cstddef>
#include <cstdlib>

namespace nagi {
namespace {

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
