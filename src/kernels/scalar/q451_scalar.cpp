// Portable Q4_1 / Q5_0 / Q5_1 row dots against the per-32 int8 activation.
// Each block: value = d * u + c with u the unsigned 4/5-bit quant and
// c = m (Q4_1, Q5_1) or -16 d (Q5_0), so
//   dot = d_x * (d * sum(u a) + c * sum(a))   with both sums exact integers.
#include <cstring>

#include "base/half.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

enum class Kind { kQ4_1, kQ5_0, kQ5_1 };

template <Kind kKind>
void dot_rows(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x, float* y) {
  constexpr int kBytes = kKind == Kind::kQ4_1 ? 20 : kKind == Kind::kQ5_0 ? 22 : 24;
  constexpr int kQs = kKind == Kind::kQ4_1 ? 4 : kKind == Kind::kQ5_0 ? 6 : 8;
  const int64_t blocks = cols / kActBlock;
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    float sum = 0.f;
    for (int64_t i = 0; i < blocks; ++i, b += kBytes) {
      const float d = fp16_to_f32(uint16_t(b[0] | (b[1] << 8)));
      const float c = kKind == Kind::kQ5_0 ? -16.f * d : fp16_to_f32(uint16_t(b[2] | (b[3] << 8)));
      uint32_t qh = 0;
      if (kKind != Kind::kQ4_1) std::memcpy(&qh, b + (kKind == Kind::kQ5_0 ? 2 : 4), 4);
      const int8_t* a = x.qs + i * kActBlock;
      int32_t isum = 0, asum = 0;
      for (int j = 0; j < 16; ++j) {
        int u0 = b[kQs + j] & 0x0f, u1 = b[kQs + j] >> 4;
        if (kKind != Kind::kQ4_1) {
          u0 |= ((qh >> j) & 1) << 4;
          u1 |= ((qh >> (j + 16)) & 1) << 4;
        }
        isum += u0 * a[j] + u1 * a[j + 16];
        asum += a[j] + a[j + 16];
      }
      sum += x.d[i] * (d * float(isum) + c * float(asum));
    }
    y[r] = sum;
  }
}

}  // namespace

void fill_kernels_scalar_q451(Kernels& k) {
  k.dot_rows_q4_1 = dot_rows<Kind::kQ4_1>;
  k.dot_rows_q5_0 = dot_rows<Kind::kQ5_0>;
  k.dot_rows_q5_1 = dot_rows<Kind::kQ5_1>;
}

}  // namespace nagi
