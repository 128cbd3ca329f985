// Portable kernels: the complete table every ISA starts from, and the
// reference the per-ISA kernels are tested against. The F32/F16/BF16 entries
// compute exactly what matmul_reference does; the Q8_0/Q4_0 entries use the
// same quantized-activation integer arithmetic as the SIMD versions, so only
// the float summation order differs between ISAs.
#include <algorithm>
#include <cmath>
#include <vector>

#include "base/half.h"
#include "format/dtype.h"
#include "kernels/kernels_fill.h"
#include "kernels/ops.h"

namespace nagi {
namespace {

void dot_rows_f32(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const float* x,
                  float* y) {
  for (int64_t r = 0; r < n_rows; ++r) {
    y[r] = dot_f32(reinterpret_cast<const float*>(w + r * row_bytes), x, cols);
  }
}

// Converts each row to f32 first, like the reference matmul.
template <DType kType>
void dot_rows_converted(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                        const float* x, float* y) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(cols));
  for (int64_t r = 0; r < n_rows; ++r) {
    dequantize_row(kType, w + r * row_bytes, row.data(), cols);
    y[r] = dot_f32(row.data(), x, cols);
  }
}

void quantize_act_q8(const float* x, int64_t n, int8_t* qs, float* d) {
  for (int64_t b = 0; b < n / kActBlock; ++b) {
    const float* xb = x + b * kActBlock;
    float amax = 0.f;
    for (int j = 0; j < kActBlock; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float scale = amax / 127.f;
    const float inv = scale != 0.f ? 1.f / scale : 0.f;
    d[b] = scale;
    for (int j = 0; j < kActBlock; ++j) {
      // nearbyint (ties to even) vectorises, unlike lround; |x*inv| <= 127.
      qs[b * kActBlock + j] = static_cast<int8_t>(std::nearbyint(xb[j] * inv));
    }
  }
}

void dot_rows_q8_0(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                   const QuantizedVector& x, float* y) {
  const int64_t blocks = cols / kActBlock;
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    float sum = 0.f;
    for (int64_t i = 0; i < blocks; ++i, b += 34) {
      const int8_t* a = x.qs + i * kActBlock;
      int32_t isum = 0;
      for (int j = 0; j < 32; ++j) isum += int32_t(int8_t(b[2 + j])) * a[j];
      const float wd = fp16_to_f32(uint16_t(b[0] | (b[1] << 8)));
      sum += wd * x.d[i] * float(isum);
    }
    y[r] = sum;
  }
}

void dot_rows_q4_0(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                   const QuantizedVector& x, float* y) {
  const int64_t blocks = cols / kActBlock;
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    float sum = 0.f;
    for (int64_t i = 0; i < blocks; ++i, b += 18) {
      const int8_t* a = x.qs + i * kActBlock;
      int32_t isum = 0;
      for (int j = 0; j < 16; ++j) {
        isum += ((b[2 + j] & 0x0f) - 8) * a[j] + ((b[2 + j] >> 4) - 8) * a[j + 16];
      }
      const float wd = fp16_to_f32(uint16_t(b[0] | (b[1] << 8)));
      sum += wd * x.d[i] * float(isum);
    }
    y[r] = sum;
  }
}

float dot_f16(const uint16_t* a, const float* b, int64_t n) {
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) s += fp16_to_f32(a[i]) * b[i];
  return s;
}
void axpy_f32(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * fp16_to_f32(x[i]);
}

void attn_scores(const float* const* q_rows, int rows, const float* kt, int64_t kt_stride, int n, int hd,
                 float scale, float* s, int64_t s_stride) {
  for (int r = 0; r < rows; ++r) {
    float* sr = s + r * s_stride;
    for (int j = 0; j < n; ++j) sr[j] = 0.f;
    for (int d = 0; d < hd; ++d) {
      const float qd = q_rows[r][d];
      const float* kd = kt + d * kt_stride;
      for (int j = 0; j < n; ++j) sr[j] += qd * kd[j];
    }
    for (int j = 0; j < n; ++j) sr[j] *= scale;
  }
}
void attn_pv(const float* p, int64_t p_stride, int rows, const float* v, int64_t v_stride, int n, int hd, float* acc) {
  for (int r = 0; r < rows; ++r) {
    float* ar = acc + int64_t(r) * hd;
    for (int j = 0; j < n; ++j) {
      const float w = p[r * p_stride + j];
      const float* vj = v + j * v_stride;
      for (int d = 0; d < hd; ++d) ar[d] += w * vj[d];
    }
  }
}

}  // namespace

void fill_kernels_scalar(Kernels& k) {
  k.isa = "scalar";
  k.dot_f32 = dot_f32;
  k.dot_f16 = dot_f16;
  k.axpy_f32 = axpy_f32;
  k.axpy_f16 = axpy_f16;
  k.attn_scores = attn_scores;
  k.attn_pv = attn_pv;
  k.dot_rows_f32 = dot_rows_f32;
  k.dot_rows_f16 = dot_rows_converted<DType::kF16>;
  k.dot_rows_bf16 = dot_rows_converted<DType::kBF16>;
  k.quantize_act_q8 = quantize_act_q8;
  k.dot_rows_q8_0 = dot_rows_q8_0;
  k.dot_rows_q4_0 = dot_rows_q4_0;
  fill_kernels_scalar_kquant(k);
  fill_kernels_scalar_q451(k);
  fill_kernels_scalar_kv(k);
  fill_kernels_scalar_x16(k);
  fill_kernels_scalar_groupq(k);
  fill_kernels_scalar_activation(k);
}

}  // namespace nagi
