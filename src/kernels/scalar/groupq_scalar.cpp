// Portable row kernels of nagi's group types with 64 / 128 values per scale
// (I8G64, I8G128, I4G64, I4G128; layout in format/group_quant.h): the
// reference the SIMD versions are tested against. Per group: an exact int32
// dot per 32-value activation block, scaled by that block's activation scale,
// summed in f32, then multiplied by the group's weight scale.
#include "base/half.h"
#include "format/group_quant.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

template <int kBits, int kG>
void dot_rows_groupq(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x,
                     float* y) {
  constexpr int kBlockBytes = 2 + kG * kBits / 8;
  const int64_t groups = cols / kG;
  int8_t q[kG];
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    float sum = 0.f;
    for (int64_t g = 0; g < groups; ++g, b += kBlockBytes) {
      if (kBits == 8) {
        for (int i = 0; i < kG; ++i) q[i] = int8_t(b[2 + i]);
      } else {
        unpack_int4_group(b + 2, kG, q);
      }
      float group_sum = 0.f;
      for (int s = 0; s < kG / kActBlock; ++s) {
        const int8_t* a = x.qs + g * kG + s * kActBlock;
        int32_t isum = 0;
        for (int j = 0; j < kActBlock; ++j) isum += int32_t(q[s * kActBlock + j]) * a[j];
        group_sum += x.d[(g * kG) / kActBlock + s] * float(isum);
      }
      sum += fp16_to_f32(uint16_t(b[0] | (b[1] << 8))) * group_sum;
    }
    y[r] = sum;
  }
}

}  // namespace

void fill_kernels_scalar_groupq(Kernels& k) {
  k.dot_rows_i8g64 = dot_rows_groupq<8, 64>;
  k.dot_rows_i8g128 = dot_rows_groupq<8, 128>;
  k.dot_rows_i4g64 = dot_rows_groupq<4, 64>;
  k.dot_rows_i4g128 = dot_rows_groupq<4, 128>;
}

}  // namespace nagi
