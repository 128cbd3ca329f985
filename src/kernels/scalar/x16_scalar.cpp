// Scalar references for the x16 superblock layouts (Q4_0 / Q8_0 repacked in
// 16-block superblocks, format/dtype.h): the same exact integer block dots
// as the plain layouts', summed in the same order.
#include "base/half.h"
#include "kernels/kernels_fill.h"
#include "kernels/x16_layout.h"

namespace nagi {
namespace {

// kQ4: nibble pairs (16 bytes per block) with offset 8; else int8 (32 bytes).
template <bool kQ4>
void dot_rows_x16(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x,
                  float* y) {
  constexpr int kPayload = kQ4 ? x16::kQ4Payload : x16::kQ8Payload, kSuperBytes = x16::super_bytes(kPayload);
  const int64_t supers = cols / x16::kValues;
  for (int64_t r = 0; r < n_rows; ++r) {
    float sum = 0.f;
    for (int64_t s = 0; s < supers; ++s) {
      const uint8_t* sb = w + r * row_bytes + s * kSuperBytes;
      for (int j = 0; j < 16; ++j) {
        const int64_t i = s * 16 + j;  // block index in the row
        const uint8_t* qs = sb + 32 + kPayload * j;
        const int8_t* a = x.qs + i * kActBlock;
        int32_t isum = 0;
        if (kQ4) {
          for (int e = 0; e < 16; ++e) isum += ((qs[e] & 0x0f) - 8) * a[e] + ((qs[e] >> 4) - 8) * a[e + 16];
        } else {
          for (int e = 0; e < 32; ++e) isum += int8_t(qs[e]) * a[e];
        }
        sum += fp16_to_f32(uint16_t(sb[2 * j] | (sb[2 * j + 1] << 8))) * x.d[i] * float(isum);
      }
    }
    y[r] = sum;
  }
}

}  // namespace

void fill_kernels_scalar_x16(Kernels& k) {
  k.dot_rows_q4_0x16 = dot_rows_x16<true>;
  k.dot_rows_q8_0x16 = dot_rows_x16<false>;
}

}  // namespace nagi
