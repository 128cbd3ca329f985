#include "kernels/matmul_group.h"

#include <algorithm>
#include <vector>

#include "base/thread_pool.h"

namespace nagi {
namespace {

// No more threads than the work pays for: each needs >= kMinMacsPerThread
// multiply-adds, else the hand-off costs more than it saves.
constexpr int64_t kMinMacsPerThread = int64_t(1) << 18;

int64_t row_tiles(const Matrix& w) { return (w.rows + kMatmulRowTile - 1) / kMatmulRowTile; }

}  // namespace

// The activation in every form the group's kernels read.
struct MatmulInput::Buffers {
  std::vector<int8_t> q8_qs;      // per-32 blocks (Q8_0/Q4_x rows, every GEMM)
  std::vector<float> q8_d;
  std::vector<int32_t> q8_sums;   // per-16 sums of q8_qs (GEMM only)
  std::vector<int8_t> q8k_qs;     // per-256 blocks (K-quant rows)
  std::vector<float> q8k_d;
  std::vector<int16_t> q8k_bsums;
  std::vector<float> bf16_x;      // rounded to bf16, rows cols apart (BF16 weights)
};

int64_t matmul_tile_grain(int64_t tiles, int64_t macs, const ThreadPool& pool) {
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(pool.size(), macs / kMinMacsPerThread));
  return std::max<int64_t>(1, (tiles + parts - 1) / parts);
}

MatmulInput::MatmulInput(const Kernels& k, std::span<const MatmulJob> jobs, const float* x, int64_t n_tok,
                         int64_t x_stride)
    : jobs_(jobs), x_(x), n_tok_(n_tok), x_stride_(x_stride) {
  thread_local Buffers buffers;
  act_ = &buffers;
  bool q8 = false, sums = false, q8k = false, bf16 = false;
  const int64_t cols = jobs.empty() ? 0 : jobs[0].w->cols;
  ok_ = jobs.size() <= kMaxMatmulGroup;
  if (!ok_) return;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const MatmulKernel kn = select_matmul_kernel(k, *jobs[j].w, n_tok);
    ok_ = ok_ && kn.found() && jobs[j].w->cols == cols;
    q8 |= kn.dot_q != nullptr || kn.gemm != nullptr;
    sums |= kn.gemm != nullptr;
    q8k |= kn.dot_k != nullptr;
    bf16 |= jobs[j].w->dtype == DType::kBF16;
    kernels_[j] = kn;
  }
  if (!ok_) return;
  Buffers& a = buffers;
  if (bf16) {
    a.bf16_x.resize(static_cast<size_t>(n_tok * cols));
    for (int64_t t = 0; t < n_tok; ++t) round_to_bf16(x + t * x_stride, a.bf16_x.data() + t * cols, cols);
  }
  if (q8) {
    const int64_t nb = cols / kActBlock;
    a.q8_qs.resize(static_cast<size_t>(n_tok * cols));
    a.q8_d.resize(static_cast<size_t>(n_tok * nb));
    for (int64_t t = 0; t < n_tok; ++t) {
      k.quantize_act_q8(x + t * x_stride, cols, a.q8_qs.data() + t * cols, a.q8_d.data() + t * nb);
    }
  }
  if (sums) {
    const int64_t ng = n_tok * (cols / 16);
    a.q8_sums.resize(static_cast<size_t>(ng));
    for (int64_t g = 0; g < ng; ++g) {
      int32_t s = 0;
      for (int j = 0; j < 16; ++j) s += a.q8_qs[static_cast<size_t>(g * 16 + j)];
      a.q8_sums[static_cast<size_t>(g)] = s;
    }
  }
  if (q8k) {
    const int64_t nb = cols / kActBlockK, ng = cols / 16;
    a.q8k_qs.resize(static_cast<size_t>(n_tok * cols));
    a.q8k_d.resize(static_cast<size_t>(n_tok * nb));
    a.q8k_bsums.resize(static_cast<size_t>(n_tok * ng));
    for (int64_t t = 0; t < n_tok; ++t) {
      k.quantize_act_q8k(x + t * x_stride, cols, a.q8k_qs.data() + t * cols, a.q8k_d.data() + t * nb,
                         a.q8k_bsums.data() + t * ng);
    }
  }
}

void MatmulInput::run_rows(size_t j, int64_t begin, int64_t end) const {
  run_rows_into(j, begin, end, jobs_[j].y + begin, jobs_[j].y_stride);
}

void MatmulInput::run_rows_into(size_t j, int64_t begin, int64_t end, float* y_begin, int64_t y_stride) const {
  const Matrix& w = *jobs_[j].w;
  const MatmulKernel& kn = kernels_[j];
  const int64_t cols = w.cols, n_tok = n_tok_;
  const Buffers& a = *act_;
  // The f32 activation, or (BF16 weights) its bf16-rounded copy.
  const bool bf16 = w.dtype == DType::kBF16;
  const float* xf = bf16 ? a.bf16_x.data() : x_;
  const int64_t xf_stride = bf16 ? cols : x_stride_;
  if (kn.gemm_f != nullptr) {
    kn.gemm_f(w.row(begin), w.row_bytes, end - begin, cols, xf, xf_stride, n_tok, y_begin, y_stride);
    return;
  }
  if (kn.gemm != nullptr) {
    kn.gemm(w.row(begin), w.row_bytes, end - begin, cols, a.q8_qs.data(), a.q8_d.data(), a.q8_sums.data(),
            n_tok, y_begin, y_stride);
    return;
  }
  // Token t's quantized activation, in either format.
  auto q8_of = [&](int64_t t) {
    return QuantizedVector{a.q8_qs.data() + t * cols, a.q8_d.data() + t * (cols / kActBlock), cols};
  };
  auto q8k_of = [&](int64_t t) {
    return QuantizedVectorK{a.q8k_qs.data() + t * cols, a.q8k_d.data() + t * (cols / kActBlockK),
                            a.q8k_bsums.data() + t * (cols / 16), cols};
  };
  // All tokens in one pass over the rows, each row unpacked once for them.
  if (n_tok > 1 && (kn.dot_q_multi != nullptr || kn.dot_k_multi != nullptr)) {
    thread_local std::vector<QuantizedVector> xq;
    thread_local std::vector<QuantizedVectorK> xk;
    if (kn.dot_q_multi != nullptr) {
      xq.resize(size_t(n_tok));
      for (int64_t t = 0; t < n_tok; ++t) xq[t] = q8_of(t);
      kn.dot_q_multi(w.row(begin), w.row_bytes, end - begin, cols, xq.data(), int(n_tok), y_begin, y_stride);
    } else {
      xk.resize(size_t(n_tok));
      for (int64_t t = 0; t < n_tok; ++t) xk[t] = q8k_of(t);
      kn.dot_k_multi(w.row(begin), w.row_bytes, end - begin, cols, xk.data(), int(n_tok), y_begin, y_stride);
    }
    return;
  }
  // With several tokens, walk the rows in small tiles so a tile's weights
  // stay in cache while every token passes over them.
  const int64_t tile = n_tok == 1 ? end - begin : kMatmulRowTile;
  for (int64_t r0 = begin; r0 < end; r0 += tile) {
    const int64_t n = std::min(tile, end - r0);
    for (int64_t t = 0; t < n_tok; ++t) {
      float* out = y_begin + t * y_stride + (r0 - begin);
      if (kn.dot_f != nullptr) {
        kn.dot_f(w.row(r0), w.row_bytes, n, cols, xf + t * xf_stride, out);
      } else if (kn.dot_q != nullptr) {
        kn.dot_q(w.row(r0), w.row_bytes, n, cols, q8_of(t), out);
      } else {
        kn.dot_k(w.row(r0), w.row_bytes, n, cols, q8k_of(t), out);
      }
    }
  }
}

void matmul_group(std::span<const MatmulJob> jobs, const float* x, int64_t n_tok, int64_t x_stride,
                  ThreadPool& pool) {
  matmul_group_with(kernels(), jobs, x, n_tok, x_stride, pool);
}

void matmul_group_with(const Kernels& k, std::span<const MatmulJob> jobs, const float* x, int64_t n_tok,
                       int64_t x_stride, ThreadPool& pool) {
  if (jobs.empty() || n_tok <= 0) return;
  if (jobs.size() > kMaxMatmulGroup) {
    matmul_group_with(k, jobs.first(kMaxMatmulGroup), x, n_tok, x_stride, pool);
    matmul_group_with(k, jobs.subspan(kMaxMatmulGroup), x, n_tok, x_stride, pool);
    return;
  }
  // Jobs that cannot share the group's input run on their own first: the
  // plain path for dtypes without a fast kernel, another width on its own.
  std::array<MatmulJob, kMaxMatmulGroup> grouped;
  size_t n_grouped = 0;
  for (const MatmulJob& job : jobs) {
    if (!select_matmul_kernel(k, *job.w, n_tok).found()) {
      matmul_reference(*job.w, x, n_tok, x_stride, job.y, job.y_stride, pool);
    } else if (job.w->cols != jobs[0].w->cols) {
      matmul_group_with(k, std::span<const MatmulJob>(&job, 1), x, n_tok, x_stride, pool);
    } else {
      grouped[n_grouped++] = job;
    }
  }
  if (n_grouped == 0) return;
  const MatmulInput input(k, std::span<const MatmulJob>(grouped.data(), n_grouped), x, n_tok, x_stride);
  // Row tiles of all matrices back to back; a chunk may span several.
  std::array<int64_t, kMaxMatmulGroup + 1> first_tile{};
  int64_t macs = 0;
  for (size_t j = 0; j < n_grouped; ++j) {
    first_tile[j + 1] = first_tile[j] + row_tiles(*grouped[j].w);
    macs += grouped[j].w->rows * grouped[j].w->cols * n_tok;
  }
  const int64_t tiles = first_tile[n_grouped];
  pool.parallel_for(tiles, matmul_tile_grain(tiles, macs, pool), [&](int64_t tile_begin, int64_t tile_end) {
    for (size_t j = 0; j < n_grouped; ++j) {
      const int64_t b = std::max(tile_begin, first_tile[j]), e = std::min(tile_end, first_tile[j + 1]);
      if (b >= e) continue;
      const Matrix& w = *grouped[j].w;
      const int64_t r0 = (b - first_tile[j]) * kMatmulRowTile;
      const int64_t r1 = std::min(w.rows, (e - first_tile[j]) * kMatmulRowTile);
      // Decode: the chunk's first rows are what the pool reads ahead next token.
      if (n_tok == 1 && b == tile_begin) pool.note_stream(w.row(r0), size_t(r1 - r0) * w.row_bytes);
      input.run_rows(j, r0, r1);
    }
  });
}

}  // namespace nagi
