#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "base/half.h"
#include "kernels/matmul_group.h"

namespace nagi {

void matrix_row_f32(const Matrix& m, int64_t r, float* dst) {
  if (m.dtype == DType::kF32) {
    std::memcpy(dst, m.row(r), static_cast<size_t>(m.cols) * sizeof(float));
  } else {
    dequantize_row(m.dtype, m.row(r), dst, m.cols);
  }
}

float dot_f32(const float* a, const float* b, int64_t n) {
  // Sixteen independent partial sums let the compiler keep them in vector
  // registers without reassociating (no -ffast-math needed).
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float tail = 0.f;
  for (; i < n; ++i) tail += a[i] * b[i];
  float s = 0.f;
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s + tail;
}

void round_to_bf16(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(f32_to_bf16(x[i]));
}

void matmul_reference(const Matrix& w, const float* x, int64_t n_tok, int64_t x_stride, float* y,
                      int64_t y_stride, ThreadPool& pool) {
  // BF16 weights multiply the activation rounded to bf16 (round_to_bf16).
  std::vector<float> rounded;
  if (w.dtype == DType::kBF16) {
    rounded.resize(size_t(n_tok * w.cols));
    for (int64_t t = 0; t < n_tok; ++t) round_to_bf16(x + t * x_stride, rounded.data() + t * w.cols, w.cols);
    x = rounded.data();
    x_stride = w.cols;
  }
  pool.parallel_for(w.rows, [&](int64_t begin, int64_t end) {
    // Non-f32 rows are converted once per row and reused for every token.
    thread_local std::vector<float> row_buf;
    if (w.dtype != DType::kF32) row_buf.resize(static_cast<size_t>(w.cols));
    for (int64_t r = begin; r < end; ++r) {
      const float* row;
      if (w.dtype == DType::kF32) {
        row = reinterpret_cast<const float*>(w.row(r));
      } else {
        dequantize_row(w.dtype, w.row(r), row_buf.data(), w.cols);
        row = row_buf.data();
      }
      for (int64_t t = 0; t < n_tok; ++t) y[t * y_stride + r] = dot_f32(row, x + t * x_stride, w.cols);
    }
  });
}

void matmul(const Matrix& w, const float* x, int64_t n_tok, int64_t x_stride, float* y,
            int64_t y_stride, ThreadPool& pool) {
  matmul_with(kernels(), w, x, n_tok, x_stride, y, y_stride, pool);
}

namespace {
thread_local bool g_per_token_matmuls = false;
}  // namespace

PerTokenMatmuls::PerTokenMatmuls(bool on) : prev_(g_per_token_matmuls) { g_per_token_matmuls = prev_ || on; }
PerTokenMatmuls::~PerTokenMatmuls() { g_per_token_matmuls = prev_; }
bool PerTokenMatmuls::active() { return g_per_token_matmuls; }

MatmulKernel select_matmul_kernel(const Kernels& k, const Matrix& w, int64_t n_tok) {
  // Per-token mode: the row kernels, as for one token.
  if (PerTokenMatmuls::active()) n_tok = std::min<int64_t>(n_tok, 1);
  DotRowsF32Fn dot_f = nullptr;
  DotRowsQ8Fn dot_q = nullptr;
  DotRowsQ8KFn dot_k = nullptr;
  // Several tokens in one pass, where the level has such a row kernel.
  DotRowsQ8MultiFn dot_q_multi = nullptr;
  DotRowsQ8KMultiFn dot_k_multi = nullptr;
  switch (w.dtype) {
    case DType::kF32: dot_f = k.dot_rows_f32; break;
    case DType::kF16: dot_f = k.dot_rows_f16; break;
    case DType::kBF16: dot_f = k.dot_rows_bf16; break;
    case DType::kQ8_0: dot_q = k.dot_rows_q8_0, dot_q_multi = k.dot_rows_q8_0_multi; break;
    case DType::kQ4_0: dot_q = k.dot_rows_q4_0, dot_q_multi = k.dot_rows_q4_0_multi; break;
    case DType::kQ4_0x16: dot_q = k.dot_rows_q4_0x16; break;
    case DType::kQ8_0x16: dot_q = k.dot_rows_q8_0x16; break;
    case DType::kQ4_1: dot_q = k.dot_rows_q4_1; break;
    case DType::kQ5_0: dot_q = k.dot_rows_q5_0; break;
    case DType::kQ5_1: dot_q = k.dot_rows_q5_1; break;
    case DType::kQ4_K: dot_k = k.dot_rows_q4_k, dot_k_multi = k.dot_rows_q4_k_multi; break;
    case DType::kQ5_K: dot_k = k.dot_rows_q5_k, dot_k_multi = k.dot_rows_q5_k_multi; break;
    case DType::kQ6_K: dot_k = k.dot_rows_q6_k, dot_k_multi = k.dot_rows_q6_k_multi; break;
    // Group types: G = 32 blocks are Q8_0 / Q4_0 blocks (format/group_quant.h).
    case DType::kI8G32: dot_q = k.dot_rows_q8_0, dot_q_multi = k.dot_rows_q8_0_multi; break;
    case DType::kI4G32: dot_q = k.dot_rows_q4_0, dot_q_multi = k.dot_rows_q4_0_multi; break;
    case DType::kI8G64: dot_q = k.dot_rows_i8g64; break;
    case DType::kI8G128: dot_q = k.dot_rows_i8g128; break;
    case DType::kI4G64: dot_q = k.dot_rows_i4g64; break;
    case DType::kI4G128: dot_q = k.dot_rows_i4g128; break;
    default: return {};
  }
  // Prefill, F16/BF16: the float GEMM (panels converted to f32 once).
  const GemmF32Fn gemm_f = n_tok < kGemmMinTokens ? nullptr
                           : w.dtype == DType::kF16 ? k.gemm_f16
                           : w.dtype == DType::kBF16 ? k.gemm_bf16 : nullptr;
  // Prefill: the GEMM (weights packed per panel, reused by every token). Its
  // activation is quantized per 32 for every weight type, with per-16 sums.
  // It starts where the level says.
  GemmQ8Fn gemm = nullptr;
  const int64_t gemm_from = w.dtype == DType::kQ4_K   ? k.gemm_q4_k_min_tokens
                            : w.dtype == DType::kQ6_K ? k.gemm_q6_k_min_tokens
                            : w.dtype == DType::kQ5_K ? kGemmMinTokens
                                                      : k.gemm_block_min_tokens;
  if (n_tok >= gemm_from) {
    switch (w.dtype) {
      case DType::kQ8_0: gemm = k.gemm_q8_0; break;
      case DType::kQ4_0: gemm = k.gemm_q4_0; break;
      case DType::kQ4_0x16: gemm = k.gemm_q4_0x16; break;
      case DType::kQ8_0x16: gemm = k.gemm_q8_0x16; break;
      case DType::kQ4_K: gemm = k.gemm_q4_k; break;
      case DType::kQ5_K: gemm = k.gemm_q5_k; break;
      case DType::kQ6_K: gemm = k.gemm_q6_k; break;
      case DType::kI8G32: gemm = k.gemm_q8_0; break;
      case DType::kI4G32: gemm = k.gemm_q4_0; break;
      case DType::kI8G64: gemm = k.gemm_i8g64; break;
      case DType::kI8G128: gemm = k.gemm_i8g128; break;
      case DType::kI4G64: gemm = k.gemm_i4g64; break;
      case DType::kI4G128: gemm = k.gemm_i4g128; break;
      default: break;
    }
  }
  MatmulKernel chosen;
  if (gemm_f != nullptr) {
    chosen.gemm_f = gemm_f;
  } else if (gemm != nullptr) {
    chosen.gemm = gemm;
  } else {
    chosen.dot_f = dot_f;
    chosen.dot_q = dot_q;
    chosen.dot_k = dot_k;
    chosen.dot_q_multi = dot_q_multi;
    chosen.dot_k_multi = dot_k_multi;
  }
  return chosen;
}

// One matrix is a group of one (kernels/matmul_group.cpp runs it).
void matmul_with(const Kernels& k, const Matrix& w, const float* x, int64_t n_tok, int64_t x_stride,
                 float* y, int64_t y_stride, ThreadPool& pool) {
  const MatmulJob job{&w, y, y_stride};
  matmul_group_with(k, std::span<const MatmulJob>(&job, 1), x, n_tok, x_stride, pool);
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  // Eight independent partial sums: the loop vectorises and is no longer one
  // chain of dependent adds (the norm runs on every token, per layer and per
  // q/k head). Products of floats are exact in double, so only the order of
  // the double additions changed.
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += double(x[i + j]) * double(x[i + j]);
  }
  double ss = 0.0;
  for (; i < n; ++i) ss += double(x[i]) * double(x[i]);
  for (int j = 0; j < 8; ++j) ss += acc[j];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / double(n) + double(eps)));
  if (w != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

void softmax(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace nagi
