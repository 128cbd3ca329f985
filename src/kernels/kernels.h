// Runtime-dispatched compute kernels. `kernels()` returns one table of
// function pointers chosen once from the CPU's features: the scalar table is
// complete, and each instruction-set level overwrites the entries it has a
// faster version of. NAGI_ISA=scalar|avx2|avx2vnni|avx512|avx512vbmi|avx512bf16|neon|neondot|neoni8mm|neonbf16 forces a level
// (falls back, with a message on stderr, when the CPU lacks it).
//
// Only this header and kernels.cpp are compiled for the baseline target
// (x86-64 / ARMv8-A); the per-ISA files live under x86/<isa>/ and
// arm/<isa>/ and are built with their own flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace nagi {

// An f32 vector quantized to int8 in blocks of 32 values, like Q8_0 but with
// an f32 scale per block: x[i] ~= qs[i] * d[i / 32], qs in [-127, 127],
// d = max|x| / 127 over the block. Lets Q8_0 / Q4_0 rows be dotted with
// integer multiply-adds. n is a whole number of blocks.
struct QuantizedVector {
  const int8_t* qs = nullptr;
  const float* d = nullptr;
  int64_t n = 0;
};
inline constexpr int kActBlock = 32;

// An f32 vector quantized for the K-quants (like GGML's Q8_K): blocks of 256
// values, x[i] ~= qs[i] * d[i / 256] with d = max|x| / 127 over the block, and
// bsums[j] = the sum of qs[16j .. 16j+15] (the K-quants' per-sub-block
// offsets and mins multiply these). n is a whole number of blocks.
struct QuantizedVectorK {
  const int8_t* qs = nullptr;
  const float* d = nullptr;
  const int16_t* bsums = nullptr;
  int64_t n = 0;
};
inline constexpr int kActBlockK = 256;

// y[r] = dot(row r of W, x) for r < n_rows; row r starts at w + r * row_bytes
// and holds `cols` values of the entry's dtype.
using DotRowsF32Fn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                              const float* x, float* y);
using DotRowsQ8Fn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                             const QuantizedVector& x, float* y);
// Prefill GEMM over many tokens: Y[t, r] for t < n_tok, r < n_rows, with
// Y rows y_stride floats apart (y points at row 0 of this call's rows). The
// activation of token t is qs[t * cols ..], d[t * cols / 32 ..] (as
// quantize_act_q8 writes it, blocks of 32 for every weight type) and
// sums[t * cols / 16 + g] = the sum of qs[16 g .. 16 g + 15] of token t.
// Q8_0/Q4_0 and the I8G*/I4G* group types: the same exact integer block dots
// as the row kernels; K-quants:
// exact integer sub-block dots, scales and mins applied in f32.
using GemmQ8Fn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const int8_t* qs,
                          const float* d, const int32_t* sums, int64_t n_tok, float* y, int64_t y_stride);
// Prefill GEMM for F16/BF16 weights against the f32 activation (token t at
// x + t * x_stride). For BF16 weights the caller passes the activation
// rounded to bf16 (round_to_bf16, ops.h): the avx512bf16 kernel reads it as
// bf16, the others multiply it in f32, exactly.
using GemmF32Fn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols, const float* x,
                           int64_t x_stride, int64_t n_tok, float* y, int64_t y_stride);
using DotRowsQ8KFn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                              const QuantizedVectorK& x, float* y);
// The row kernels for several tokens at once (small batches, and the exact
// verification of speculative decoding): y[t * y_stride + r] for t < n_tok,
// each token's value bit for bit what the one-token kernel gives for it
// alone; the weights are read and unpacked once for all of them.
using DotRowsQ8MultiFn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                                  const QuantizedVector* x, int n_tok, float* y, int64_t y_stride);
using DotRowsQ8KMultiFn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                                   const QuantizedVectorK* x, int n_tok, float* y, int64_t y_stride);

struct Kernels {
  const char* isa = "scalar";
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  // Attention helpers (f32 or f16 K/V rows): dot with an f32 vector, y += a * x.
  float (*dot_f16)(const uint16_t* a, const float* b, int64_t n) = nullptr;
  void (*axpy_f32)(float a, const float* x, float* y, int64_t n) = nullptr;
  void (*axpy_f16)(float a, const uint16_t* x, float* y, int64_t n) = nullptr;
  // Attention tiles. s[r * s_stride + j] = scale * dot(q_rows[r], key j) for
  // r < rows, j < n, with the keys given transposed: kt[d * kt_stride + j].
  void (*attn_scores)(const float* const* q_rows, int rows, const float* kt, int64_t kt_stride, int n, int hd,
                      float scale, float* s, int64_t s_stride) = nullptr;
  // A key tile transposed for attn_scores: kt[d * kt_stride + j] = value d
  // of key j (at k + j * k_stride), j < n, d < hd; the f16 form widens each
  // value exactly. Strides in elements.
  void (*transpose_keys)(const float* k, int64_t k_stride, int n, int hd, float* kt, int64_t kt_stride) = nullptr;
  void (*transpose_keys_f16)(const uint16_t* k, int64_t k_stride, int n, int hd, float* kt,
                             int64_t kt_stride) = nullptr;
  // acc[r * hd + d] += sum_j p[r * p_stride + j] * v[j * v_stride + d].
  void (*attn_pv)(const float* p, int64_t p_stride, int rows, const float* v, int64_t v_stride, int n, int hd,
                  float* acc) = nullptr;
  // Scores against keys stored row by row (key j at k + j * k_stride), the
  // shape of decode, where a few query rows make transposing a key tile
  // cost more than it saves: s[r * s_stride + j] = scale * dot(q_rows[r], key j).
  void (*attn_scores_rows)(const float* const* q_rows, int rows, const float* k, int64_t k_stride, int n, int hd,
                           float scale, float* s, int64_t s_stride) = nullptr;
  // The same two with an f16 cache read in place (keys / values as f16 rows;
  // strides in elements). Null where the level has none: the caller then
  // converts the tile to f32 first.
  void (*attn_scores_rows_f16)(const float* const* q_rows, int rows, const uint16_t* k, int64_t k_stride, int n,
                               int hd, float scale, float* s, int64_t s_stride) = nullptr;
  void (*attn_pv_f16)(const float* p, int64_t p_stride, int rows, const uint16_t* v, int64_t v_stride, int n, int hd,
                      float* acc) = nullptr;
  // One tile of the flash kernel's online softmax: for each of `rows` rows
  // of scores s[r * s_stride + j], j < n (-inf = hidden key), with running
  // max m[r] and sum l[r]: the new max, s <- exp(s - max), l <- l * c + sum(s)
  // and acc row r (hd values) scaled by c = exp(m_old - m_new). A row with
  // nothing visible yet gets s = 0 and is left as it was.
  void (*attn_softmax_tile)(float* s, int64_t s_stride, int rows, int n, float* m, float* l, float* acc,
                            int hd) = nullptr;
  // SwiGLU's activation: out[i] = silu(gate[i]) * up[i], silu(g) =
  // g / (1 + exp(-g)). out may be gate.
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
  // out[i] = silu(x[i]) (a convolution's activation). out may be x.
  void (*silu)(const float* x, float* out, int64_t n) = nullptr;
  // An output gate: out[i] = sigmoid(gate[i]) * x[i]. out may be x or gate.
  void (*sigmoid_mul)(const float* gate, const float* x, float* out, int64_t n) = nullptr;
  // GeGLU with GELU's tanh approximation (PyTorch gelu(approximate="tanh")):
  // out[i] = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) * up[i],
  // g = gate[i]. out may be gate.
  void (*gelu_tanh_mul)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
  // y[i] += a[i] * b[i]: one tap of a depthwise convolution (SIMD forms fuse
  // the multiply and the add; the scalar one rounds twice).
  void (*mul_add)(const float* a, const float* b, float* y, int64_t n) = nullptr;
  // KV cache rows: f32 <-> f16 (round to nearest even, as f32_to_fp16), and
  // int8 rows with one f32 scale per 32 values back to f32
  // (y[i] = qs[i] * d[i / 32], n a multiple of 32; quantize_act_q8 is the
  // other direction).
  void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n) = nullptr;
  void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n) = nullptr;
  void (*dequantize_q8_32)(const int8_t* qs, const float* d, float* y, int64_t n) = nullptr;
  // Weights F32 / F16 / BF16 against an f32 activation, not rounded here (F32
  // models must keep matching f32 references to ~1e-5); for BF16 weights the
  // caller has rounded it to bf16 (round_to_bf16, ops.h).
  DotRowsF32Fn dot_rows_f32 = nullptr;
  DotRowsF32Fn dot_rows_f16 = nullptr;
  DotRowsF32Fn dot_rows_bf16 = nullptr;
  // Quantizes n floats (a multiple of 32) into qs[n] and d[n / 32].
  void (*quantize_act_q8)(const float* x, int64_t n, int8_t* qs, float* d) = nullptr;
  // Q8_0 / Q4_0 weights against a quantized activation (integer dot per block).
  DotRowsQ8Fn dot_rows_q8_0 = nullptr;
  DotRowsQ8Fn dot_rows_q4_0 = nullptr;
  DotRowsQ8Fn dot_rows_q4_1 = nullptr;
  DotRowsQ8Fn dot_rows_q5_0 = nullptr;
  DotRowsQ8Fn dot_rows_q5_1 = nullptr;
  // Q4_0x16 / Q8_0x16 (format/dtype.h: files written by `nagi repack`, or
  // Q4_0 / Q8_0 copied at load under NAGI_REPACK=x16); rows are whole
  // 512-value superblocks.
  DotRowsQ8Fn dot_rows_q4_0x16 = nullptr;
  DotRowsQ8Fn dot_rows_q8_0x16 = nullptr;
  // Quantizes n floats (a multiple of 256) into qs[n], d[n / 256], bsums[n / 16].
  void (*quantize_act_q8k)(const float* x, int64_t n, int8_t* qs, float* d, int16_t* bsums) = nullptr;
  // K-quant weights against a QuantizedVectorK (exact int32 dot per 256 block).
  DotRowsQ8KFn dot_rows_q4_k = nullptr;
  DotRowsQ8KFn dot_rows_q5_k = nullptr;
  DotRowsQ8KFn dot_rows_q6_k = nullptr;
  // Several tokens at once (DotRowsQ8MultiFn), where a level has them; null:
  // the one-token kernel runs once per token. Q8_0 / Q4_0 also serve
  // I8G32 / I4G32.
  DotRowsQ8MultiFn dot_rows_q8_0_multi = nullptr;
  DotRowsQ8MultiFn dot_rows_q4_0_multi = nullptr;
  DotRowsQ8KMultiFn dot_rows_q4_k_multi = nullptr;
  DotRowsQ8KMultiFn dot_rows_q5_k_multi = nullptr;
  DotRowsQ8KMultiFn dot_rows_q6_k_multi = nullptr;
  // nagi's group types (format/group_quant.h) with 64 / 128 values per scale
  // against the per-32 quantized activation. I8G32 / I4G32 blocks are Q8_0 /
  // Q4_0 blocks, so matmul runs them on the Q8_0 / Q4_0 entries.
  DotRowsQ8Fn dot_rows_i8g64 = nullptr;
  DotRowsQ8Fn dot_rows_i8g128 = nullptr;
  DotRowsQ8Fn dot_rows_i4g64 = nullptr;
  DotRowsQ8Fn dot_rows_i4g128 = nullptr;
  // Prefill GEMMs; null where an ISA has none (matmul then runs that ISA's
  // row kernels token by token).
  GemmQ8Fn gemm_q8_0 = nullptr;
  GemmQ8Fn gemm_q4_0 = nullptr;
  GemmQ8Fn gemm_q4_0x16 = nullptr;
  GemmQ8Fn gemm_q8_0x16 = nullptr;
  GemmQ8Fn gemm_q4_k = nullptr;
  GemmQ8Fn gemm_q5_k = nullptr;
  GemmQ8Fn gemm_q6_k = nullptr;
  GemmQ8Fn gemm_i8g64 = nullptr;
  GemmQ8Fn gemm_i8g128 = nullptr;
  GemmQ8Fn gemm_i4g64 = nullptr;
  GemmQ8Fn gemm_i4g128 = nullptr;
  GemmF32Fn gemm_f16 = nullptr;
  GemmF32Fn gemm_bf16 = nullptr;
  // From this many tokens on, the GEMMs of Q8_0, Q4_0, their x16 forms and
  // the I8G*/I4G* types replace the row kernels (the float GEMMs start at
  // kGemmMinTokens, kernels/ops.h, which is also this default). A level
  // lowers it where packing its panels is cheap.
  int64_t gemm_block_min_tokens = 8;
  // The same for Q4_K and Q6_K (Q5_K: kGemmMinTokens): a level with their
  // multi-token row kernels raises them to where the GEMM overtakes those.
  int64_t gemm_q4_k_min_tokens = 8;
  int64_t gemm_q6_k_min_tokens = 8;
};

// kAvx512: F/BW/VL + VNNI + BF16 (Zen 4+, Sapphire Rapids+, Cooper Lake);
// kAvx512Vbmi: plus VBMI's byte permutes (all of those but Cooper Lake).
// kNeon: ARMv8-A Advanced SIMD (every AArch64 CPU); kNeonDot: plus the
// dot-product extension (SDOT, HWCAP_ASIMDDP); kNeonI8mm: plus the int8
// matrix multiply (SMMLA, HWCAP2_I8MM).
enum class Isa {
  kScalar, kAvx2, kAvx2Vnni, kAvx512, kAvx512Vbmi, kAvx512Bf16, kNeon, kNeonDot, kNeonI8mm, kNeonBf16
};
// Every level, lowest first (of each architecture).
inline constexpr Isa kAllIsas[] = {Isa::kScalar,      Isa::kAvx2,        Isa::kAvx2Vnni, Isa::kAvx512,
                                   Isa::kAvx512Vbmi,  Isa::kAvx512Bf16,  Isa::kNeon,     Isa::kNeonDot,
                                   Isa::kNeonI8mm,    Isa::kNeonBf16};

std::string_view isa_name(Isa isa);
std::optional<Isa> isa_from_name(std::string_view name);
// Whether this build has kernels for `isa` and the CPU can run them.
bool isa_supported(Isa isa);
// The table for one level (scalar entries where the level has none).
// Precondition: isa_supported(isa).
Kernels make_kernels(Isa isa);
// The best supported level, or the one forced by NAGI_ISA.
Isa selected_isa();

// The process-wide table, filled on first use.
const Kernels& kernels();

}  // namespace nagi
