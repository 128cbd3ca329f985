// AVX2 prefill GEMMs. Without them an AVX2 machine ran a prompt as one
// GEMV per token. Per 32-value block (or K-quant sub-block) the integer dot
// is exact, as in the row kernels; the scales are applied in f32.
//
// Q4_0 (and nagi's I4G32/64/128) and the K-quants: 8-row panels of unsigned
// quants, whose int16 pair sums can be added over several steps before
// widening (below). Q8_0 (and I8G32/64/128) has signed quants, for which vpmaddubsw needs the sign
// trick of dot_i8 (|w| against a * sign(w)) and an int32 widening per
// block: tiles of 2 rows x 4 tokens over the file's blocks, so each block
// loaded serves four tokens and each activation block two rows, with
// tokens in tiles of 32 so a tile's activations stay in L1/L2.
#include <immintrin.h>

#include <cstring>

#include "avx2_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/kquant_layout.h"
#include "kernels/row_blocks.h"
#include "kernels/scratch.h"

namespace nagi {
namespace {

constexpr int64_t kTokenTile = 32;

// No std::min here (see kernels/scratch.h).
inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
// y[t, r] of Q8_0 (G = 32) or I8G64 / I8G128 rows [0, R) and tokens
// [t0, t0 + T): every 32-value block b takes the f16 scale of its group.
template <int G, int R, int T>
inline void q8_tile(const uint8_t* w, size_t row_bytes, int64_t nb, int64_t cols, const int8_t* qs, const float* d,
                    int64_t t0, float* y, int64_t y_stride) {
  __m256 acc[R][T];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wq[R], wabs[R];
    __m256 dw[R];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const uint8_t* group = w + r * row_bytes + (b / (G / 32)) * (2 + G);
      dw[r] = _mm256_set1_ps(half_to_f32(group));
      wq[r] = load32(group + 2 + 32 * (b % (G / 32)));
      wabs[r] = _mm256_sign_epi8(wq[r], wq[r]);
    }
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const int64_t tok = t0 + t;
      const __m256i a = load32(qs + tok * cols + 32 * b);
      const __m256 da = _mm256_broadcast_ss(d + tok * nb + b);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i v = dot_u8i8(wabs[r], _mm256_sign_epi8(a, wq[r]));
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), _mm256_mul_ps(dw[r], da), acc[r][t]);
      }
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) y[(t0 + t) * y_stride + r] = hsum(acc[r][t]);
}

// Tokens [t0, t1) of rows [0, R): four at a time, then the rest.
template <int G, int R>
void q8_token_run(const uint8_t* w, size_t row_bytes, int64_t nb, int64_t cols, const int8_t* qs, const float* d,
                  int64_t t0, int64_t t1, float* y, int64_t y_stride) {
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) q8_tile<G, R, 4>(w, row_bytes, nb, cols, qs, d, t, y, y_stride);
  switch (t1 - t) {
    case 3: q8_tile<G, R, 3>(w, row_bytes, nb, cols, qs, d, t, y, y_stride); break;
    case 2: q8_tile<G, R, 2>(w, row_bytes, nb, cols, qs, d, t, y, y_stride); break;
    case 1: q8_tile<G, R, 1>(w, row_bytes, nb, cols, qs, d, t, y, y_stride); break;
    default: break;
  }
}

template <int G>
void gemm_q8(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const int8_t* qs, const float* d,
               const int32_t*, int64_t n_tok, float* y, int64_t y_stride) {
  const int64_t nb = cols / 32;
  for (int64_t t0 = 0; t0 < n_tok; t0 += kTokenTile) {
    const int64_t t1 = min64(n_tok, t0 + kTokenTile);
    int64_t r = 0;
    for (; r + 2 <= n_rows; r += 2) {
      q8_token_run<G, 2>(w + r * row_bytes, row_bytes, nb, cols, qs, d, t0, t1, y + r, y_stride);
    }
    if (r < n_rows) q8_token_run<G, 1>(w + r * row_bytes, row_bytes, nb, cols, qs, d, t0, t1, y + r, y_stride);
  }
}

// ---- Panel GEMMs for Q4_0 and the K-quants: 8 rows per panel, packed so
// that one ymm holds 4 consecutive unsigned quants of each of the 8 rows
// (word k * 8 + j: row j's quants 4k..4k+3). A token's 4 activation bytes
// are broadcast against it with vpmaddubsw, and the int16 pair sums of
// several 4-value steps are added before one vpmaddwd widens them: about 2
// instructions per 32 multiply-adds instead of the row tiles' ~6. The steps
// per widening are as many as cannot saturate int16 with |a| <= 128: Q4_0
// and Q4_K (quants <= 15) 8, Q5_K (<= 31) 4, Q6_K (<= 63) 2.
// Values are dw * u - mw per sub-block (the K-quants' min; Q6_K: 32 dw);
// Q4_0's -8 offset is removed exactly in int32, as 8 * sum(a) per block.
// One core, 512 tokens x 3072 x 1024 (bench_ops, Zen 4): Q4_0 56 GMAC/s
// (2 x 4 row tiles of the blocks as they are: 30), Q4_K 52-61 and Q6_K
// 49-52 (the per-token GEMVs: 20 and 16).
// I4G64 / I4G128 (nagi's int4 groups: nibbles q + 8 like Q4_0, one f16
// scale per group) run as Q4_0 with every 32-value block given its group's
// scale.
//
// With AVX-VNNI (NAGI_AVX_VNNI) Q8_0 and I8G64 / I8G128 take these panels
// too, as unsigned w + 128 with 128 * sum(a) removed per block: vpdpbusd
// sums u8 x s8 products in int32, where vpmaddubsw's int16 pair sums of
// 255 * 127 would saturate (hence the row tiles above without it).
enum class PType { kQ4_0, kI4G64, kI4G128, kQ4K, kQ5K, kQ6K, kQ8_0, kI8G64, kI8G128 };

constexpr int kPanel8 = 8;

template <PType P>
struct PanelFormat {
  static constexpr int kSub = P == PType::kQ6K ? 16 : 32;  // values per scale
  static constexpr int kSteps = kSub / 4;                   // 4-value steps per sub-block
  static constexpr int kStepsPerWiden = P == PType::kQ5K ? 4 : P == PType::kQ6K ? 2 : 8;
  static constexpr bool kInt4 = P == PType::kQ4_0 || P == PType::kI4G64 || P == PType::kI4G128;
  static constexpr bool kInt8 = P == PType::kQ8_0 || P == PType::kI8G64 || P == PType::kI8G128;
  // What the packed unsigned values add to the weights (removed as
  // kOffset * sum(a) per block); 0 for the K-quants, whose mins are floats.
  static constexpr int kOffset = kInt4 ? 8 : kInt8 ? 128 : 0;
  static constexpr int kBlockValues = P == PType::kQ4_0 || P == PType::kQ8_0       ? 32
                                      : P == PType::kI4G64 || P == PType::kI8G64   ? 64
                                      : P == PType::kI4G128 || P == PType::kI8G128 ? 128
                                                                                   : 256;
  static constexpr int kBlockBytes = kInt4   ? 2 + kBlockValues / 2
                                     : kInt8 ? 2 + kBlockValues
                                     : P == PType::kQ4K ? kq::kQ4KBytes
                                     : P == PType::kQ5K ? kq::kQ5KBytes : kq::kQ6KBytes;
};

// Rows [0, n) (n <= 8) of a panel: words pw, scales dw / mw per sub-block
// (zeros for missing rows).
template <PType P>
void pack_panel8(const uint8_t* w, size_t row_bytes, int n, int64_t cols, uint32_t* pw, float* dw, float* mw) {
  using F = PanelFormat<P>;
  const int64_t n_blocks = cols / F::kBlockValues, n_sub = cols / F::kSub;
  for (int j = 0; j < kPanel8; ++j) {
    if (j >= n) {
      for (int64_t k = 0; k < cols / 4; ++k) pw[k * kPanel8 + j] = 0;
      for (int64_t s = 0; s < n_sub; ++s) dw[s * kPanel8 + j] = mw[s * kPanel8 + j] = 0.f;
      continue;
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* blk = w + j * row_bytes + b * F::kBlockBytes;
      if constexpr (P == PType::kQ4_0) {
        uint32_t q[4];
        std::memcpy(q, blk + 2, 16);
        for (int i = 0; i < 4; ++i) {
          pw[(b * 8 + i) * kPanel8 + j] = q[i] & 0x0f0f0f0fu;           // values 4i..4i+3
          pw[(b * 8 + 4 + i) * kPanel8 + j] = (q[i] >> 4) & 0x0f0f0f0fu;  // values 16+4i..
        }
        dw[b * kPanel8 + j] = half_to_f32(blk);
        mw[b * kPanel8 + j] = 0.f;
      } else if constexpr (F::kInt8) {
        // Each 32-value block of the group, made unsigned.
        constexpr int kSubs = F::kBlockValues / 32;
        for (int sb = 0; sb < kSubs; ++sb) {
          uint32_t q[8];
          std::memcpy(q, blk + 2 + 32 * sb, 32);
          for (int i = 0; i < 8; ++i) pw[((b * kSubs + sb) * 8 + i) * kPanel8 + j] = q[i] ^ 0x80808080u;
          dw[(b * kSubs + sb) * kPanel8 + j] = half_to_f32(blk);
          mw[(b * kSubs + sb) * kPanel8 + j] = 0.f;
        }
      } else if constexpr (F::kInt4) {
        // 32-byte chunk c holds sub-block 2c in its low nibbles and 2c + 1
        // in its high nibbles, each in value order (format/group_quant.h).
        constexpr int kSubs = F::kBlockValues / 32;
        for (int sb = 0; sb < kSubs; ++sb) {
          uint32_t q[8];
          std::memcpy(q, blk + 2 + 32 * (sb / 2), 32);
          const int shift = 4 * (sb % 2);
          for (int i = 0; i < 8; ++i) pw[((b * kSubs + sb) * 8 + i) * kPanel8 + j] = (q[i] >> shift) & 0x0f0f0f0fu;
          dw[(b * kSubs + sb) * kPanel8 + j] = half_to_f32(blk);
          mw[(b * kSubs + sb) * kPanel8 + j] = 0.f;
        }
      } else {
        kq::pack_super_into_panel<kPanel8, 256 / F::kSub>(blk, P == PType::kQ6K, P == PType::kQ5K, b, j, pw, dw, mw,
                                                          half_to_f32);
      }
    }
  }
}

// T tokens from t0 over one packed panel of n rows: y[t, 0..n).
// corr[t * n_sub + s]: Q4_0, 8 * sum(a) of block s (int32); K-quants,
// dx * sum(a) of sub-block s (float bits).
template <PType P, int T>
void panel8_tokens(const uint32_t* pw, const float* dw, const float* mw, int64_t n_sub, const int8_t* qs,
                   const float* qd, const int32_t* corr, int64_t cols, int64_t t0, float* y, int64_t y_stride, int n) {
  using F = PanelFormat<P>;
  const int64_t nb = cols / 32;
  __m256 acc[T];
  #pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  const int8_t* a[T];
  #pragma GCC unroll 8
  for (int t = 0; t < T; ++t) a[t] = qs + (t0 + t) * cols;
  for (int64_t s = 0; s < n_sub; ++s) {
    const uint32_t* ps = pw + s * F::kSteps * kPanel8;
    const int64_t c = s * F::kSub;
    __m256i v[T];
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) v[t] = _mm256_setzero_si256();
#ifdef NAGI_AVX_VNNI
    // vpdpbusd accumulates every step straight into int32.
    #pragma GCC unroll 8
    for (int k = 0; k < F::kSteps; ++k) {
      const __m256i wv = load32(ps + k * kPanel8);
      #pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        int32_t a4;
        std::memcpy(&a4, a[t] + c + 4 * k, 4);
        v[t] = _mm256_dpbusd_avx_epi32(v[t], wv, _mm256_set1_epi32(a4));
      }
    }
#else
    static_assert(!F::kInt8, "unsigned int8 panels need vpdpbusd: vpmaddubsw would saturate");
    const __m256i ones = _mm256_set1_epi16(1);
    #pragma GCC unroll 8
    for (int k0 = 0; k0 < F::kSteps; k0 += F::kStepsPerWiden) {
      __m256i p[T];
      #pragma GCC unroll 8
      for (int k = k0; k < k0 + F::kStepsPerWiden; ++k) {
        const __m256i wv = load32(ps + k * kPanel8);
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          int32_t a4;
          std::memcpy(&a4, a[t] + c + 4 * k, 4);
          const __m256i m = _mm256_maddubs_epi16(wv, _mm256_set1_epi32(a4));
          p[t] = k == k0 ? m : _mm256_add_epi16(p[t], m);
        }
      }
      #pragma GCC unroll 8
      for (int t = 0; t < T; ++t) v[t] = _mm256_add_epi32(v[t], _mm256_madd_epi16(p[t], ones));
    }
#endif
    const __m256 dwv = _mm256_loadu_ps(dw + s * kPanel8);
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const int64_t tok = t0 + t;
      const __m256 dx = _mm256_broadcast_ss(qd + tok * nb + c / 32);
      if constexpr (F::kOffset != 0) {
        v[t] = _mm256_sub_epi32(v[t], _mm256_set1_epi32(corr[tok * n_sub + s]));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v[t]), _mm256_mul_ps(dwv, dx), acc[t]);
      } else {
        float xa;
        std::memcpy(&xa, corr + tok * n_sub + s, 4);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v[t]), _mm256_mul_ps(dwv, dx), acc[t]);
        acc[t] = _mm256_fnmadd_ps(_mm256_loadu_ps(mw + s * kPanel8), _mm256_set1_ps(xa), acc[t]);
      }
    }
  }
  #pragma GCC unroll 8
  for (int t = 0; t < T; ++t) {
    float* yt = y + (t0 + t) * y_stride;
    if (n == kPanel8) {
      _mm256_storeu_ps(yt, acc[t]);
    } else {
      _mm256_maskstore_ps(yt, tail_mask8(n), acc[t]);
    }
  }
}

template <PType P>
void gemm_panel8(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const int8_t* qs, const float* qd,
                 const int32_t* sums, int64_t n_tok, float* y, int64_t y_stride) {
  using F = PanelFormat<P>;
  const int64_t n_sub = cols / F::kSub, nb = cols / 32;
  thread_local Scratch scratch;
  auto* pw = static_cast<uint32_t*>(
      scratch.get(sizeof(uint32_t) * (size_t(cols / 4) * kPanel8 + 2 * size_t(n_sub) * kPanel8 + size_t(n_tok * n_sub))));
  float* dw = reinterpret_cast<float*>(pw + (cols / 4) * kPanel8);
  float* mw = dw + n_sub * kPanel8;
  int32_t* corr = reinterpret_cast<int32_t*>(mw + n_sub * kPanel8);
  for (int64_t t = 0; t < n_tok; ++t) {
    for (int64_t s = 0; s < n_sub; ++s) {
      const int32_t* g = sums + t * (cols / 16) + s * (F::kSub / 16);
      const int32_t sum = F::kSub == 16 ? g[0] : g[0] + g[1];
      if constexpr (F::kOffset != 0) {
        corr[t * n_sub + s] = F::kOffset * sum;
      } else {
        const float xa = qd[t * nb + s * F::kSub / 32] * float(sum);
        std::memcpy(corr + t * n_sub + s, &xa, 4);
      }
    }
  }
  for (int64_t r0 = 0; r0 < n_rows; r0 += kPanel8) {
    const int n = static_cast<int>(min64(kPanel8, n_rows - r0));
    pack_panel8<P>(w + r0 * row_bytes, row_bytes, n, cols, pw, dw, mw);
    for_token_tiles<4>(n_tok, [&](int64_t t, auto tokens) {
      panel8_tokens<P, decltype(tokens)::value>(pw, dw, mw, n_sub, qs, qd, corr, cols, t, y + r0, y_stride, n);
    });
  }
}

// ---- F16 / BF16 against the f32 activation as given (BF16: the caller has
// rounded it to bf16, see ops.h round_to_bf16): 16-row panels converted
// to f32 once, column-major (packed[c * 16 + j] = row j's value c), so two
// registers hold column c of the panel and each token's x[c] is broadcast
// into two FMAs. Six tokens at a time: 12 accumulators. The products are
// exact (f16/bf16 -> f32 is exact); each sum runs over c in order.
constexpr int kPanelF = 16;
constexpr int kTokensF = 6;

template <bool kBf16>
inline __m256 load8_f(const uint8_t* row, int64_t c) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c));
  return kBf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
}

template <bool kBf16>
void pack_panel_f(const uint8_t* w, size_t row_bytes, int n, int64_t cols, float* packed) {
  for (int j = 0; j < kPanelF; ++j) {
    if (j >= n) {
      for (int64_t c = 0; c < cols; ++c) packed[c * kPanelF + j] = 0.f;
      continue;
    }
    const uint8_t* row = w + j * row_bytes;
    alignas(32) float tmp[8];
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
      _mm256_store_ps(tmp, load8_f<kBf16>(row, c));
      for (int i = 0; i < 8; ++i) packed[(c + i) * kPanelF + j] = tmp[i];
    }
    for (; c < cols; ++c) packed[c * kPanelF + j] = load1_f<kBf16>(row, c);
  }
}

// Tokens [t0, t0 + T) over one packed panel of n rows.
template <int T>
void panel_f_tokens(const float* packed, int64_t cols, const float* x, int64_t x_stride, int64_t t0, float* y,
                    int64_t y_stride, int n) {
  __m256 lo[T], hi[T];
  #pragma GCC unroll 8
  for (int t = 0; t < T; ++t) lo[t] = hi[t] = _mm256_setzero_ps();
  const float* xt[T];
  #pragma GCC unroll 8
  for (int t = 0; t < T; ++t) xt[t] = x + (t0 + t) * x_stride;
  for (int64_t c = 0; c < cols; ++c) {
    const __m256 w0 = _mm256_loadu_ps(packed + c * kPanelF), w1 = _mm256_loadu_ps(packed + c * kPanelF + 8);
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m256 xv = _mm256_broadcast_ss(xt[t] + c);
      lo[t] = _mm256_fmadd_ps(w0, xv, lo[t]);
      hi[t] = _mm256_fmadd_ps(w1, xv, hi[t]);
    }
  }
  #pragma GCC unroll 8
  for (int t = 0; t < T; ++t) {
    float* yt = y + (t0 + t) * y_stride;
    if (n >= 8) {
      _mm256_storeu_ps(yt, lo[t]);
      if (n == kPanelF) {
        _mm256_storeu_ps(yt + 8, hi[t]);
      } else if (n > 8) {
        _mm256_maskstore_ps(yt + 8, tail_mask8(n - 8), hi[t]);
      }
    } else {
      _mm256_maskstore_ps(yt, tail_mask8(n), lo[t]);
    }
  }
}

template <bool kBf16>
void gemm_f(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const float* x, int64_t x_stride,
            int64_t n_tok, float* y, int64_t y_stride) {
  thread_local Scratch scratch;
  auto* packed = static_cast<float*>(scratch.get(sizeof(float) * size_t(cols) * kPanelF));
  for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelF) {
    const int n = static_cast<int>(min64(kPanelF, n_rows - r0));
    pack_panel_f<kBf16>(w + r0 * row_bytes, row_bytes, n, cols, packed);
    for_token_tiles<kTokensF>(n_tok, [&](int64_t t, auto tokens) {
      panel_f_tokens<decltype(tokens)::value>(packed, cols, x, x_stride, t, y + r0, y_stride, n);
    });
  }
}

}  // namespace

void NAGI_AVX2_FILL(fill_kernels_avx2_gemm)(Kernels& k) {
#ifdef NAGI_AVX_VNNI
  k.gemm_q8_0 = gemm_panel8<PType::kQ8_0>;
  k.gemm_i8g64 = gemm_panel8<PType::kI8G64>;
  k.gemm_i8g128 = gemm_panel8<PType::kI8G128>;
#else
  k.gemm_q8_0 = gemm_q8<32>;
  k.gemm_i8g64 = gemm_q8<64>;
  k.gemm_i8g128 = gemm_q8<128>;
#endif
  k.gemm_q4_0 = gemm_panel8<PType::kQ4_0>;
  k.gemm_i4g64 = gemm_panel8<PType::kI4G64>;
  k.gemm_i4g128 = gemm_panel8<PType::kI4G128>;
  k.gemm_q4_k = gemm_panel8<PType::kQ4K>;
  k.gemm_q5_k = gemm_panel8<PType::kQ5K>;
  k.gemm_q6_k = gemm_panel8<PType::kQ6K>;
  k.gemm_f16 = gemm_f<false>;
  k.gemm_bf16 = gemm_f<true>;
}

}  // namespace nagi
