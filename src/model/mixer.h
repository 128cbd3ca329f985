// A mixer is the part of a layer that moves information between positions:
// softmax attention, a short convolution, or a gated DeltaNet recurrence. The
// Transformer runs norm -> mixer -> residual -> norm -> FFN -> residual for
// every layer and does not care which mixer it has.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "kernels/attention.h"
#include "model/layer_state.h"

namespace nagi {

class ThreadPool;

// Tokens evaluated together. Token t sits at position pos0 + t and sees
// every earlier position of the sequence.
//
// Tree batches (speculative decoding, src/spec/): when `parent` is set, token
// t's parent is batch entry parent[t] (< t), or -1 when it follows the cached
// prefix directly; it sits at position pos0 + depth[t] - 1 (depth 1 for a
// root), sees the cached prefix, its ancestors and itself, and its state rows
// are written at slot pos0 + t until LayerState::keep_rows() compacts the
// accepted path. Mixers whose state is not per position (recurrent) accept
// only chains.
struct Batch {
  int n = 0;
  int pos0 = 0;
  const int32_t* parent = nullptr;  // n entries, or null for a chain
  const int32_t* depth = nullptr;   // n entries when parent is set
  // Every token's results must be bit-for-bit what evaluating the tokens one
  // at a time gives (a tree node: its path one token at a time), as for
  // speculative verification and the replay of its rollback: mixers then
  // take their one-token code paths per token (no chunked or tiled forms
  // whose rounding depends on the batch).
  bool per_token = false;

  bool is_tree() const { return parent != nullptr; }
  int position(int t) const { return is_tree() ? pos0 + depth[t] - 1 : pos0 + t; }
};

class Mixer {
 public:
  virtual ~Mixer() = default;

  // xn: the normalised layer input [n, n_embd]; out: the mixer's output
  // [n, n_embd] (before the residual add). Updates `state` to include the
  // batch. `ws` slots >= kMixerSlot0 are the mixer's to use.
  virtual void forward(const float* xn, float* out, const Batch& batch, LayerState& state,
                       Workspace& ws, ThreadPool& pool) const = 0;

  // A fresh state able to hold n_ctx positions; attention stores its K/V
  // rows as `kv` (other mixers ignore it).
  virtual std::unique_ptr<LayerState> new_state(int n_ctx, KvType kv) const = 0;

  // Bytes of state read per decoded token at context length n_past (KV rows
  // stored as `kv`, or the recurrent state), for bandwidth accounting.
  virtual size_t state_bytes_read(int n_past, KvType kv) const = 0;

  static constexpr int kMixerSlot0 = 8;
};

}  // namespace nagi
