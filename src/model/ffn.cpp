#include "model/ffn.h"

#include <algorithm>
#include <cmath>

#include "base/thread_pool.h"

#include "kernels/matmul_group.h"
#include "model/weights.h"

namespace nagi {
namespace {

// GeGLU with GELU's tanh approximation (PyTorch gelu(approximate="tanh"),
// Gemma's gelu_pytorch_tanh), evaluated exactly in f32. llama.cpp instead
// rounds the input to fp16 and reads a table, which moves Gemma logits by a
// few 1e-3; we keep the exact formula that transformers computes.
void geglu_tanh(const float* gate, const float* up, float* out, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    const float g = 0.5f * x * (1.f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    out[i] = g * up[i];
  }
}

}  // namespace

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
  float* u = ws.get(kSlot0 + 1, size_t(n) * ff);
  // gate and up read the same input: one parallel region for both, and each
  // chunk applies the activation to its own rows while they are in cache.
  const MatmulJob gate_up[] = {{&gate_, g, ff}, {&up_, u, ff}};
  const MatmulInput input(kernels(), gate_up, xn, n, d);
  auto activate = [&](int64_t r0, int64_t r1) {
    for (int t = 0; t < n; ++t) {
      float* gt = g + size_t(t) * ff + r0;
      const float* ut = u + size_t(t) * ff + r0;
      if (act_ == FfnActivation::kGeluTanh) geglu_tanh(gt, ut, gt, r1 - r0);
      else swiglu(gt, ut, gt, r1 - r0);
    }
  };
  if (input.ok()) {
    const int64_t tiles = (ff + kMatmulRowTile - 1) / kMatmulRowTile;
    const int64_t macs = int64_t(2) * ff * d * n;
    pool.parallel_for(tiles, matmul_tile_grain(tiles, macs, pool), [&](int64_t tile_begin, int64_t tile_end) {
      const int64_t r0 = tile_begin * kMatmulRowTile, r1 = std::min<int64_t>(ff, tile_end * kMatmulRowTile);
      input.run_rows(0, r0, r1);
      input.run_rows(1, r0, r1);
      activate(r0, r1);
    });
  } else {
    // A dtype without a fast kernel: separate passes.
    matmul(gate_, xn, n, d, g, ff, pool);
    matmul(up_, xn, n, d, u, ff, pool);
    activate(0, ff);
  }
  matmul(down_, g, n, ff, out, d, pool);
}

}  // namespace nagi
