// The gated feed-forward block: down(act(gate·x) ⊙ up·x), act = SiLU or GELU-tanh.
#pragma once

#include <string>

#include "format/tensor_store.h"
#include "kernels/ops.h"
#include "model/layer_state.h"
#include "model/spec.h"

namespace nagi {

class ThreadPool;

class FeedForward {
 public:
  // Binds blk.<layer>.ffn_{gate,up,down}.weight.
  FeedForward(const ModelSpec& spec, int layer, const TensorStore& store, const std::string& what);

  // xn [n, n_embd] -> out [n, n_embd]; borrows workspace slots kSlot0, kSlot0+1.
  void forward(const float* xn, float* out, int n, Workspace& ws, ThreadPool& pool) const;

  static constexpr int kSlot0 = 4;

 private:
  int n_embd_, n_ff_;
  FfnActivation act_;
  Matrix gate_, up_, down_;
};

}  // namespace nagi
