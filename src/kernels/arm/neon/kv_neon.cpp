// NEON KV-cache kernels: f16 / int8 rows to and from f32, decode-shaped
// attention scores over f32 or f16 key rows, values times probabilities for
// an f16 cache, and the online-softmax tile step. Plain ARMv8-A (FCVTL /
// FCVTN convert f16 exactly / with round-to-nearest-even, as the scalar
// half.h does). Tails (fewer than 4 values) go element by element.
#include <arm_neon.h>

#include "kernels/arm/neon_common.h"
#include "kernels/arm/neon_math.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

inline float32x4_t load4(const float* p) { return vld1q_f32(p); }
inline float32x4_t load4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return neon_half_to_f32(reinterpret_cast<const uint8_t*>(p)); }

// Two keys per pass share each q load, two accumulators per key hide the
// FMA latency; the horizontal sums come last.
template <typename T>
void attn_scores_rows(const float* const* q_rows, int rows, const T* k, int64_t k_stride, int n, int hd,
                      float scale, float* s, int64_t s_stride) {
  const int hd8 = hd / 8 * 8;
  for (int r = 0; r < rows; ++r) {
    const float* q = q_rows[r];
    float* sr = s + r * s_stride;
    int j = 0;
    for (; j + 2 <= n; j += 2) {
      const T* k0 = k + j * k_stride;
      const T* k1 = k0 + k_stride;
      float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, b0 = a0, b1 = a0;
      for (int d = 0; d < hd8; d += 8) {
        const float32x4_t q0 = vld1q_f32(q + d), q1 = vld1q_f32(q + d + 4);
        a0 = vfmaq_f32(a0, q0, load4(k0 + d));
        b0 = vfmaq_f32(b0, q1, load4(k0 + d + 4));
        a1 = vfmaq_f32(a1, q0, load4(k1 + d));
        b1 = vfmaq_f32(b1, q1, load4(k1 + d + 4));
      }
      float s0 = vaddvq_f32(vaddq_f32(a0, b0)), s1 = vaddvq_f32(vaddq_f32(a1, b1));
      for (int d = hd8; d < hd; ++d) s0 += q[d] * load1(k0 + d), s1 += q[d] * load1(k1 + d);
      sr[j] = s0 * scale;
      sr[j + 1] = s1 * scale;
    }
    for (; j < n; ++j) {
      const T* kj = k + j * k_stride;
      float32x4_t a = vdupq_n_f32(0.f), b = a;
      for (int d = 0; d < hd8; d += 8) {
        a = vfmaq_f32(a, vld1q_f32(q + d), load4(kj + d));
        b = vfmaq_f32(b, vld1q_f32(q + d + 4), load4(kj + d + 4));
      }
      float s0 = vaddvq_f32(vaddq_f32(a, b));
      for (int d = hd8; d < hd; ++d) s0 += q[d] * load1(kj + d);
      sr[j] = s0 * scale;
    }
  }
}

// acc row r += sum_j p[r][j] * (f16 V row j), 4 columns at a time.
void attn_pv_f16(const float* p, int64_t p_stride, int rows, const uint16_t* v, int64_t v_stride, int n, int hd,
                 float* acc) {
  const int hd4 = hd / 4 * 4;
  for (int r = 0; r < rows; ++r) {
    const float* pr = p + r * p_stride;
    float* ar = acc + int64_t(r) * hd;
    for (int j = 0; j < n; ++j) {
      const float w = pr[j];
      const uint16_t* vj = v + j * v_stride;
      for (int d = 0; d < hd4; d += 4) vst1q_f32(ar + d, vfmaq_n_f32(vld1q_f32(ar + d), load4(vj + d), w));
      for (int d = hd4; d < hd; ++d) ar[d] += w * load1(vj + d);
    }
  }
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, load4(x + i));
  for (; i < n; ++i) y[i] = load1(x + i);
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; ++i) {
    __fp16 h = static_cast<__fp16>(x[i]);
    std::memcpy(y + i, &h, sizeof h);
  }
}

void dequantize_q8_32(const int8_t* qs, const float* d, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 32) {
    const float dv = d[i / 32];
    for (int c = 0; c < 32; c += 16) {
      const int8x16_t b = vld1q_s8(qs + i + c);
      const int16x8_t lo = vmovl_s8(vget_low_s8(b)), hi = vmovl_high_s8(b);
      vst1q_f32(y + i + c, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), dv));
      vst1q_f32(y + i + c + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), dv));
      vst1q_f32(y + i + c + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), dv));
      vst1q_f32(y + i + c + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), dv));
    }
  }
}

// The online-softmax tile step (Kernels::attn_softmax_tile), four scores at
// a time with the polynomial exp; the tail one at a time through a lane.
void attn_softmax_tile(float* s, int64_t s_stride, int rows, int n, float* m, float* l, float* acc, int hd) {
  for (int r = 0; r < rows; ++r) {
    float* sr = s + r * s_stride;
    float32x4_t mv = vdupq_n_f32(m[r]);
    int j = 0;
    for (; j + 4 <= n; j += 4) mv = vmaxq_f32(mv, vld1q_f32(sr + j));
    float mx = vmaxvq_f32(mv);
    for (; j < n; ++j) mx = sr[j] > mx ? sr[j] : mx;
    if (mx == -__builtin_inff()) {  // nothing visible yet in this row
      for (int i = 0; i < n; ++i) sr[i] = 0.f;
      continue;
    }
    const float32x4_t mxv = vdupq_n_f32(mx);
    float32x4_t sum = vdupq_n_f32(0.f);
    for (j = 0; j + 4 <= n; j += 4) {
      const float32x4_t e = neon_exp_nonpositive(vsubq_f32(vld1q_f32(sr + j), mxv));
      vst1q_f32(sr + j, e);
      sum = vaddq_f32(sum, e);
    }
    float total = vaddvq_f32(sum);
    for (; j < n; ++j) {
      sr[j] = vgetq_lane_f32(neon_exp_nonpositive(vdupq_n_f32(sr[j] - mx)), 0);
      total += sr[j];
    }
    // 0 on the row's first tile (m = -inf).
    const float corr = vgetq_lane_f32(neon_exp_nonpositive(vdupq_n_f32(m[r] - mx)), 0);
    l[r] = l[r] * corr + total;
    m[r] = mx;
    if (corr != 1.f) {
      float* ar = acc + int64_t(r) * hd;
      int d = 0;
      for (; d + 4 <= hd; d += 4) vst1q_f32(ar + d, vmulq_n_f32(vld1q_f32(ar + d), corr));
      for (; d < hd; ++d) ar[d] *= corr;
    }
  }
}

}  // namespace

void fill_kernels_neon_kv(Kernels& k) {
  k.attn_softmax_tile = attn_softmax_tile;
  k.attn_scores_rows = attn_scores_rows<float>;
  k.attn_scores_rows_f16 = attn_scores_rows<uint16_t>;
  k.attn_pv_f16 = attn_pv_f16;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_f16 = f32_to_f16;
  k.dequantize_q8_32 = dequantize_q8_32;
}

}  // namespace nagi
