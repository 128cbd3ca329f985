// Portable K-quant row dots (Q4_K, Q5_K, Q6_K) against a Q8_K-style
// activation, and that activation's quantizer. Each 256-value block's dot is
// an exact int32 (per-sub-block scales applied in integers); only the final
// per-block float terms are rounded, so the SIMD versions differ from these
// by float summation order alone.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/half.h"
#include "kernels/kernels_fill.h"
#include "kernels/kquant_layout.h"

namespace nagi {
namespace {

void quantize_act_q8k(const float* x, int64_t n, int8_t* qs, float* d, int16_t* bsums) {
  for (int64_t b = 0; b < n / kActBlockK; ++b) {
    const float* xb = x + b * kActBlockK;
    int8_t* qb = qs + b * kActBlockK;
    float amax = 0.f;
    for (int j = 0; j < kActBlockK; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float scale = amax / 127.f;
    const float inv = scale != 0.f ? 1.f / scale : 0.f;
    d[b] = scale;
    for (int j = 0; j < kActBlockK; ++j) qb[j] = static_cast<int8_t>(std::nearbyint(xb[j] * inv));
    for (int g = 0; g < kActBlockK / 16; ++g) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += qb[16 * g + j];
      bsums[b * 16 + g] = static_cast<int16_t>(s);
    }
  }
}

inline float half_at(const uint8_t* p) { return fp16_to_f32(uint16_t(p[0] | (p[1] << 8))); }

// Q4_K (kHasHigh = false) and Q5_K (true): value = d * sc[s] * q - dmin * m[s]
// for sub-block s of 32 values.
template <bool kHasHigh>
void dot_rows_q45_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                    const QuantizedVectorK& x, float* y) {
  const int64_t blocks = cols / kActBlockK;
  constexpr int kBlockBytes = kHasHigh ? kq::kQ5KBytes : kq::kQ4KBytes;
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    float sum = 0.f;
    for (int64_t i = 0; i < blocks; ++i, b += kBlockBytes) {
      uint8_t sm[16];
      kq::unpack_scales_mins(b + 4, sm);
      const uint8_t* qh = b + 16;
      const uint8_t* ql = kHasHigh ? b + 48 : b + 16;
      const int8_t* a = x.qs + i * kActBlockK;
      int32_t isum = 0, msum = 0;
      for (int c = 0; c < 4; ++c) {
        int32_t s0 = 0, s1 = 0;
        for (int l = 0; l < 32; ++l) {
          int q0 = ql[32 * c + l] & 0x0f, q1 = ql[32 * c + l] >> 4;
          if (kHasHigh) {
            q0 |= ((qh[l] >> (2 * c)) & 1) << 4;
            q1 |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
          }
          s0 += q0 * a[64 * c + l];
          s1 += q1 * a[64 * c + 32 + l];
        }
        isum += sm[2 * c] * s0 + sm[2 * c + 1] * s1;
      }
      for (int s = 0; s < 8; ++s) msum += sm[8 + s] * (x.bsums[i * 16 + 2 * s] + x.bsums[i * 16 + 2 * s + 1]);
      sum += x.d[i] * (half_at(b) * float(isum) - half_at(b + 2) * float(msum));
    }
    y[r] = sum;
  }
}

// Q6_K: value = d * sc[g] * (q - 32) for group g of 16 values, q in [0, 63].
void dot_rows_q6_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                   const QuantizedVectorK& x, float* y) {
  const int64_t blocks = cols / kActBlockK;
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    float sum = 0.f;
    for (int64_t i = 0; i < blocks; ++i, b += kq::kQ6KBytes) {
      const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
      const int8_t* a = x.qs + i * kActBlockK;
      int32_t isum = 0;
      for (int h = 0; h < 2; ++h) {
        const uint8_t* ql = b + 64 * h;
        const uint8_t* qh = b + 128 + 32 * h;
        int32_t g[8] = {};
        for (int l = 0; l < 32; ++l) {
          const int q0 = (ql[l] & 0x0f) | ((qh[l] & 3) << 4);
          const int q1 = (ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4);
          const int q2 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
          const int q3 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
          const int8_t* ah = a + 128 * h;
          g[l / 16] += q0 * ah[l];
          g[2 + l / 16] += q1 * ah[l + 32];
          g[4 + l / 16] += q2 * ah[l + 64];
          g[6 + l / 16] += q3 * ah[l + 96];
        }
        for (int j = 0; j < 8; ++j) isum += sc[8 * h + j] * (g[j] - 32 * x.bsums[i * 16 + 8 * h + j]);
      }
      sum += x.d[i] * half_at(b + 208) * float(isum);
    }
    y[r] = sum;
  }
}

}  // namespace

void fill_kernels_scalar_kquant(Kernels& k) {
  k.quantize_act_q8k = quantize_act_q8k;
  k.dot_rows_q4_k = dot_rows_q45_k<false>;
  k.dot_rows_q5_k = dot_rows_q45_k<true>;
  k.dot_rows_q6_k = dot_rows_q6_k;
}

}  // namespace nagi
