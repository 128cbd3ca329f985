#include "model/ffn.h"

#include "model/weights.h"

namespace nagi {

FeedForward::FeedForward(const ModelSpec& spec, int layer, const TensorStore& store,
                         const std::string& what)
    : n_embd_(spec.n_embd), n_ff_(spec.layers[layer].n_ff) {
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
  matmul(gate_, xn, n, d, g, ff, pool);
  matmul(up_, xn, n, d, u, ff, pool);
  for (int t = 0; t < n; ++t) swiglu(g + size_t(t) * ff, u + size_t(t) * ff, g + size_t(t) * ff, ff);
  matmul(down_, g, n, ff, out, d, pool);
}

}  // namespace nagi
