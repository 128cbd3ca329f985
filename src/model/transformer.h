// The decoder-only transformer (Llama, Qwen2, Qwen3): weights bound from a
// TensorStore with every shape and dtype checked, and the forward pass.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "format/tensor_store.h"
#include "kernels/ops.h"
#include "model/kv_cache.h"
#include "model/spec.h"

namespace nagi {

class ThreadPool;

class Transformer {
 public:
  // Binds and validates weights; throws Error(kFormat) naming the tensor's
  // source and the mismatch. `what` names the model for messages (its path).
  Transformer(ModelSpec spec, const TensorStore& store, const std::string& what);

  const ModelSpec& spec() const { return spec_; }
  int kv_dim() const { return kv_dim_; }

  // Scratch memory for one forward pass of up to `max_batch` tokens.
  struct Scratch {
    int max_batch = 0;
    std::vector<float> x, xn, q, k, v, att, gate, up, scores, logits;
  };
  void resize_scratch(Scratch& s, int batch) const;

  // Evaluates `tokens` at positions pos0.. on top of the cache (which must
  // hold positions < pos0). Writes logits [n, n_vocab] (all_logits) or the
  // last row only [1, n_vocab] into `logits`. Token ids and positions must
  // have been validated by the caller.
  void forward(std::span<const int32_t> tokens, int pos0, KvCache& cache, Scratch& scratch,
               float* logits, bool all_logits, ThreadPool& pool) const;

 private:
  struct Layer {
    std::vector<float> attn_norm, ffn_norm, q_norm, k_norm;
    std::vector<float> q_bias, k_bias, v_bias;
    Matrix wq, wk, wv, wo, gate, up, down;
  };
  void attention(const Layer& L, const AttentionSpec& a, int layer, int n, int pos0,
                 KvCache& cache, Scratch& s, ThreadPool& pool) const;
  void apply_rope(float* vec, int n_heads, const AttentionSpec& a, int pos) const;

  ModelSpec spec_;
  int kv_dim_ = 0;
  Matrix embed_, output_;
  std::vector<float> output_norm_;
  std::vector<Layer> layers_;
};

}  // namespace nagi
