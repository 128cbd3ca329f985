#include "model/ffn.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/thread_pool.h"

#include "kernels/matmul_group.h"
#include "model/weights.h"

namespace nagi {

FeedForward::FeedForward(const ModelSpec& spec, int layer, const TensorStore& store,
                         const std::string& what)
    : n_embd_(spec.n_embd), n_ff_(spec.layers[layer].n_ff), act_(spec.layers[layer].ffn_act) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  gate_ = bind_matrix(store, p + "ffn_gate.weight", n_ff_, n_embd_, what);
  up_ = bind_matrix(store, p + "ffn_up.weight", n_ff_, n_embd_, what);
  down_ = bind_matrix(store, p + "ffn_down.weight", n_embd_, n_ff_, what);
}

void FeedForward::forward(const float* xn, float* out, int n, Workspace& ws,
                          ThreadPool& pool) const {
  const int d = n_embd_, ff = n_ff_;
  float* g = ws.get(kSlot0, size_t(n) * ff);
  // Gemma's gelu_pytorch_tanh is evaluated exactly in f32 (not llama.cpp's
  // fp16 table): see Kernels::gelu_tanh_mul.
  const auto act = act_ == FfnActivation::kGeluTanh ? kernels().gelu_tanh_mul : kernels().silu_mul;
  auto activate = [&](float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t width) {
    for (int t = 0; t < n; ++t) {
      float* gt = gate + t * gate_stride;
      const float* ut = up + t * up_stride;
      act(gt, ut, gt, width);
    }
  };
  // gate and up read the same input: one parallel region for both. Each
  // thread computes the up projection a few rows at a time into a small
  // buffer of its own and folds it into the gate rows at once, so a prompt
  // never holds an [n, n_ff] up buffer (6 MiB for 512 tokens of
  // Qwen3-0.6B); decode (n = 1) still runs each thread's rows in one call.
  const MatmulJob gate_up[] = {{&gate_, g, ff}, {&up_, nullptr, 0}};
  const MatmulInput input(kernels(), gate_up, xn, n, d);
  if (input.ok()) {
    const int64_t tiles = (ff + kMatmulRowTile - 1) / kMatmulRowTile;
    const int64_t macs = int64_t(2) * ff * d * n;
    const int64_t up_rows = std::max<int64_t>(kMatmulRowTile, kUpTileFloats / n / kMatmulRowTile * kMatmulRowTile);
    pool.parallel_for(tiles, matmul_tile_grain(tiles, macs, pool), [&](int64_t tile_begin, int64_t tile_end) {
      thread_local std::vector<float> up;
      const int64_t r0 = tile_begin * kMatmulRowTile, r1 = std::min<int64_t>(ff, tile_end * kMatmulRowTile);
      if (n == 1) pool.note_stream(gate_.row(r0), size_t(r1 - r0) * gate_.row_bytes);  // see matmul_group
      const int64_t width = std::min(up_rows, r1 - r0);
      up.resize(size_t(n) * width);
      for (int64_t s0 = r0; s0 < r1; s0 += width) {
        const int64_t s1 = std::min(r1, s0 + width);
        input.run_rows(0, s0, s1);
        input.run_rows_into(1, s0, s1, up.data(), width);
        activate(g + s0, ff, up.data(), width, s1 - s0);
      }
    });
  } else {
    // A dtype without a fast kernel: separate passes over a whole up buffer.
    float* u = ws.get(kSlot0 + 1, size_t(n) * ff);
    matmul(gate_, xn, n, d, g, ff, pool);
    matmul(up_, xn, n, d, u, ff, pool);
    activate(g, ff, u, ff, ff);
  }
  matmul(down_, g, n, ff, out, d, pool);
}

}  // namespace nagi
