// Grouped matmul: several weight matrices that read the same activation (the
// q/k/v projections of attention, gate/up of the FFN) in ONE parallel region.
// Decode runs a few hundred matmuls per token and each parallel region costs
// a wake-up and a barrier on the pool, so one region per shared input instead
// of one per matrix removes a good share of that overhead. The activation is
// also quantized once per activation format the group needs, not once per
// matrix.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace nagi {

// One matrix of a group: Y[t, r] = sum_c W[r, c] * X[t, c], Y rows y_stride
// floats apart.
struct MatmulJob {
  const Matrix* w = nullptr;
  float* y = nullptr;
  int64_t y_stride = 0;
};

// Runs every job against the same input X [n_tok, cols] (rows x_stride floats
// apart); results equal those of one matmul() per job, bit for bit. Rows of all
// matrices are split across threads in balanced chunks. Jobs whose matrix
// has another column count than the first, or a dtype without a fast kernel,
// run on their own (correct, just not grouped).
void matmul_group(std::span<const MatmulJob> jobs, const float* x, int64_t n_tok, int64_t x_stride,
                  ThreadPool& pool);

// matmul_group with an explicit kernel table (tests and benchmarks of one ISA).
void matmul_group_with(const Kernels& k, std::span<const MatmulJob> jobs, const float* x, int64_t n_tok,
                       int64_t x_stride, ThreadPool& pool);

// The kernel a matmul of one matrix runs (ops.cpp picks it from the dtype and
// the token count); all null: no fast kernel, use matmul_reference. At most
// one of gemm_f / gemm is set, and it replaces the row kernel.
struct MatmulKernel {
  DotRowsF32Fn dot_f = nullptr;
  DotRowsQ8Fn dot_q = nullptr;
  DotRowsQ8KFn dot_k = nullptr;
  // With dot_q / dot_k where the level has them: all tokens in one pass.
  DotRowsQ8MultiFn dot_q_multi = nullptr;
  DotRowsQ8KMultiFn dot_k_multi = nullptr;
  GemmF32Fn gemm_f = nullptr;
  GemmQ8Fn gemm = nullptr;

  bool found() const { return dot_f || dot_q || dot_k || gemm_f || gemm; }
};
MatmulKernel select_matmul_kernel(const Kernels& k, const Matrix& w, int64_t n_tok);

// Rows are handed out in tiles of 16 (the GEMM panel and the Q4_0x16
// superblock): every row range a kernel sees starts on a multiple of 16.
inline constexpr int64_t kMatmulRowTile = 16;

// Tiles per parallel_for chunk for `tiles` row tiles of `macs` multiply-adds
// in all: one chunk per thread the work pays for (tiny matrices, like
// stories260K's, run on the calling thread alone).
int64_t matmul_tile_grain(int64_t tiles, int64_t macs, const ThreadPool& pool);

// The shared input of a group of matrices, quantized once for every
// activation format their kernels read. Built on the calling thread; then
// any thread may run any row range of any job (the building thread's buffers
// are only read). For callers that fuse work into the same parallel region
// (the FFN applies its activation to each chunk of gate/up rows). One at a
// time per thread: instances on the same thread share its buffers. At most
// kMaxMatmulGroup jobs (more: not ok()).
inline constexpr size_t kMaxMatmulGroup = 8;
class MatmulInput {
 public:
  MatmulInput(const Kernels& k, std::span<const MatmulJob> jobs, const float* x, int64_t n_tok,
              int64_t x_stride);
  MatmulInput(const MatmulInput&) = delete;
  MatmulInput& operator=(const MatmulInput&) = delete;

  // Whether every job has a fast kernel and the first job's width; run_rows
  // may only be called when it does.
  bool ok() const { return ok_; }
  // Rows [begin, end) of job j, begin a multiple of kMatmulRowTile.
  void run_rows(size_t j, int64_t begin, int64_t end) const;
  // The same rows written elsewhere: row r of token t goes to
  // y_begin[t * y_stride + (r - begin)] (a caller's tile buffer).
  void run_rows_into(size_t j, int64_t begin, int64_t end, float* y_begin, int64_t y_stride) const;

 private:
  struct Buffers;
  std::span<const MatmulJob> jobs_;
  // Fixed capacity: no allocation per matmul (decode runs a hundred a token).
  std::array<MatmulKernel, kMaxMatmulGroup> kernels_{};
  const float* x_;
  int64_t n_tok_, x_stride_;
  bool ok_ = true;
  Buffers* act_;  // the calling thread's (thread_local) buffers
};

}  // namespace nagi
