// Internal to the SIMD kernel files: how register-blocked kernels split
// their rows or tokens into blocks compiled for a fixed count, shared by the
// AVX2, AVX-512 and NEON files. Plain C++ in an unnamed namespace (each ISA
// file instantiates its own copy; see kernels/scratch.h).
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

// The multi-token row kernels (DotRowsQ8MultiFn) take up to four tokens per
// pass over a row: their accumulators and the row's unpacked weights must
// fit in registers. Calls pass(t0, std::integral_constant<int, T>{}) for
// passes covering tokens [0, n_tok): T = 4, then the 1-3 left.
template <class Pass>
inline void for_token_passes(int n_tok, Pass&& pass) {
  int t0 = 0;
  for (; t0 + 4 <= n_tok; t0 += 4) pass(t0, std::integral_constant<int, 4>{});
  switch (n_tok - t0) {
    case 3: pass(t0, std::integral_constant<int, 3>{}); break;
    case 2: pass(t0, std::integral_constant<int, 2>{}); break;
    case 1: pass(t0, std::integral_constant<int, 1>{}); break;
    default: break;
  }
}

}  // namespace
}  // namespace nagi
