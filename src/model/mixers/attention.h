// Softmax self-attention with GQA, optional qkv bias (Qwen2), per-head q/k
// RMSNorm (Qwen3), RoPE, over a per-layer f32 KV cache.
#pragma once

#include <algorithm>
#include <vector>

#include "format/tensor_store.h"
#include "kernels/ops.h"
#include "model/mixer.h"
#include "model/spec.h"

namespace nagi {

// K and V rows of one layer, [position][kv_dim] each. Truncating is exact:
// positions >= n are overwritten by the next forward pass.
class KvState final : public LayerState {
 public:
  KvState(int n_ctx, int kv_dim)
      : kv_dim_(kv_dim), k_(size_t(n_ctx) * kv_dim), v_(size_t(n_ctx) * kv_dim) {}
  float* k(int pos) { return k_.data() + size_t(pos) * kv_dim_; }
  float* v(int pos) { return v_.data() + size_t(pos) * kv_dim_; }

  bool truncate(int, int) override { return true; }
  void save(std::vector<float>& out) const override { out.clear(); }
  void restore(const std::vector<float>&) override {}
  void clear() override {}
  // rows are increasing, so moving them down in order never overwrites a
  // row still to be moved.
  bool keep_rows(int pos0, const std::vector<int32_t>& rows) override {
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] == static_cast<int32_t>(i)) continue;
      std::copy_n(k(pos0 + rows[i]), kv_dim_, k(pos0 + static_cast<int>(i)));
      std::copy_n(v(pos0 + rows[i]), kv_dim_, v(pos0 + static_cast<int>(i)));
    }
    return true;
  }
  size_t bytes() const override { return (k_.size() + v_.size()) * sizeof(float); }

 private:
  int kv_dim_;
  std::vector<float> k_, v_;
};

class AttentionMixer final : public Mixer {
 public:
  // Binds blk.<layer>.attn_{q,k,v,output}[.bias], attn_{q,k}_norm.
  AttentionMixer(const ModelSpec& spec, int layer, const TensorStore& store,
                 const std::string& what);

  void forward(const float* xn, float* out, const Batch& batch, LayerState& state, Workspace& ws,
               ThreadPool& pool) const override;
  std::unique_ptr<LayerState> new_state(int n_ctx) const override;
  size_t state_bytes_read(int n_past) const override;

 private:
  void apply_rope(float* vec, int n_heads, int pos) const;

  AttentionSpec a_;
  int n_embd_;
  float norm_eps_;
  Matrix wq_, wk_, wv_, wo_;
  std::vector<float> q_bias_, k_bias_, v_bias_, q_norm_, k_norm_;
};

}  // namespace nagi
