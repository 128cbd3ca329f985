// AVX2 row kernels of nagi's group types with 64 / 128 values per scale
// (I8G64, I8G128, I4G64, I4G128; layout in format/group_quant.h). Per 32-value
// activation block an exact int32 dot (dot_i8: vpmaddubsw with the weight's
// sign moved onto the activation), scaled by the block's activation scale
// into a per-group sum, which the group's weight scale multiplies once. Two
// rows share every activation load.
#include <immintrin.h>

#include "avx2_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/page_ahead.h"

namespace nagi {
namespace {

constexpr int kRowsPerTile = 2;

// The 32 signed codes of sub-block s (32 values) of a group's codes.
template <int kBits>
inline __m256i load_sub_block(const uint8_t* codes, int s) {
  if constexpr (kBits == 8) {
    return load32(codes + 32 * s);
  } else {
    // Chunk s / 2 holds sub-block s in its low (even s) or high (odd s) nibbles.
    const __m256i packed = load32(codes + 32 * (s / 2));
    const __m256i nib = s % 2 == 0 ? packed : _mm256_srli_epi16(packed, 4);
    return _mm256_sub_epi8(_mm256_and_si256(nib, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
  }
}

template <int kBits, int kG, int R>
void dot_tile(const uint8_t* w, size_t row_bytes, int64_t groups, const QuantizedVector& x, float* y) {
  constexpr int kBlockBytes = 2 + kG * kBits / 8;
  constexpr int kSubBlocks = kG / kActBlock;
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* blk = w + g * kBlockBytes;
    __m256 group_acc[R];
    for (int s = 0; s < kSubBlocks; ++s) {
      const int64_t b = g * kSubBlocks + s;
      const __m256i a = load32(x.qs + b * kActBlock);
      const __m256 da = _mm256_set1_ps(x.d[b]);
      for (int r = 0; r < R; ++r) {
        const __m256 p = _mm256_cvtepi32_ps(dot_i8(load_sub_block<kBits>(blk + r * row_bytes + 2, s), a));
        group_acc[r] = s == 0 ? _mm256_mul_ps(p, da) : _mm256_fmadd_ps(p, da, group_acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      acc[r] = _mm256_fmadd_ps(group_acc[r], _mm256_set1_ps(half_to_f32(blk + r * row_bytes)), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

template <int kBits, int kG>
void dot_rows_groupq(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x,
                     float* y) {
  const int64_t groups = cols / kG;
  int64_t r = 0;
  LineAhead ahead(w);
  for (; r + kRowsPerTile <= n_rows; r += kRowsPerTile) {
    ahead.before(w + (r + kRowsPerTile) * row_bytes);
    dot_tile<kBits, kG, kRowsPerTile>(w + r * row_bytes, row_bytes, groups, x, y + r);
  }
  for (; r < n_rows; ++r) {
    ahead.before(w + (r + 1) * row_bytes);
    dot_tile<kBits, kG, 1>(w + r * row_bytes, row_bytes, groups, x, y + r);
  }
}

}  // namespace

void NAGI_AVX2_FILL(fill_kernels_avx2_groupq)(Kernels& k) {
  k.dot_rows_i8g64 = dot_rows_groupq<8, 64>;
  k.dot_rows_i8g128 = dot_rows_groupq<8, 128>;
  k.dot_rows_i4g64 = dot_rows_groupq<4, 64>;
  k.dot_rows_i4g128 = dot_rows_groupq<4, 128>;
}

}  // namespace nagi
