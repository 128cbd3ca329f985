// Scalar references for the KV-cache kernels: f16 and int8 rows to and from
// f32, and decode-shaped attention scores over row-major keys.
#include <algorithm>
#include <cmath>

#include "base/half.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

void attn_scores_rows(const float* const* q_rows, int rows, const float* k, int64_t k_stride, int n, int hd,
                      float scale, float* s, int64_t s_stride) {
  for (int r = 0; r < rows; ++r) {
    for (int j = 0; j < n; ++j) {
      const float* kj = k + j * k_stride;
      float acc = 0.f;
      for (int d = 0; d < hd; ++d) acc += q_rows[r][d] * kj[d];
      s[r * s_stride + j] = acc * scale;
    }
  }
}

// The f16 forms: each value widened exactly, then the f32 arithmetic above.
void attn_scores_rows_f16(const float* const* q_rows, int rows, const uint16_t* k, int64_t k_stride, int n, int hd,
                          float scale, float* s, int64_t s_stride) {
  for (int r = 0; r < rows; ++r) {
    for (int j = 0; j < n; ++j) {
      const uint16_t* kj = k + j * k_stride;
      float acc = 0.f;
      for (int d = 0; d < hd; ++d) acc += q_rows[r][d] * fp16_to_f32(kj[d]);
      s[r * s_stride + j] = acc * scale;
    }
  }
}

void attn_pv_f16(const float* p, int64_t p_stride, int rows, const uint16_t* v, int64_t v_stride, int n, int hd,
                 float* acc) {
  for (int r = 0; r < rows; ++r) {
    float* ar = acc + int64_t(r) * hd;
    for (int j = 0; j < n; ++j) {
      const float w = p[r * p_stride + j];
      const uint16_t* vj = v + j * v_stride;
      for (int d = 0; d < hd; ++d) ar[d] += w * fp16_to_f32(vj[d]);
    }
  }
}

void attn_softmax_tile(float* s, int64_t s_stride, int rows, int n, float* m, float* l, float* acc, int hd) {
  for (int r = 0; r < rows; ++r) {
    float* sr = s + r * s_stride;
    float mx = m[r];
    for (int j = 0; j < n; ++j) mx = std::max(mx, sr[j]);
    if (mx == -INFINITY) {  // nothing visible yet in this row
      for (int j = 0; j < n; ++j) sr[j] = 0.f;
      continue;
    }
    const float corr = std::exp(m[r] - mx);  // 0 on the row's first tile (m = -inf)
    float sum = 0.f;
    for (int j = 0; j < n; ++j) {
      sr[j] = std::exp(sr[j] - mx);  // exp(-inf) = 0 for hidden keys
      sum += sr[j];
    }
    l[r] = l[r] * corr + sum;
    m[r] = mx;
    if (corr != 1.f) {
      float* ar = acc + int64_t(r) * hd;
      for (int d = 0; d < hd; ++d) ar[d] *= corr;
    }
  }
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_f32(x[i]);
}

template <typename T, float (*Widen)(T)>
void transpose_keys(const T* k, int64_t k_stride, int n, int hd, float* kt, int64_t kt_stride) {
  for (int j = 0; j < n; ++j) {
    for (int d = 0; d < hd; ++d) kt[d * kt_stride + j] = Widen(k[j * k_stride + d]);
  }
}
inline float same(float x) { return x; }

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

void dequantize_q8_32(const int8_t* qs, const float* d, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float(qs[i]) * d[i / 32];
}

}  // namespace

void fill_kernels_scalar_kv(Kernels& k) {
  k.attn_scores_rows = attn_scores_rows;
  k.attn_scores_rows_f16 = attn_scores_rows_f16;
  k.attn_pv_f16 = attn_pv_f16;
  k.transpose_keys = transpose_keys<float, same>;
  k.transpose_keys_f16 = transpose_keys<uint16_t, fp16_to_f32>;
  k.attn_softmax_tile = attn_softmax_tile;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_f16 = f32_to_f16;
  k.dequantize_q8_32 = dequantize_q8_32;
}

}  // namespace nagi
