// Reference CPU operations used by the forward pass. These are the plain
// (portable, auto-vectorised) versions; the fast-kernels work adds per-ISA
// variants behind the same signatures and tests them against these.
#pragma once

#include <cstddef>
#include <cstdint>

#include "format/dtype.h"

namespace nagi {

class ThreadPool;

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
void matmul(const Matrix& w, const float* x, int64_t n_tok, int64_t x_stride, float* y,
            int64_t y_stride, ThreadPool& pool);

// y = x / sqrt(mean(x^2) + eps) * w  (w may be null: no scale).
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);

// x = x * silu(g) elementwise... (SwiGLU: out[i] = silu(gate[i]) * up[i]).
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// In-place softmax over n values.
void softmax(float* x, int64_t n);

}  // namespace nagi
