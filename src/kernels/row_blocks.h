// Internal to the SIMD kernel files: the register-blocked attention kernels'
// split of query rows, shared by the AVX2, AVX-512 and NEON files. Plain C++
// in an unnamed namespace (each ISA file instantiates its own copy; see
// kernels/scratch.h).
#pragma once

#include <type_traits>

namespace nagi {
namespace {

// Calls block(std::integral_constant<int, R>{}, r) over query rows
// [0, rows) in blocks of R = 4, then 2, then 1.
template <class Block>
inline void for_row_blocks(int rows, Block&& block) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) block(std::integral_constant<int, 4>{}, r);
  if (r + 2 <= rows) {
    block(std::integral_constant<int, 2>{}, r);
    r += 2;
  }
  if (r < rows) block(std::integral_constant<int, 1>{}, r);
}

}  // namespace
}  // namespace nagi
