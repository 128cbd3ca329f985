// Key/value cache for the attention layers: f32, [layer][position][kv_dim].
// Rolling back is just lowering the number of valid positions: later
// positions are overwritten on the next forward pass.
#pragma once

#include <cstdint>
#include <vector>

namespace nagi {

class KvCache {
 public:
  KvCache(int n_layer, int n_ctx, int kv_dim)
      : n_layer_(n_layer), n_ctx_(n_ctx), kv_dim_(kv_dim),
        k_(static_cast<size_t>(n_layer) * n_ctx * kv_dim),
        v_(static_cast<size_t>(n_layer) * n_ctx * kv_dim) {}

  int n_ctx() const { return n_ctx_; }
  int kv_dim() const { return kv_dim_; }

  float* k(int layer, int pos) { return k_.data() + offset(layer, pos); }
  float* v(int layer, int pos) { return v_.data() + offset(layer, pos); }
  const float* k(int layer, int pos) const { return k_.data() + offset(layer, pos); }
  const float* v(int layer, int pos) const { return v_.data() + offset(layer, pos); }

  size_t bytes() const { return (k_.size() + v_.size()) * sizeof(float); }

 private:
  size_t offset(int layer, int pos) const {
    return (static_cast<size_t>(layer) * n_ctx_ + pos) * kv_dim_;
  }
  int n_layer_, n_ctx_, kv_dim_;
  std::vector<float> k_, v_;
};

}  // namespace nagi
