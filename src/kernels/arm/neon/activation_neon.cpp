// NEON activation kernels: the x86 forms (x86/avx2/activation_avx2.cpp) four
// lanes at a time on one vector exp, so ARM CPUs do not pay a libm expf call
// per value either (neon_math.h). Plain ARMv8-A (FDIV, FRINTN and FMLA are
// baseline).
#include <arm_neon.h>
#include <cmath>

#include "kernels/arm/neon_math.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

// sigmoid(z) with e = exp(-|z|) <= 1, so nothing overflows: 1 / (1 + e) for
// z >= 0 and e / (1 + e) below. -inf gives 0, +inf 1 and NaN NaN.
inline float32x4_t sigmoid(float32x4_t z) {
  const float32x4_t e = neon_exp_nonpositive(vnegq_f32(vabsq_f32(z)));
  const float32x4_t inv = vdivq_f32(vdupq_n_f32(1.f), vaddq_f32(vdupq_n_f32(1.f), e));
  return vbslq_f32(vcltq_f32(z, vdupq_n_f32(0.f)), vmulq_f32(inv, e), inv);
}

inline float32x4_t silu(float32x4_t g) { return vmulq_f32(g, sigmoid(g)); }

// 0.5 g (1 + tanh(y)) = g sigmoid(2y), as in the x86 forms: no cancellation
// where tanh(y) nears -1.
inline float32x4_t gelu_tanh(float32x4_t g) {
  const float32x4_t g3 = vmulq_f32(vmulq_f32(g, g), g);
  const float32x4_t y2 = vmulq_n_f32(vfmaq_n_f32(g, g3, 0.044715f), 2.f * 0.7978845608028654f);
  return vmulq_f32(g, sigmoid(y2));
}

// out[i] = f(a[i], b[i]) four at a time; the tail (< 4 values) through a
// small buffer, since NEON has no masked loads.
template <class F>
inline void map2(const float* a, const float* b, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(out + i, f(vld1q_f32(a + i), vld1q_f32(b + i)));
  if (i < n) {
    float ta[4] = {}, tb[4] = {}, to[4];
    for (int64_t j = 0; j < n - i; ++j) {
      ta[j] = a[i + j];
      tb[j] = b[i + j];
    }
    vst1q_f32(to, f(vld1q_f32(ta), vld1q_f32(tb)));
    for (int64_t j = 0; j < n - i; ++j) out[i + j] = to[j];
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  map2(gate, up, out, n, [](float32x4_t g, float32x4_t u) { return vmulq_f32(silu(g), u); });
}

void silu_one(const float* x, float* out, int64_t n) {
  map2(x, x, out, n, [](float32x4_t g, float32x4_t) { return silu(g); });
}

void sigmoid_mul(const float* gate, const float* x, float* out, int64_t n) {
  map2(gate, x, out, n, [](float32x4_t g, float32x4_t v) { return vmulq_f32(sigmoid(g), v); });
}

void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) {
  map2(gate, up, out, n, [](float32x4_t g, float32x4_t u) { return vmulq_f32(gelu_tanh(g), u); });
}

void mul_add(const float* a, const float* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), vld1q_f32(a + i), vld1q_f32(b + i)));
  for (; i < n; ++i) y[i] = std::fma(a[i], b[i], y[i]);  // fused, like the lanes
}

}  // namespace

void fill_kernels_neon_activation(Kernels& k) {
  k.mul_add = mul_add;
  k.silu_mul = silu_mul;
  k.silu = silu_one;
  k.sigmoid_mul = sigmoid_mul;
  k.gelu_tanh_mul = gelu_tanh_mul;
}

}  // namespace nagi
