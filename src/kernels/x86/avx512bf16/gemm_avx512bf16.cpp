// The avx512bf16 level: the prefill GEMM of BF16 weights as vdpbf16ps.
//
// BF16 weights multiply the activation rounded to bf16 (kernels/ops.h,
// round_to_bf16), so both operands are bf16 and their products are exact in
// f32. vdpbf16ps adds two such products to each f32 lane per instruction:
// twice the multiply-adds of an f32 FMA, with no conversion of the weights
// at all (the f32 GEMM of x86/avx512/gemm_avx512.cpp widens every weight).
// The instruction treats bf16 subnormals (|v| < 1.2e-38) as zero, which no
// activation or trained weight comes near.
//
// Layout: a panel of 32 rows is stored as column pairs, packed[k * 32 + j]
// = the 32-bit word of row j that holds its columns 2k and 2k+1 (exactly
// how they sit in the row), so packing is a 16x16 transpose of 32-bit words
// with no conversion. The activation is packed once per call the same way,
// one 32-bit word per column pair, and broadcast.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/kernels_fill.h"
#include "../avx512/avx512_util.h"

namespace nagi {
namespace {

// 32 rows x 8 tokens: 16 accumulators, two weight loads and eight
// broadcasts per column pair. 64 rows x 6 tokens ran the same (bench_ops
// BM_matmul/bf16/avx512bf16/512/*/3072: 189-199 against 189-195 GMAC/s on
// one Zen 5 core), 48 x 8 and 32 x 6 slower.
constexpr int kRegs = 2;             // registers per column pair of a panel
constexpr int kPanelB = 16 * kRegs;  // rows per panel
constexpr int kTokens = 8;           // tokens per micro-kernel

// The first n of 16 lanes (none for n <= 0).
inline __mmask16 lanes(int64_t n) {
  return n <= 0 ? __mmask16(0) : n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1);
}

// Token t's activation as column pairs: xb[t * pairs + k] holds bf16(x[2k])
// in its low half and bf16(x[2k+1]) in its high half; an odd last column is
// paired with zero. vcvtne2ps2bf16 rounds to nearest even: exact for the
// bf16 values MatmulInput passes, the same rounding for any other.
void pack_activation(const float* x, int64_t x_stride, int64_t n_tok, int64_t cols, uint32_t* xb) {
  const int64_t pairs = (cols + 1) / 2;
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* xt = x + t * x_stride;
    uint32_t* out = xb + t * pairs;
    for (int64_t c = 0; c < cols; c += 32) {
      const __m512 lo = _mm512_maskz_loadu_ps(lanes(cols - c), xt + c);
      const __m512 hi = _mm512_maskz_loadu_ps(lanes(cols - c - 16), xt + c + 16);
      const __m512bh v = _mm512_cvtne2ps_pbh(hi, lo);  // lo's 16 values first
      _mm512_mask_storeu_epi32(out + c / 2, lanes((cols - c + 1) / 2), (__m512i)v);
    }
  }
}

// Column pair k of a row: its 32-bit word, or for an odd last column that
// value and a zero (the word would reach past the row).
inline uint32_t pair_of(const uint8_t* row, int64_t k, int64_t cols) {
  uint16_t lo = 0, hi = 0;
  std::memcpy(&lo, row + 4 * k, 2);
  if (2 * k + 1 < cols) std::memcpy(&hi, row + 4 * k + 2, 2);
  return uint32_t(lo) | uint32_t(hi) << 16;
}

// Rows [0, n) of a panel (n <= kPanelB) as column pairs; missing rows are
// zero. Full 16-row groups go through the in-register transpose 16 pairs (32
// columns) at a time; the rest a word at a time.
void pack_panel(const uint8_t* w, size_t row_bytes, int n, int64_t cols, uint32_t* packed) {
  const int64_t pairs = (cols + 1) / 2, full = cols / 32 * 16;  // pairs in whole 32-column steps
  for (int g = 0; g < kRegs; ++g) {
    const int j0 = 16 * g;
    if (n >= j0 + 16) {
      const uint8_t* base = w + j0 * row_bytes;
      for (int64_t k = 0; k < full; k += 16) {
        __m512 r[16];
        for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(base + j * row_bytes + 4 * k);
        transpose16(r);
        for (int i = 0; i < 16; ++i) _mm512_store_ps(reinterpret_cast<float*>(packed + (k + i) * kPanelB + j0), r[i]);
      }
      for (int64_t k = full; k < pairs; ++k) {
        for (int j = 0; j < 16; ++j) packed[k * kPanelB + j0 + j] = pair_of(base + j * row_bytes, k, cols);
      }
    } else {
      for (int64_t k = 0; k < pairs; ++k) {
        for (int j = 0; j < 16; ++j) {
          packed[k * kPanelB + j0 + j] = j0 + j < n ? pair_of(w + (j0 + j) * row_bytes, k, cols) : 0u;
        }
      }
    }
  }
}

// T tokens over one packed panel: per column pair kRegs weight loads and T
// broadcasts feed kRegs * T vdpbf16ps.
template <int T>
void panel_kernel(const uint32_t* packed, int64_t pairs, const uint32_t* xb, int64_t t0, float* y, int64_t y_stride,
                  int n) {
  __m512 acc[T][kRegs];
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < kRegs; ++r) acc[t][r] = _mm512_setzero_ps();
  }
  const uint32_t* xt[T];
  for (int t = 0; t < T; ++t) xt[t] = xb + (t0 + t) * pairs;
  for (int64_t k = 0; k < pairs; ++k) {
    // (C-style casts between vector types of one size reinterpret the bits.)
    __m512bh b[kRegs];
    for (int r = 0; r < kRegs; ++r) b[r] = (__m512bh)_mm512_load_si512(packed + k * kPanelB + 16 * r);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(static_cast<int>(xt[t][k]));
      for (int r = 0; r < kRegs; ++r) acc[t][r] = _mm512_dpbf16_ps(acc[t][r], b[r], a);
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < kRegs; ++r) {
      const __mmask16 m = n > 16 * r ? lanes(n - 16 * r) : __mmask16(0);
      _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + 16 * r, m, acc[t][r]);
    }
  }
}

void gemm_bf16(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const float* x, int64_t x_stride,
               int64_t n_tok, float* y, int64_t y_stride) {
  const int64_t pairs = (cols + 1) / 2;
  thread_local Scratch act_scratch, panel_scratch;
  auto* xb = static_cast<uint32_t*>(act_scratch.get(static_cast<size_t>(n_tok * pairs) * 4));
  auto* packed = static_cast<uint32_t*>(panel_scratch.get(static_cast<size_t>(pairs) * kPanelB * 4));
  pack_activation(x, x_stride, n_tok, cols, xb);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelB) {
    const int n = static_cast<int>(n_rows - r0 < kPanelB ? n_rows - r0 : kPanelB);
    pack_panel(w + r0 * row_bytes, row_bytes, n, cols, packed);
    for_token_tiles<kTokens>(n_tok, [&](int64_t t, auto tokens) {
      panel_kernel<decltype(tokens)::value>(packed, pairs, xb, t, y + r0, y_stride, n);
    });
  }
}

}  // namespace

void fill_kernels_avx512_bf16(Kernels& k) {
  k.isa = "avx512bf16";
  k.gemm_bf16 = gemm_bf16;
}

}  // namespace nagi
