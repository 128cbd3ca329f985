// LFM2's gated short convolution (transformers Lfm2ShortConv): in_proj gives
// B, C, x per position; y = C ⊙ conv(B ⊙ x) with a causal depthwise kernel of
// l_cache taps over the current and previous positions; then out_proj.
#pragma once

#include <vector>

#include "format/tensor_store.h"
#include "kernels/ops.h"
#include "model/mixer.h"
#include "model/spec.h"

namespace nagi {

// The conv's memory: the B⊙x rows of recent positions in a ring of
// l_cache-1 + kRollbackMargin rows (row of position p at p % capacity).
// Position p's output needs rows p-l_cache+1 .. p, so the ring can truncate
// exactly by up to kRollbackMargin positions (speculative decoding, a chat
// turn's unevaluated last token) with no copying: rows at and after the new
// end are simply overwritten before anything reads them. Deeper rollbacks
// fall back to a snapshot (the last l_cache-1 rows) plus a replay.
class ShortConvState final : public LayerState {
 public:
  static constexpr int kRollbackMargin = 64;

  ShortConvState(int n_embd, int l_cache)
      : n_embd_(n_embd), history_(l_cache - 1), capacity_(l_cache - 1 + kRollbackMargin),
        rows_(size_t(capacity_) * n_embd, 0.f) {}

  float* row(int pos) { return rows_.data() + size_t(pos % capacity_) * n_embd_; }
  const float* row(int pos) const { return rows_.data() + size_t(pos % capacity_) * n_embd_; }
  int capacity() const { return capacity_; }

  bool truncate(int n_past, int n) override;
  void save(std::vector<float>& out) const override;
  void restore(const std::vector<float>& in) override;
  void clear() override;
  size_t bytes() const override { return rows_.size() * sizeof(float); }

 private:
  int n_embd_;
  int history_;   // l_cache - 1 rows a new position reads
  int capacity_;  // history_ + kRollbackMargin
  int n_past_ = 0;  // positions held (forward, truncate, restore keep it)
  std::vector<float> rows_;
  friend class ShortConvMixer;
};

class ShortConvMixer final : public Mixer {
 public:
  // Binds blk.<layer>.shortconv.{in_proj,conv,out_proj}.weight (+ .bias).
  ShortConvMixer(const ModelSpec& spec, int layer, const TensorStore& store,
                 const std::string& what);

  void forward(const float* xn, float* out, const Batch& batch, LayerState& state, Workspace& ws,
               ThreadPool& pool) const override;
  std::unique_ptr<LayerState> new_state(int n_ctx, KvType kv) const override;
  size_t state_bytes_read(int n_past, KvType kv) const override;

 private:
  int n_embd_;
  int l_cache_;
  Matrix in_proj_, out_proj_;
  std::vector<float> kernel_;  // [l_cache][n_embd]; tap l_cache-1 is the current position
  std::vector<float> in_bias_, conv_bias_, out_bias_;
};

}  // namespace nagi
