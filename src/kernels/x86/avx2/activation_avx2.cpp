// AVX2 activation kernels: the AVX-512 forms (x86/avx512/activation_avx512.cpp)
// eight lanes at a time, on one vector sigmoid, so machines without AVX-512
// do not pay a libm expf call per value either. Compiled with the AVX2 flags.
#include <immintrin.h>

#include "avx2_util.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

// sigmoid(z) with e = exp(-|z|) <= 1, so nothing overflows: 1 / (1 + e) for
// z >= 0 and e / (1 + e) below. -inf gives 0, +inf 1 and NaN NaN.
inline __m256 sigmoid(__m256 z) {
  const __m256 abs = _mm256_andnot_ps(_mm256_set1_ps(-0.f), z);
  const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_setzero_ps(), abs));
  const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.f), _mm256_add_ps(_mm256_set1_ps(1.f), e));
  const __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
  return _mm256_blendv_ps(inv, _mm256_mul_ps(inv, e), neg);
}

inline __m256 silu(__m256 g) { return _mm256_mul_ps(g, sigmoid(g)); }

// 0.5 g (1 + tanh(y)) = g sigmoid(2y), as in the AVX-512 form.
inline __m256 gelu_tanh(__m256 g) {
  const __m256 g3 = _mm256_mul_ps(_mm256_mul_ps(g, g), g);
  const __m256 y2 = _mm256_mul_ps(_mm256_set1_ps(2.f * 0.7978845608028654f),
                                  _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), g3, g));
  return _mm256_mul_ps(g, sigmoid(y2));
}

// out[i] = f(a[i], b[i]) eight at a time, the tail under a vpmaskmov mask.
template <class F>
inline void map2(const float* a, const float* b, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) {
    const __m256i m = tail_mask8(n - i);
    _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m)));
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  map2(gate, up, out, n, [](__m256 g, __m256 u) { return _mm256_mul_ps(silu(g), u); });
}

void silu_one(const float* x, float* out, int64_t n) {
  map2(x, x, out, n, [](__m256 g, __m256) { return silu(g); });
}

void sigmoid_mul(const float* gate, const float* x, float* out, int64_t n) {
  map2(gate, x, out, n, [](__m256 g, __m256 v) { return _mm256_mul_ps(sigmoid(g), v); });
}

void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) {
  map2(gate, up, out, n, [](__m256 g, __m256 u) { return _mm256_mul_ps(gelu_tanh(g), u); });
}

void mul_add(const float* a, const float* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), _mm256_loadu_ps(y + i)));
  }
  if (i < n) {
    const __m256i m = tail_mask8(n - i);
    _mm256_maskstore_ps(y + i, m,
                        _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m),
                                        _mm256_maskload_ps(y + i, m)));
  }
}

}  // namespace

void fill_kernels_avx2_activation(Kernels& k) {
  k.mul_add = mul_add;
  k.silu_mul = silu_mul;
  k.silu = silu_one;
  k.sigmoid_mul = sigmoid_mul;
  k.gelu_tanh_mul = gelu_tanh_mul;
}

}  // namespace nagi
