// Internal to the SIMD kernel files: how register-blocked kernels split
// their rows or tokens into blocks compiled for a fixed count, shared by the
// AVX2, AVX-512 and NEON files. Plain C++ in an unnamed namespace (each ISA
// file instantiates its own copy; see kernels/scratch.h).
#pragma once

#include <cstdint>
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

// The rest of for_token_tiles: one call with T = rest (0 < rest < kTile).
template <int R, class Tile>
inline void token_tile_rest(int64_t t0, int64_t rest, Tile& tile) {
  if constexpr (R > 0) {
    if (rest == R) {
      tile(t0, std::integral_constant<int, R>{});
    } else {
      token_tile_rest<R - 1>(t0, rest, tile);
    }
  }
}

// Calls tile(t0, std::integral_constant<int, T>{}) for tiles covering
// tokens [0, n_tok): T = kTile while whole tiles fit, then one tile of the
// 1..kTile-1 left. The GEMM micro-kernels are compiled for a fixed token
// count (their accumulators live in registers).
template <int kTile, class Tile>
inline void for_token_tiles(int64_t n_tok, Tile&& tile) {
  int64_t t0 = 0;
  for (; t0 + kTile <= n_tok; t0 += kTile) tile(t0, std::integral_constant<int, kTile>{});
  token_tile_rest<kTile - 1>(t0, n_tok - t0, tile);
}

// The multi-token row kernels (DotRowsQ8MultiFn) take up to four tokens per
// pass over a row: their accumulators and the row's unpacked weights must
// fit in registers. Calls pass(t0, std::integral_constant<int, T>{}) for
// passes covering tokens [0, n_tok): T = 4, then the 1-3 left.
template <class Pass>
inline void for_token_passes(int n_tok, Pass&& pass) {
  for_token_tiles<4>(n_tok, [&](int64_t t0, auto tokens) { pass(static_cast<int>(t0), tokens); });
}

}  // namespace
}  // namespace nagi
