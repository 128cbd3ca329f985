// AVX-512 VNNI GEMM for prefill: Q8_0 / Q4_0 weights (and nagi's I8G* /
// I4G* group types, packed into the same panel form) x int8 activations of
// many tokens. Each thread packs a panel of 16 weight rows into a small
// buffer, transposed in 4-byte groups so one 512-bit register holds 4
// consecutive weights of all 16 rows; vpdpbusd against the broadcast 4
// activation bytes of one token then accumulates a whole 32-value block of
// 16 rows in 16 int32 lanes (8 steps). The panel stays in L1/L2 while every
// token passes over it. Block scales: one cvt + mul + fma per block, token.
#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "avx512_util.h"
#include "kernels/kernels_fill.h"
#include "kernels/kquant_layout.h"
#include "kernels/x16_layout.h"

namespace nagi {
namespace {

constexpr int kPanel = 16;                  // rows per panel (one per int32 lane)
constexpr int kBlockPacked = kPanel * 32;   // bytes of one packed block (8 steps x 64)

// No std::vector / std::min here: their template code compiled with AVX-512
// flags could be the copy the linker keeps for baseline callers.
inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// Tile schedule of the Q8_0/Q4_0 GEMM: row-major (panel by panel, all tokens)
// unless NAGI_GEMM_ORDER=morton (kept for measurements, docs/KERNELS.md).
constexpr int64_t kTokenTile = 64;
bool gemm_morton_order() {
  static const bool morton = [] {
    const char* e = std::getenv("NAGI_GEMM_ORDER");
    return e != nullptr && e[0] == 'm';
  }();
  return morton;
}

// Packs rows [0, n) (n <= 16) of the panel; missing rows are zero weights
// with zero scale. Weights become unsigned: Q8_0 w + 128, Q4_0 nibble (w + 8).
// Block layouts the panel packer reads: Q8_0, Q4_0, and their x16 forms
// (16-block superblocks, scales first; format/dtype.h).
enum class BlockLayout { kQ8_0, kQ4_0, kQ4_0x16, kQ8_0x16 };

// Where block b of a row starting at w keeps its f16 scale and its values.
template <BlockLayout L>
inline constexpr bool kIsX16 = L == BlockLayout::kQ4_0x16 || L == BlockLayout::kQ8_0x16;
// Payload bytes per block: Q4_0 nibbles or Q8_0 int8.
template <BlockLayout L>
inline constexpr int kPayload = L == BlockLayout::kQ4_0 || L == BlockLayout::kQ4_0x16 ? x16::kQ4Payload
                                                                                        : x16::kQ8Payload;
template <BlockLayout L>
inline const uint8_t* block_scale(const uint8_t* w, int64_t b) {
  if constexpr (kIsX16<L>) return w + (b / x16::kBlocks) * x16::super_bytes(kPayload<L>) + (b % x16::kBlocks) * 2;
  return w + b * (2 + kPayload<L>);
}
template <BlockLayout L>
inline const uint8_t* block_values(const uint8_t* w, int64_t b) {
  if constexpr (kIsX16<L>) {
    return w + (b / x16::kBlocks) * x16::super_bytes(kPayload<L>) + x16::kScaleBytes + (b % x16::kBlocks) * kPayload<L>;
  }
  return block_scale<L>(w, b) + 2;
}

// The 16 rows of a panel: rows past n repeat row n - 1 (its bytes are read,
// then masked off), so no address leaves the matrix.
struct PanelRows {
  const uint8_t* p[kPanel];
  __mmask16 valid;
  PanelRows(const uint8_t* w, size_t row_bytes, int n) : valid(static_cast<__mmask16>((1u << n) - 1)) {
    for (int j = 0; j < kPanel; ++j) p[j] = w + (j < n ? j : n - 1) * row_bytes;
  }
};

// Bytes [off, off + 16) of the 16 rows as 4 x 16 dwords: out[s] lane j is
// dword s of row j. Four rows share a register (one 128-bit lane each), then
// two two-source dword permutes and a lane shuffle transpose them. Plain
// loads: Zen 4 executes a 16-lane gather as 16 loads plus merging, and the
// gathers of the panel packer were ~8% of a 512-token GEMM and most of an
// 8-token one.
inline void load_transpose_16x4(const PanelRows& rows, int64_t off, __m512i (&out)[4]) {
  __m512i z[4];
  for (int q = 0; q < 4; ++q) {
    const uint8_t* const* p = rows.p + 4 * q;
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p[0] + off)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p[1] + off)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p[2] + off)), 2);
    z[q] = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p[3] + off)), 3);
  }
  // z[q] dword 4l + s is dword s of row 4q + l.
  const __m512i even = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const __m512i odd = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  // Lanes: rows 0-3 dword s, rows 4-7 dword s, then the same for s + 1.
  const __m512i lo01 = _mm512_permutex2var_epi32(z[0], even, z[1]);
  const __m512i lo23 = _mm512_permutex2var_epi32(z[0], odd, z[1]);
  const __m512i hi01 = _mm512_permutex2var_epi32(z[2], even, z[3]);
  const __m512i hi23 = _mm512_permutex2var_epi32(z[2], odd, z[3]);
  out[0] = _mm512_shuffle_i64x2(lo01, hi01, 0x44);
  out[1] = _mm512_shuffle_i64x2(lo01, hi01, 0xee);
  out[2] = _mm512_shuffle_i64x2(lo23, hi23, 0x44);
  out[3] = _mm512_shuffle_i64x2(lo23, hi23, 0xee);
}

// The f16 scales at byte off of the 16 rows, as f32; rows past n get 0.
inline __m512 load_scales_16(const PanelRows& rows, int64_t off) {
  alignas(32) uint16_t h[kPanel];
  for (int j = 0; j < kPanel; ++j) std::memcpy(&h[j], rows.p[j] + off, 2);
  return _mm512_maskz_mov_ps(rows.valid, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(h))));
}

// Stores four transposed steps of 4-bit codes: the low nibbles at lo[0..3],
// the high nibbles at hi[0..3].
inline void store_nibble_steps(const __m512i (&q)[4], __mmask16 valid, __m512i* lo, __m512i* hi) {
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  for (int s = 0; s < 4; ++s) {
    _mm512_store_si512(lo + s, _mm512_maskz_and_epi32(valid, q[s], m4));
    _mm512_store_si512(hi + s, _mm512_maskz_and_epi32(valid, _mm512_srli_epi16(q[s], 4), m4));
  }
}

// Stores transposed int8 codes made unsigned (w + 128).
inline void store_byte_steps(const __m512i (&q)[4], __mmask16 valid, __m512i* pb) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int s = 0; s < 4; ++s) _mm512_store_si512(pb + s, _mm512_maskz_xor_epi32(valid, q[s], flip));
}

template <BlockLayout L>
void pack_panel(const uint8_t* w, size_t row_bytes, int n, int64_t nb, uint8_t* packed, float* dw) {
  constexpr bool kQ4 = L == BlockLayout::kQ4_0 || L == BlockLayout::kQ4_0x16;
  const PanelRows rows(w, row_bytes, n);
  for (int64_t b = 0; b < nb; ++b) {
    // The layout puts block b at the same offset in every row.
    const int64_t voff = block_values<L>(w, b) - w;
    __m512i* pb = reinterpret_cast<__m512i*>(packed + b * kBlockPacked);
    _mm512_store_ps(dw + b * kPanel, load_scales_16(rows, block_scale<L>(w, b) - w));
    __m512i q[4];
    load_transpose_16x4(rows, voff, q);
    if (kQ4) {
      // Q4_0: low nibbles are values 0..15 (steps 0-3), high ones 16..31 (steps 4-7).
      store_nibble_steps(q, rows.valid, pb, pb + 4);
    } else {
      store_byte_steps(q, rows.valid, pb);
      load_transpose_16x4(rows, voff + 16, q);
      store_byte_steps(q, rows.valid, pb + 4);
    }
  }
}

// nagi's group types (format/group_quant.h) with G = 64 / 128, packed into
// the same per-32-block panel as Q8_0 / Q4_0 (each block's scale is its
// group's), so the panel kernel and its exact integer sums serve them too.
template <int kBits, int kG>
void pack_panel_groupq(const uint8_t* w, size_t row_bytes, int n, int64_t nb, uint8_t* packed, float* dw) {
  constexpr int kBlockBytes = 2 + kG * kBits / 8;
  constexpr int kSubs = kG / 32;
  const PanelRows rows(w, row_bytes, n);
  for (int64_t g = 0; g < nb / kSubs; ++g) {
    const int64_t off = g * kBlockBytes;
    __m512i* pb = reinterpret_cast<__m512i*>(packed + g * kSubs * kBlockPacked);
    const __m512 d = load_scales_16(rows, off);
    for (int k = 0; k < kSubs; ++k) _mm512_store_ps(dw + (g * kSubs + k) * kPanel, d);
    __m512i q[4];
    if (kBits == 4) {
      // Chunk c of 32 bytes: low nibbles are block 2c, high nibbles block
      // 2c + 1; its 16-byte halves are values 0-15 / 16-31 of each.
      for (int c = 0; c < kG / 64; ++c) {
        for (int h = 0; h < 2; ++h) {
          load_transpose_16x4(rows, off + 2 + 32 * c + 16 * h, q);
          store_nibble_steps(q, rows.valid, pb + 16 * c + 4 * h, pb + 16 * c + 8 + 4 * h);
        }
      }
    } else {
      for (int s = 0; s < 2 * kSubs; ++s) {
        load_transpose_16x4(rows, off + 2 + 16 * s, q);
        store_byte_steps(q, rows.valid, pb + 4 * s);
      }
    }
  }
}

// The weight formats of gemm_q: how a panel is packed and the unsigned
// offset (bias) its packed codes carry.
template <BlockLayout L>
struct GgmlPanel {
  static constexpr int kBias = L == BlockLayout::kQ4_0 || L == BlockLayout::kQ4_0x16 ? 8 : 128;
  static void pack(const uint8_t* w, size_t row_bytes, int n, int64_t nb, uint8_t* packed, float* dw) {
    pack_panel<L>(w, row_bytes, n, nb, packed, dw);
  }
};
template <int kBits, int kG>
struct GroupPanel {
  static constexpr int kBias = kBits == 8 ? 128 : 8;
  static void pack(const uint8_t* w, size_t row_bytes, int n, int64_t nb, uint8_t* packed, float* dw) {
    pack_panel_groupq<kBits, kG>(w, row_bytes, n, nb, packed, dw);
  }
};

// The per-block values of the activation that the panel kernels read,
// block-major so that one block's values for consecutive tokens are
// adjacent (one pointer walks them): st[b * n_tok + t] is -bias * sum(a) of
// token t's block b (the unsigned weights' offset, exactly) and dt[...] its
// scale.
struct BlockMajorAct {
  const int8_t* qs;
  const float* dt;
  const int32_t* st;
  int64_t n_tok, cols;
};

// Fills BlockMajorAct's dt / st from the token-major scales d[t * nb + b]
// and 16-value sums sums[2 * (t * nb + b) + {0, 1}], 16 x 16 tiles at a
// time through registers (one scalar strided pass was ~3% of a 512-token
// prefill of Qwen3-0.6B: gemm_q runs it for every call).
void block_major_act(const float* d, const int32_t* sums, int32_t bias, int64_t n_tok, int64_t nb, float* dt,
                     int32_t* st) {
  const int64_t t16 = n_tok / 16 * 16, b16 = nb / 16 * 16;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i nbias = _mm512_set1_epi32(-bias);
  for (int64_t t0 = 0; t0 < t16; t0 += 16) {
    for (int64_t b0 = 0; b0 < b16; b0 += 16) {
      __m512 rd[16], rs[16];
      for (int j = 0; j < 16; ++j) {
        const int64_t i = (t0 + j) * nb + b0;
        rd[j] = _mm512_loadu_ps(d + i);
        const __m512i lo = _mm512_loadu_si512(sums + 2 * i), hi = _mm512_loadu_si512(sums + 2 * i + 16);
        const __m512i s32 = _mm512_add_epi32(_mm512_permutex2var_epi32(lo, even, hi),
                                             _mm512_permutex2var_epi32(lo, odd, hi));
        rs[j] = _mm512_castsi512_ps(_mm512_mullo_epi32(s32, nbias));
      }
      transpose16(rd);
      transpose16(rs);
      for (int k = 0; k < 16; ++k) {
        _mm512_storeu_ps(dt + (b0 + k) * n_tok + t0, rd[k]);
        _mm512_storeu_ps(reinterpret_cast<float*>(st + (b0 + k) * n_tok + t0), rs[k]);
      }
    }
  }
  // The edges (token counts or block counts not a multiple of 16), one by one.
  for (int64_t t = 0; t < n_tok; ++t) {
    for (int64_t b = t < t16 ? b16 : 0; b < nb; ++b) {
      const int64_t i = t * nb + b;
      st[b * n_tok + t] = -bias * (sums[2 * i] + sums[2 * i + 1]);
      dt[b * n_tok + t] = d[i];
    }
  }
}

// T tokens over one packed panel: y_t[0..n) for each token t.
template <int T>
void panel_kernel(const uint8_t* packed, const float* dw, int64_t nb, const BlockMajorAct& act, int64_t t0, float* y,
                  int64_t y_stride, int n) {
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  const int8_t* a0 = act.qs + t0 * act.cols;
  const int64_t cols = act.cols;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = packed + b * kBlockPacked;
    const int32_t* st = act.st + b * act.n_tok + t0;
    const float* dt = act.dt + b * act.n_tok + t0;
    __m512i s[T];
    for (int t = 0; t < T; ++t) s[t] = _mm512_set1_epi32(st[t]);
    for (int k = 0; k < 8; ++k) {
      const __m512i wv = _mm512_load_si512(pb + 64 * k);
      for (int t = 0; t < T; ++t) {
        int32_t a4;
        std::memcpy(&a4, a0 + t * cols + 32 * b + 4 * k, 4);
        s[t] = _mm512_dpbusd_epi32(s[t], wv, _mm512_set1_epi32(a4));
      }
    }
    const __m512 dwv = _mm512_load_ps(dw + b * kPanel);
    for (int t = 0; t < T; ++t) {
      const __m512 scale = _mm512_mul_ps(dwv, _mm512_set1_ps(dt[t]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), scale, acc[t]);
    }
  }
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * y_stride, m, acc[t]);
}

// T tokens over two packed panels (32 rows): each activation broadcast feeds
// both panels' vpdpbusd, so per 4 bytes of a block there are 2 weight loads
// and T broadcasts for 2T multiply-adds (one panel: 1 + T loads for T).
template <int T>
void panel_pair_kernel(const uint8_t* pk0, const float* dw0, const uint8_t* pk1, const float* dw1, int64_t nb,
                       const BlockMajorAct& act, int64_t t0, float* y, int64_t y_stride, int n1) {
  __m512 acc0[T], acc1[T];
#pragma GCC unroll 6
  for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  const int8_t* a0 = act.qs + t0 * act.cols;
  const int64_t cols = act.cols;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb0 = pk0 + b * kBlockPacked;
    const uint8_t* pb1 = pk1 + b * kBlockPacked;
    const int32_t* st = act.st + b * act.n_tok + t0;
    const float* dt = act.dt + b * act.n_tok + t0;
    __m512i s0[T], s1[T];
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) s0[t] = s1[t] = _mm512_set1_epi32(st[t]);
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      const __m512i w0 = _mm512_load_si512(pb0 + 64 * k), w1 = _mm512_load_si512(pb1 + 64 * k);
#pragma GCC unroll 6
      for (int t = 0; t < T; ++t) {
        int32_t a4;
        std::memcpy(&a4, a0 + t * cols + 32 * b + 4 * k, 4);
        const __m512i av = _mm512_set1_epi32(a4);
        s0[t] = _mm512_dpbusd_epi32(s0[t], w0, av);
        s1[t] = _mm512_dpbusd_epi32(s1[t], w1, av);
      }
    }
    const __m512 d0 = _mm512_load_ps(dw0 + b * kPanel), d1 = _mm512_load_ps(dw1 + b * kPanel);
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) {
      const __m512 xd = _mm512_set1_ps(dt[t]);
      acc0[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0[t]), _mm512_mul_ps(d0, xd), acc0[t]);
      acc1[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1[t]), _mm512_mul_ps(d1, xd), acc1[t]);
    }
  }
  const __mmask16 m1 = static_cast<__mmask16>(n1 >= 16 ? 0xffff : (1u << n1) - 1);
  for (int t = 0; t < T; ++t) {
    _mm512_storeu_ps(y + (t0 + t) * y_stride, acc0[t]);
    _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + kPanel, m1, acc1[t]);
  }
}

template <typename Panel>
void gemm_q(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const int8_t* qs, const float* qd,
            const int32_t* act_sums, int64_t n_tok, float* y, int64_t y_stride) {
  const int64_t nb = cols / 32;
  constexpr int kBias = Panel::kBias;
  thread_local Scratch scratch, pair_scratch;
  const size_t packed_bytes = static_cast<size_t>(nb) * kBlockPacked;
  const size_t dw_bytes = static_cast<size_t>(nb) * kPanel * sizeof(float);
  const size_t act_bytes = size_t(n_tok * nb) * sizeof(int32_t);
  auto* base = static_cast<uint8_t*>(scratch.get(packed_bytes + dw_bytes + 2 * act_bytes));
  uint8_t* packed = base;
  float* dw = reinterpret_cast<float*>(base + packed_bytes);
  int32_t* st = reinterpret_cast<int32_t*>(base + packed_bytes + dw_bytes);
  float* dt = reinterpret_cast<float*>(base + packed_bytes + dw_bytes + act_bytes);
  block_major_act(qd, act_sums, kBias, n_tok, nb, dt, st);
  const BlockMajorAct act{qs, dt, st, n_tok, cols};
  auto run_tokens = [&](const uint8_t* pk, const float* pdw, int64_t r0, int n, int64_t t_begin, int64_t t_end) {
    int64_t t = t_begin;
    // 8 tokens: 8 independent vpdpbusd chains hide its latency.
    for (; t + 8 <= t_end; t += 8) panel_kernel<8>(pk, pdw, nb, act, t, y + r0, y_stride, n);
    switch (t_end - t) {
      case 7: panel_kernel<7>(pk, pdw, nb, act, t, y + r0, y_stride, n); break;
      case 6: panel_kernel<6>(pk, pdw, nb, act, t, y + r0, y_stride, n); break;
      case 5: panel_kernel<5>(pk, pdw, nb, act, t, y + r0, y_stride, n); break;
      case 4: panel_kernel<4>(pk, pdw, nb, act, t, y + r0, y_stride, n); break;
      case 3: panel_kernel<3>(pk, pdw, nb, act, t, y + r0, y_stride, n); break;
      case 2: panel_kernel<2>(pk, pdw, nb, act, t, y + r0, y_stride, n); break;
      case 1: panel_kernel<1>(pk, pdw, nb, act, t, y + r0, y_stride, n); break;
      default: break;
    }
  };
  const int64_t n_panels = (n_rows + kPanel - 1) / kPanel;
  if (!gemm_morton_order() || n_tok <= kTokenTile || n_panels == 1) {
    // Row-major (the default, faster on 512 tokens: see docs/KERNELS.md): one
    // panel packed at a time, every token over it.
    // Two full panels at a time where there are (see panel_pair_kernel).
    int64_t r0 = 0;
    if (n_rows - r0 > kPanel) {
      auto* base2 = static_cast<uint8_t*>(pair_scratch.get(packed_bytes + dw_bytes));
      uint8_t* packed2 = base2;
      float* dw2 = reinterpret_cast<float*>(base2 + packed_bytes);
      for (; r0 + kPanel < n_rows; r0 += 2 * kPanel) {
        const int n1 = static_cast<int>(min64(kPanel, n_rows - r0 - kPanel));
        Panel::pack(w + r0 * row_bytes, row_bytes, kPanel, nb, packed, dw);
        Panel::pack(w + (r0 + kPanel) * row_bytes, row_bytes, n1, nb, packed2, dw2);
        int64_t t = 0;
        for (; t + 6 <= n_tok; t += 6) {
          panel_pair_kernel<6>(packed, dw, packed2, dw2, nb, act, t, y + r0, y_stride, n1);
        }
        run_tokens(packed, dw, r0, kPanel, t, n_tok);
        run_tokens(packed2, dw2, r0 + kPanel, n1, t, n_tok);
      }
    }
    for (; r0 < n_rows; r0 += kPanel) {
      const int n = static_cast<int>(min64(kPanel, n_rows - r0));
      Panel::pack(w + r0 * row_bytes, row_bytes, n, nb, packed, dw);
      run_tokens(packed, dw, r0, n, 0, n_tok);
    }
    return;
  }
  // Morton (Z) order over (panel, block of kTokenTile tokens) tiles: every
  // panel of this call is packed once up front, then tiles are visited in Z
  // order so both the panels and the token blocks in use stay cache-sized.
  thread_local Scratch all_scratch;
  auto* all = static_cast<uint8_t*>(all_scratch.get(size_t(n_panels) * (packed_bytes + dw_bytes)));
  for (int64_t p = 0; p < n_panels; ++p) {
    const int n = static_cast<int>(min64(kPanel, n_rows - p * kPanel));
    uint8_t* pk = all + p * (packed_bytes + dw_bytes);
    Panel::pack(w + p * kPanel * row_bytes, row_bytes, n, nb, pk, reinterpret_cast<float*>(pk + packed_bytes));
  }
  const int64_t n_tb = (n_tok + kTokenTile - 1) / kTokenTile;
  const int64_t side = int64_t(1) << (64 - __builtin_clzll(uint64_t((n_panels > n_tb ? n_panels : n_tb) - 1)));
  for (int64_t z = 0; z < side * side; ++z) {
    int64_t p = 0, tb = 0;  // de-interleave the bits of z
    for (int bit = 0; (int64_t(1) << (2 * bit)) < side * side; ++bit) {
      p |= ((z >> (2 * bit)) & 1) << bit;
      tb |= ((z >> (2 * bit + 1)) & 1) << bit;
    }
    if (p >= n_panels || tb >= n_tb) continue;
    const uint8_t* pk = all + p * (packed_bytes + dw_bytes);
    run_tokens(pk, reinterpret_cast<const float*>(pk + packed_bytes), p * kPanel,
               static_cast<int>(min64(kPanel, n_rows - p * kPanel)), tb * kTokenTile, min64(n_tok, (tb + 1) * kTokenTile));
  }
}

// ---- K-quants: value = dw[s] * u - mw[s] per sub-block s of G values, u an
// unsigned byte (Q4_K/Q5_K: G = 32, dw = d * sc, mw = dmin * m; Q6_K: G = 16,
// u = q in [0, 63], dw = d * sc, mw = 32 * d * sc). Against an activation
// quantized per 32 (dx, a): y = sum_s dx * (dw[s] * sum(u a) - mw[s] * sum(a)).

enum class KType { kQ4K, kQ5K, kQ6K };

template <KType kType>
void pack_panel_k(const uint8_t* w, size_t row_bytes, int n, int64_t cols, uint8_t* packed, float* dw, float* mw) {
  constexpr int kG = kType == KType::kQ6K ? 16 : 32;
  constexpr int kSubs = 256 / kG;
  constexpr int kBlockBytes = kType == KType::kQ4K ? kq::kQ4KBytes : kType == KType::kQ5K ? kq::kQ5KBytes : kq::kQ6KBytes;
  const int64_t n_super = cols / 256;
  float* pw = reinterpret_cast<float*>(packed);  // words moved as floats: bits only
  // One super-block of all 16 rows is unpacked row by row into u, then moved
  // into the panel by 16 x 16 register transposes and whole-register stores
  // (writing each row's 64 words with a stride of 16 words had made this
  // packer ~5% of a Q4_K_M prefill). Rows past n are zeros.
  alignas(64) uint32_t u[kPanel][64] = {};
  alignas(64) float sdw[kPanel][16] = {}, smw[kPanel][16] = {};
  for (int64_t sb = 0; sb < n_super; ++sb) {
    for (int j = 0; j < n; ++j) {
      const uint8_t* b = w + j * row_bytes + sb * kBlockBytes;
      // The 16 rows are 16 streams, more than the hardware prefetchers
      // follow: ask for this row's super-block two ahead.
      if (sb + 2 < n_super) {
        for (int off = 0; off < kBlockBytes; off += 64) __builtin_prefetch(b + 2 * kBlockBytes + off);
      }
      if constexpr (kType == KType::kQ6K) {
        kq::unpack_q6_k(b, u[j], sdw[j], smw[j], half_to_f32);
      } else {
        kq::unpack_q4_k(b, u[j], sdw[j], smw[j], kType == KType::kQ5K, half_to_f32);
      }
    }
    __m512 r[16];
    for (int q = 0; q < 4; ++q) {
      for (int j = 0; j < kPanel; ++j) r[j] = _mm512_load_ps(reinterpret_cast<const float*>(u[j] + 16 * q));
      transpose16(r);
      for (int i = 0; i < 16; ++i) _mm512_store_ps(pw + (sb * 64 + 16 * q + i) * kPanel, r[i]);
    }
    for (int j = 0; j < kPanel; ++j) r[j] = _mm512_load_ps(sdw[j]);
    transpose16(r);
    for (int k = 0; k < kSubs; ++k) _mm512_store_ps(dw + (sb * kSubs + k) * kPanel, r[k]);
    for (int j = 0; j < kPanel; ++j) r[j] = _mm512_load_ps(smw[j]);
    transpose16(r);
    for (int k = 0; k < kSubs; ++k) _mm512_store_ps(mw + (sb * kSubs + k) * kPanel, r[k]);
  }
}

// T tokens over one packed K-quant panel. xa[t * n_sub + s] = dx * sum(a) of
// sub-block s of token t.
template <int kG, int T>
void panel_kernel_k(const uint8_t* packed, const float* dw, const float* mw, int64_t n_sub, const int8_t* qs,
                    const float* qd, const float* xa, int64_t cols, int64_t t0, float* y, int64_t y_stride, int n) {
  constexpr int kSteps = kG / 4;
  const int64_t nb = cols / 32;
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t s = 0; s < n_sub; ++s) {
    const uint8_t* pb = packed + s * kSteps * 64;
    __m512i acc_i[T];
    for (int t = 0; t < T; ++t) acc_i[t] = _mm512_setzero_si512();
    for (int k = 0; k < kSteps; ++k) {
      const __m512i wv = _mm512_load_si512(pb + 64 * k);
      for (int t = 0; t < T; ++t) {
        int32_t a4;
        std::memcpy(&a4, qs + (t0 + t) * cols + s * kG + 4 * k, 4);
        acc_i[t] = _mm512_dpbusd_epi32(acc_i[t], wv, _mm512_set1_epi32(a4));
      }
    }
    const __m512 dwv = _mm512_load_ps(dw + s * kPanel), mwv = _mm512_load_ps(mw + s * kPanel);
    const int64_t blk = s * kG / 32;
    for (int t = 0; t < T; ++t) {
      const __m512 scale = _mm512_mul_ps(dwv, _mm512_set1_ps(qd[(t0 + t) * nb + blk]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc_i[t]), scale, acc[t]);
      acc[t] = _mm512_fnmadd_ps(mwv, _mm512_set1_ps(xa[(t0 + t) * n_sub + s]), acc[t]);
    }
  }
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * y_stride, m, acc[t]);
}

template <KType kType>
void gemm_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const int8_t* qs, const float* qd,
            const int32_t* act_sums, int64_t n_tok, float* y, int64_t y_stride) {
  constexpr int kG = kType == KType::kQ6K ? 16 : 32;
  const int64_t n_sub = cols / kG, nb = cols / 32;
  thread_local Scratch scratch;
  const size_t packed_bytes = static_cast<size_t>(cols) * kPanel;
  const size_t dw_bytes = static_cast<size_t>(n_sub) * kPanel * sizeof(float);
  auto* base = static_cast<uint8_t*>(scratch.get(packed_bytes + 2 * dw_bytes + size_t(n_tok * n_sub) * sizeof(float)));
  uint8_t* packed = base;
  float* dw = reinterpret_cast<float*>(base + packed_bytes);
  float* mw = reinterpret_cast<float*>(base + packed_bytes + dw_bytes);
  float* xa = reinterpret_cast<float*>(base + packed_bytes + 2 * dw_bytes);
  for (int64_t t = 0; t < n_tok; ++t) {
    for (int64_t s = 0; s < n_sub; ++s) {
      const int32_t* g = act_sums + t * (cols / 16) + s * (kG / 16);
      const int32_t sum = kG == 16 ? g[0] : g[0] + g[1];
      xa[t * n_sub + s] = qd[t * nb + s * kG / 32] * float(sum);
    }
  }
  for (int64_t r0 = 0; r0 < n_rows; r0 += kPanel) {
    const int n = static_cast<int>(min64(kPanel, n_rows - r0));
    pack_panel_k<kType>(w + r0 * row_bytes, row_bytes, n, cols, packed, dw, mw);
    for_token_tiles<8>(n_tok, [&](int64_t t, auto tokens) {
      panel_kernel_k<kG, decltype(tokens)::value>(packed, dw, mw, n_sub, qs, qd, xa, cols, t, y + r0, y_stride, n);
    });
  }
}

// ---- F16 / BF16: the panel is converted to f32 once, transposed so one
// register holds column k of 16 rows; each token's x[k] is broadcast into an
// FMA. Same products as the row kernels (the f32 activation as given: exact,
// or for BF16 weights already rounded to bf16 by the caller), only the
// summation order differs.
constexpr int kPanelF = 32;  // rows per float panel: two registers per column

// Values c..c+15 of an F16 / BF16 row as f32 (one value: load1_f, x86/f16c_util.h).
template <bool kBf16>
inline __m512 load16_f(const uint8_t* row, int64_t c) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * c));
  return kBf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
}

// Rows [0, n) (n <= 32) of the panel as f32, column-major: packed[c * 32 + j]
// is row j's value c; missing rows are zeros. Converted 16 columns of a row
// at a time and scattered into place: the partial last panel of a matrix
// (full panels take pack_panel_f_full below).
template <bool kBf16>
void pack_panel_f(const uint8_t* w, size_t row_bytes, int n, int64_t cols, float* packed) {
  for (int j = 0; j < kPanelF; ++j) {
    if (j >= n) {
      for (int64_t c = 0; c < cols; ++c) packed[c * kPanelF + j] = 0.f;
      continue;
    }
    const uint8_t* row = w + j * row_bytes;
    int64_t c = 0;
    alignas(64) float tmp[16];
    for (; c + 16 <= cols; c += 16) {
      _mm512_store_ps(tmp, load16_f<kBf16>(row, c));
      for (int i = 0; i < 16; ++i) packed[(c + i) * kPanelF + j] = tmp[i];
    }
    for (; c < cols; ++c) packed[c * kPanelF + j] = load1_f<kBf16>(row, c);
  }
}

// pack_panel_f for a full panel (n == 32) with 16-column steps: each 16x16
// block is converted and transposed in registers, then stored as 16 whole
// columns, instead of 16 scalar stores per converted row segment. The pack
// had grown to ~11% of the F16 GEMM's time; 512 tokens through a 3072x1024
// matrix went from 164-178 to 180-197 GFLOPS on one Zen 5 core, 320 to 357
// on two (docs/KERNELS.md).
template <bool kBf16>
void pack_panel_f_full(const uint8_t* w, size_t row_bytes, int64_t cols, float* packed) {
  const int64_t c16 = cols / 16 * 16;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* base = w + 16 * half * row_bytes;
    for (int64_t c = 0; c < c16; c += 16) {
      __m512 r[16];
      for (int j = 0; j < 16; ++j) r[j] = load16_f<kBf16>(base + j * row_bytes, c);
      transpose16(r);
      for (int i = 0; i < 16; ++i) _mm512_store_ps(packed + (c + i) * kPanelF + 16 * half, r[i]);
    }
  }
  if (c16 < cols) {
    for (int j = 0; j < kPanelF; ++j) {
      const uint8_t* row = w + j * row_bytes;
      for (int64_t c = c16; c < cols; ++c) {
        packed[c * kPanelF + j] = load1_f<kBf16>(row, c);
      }
    }
  }
}

// T tokens (T <= 6) over a 32-row panel: per column two weight loads and T
// broadcasts feed 2T independent FMAs (12 accumulators at T = 6), so loads
// no longer outnumber the FMAs.
template <int T>
void panel_kernel_f(const float* packed, int64_t cols, const float* x, int64_t x_stride, int64_t t0, float* y,
                    int64_t y_stride, int n) {
  __m512 lo[T], hi[T];
#pragma GCC unroll 6
  for (int t = 0; t < T; ++t) lo[t] = hi[t] = _mm512_setzero_ps();
  const float* xt[T];
  for (int t = 0; t < T; ++t) xt[t] = x + (t0 + t) * x_stride;
  for (int64_t c = 0; c < cols; ++c) {
    const __m512 w0 = _mm512_load_ps(packed + c * kPanelF), w1 = _mm512_load_ps(packed + c * kPanelF + 16);
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_set1_ps(xt[t][c]);
      lo[t] = _mm512_fmadd_ps(w0, xv, lo[t]);
      hi[t] = _mm512_fmadd_ps(w1, xv, hi[t]);
    }
  }
  const __mmask16 m_lo = static_cast<__mmask16>(n >= 16 ? 0xffff : (1u << n) - 1);
  const __mmask16 m_hi = static_cast<__mmask16>(n <= 16 ? 0 : n >= 32 ? 0xffff : (1u << (n - 16)) - 1);
  for (int t = 0; t < T; ++t) {
    _mm512_mask_storeu_ps(y + (t0 + t) * y_stride, m_lo, lo[t]);
    _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + 16, m_hi, hi[t]);
  }
}

template <bool kBf16>
void gemm_f(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const float* x, int64_t x_stride,
            int64_t n_tok, float* y, int64_t y_stride) {
  thread_local Scratch scratch;
  float* packed = static_cast<float*>(scratch.get(static_cast<size_t>(cols) * kPanelF * sizeof(float)));
  for (int64_t r0 = 0; r0 < n_rows; r0 += kPanelF) {
    const int n = static_cast<int>(min64(kPanelF, n_rows - r0));
    if (n == kPanelF) {
      pack_panel_f_full<kBf16>(w + r0 * row_bytes, row_bytes, cols, packed);
    } else {
      pack_panel_f<kBf16>(w + r0 * row_bytes, row_bytes, n, cols, packed);
    }
    for_token_tiles<6>(n_tok, [&](int64_t t, auto tokens) {
      panel_kernel_f<decltype(tokens)::value>(packed, cols, x, x_stride, t, y + r0, y_stride, n);
    });
  }
}

}  // namespace

void fill_kernels_avx512_gemm(Kernels& k) {
  // Packing by plain loads (load_transpose_16x4) made these GEMMs beat the
  // row kernels from 3 tokens on; 4 leaves a margin (docs/KERNELS.md).
  k.gemm_block_min_tokens = 4;
  k.gemm_q8_0 = gemm_q<GgmlPanel<BlockLayout::kQ8_0>>;
  k.gemm_q4_0 = gemm_q<GgmlPanel<BlockLayout::kQ4_0>>;
  k.gemm_q4_0x16 = gemm_q<GgmlPanel<BlockLayout::kQ4_0x16>>;
  k.gemm_q8_0x16 = gemm_q<GgmlPanel<BlockLayout::kQ8_0x16>>;
  k.gemm_i8g64 = gemm_q<GroupPanel<8, 64>>;
  k.gemm_i8g128 = gemm_q<GroupPanel<8, 128>>;
  k.gemm_i4g64 = gemm_q<GroupPanel<4, 64>>;
  k.gemm_i4g128 = gemm_q<GroupPanel<4, 128>>;
  k.gemm_q4_k = gemm_k<KType::kQ4K>;
  k.gemm_q5_k = gemm_k<KType::kQ5K>;
  k.gemm_q6_k = gemm_k<KType::kQ6K>;
  k.gemm_f16 = gemm_f<false>;
  k.gemm_bf16 = gemm_f<true>;
}

}  // namespace nagi
