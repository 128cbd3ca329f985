// The gated feed-forward block: down(act(gate·x) ⊙ up·x), act = SiLU or GELU-tanh.
#pragma once

#include <string>

#include "format/tensor_store.h"
#include "kernels/ops.h"
#include "model/layer_state.h"
#include "model/mixer.h"
#include "model/spec.h"

namespace nagi {

class ThreadPool;

class FeedForward {
 public:
  // Binds blk.<layer>.ffn_{gate,up,down}.weight.
  FeedForward(const ModelSpec& spec, int layer, const TensorStore& store, const std::string& what);

  // xn [n, n_embd] -> out [n, n_embd]; borrows workspace slot kSlot0 (and
  // kSlot0+1 for dtypes without a fast kernel).
  void forward(const float* xn, float* out, int n, Workspace& ws, ThreadPool& pool) const;

  // The mixer's slots: a layer's mixer is done with them when its FFN runs,
  // so a 512-token prompt keeps one set of [n, n_ff]-sized buffers, not two
  // (12 MiB less for Qwen3-0.6B).
  static constexpr int kSlot0 = Mixer::kMixerSlot0;
  // Floats of a thread's up-projection tile (256 KiB: stays in L2).
  static constexpr int64_t kUpTileFloats = int64_t(1) << 16;

 private:
  int n_embd_, n_ff_;
  FfnActivation act_;
  Matrix gate_, up_, down_;
};

}  // namespace nagi
