// Reference CPU operations used by the forward pass. These are the plain
// (portable, auto-vectorised) versions; the fast-kernels work adds per-ISA
// variants behind the same signatures and tests them against these.
#pragma once

#include <cstddef>
#include <cstdint>

#include "format/dtype.h"

namespace nagi {

class ThreadPool;
struct Kernels;

// A weight matrix [rows, cols] in any stored dtype; row r starts at
// data + r * row_bytes. Rows are a whole number of quantization blocks.
struct Matrix {
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
  const uint8_t* data = nullptr;

  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
};

// Copies row r of `m` into dst as float32 (cols values).
void matrix_row_f32(const Matrix& m, int64_t r, float* dst);

float dot_f32(const float* a, const float* b, int64_t n);

// Y[t, r] = sum_c W[r, c] * X[t, c] for t < n_tok, r < W.rows. X rows are
// x_stride floats apart, Y rows y_stride. Rows of W are split across threads.
// Uses the runtime-selected kernels (kernels.h): F32/F16 weights against the
// exact f32 activation, BF16 weights against the activation rounded to bf16
// (round_to_bf16; products exact, sums in f32); Q8_0/Q4_0 and nagi's I8G*/I4G* weights against
// the activation quantized to int8 per block of 32, Q4_K/Q5_K/Q6_K against it quantized per
// block of 256 (Q8_K-style), which adds a small relative error (see
// docs/KERNELS.md); other types go through matmul_reference.
void matmul(const Matrix& w, const float* x, int64_t n_tok, int64_t x_stride, float* y,
            int64_t y_stride, ThreadPool& pool);

// y = x rounded to bf16 (nearest even; NaN stays NaN), as f32: the activation
// BF16 weights multiply. llama.cpp does the same for BF16 weights, and it is
// less rounding than transformers' bf16 models (every activation bf16). It
// lets CPUs with AVX512-BF16 run BF16 GEMMs as vdpbf16ps, two exact products
// per f32 lane (the avx512bf16 level, docs/KERNELS.md). Every level and
// matmul_reference round the same way, so levels differ only in the order
// of the f32 sums.
void round_to_bf16(const float* x, float* y, int64_t n);

// From this many tokens on, matmuls use the kernel table's GEMM; a level
// may say otherwise for the quantized types (Kernels::gemm_block_min_tokens,
// gemm_q4_k_min_tokens, gemm_q6_k_min_tokens).
inline constexpr int64_t kGemmMinTokens = 8;

// While a PerTokenMatmuls(true) is alive on a thread, the matmuls it calls
// run every token through the row kernels, never a GEMM, so each token's
// output is bit for bit that of a one-token matmul (see Transformer::forward's
// per_token). Scopes nest; (false) leaves the current mode as it is.
class PerTokenMatmuls {
 public:
  explicit PerTokenMatmuls(bool on);
  ~PerTokenMatmuls();
  PerTokenMatmuls(const PerTokenMatmuls&) = delete;
  PerTokenMatmuls& operator=(const PerTokenMatmuls&) = delete;
  static bool active();

 private:
  bool prev_;
};

// matmul with an explicit kernel table (benchmarks and tests of one ISA).
void matmul_with(const Kernels& k, const Matrix& w, const float* x, int64_t n_tok, int64_t x_stride,
                 float* y, int64_t y_stride, ThreadPool& pool);

// The plain version (each weight row converted to f32, then dot_f32 with each
// token), kept as the reference the fast path is tested against.
void matmul_reference(const Matrix& w, const float* x, int64_t n_tok, int64_t x_stride, float* y,
                      int64_t y_stride, ThreadPool& pool);

// y = x / sqrt(mean(x^2) + eps) * w  (w may be null: no scale).
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);

// In-place softmax over n values.
void softmax(float* x, int64_t n);

}  // namespace nagi
