// AVX-512 activation kernels. Compiled with the AVX-512 flags; includes no
// header whose inline code baseline files share.
//
// SwiGLU's std::exp per element was ~6% of a 512-token prefill (a libm
// call per value); here sixteen values take one polynomial exp.
#include <immintrin.h>

#include "avx512_util.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

// silu(g) * u with e = exp(-|g|) <= 1, so nothing overflows:
// sigmoid(g) = 1 / (1 + e) for g >= 0 and e / (1 + e) below. Agrees with
// the scalar g / (1 + exp(-g)) to a few ulp; infinities and NaN give what
// the scalar form gives (+inf: inf * u; -inf and NaN: NaN).
inline __m512 silu(__m512 g) {
  const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(g)));
  const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.f), _mm512_add_ps(_mm512_set1_ps(1.f), e));
  const __mmask16 neg = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 sig = _mm512_mask_mul_ps(inv, neg, inv, e);
  return _mm512_mul_ps(g, sig);
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(out + i, _mm512_mul_ps(silu(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i)));
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(silu(_mm512_maskz_loadu_ps(m, gate + i)),
                                                    _mm512_maskz_loadu_ps(m, up + i)));
  }
}

}  // namespace

void fill_kernels_avx512_activation(Kernels& k) { k.silu_mul = silu_mul; }

}  // namespace nagi
