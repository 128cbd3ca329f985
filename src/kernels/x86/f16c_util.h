// Scalar f16 / bf16 loads shared by the x86 kernel files (every x86 level is
// compiled with F16C). Include it only from those files; the unnamed
// namespace gives each file its own copy (docs/KERNELS.md, "Dispatch").
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace nagi {
namespace {

// A little-endian f16 at p (block scales) as f32.
inline float half_to_f32(const uint8_t* p) { return _cvtsh_ss(static_cast<unsigned short>(p[0] | (p[1] << 8))); }

// Value c of an F16 / BF16 row as f32 (the GEMMs' panel tails).
template <bool kBf16>
inline float load1_f(const uint8_t* row, int64_t c) {
  if (!kBf16) return half_to_f32(row + 2 * c);
  const uint32_t bits = uint32_t(row[2 * c] | (row[2 * c + 1] << 8)) << 16;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

}  // namespace
}  // namespace nagi
