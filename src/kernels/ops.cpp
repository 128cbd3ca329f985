#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernels.h"

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

void matmul_reference(const Matrix& w, const float* x, int64_t n_tok, int64_t x_stride, float* y,
                      int64_t y_stride, ThreadPool& pool) {
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

// Rows per thread chunk: a multiple of 16 (the GEMM panel), and no more
// threads than the work pays for (each needs >= kMinMacsPerThread multiply-
// adds, else the hand-off costs more than it saves: stories260K-sized
// matrices run on the calling thread alone).
constexpr int64_t kMinMacsPerThread = int64_t(1) << 18;
int64_t row_grain(const Matrix& w, int64_t n_tok, const ThreadPool& pool) {
  const int64_t work = w.rows * w.cols * n_tok;
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(pool.size(), work / kMinMacsPerThread));
  const int64_t per = (w.rows + parts - 1) / parts;
  return std::max<int64_t>(16, (per + 15) / 16 * 16);
}

}  // namespace

void matmul_with(const Kernels& k, const Matrix& w, const float* x, int64_t n_tok, int64_t x_stride,
                 float* y, int64_t y_stride, ThreadPool& pool) {
  const int64_t grain = row_grain(w, n_tok, pool);
  DotRowsF32Fn dot_f = nullptr;
  DotRowsQ8Fn dot_q = nullptr;
  DotRowsQ8KFn dot_k = nullptr;
  switch (w.dtype) {
    case DType::kF32: dot_f = k.dot_rows_f32; break;
    case DType::kF16: dot_f = k.dot_rows_f16; break;
    case DType::kBF16: dot_f = k.dot_rows_bf16; break;
    case DType::kQ8_0: dot_q = k.dot_rows_q8_0; break;
    case DType::kQ4_0: dot_q = k.dot_rows_q4_0; break;
    case DType::kQ4_0x16: dot_q = k.dot_rows_q4_0x16; break;
    case DType::kQ8_0x16: dot_q = k.dot_rows_q8_0x16; break;
    case DType::kQ4_1: dot_q = k.dot_rows_q4_1; break;
    case DType::kQ5_0: dot_q = k.dot_rows_q5_0; break;
    case DType::kQ5_1: dot_q = k.dot_rows_q5_1; break;
    case DType::kQ4_K: dot_k = k.dot_rows_q4_k; break;
    case DType::kQ5_K: dot_k = k.dot_rows_q5_k; break;
    case DType::kQ6_K: dot_k = k.dot_rows_q6_k; break;
    // Group types: G = 32 blocks are Q8_0 / Q4_0 blocks (format/group_quant.h).
    case DType::kI8G32: dot_q = k.dot_rows_q8_0; break;
    case DType::kI4G32: dot_q = k.dot_rows_q4_0; break;
    case DType::kI8G64: dot_q = k.dot_rows_i8g64; break;
    case DType::kI8G128: dot_q = k.dot_rows_i8g128; break;
    case DType::kI4G64: dot_q = k.dot_rows_i4g64; break;
    case DType::kI4G128: dot_q = k.dot_rows_i4g128; break;
    default: return matmul_reference(w, x, n_tok, x_stride, y, y_stride, pool);
  }
  // Prefill, F16/BF16: the float GEMM (panels converted to f32 once).
  const GemmF32Fn gemm_f = n_tok < kGemmMinTokens ? nullptr
                           : w.dtype == DType::kF16 ? k.gemm_f16
                           : w.dtype == DType::kBF16 ? k.gemm_bf16 : nullptr;
  if (gemm_f != nullptr) {
    pool.parallel_for(w.rows, grain, [&](int64_t begin, int64_t end) {
      gemm_f(w.row(begin), w.row_bytes, end - begin, w.cols, x, x_stride, n_tok, y + begin, y_stride);
    });
    return;
  }
  // Prefill: the GEMM (weights packed per panel, reused by every token). Its
  // activation is quantized per 32 for every weight type, with per-16 sums.
  GemmQ8Fn gemm = nullptr;
  if (n_tok >= kGemmMinTokens) {
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
  // Integer kernels take the activation quantized once per matmul (per token),
  // not once per row. Buffers belong to the calling thread; workers only read.
  thread_local std::vector<int8_t> act_qs;
  thread_local std::vector<float> act_d;
  thread_local std::vector<int16_t> act_bsums;
  if (gemm != nullptr) {
    const int64_t nb = w.cols / kActBlock, ng = w.cols / 16;
    act_qs.resize(static_cast<size_t>(n_tok * w.cols));
    act_d.resize(static_cast<size_t>(n_tok * nb));
    thread_local std::vector<int32_t> act_sums;
    act_sums.resize(static_cast<size_t>(n_tok * ng));
    for (int64_t t = 0; t < n_tok; ++t) {
      k.quantize_act_q8(x + t * x_stride, w.cols, act_qs.data() + t * w.cols, act_d.data() + t * nb);
    }
    for (int64_t g = 0; g < n_tok * ng; ++g) {
      int32_t sum = 0;
      for (int j = 0; j < 16; ++j) sum += act_qs[g * 16 + j];
      act_sums[g] = sum;
    }
    const int8_t* qs = act_qs.data();
    const float* qd = act_d.data();
    const int32_t* sums = act_sums.data();
    pool.parallel_for(w.rows, grain, [&](int64_t begin, int64_t end) {
      gemm(w.row(begin), w.row_bytes, end - begin, w.cols, qs, qd, sums, n_tok, y + begin, y_stride);
    });
    return;
  }
  const int64_t n_blocks = dot_k != nullptr ? w.cols / kActBlockK : w.cols / kActBlock;
  if (dot_q != nullptr || dot_k != nullptr) {
    act_qs.resize(static_cast<size_t>(n_tok * w.cols));
    act_d.resize(static_cast<size_t>(n_tok * n_blocks));
    if (dot_k != nullptr) act_bsums.resize(static_cast<size_t>(n_tok * (w.cols / 16)));
    for (int64_t t = 0; t < n_tok; ++t) {
      if (dot_k != nullptr) {
        k.quantize_act_q8k(x + t * x_stride, w.cols, act_qs.data() + t * w.cols, act_d.data() + t * n_blocks,
                           act_bsums.data() + t * (w.cols / 16));
      } else {
        k.quantize_act_q8(x + t * x_stride, w.cols, act_qs.data() + t * w.cols, act_d.data() + t * n_blocks);
      }
    }
  }
  const int8_t* qs = act_qs.data();
  const float* qd = act_d.data();
  const int16_t* qb = act_bsums.data();
  pool.parallel_for(w.rows, grain, [&](int64_t begin, int64_t end) {
    // With several tokens, walk the rows in small tiles so a tile's weights
    // stay in cache while every token passes over them.
    const int64_t tile = n_tok == 1 ? end - begin : 16;
    for (int64_t r0 = begin; r0 < end; r0 += tile) {
      const int64_t n = std::min(tile, end - r0);
      for (int64_t t = 0; t < n_tok; ++t) {
        float* out = y + t * y_stride + r0;
        if (dot_f != nullptr) {
          dot_f(w.row(r0), w.row_bytes, n, w.cols, x + t * x_stride, out);
        } else if (dot_q != nullptr) {
          const QuantizedVector xq{qs + t * w.cols, qd + t * n_blocks, w.cols};
          dot_q(w.row(r0), w.row_bytes, n, w.cols, xq, out);
        } else {
          const QuantizedVectorK xq{qs + t * w.cols, qd + t * n_blocks, qb + t * (w.cols / 16), w.cols};
          dot_k(w.row(r0), w.row_bytes, n, w.cols, xq, out);
        }
      }
    }
  });
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * double(x[i]);
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / double(n) + double(eps)));
  if (w != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-g)) * up[i];
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
