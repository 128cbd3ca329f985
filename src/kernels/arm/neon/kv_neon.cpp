// NEON KV-cache kernels: f16 / int8 rows to and from f32, decode-shaped
// attention scores over f32 or f16 key rows, prefill-shaped tiles (scores
// over transposed keys, values times probabilities for f32 and f16 values,
// query rows in register blocks), and the online-softmax tile step. Plain ARMv8-A (FCVTL /
// FCVTN convert f16 exactly / with round-to-nearest-even, as the scalar
// half.h does). Tails (fewer than 4 values) go element by element.
#include <arm_neon.h>

#include "kernels/arm/neon_common.h"
#include "kernels/arm/neon_math.h"
#include "kernels/kernels_fill.h"
#include "kernels/row_blocks.h"

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

// Values [0, c) of p (c <= 4; none when c <= 0), the rest zero: NEON has no
// masked loads, so a short tail goes through a buffer.
inline float32x4_t load4_cols(const float* p, int c) {
  if (c >= 4) return vld1q_f32(p);
  float t[4] = {};
  for (int i = 0; i < c; ++i) t[i] = p[i];
  return vld1q_f32(t);
}
inline float32x4_t load4_cols(const uint16_t* p, int c) {
  if (c >= 4) return load4(p);
  float t[4] = {};
  for (int i = 0; i < c; ++i) t[i] = load1(p + i);
  return vld1q_f32(t);
}
inline void store4_cols(float* p, float32x4_t v, int c) {
  if (c >= 4) {
    vst1q_f32(p, v);
    return;
  }
  float t[4];
  vst1q_f32(t, v);
  for (int i = 0; i < c; ++i) p[i] = t[i];
}

// Scores of R query rows against up to 16 transposed keys per pass: four
// accumulators of 4 keys per row, one q[r][d] per row and step, each key
// load shared by the R rows. Every score adds its d terms in order, as the
// scalar form does.
template <int R>
void attn_scores_block(const float* const* q_rows, const float* kt, int64_t kt_stride, int n, int hd, float scale,
                       float* s, int64_t s_stride) {
  for (int j0 = 0; j0 < n; j0 += 16) {
    const int nj = n - j0;
    float32x4_t a[R][4];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < 4; ++c) a[r][c] = vdupq_n_f32(0.f);
    const float* kd = kt + j0;
    for (int d = 0; d < hd; ++d, kd += kt_stride) {
      float32x4_t kv[4];
      for (int c = 0; c < 4; ++c) kv[c] = load4_cols(kd + 4 * c, nj - 4 * c);
      for (int r = 0; r < R; ++r) {
        const float qd = q_rows[r][d];
        for (int c = 0; c < 4; ++c) a[r][c] = vfmaq_n_f32(a[r][c], kv[c], qd);
      }
    }
    for (int r = 0; r < R; ++r) {
      float* sr = s + r * s_stride + j0;
      for (int c = 0; c < 4; ++c) store4_cols(sr + 4 * c, vmulq_n_f32(a[r][c], scale), nj - 4 * c);
    }
  }
}

// s[r * s_stride + j] = scale * dot(q_rows[r], key j), keys given
// transposed (kt[d * kt_stride + j]): the prefill shape.
void attn_scores(const float* const* q_rows, int rows, const float* kt, int64_t kt_stride, int n, int hd,
                 float scale, float* s, int64_t s_stride) {
  for_row_blocks(rows, [&](auto R, int r) {
    attn_scores_block<R>(q_rows + r, kt, kt_stride, n, hd, scale, s + r * s_stride, s_stride);
  });
}

// R accumulator rows += sum_j p[r][j] * V row j, 16 columns per pass, each
// V load shared by the R rows. Every row adds its keys in order, skipping
// zero weights (a hidden key's V row is never multiplied in), like the x86
// forms.
template <typename T, int R>
void attn_pv_block(const float* p, int64_t p_stride, const T* v, int64_t v_stride, int n, int hd, float* acc) {
  for (int d0 = 0; d0 < hd; d0 += 16) {
    const int nd = hd - d0;
    float32x4_t a[R][4];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < 4; ++c) a[r][c] = load4_cols(acc + int64_t(r) * hd + d0 + 4 * c, nd - 4 * c);
    const T* vj = v + d0;
    for (int j = 0; j < n; ++j, vj += v_stride) {
      float w[R];
      bool any = false;
      for (int r = 0; r < R; ++r) {
        w[r] = p[r * p_stride + j];
        any |= w[r] != 0.f;
      }
      if (!any) continue;
      float32x4_t vv[4];
      for (int c = 0; c < 4; ++c) vv[c] = load4_cols(vj + 4 * c, nd - 4 * c);
      for (int r = 0; r < R; ++r) {
        if (w[r] == 0.f) continue;
        for (int c = 0; c < 4; ++c) a[r][c] = vfmaq_n_f32(a[r][c], vv[c], w[r]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < 4; ++c) store4_cols(acc + int64_t(r) * hd + d0 + 4 * c, a[r][c], nd - 4 * c);
  }
}

template <typename T>
void attn_pv(const float* p, int64_t p_stride, int rows, const T* v, int64_t v_stride, int n, int hd, float* acc) {
  for_row_blocks(rows, [&](auto R, int r) {
    attn_pv_block<T, R>(p + r * p_stride, p_stride, v, v_stride, n, hd, acc + int64_t(r) * hd);
  });
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
  k.attn_scores = attn_scores;
  k.attn_pv = attn_pv<float>;
  k.attn_pv_f16 = attn_pv<uint16_t>;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_f16 = f32_to_f16;
  k.dequantize_q8_32 = dequantize_q8_32;
}

}  // namespace nagi
