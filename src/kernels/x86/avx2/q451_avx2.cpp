// AVX2 Q4_1 / Q5_0 / Q5_1 row dots (same block formula as the scalar file):
// the 32 unsigned quants of a block in one register (fifth bits expanded from
// qh with a byte shuffle + bit test), vpmaddubsw against the activation, and
// sum(a) from vpmaddubsw with ones.
#include <immintrin.h>

#include <cstring>

#include "avx2_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/page_ahead.h"

namespace nagi {
namespace {

enum class Kind { kQ4_1, kQ5_0, kQ5_1 };

// Bit j of qh -> 0x10 in byte j (j < 32).
inline __m256i expand_bits(uint32_t qh) {
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                                        3, 3, 3, 3, 3, 3);
  const __m256i bits = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)), shuf);
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bits), bits);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

template <Kind kKind>
void dot_rows(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const QuantizedVector& x, float* y) {
  constexpr int kBytes = kKind == Kind::kQ4_1 ? 20 : kKind == Kind::kQ5_0 ? 22 : 24;
  constexpr int kQs = kKind == Kind::kQ4_1 ? 4 : kKind == Kind::kQ5_0 ? 6 : 8;
  const int64_t blocks = cols / kActBlock;
  const __m256i m4 = _mm256_set1_epi8(0x0f), ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  LineAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* b = w + r * row_bytes;
    ahead.before(b + row_bytes);
    __m256 acc = _mm256_setzero_ps(), accc = _mm256_setzero_ps();
    for (int64_t i = 0; i < blocks; ++i, b += kBytes) {
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kQs));
      __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m4);
      if (kKind != Kind::kQ4_1) {
        uint32_t qh;
        std::memcpy(&qh, b + (kKind == Kind::kQ5_0 ? 2 : 4), 4);
        u = _mm256_or_si256(u, expand_bits(qh));
      }
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + i * kActBlock));
      const __m256i isum = _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), ones16);
      const __m256i asum = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, a), ones16);
      const float d = half_to_f32(b);
      const float c = kKind == Kind::kQ5_0 ? -16.f * d : half_to_f32(b + 2);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * x.d[i]), acc);
      accc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(asum), _mm256_set1_ps(c * x.d[i]), accc);
    }
    y[r] = hsum(_mm256_add_ps(acc, accc));
  }
}

}  // namespace

void fill_kernels_avx2_q451(Kernels& k) {
  k.dot_rows_q4_1 = dot_rows<Kind::kQ4_1>;
  k.dot_rows_q5_0 = dot_rows<Kind::kQ5_0>;
  k.dot_rows_q5_1 = dot_rows<Kind::kQ5_1>;
}

}  // namespace nagi
