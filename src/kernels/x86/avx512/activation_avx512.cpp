// AVX-512 activation kernels. Compiled with the AVX-512 flags; includes no
// header whose inline code baseline files share.
//
// SwiGLU's std::exp per element was ~6% of a 512-token prefill (a libm
// call per value); here sixteen values take one polynomial exp. Every
// activation here is built on one sigmoid.
#include <immintrin.h>

#include "avx512_util.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

// sigmoid(z) with e = exp(-|z|) <= 1, so nothing overflows:
// 1 / (1 + e) for z >= 0 and e / (1 + e) below. Agrees with the scalar
// 1 / (1 + exp(-z)) to a few ulp; -inf gives 0, +inf 1 and NaN NaN.
inline __m512 sigmoid(__m512 z) {
  const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(z)));
  const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.f), _mm512_add_ps(_mm512_set1_ps(1.f), e));
  const __mmask16 neg = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(inv, neg, inv, e);
}

// silu(g) = g sigmoid(g): infinities and NaN give what the scalar
// g / (1 + exp(-g)) gives (+inf: inf; -inf and NaN: NaN).
inline __m512 silu(__m512 g) { return _mm512_mul_ps(g, sigmoid(g)); }

// 0.5 g (1 + tanh(y)) = g sigmoid(2y): the same function without tanh's
// cancellation near -1 (for g << 0 the scalar form's 1 + tanh(y) loses its
// digits; this one keeps them).
inline __m512 gelu_tanh(__m512 g) {
  const __m512 g3 = _mm512_mul_ps(_mm512_mul_ps(g, g), g);
  const __m512 y2 = _mm512_mul_ps(_mm512_set1_ps(2.f * 0.7978845608028654f),
                                  _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), g3, g));
  return _mm512_mul_ps(g, sigmoid(y2));
}

// out[i] = f(a[i], b[i]) sixteen at a time, the tail under a mask.
template <class F>
inline void map2(const float* a, const float* b, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(out + i, m, f(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  map2(gate, up, out, n, [](__m512 g, __m512 u) { return _mm512_mul_ps(silu(g), u); });
}

void silu_one(const float* x, float* out, int64_t n) {
  map2(x, x, out, n, [](__m512 g, __m512) { return silu(g); });
}

void sigmoid_mul(const float* gate, const float* x, float* out, int64_t n) {
  map2(gate, x, out, n, [](__m512 g, __m512 v) { return _mm512_mul_ps(sigmoid(g), v); });
}

void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) {
  map2(gate, up, out, n, [](__m512 g, __m512 u) { return _mm512_mul_ps(gelu_tanh(g), u); });
}

void mul_add(const float* a, const float* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), _mm512_loadu_ps(y + i)));
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m,
                          _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i),
                                          _mm512_maskz_loadu_ps(m, y + i)));
  }
}

}  // namespace

void fill_kernels_avx512_activation(Kernels& k) {
  k.mul_add = mul_add;
  k.silu_mul = silu_mul;
  k.silu = silu_one;
  k.sigmoid_mul = sigmoid_mul;
  k.gelu_tanh_mul = gelu_tanh_mul;
}

}  // namespace nagi
