// An independent float64 forward pass written from Hugging Face transformers'
// modeling_llama.py / modeling_qwen2.py / modeling_qwen3.py: reads the HF
// tensor names and config.json directly (no nagi name mapping, spec or
// kernels), rotate_half RoPE, repeat_kv GQA, causal softmax attention.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reference_ops.h"

namespace nagi::test {

class HfReference {
 public:
  HfReference(const nlohmann::json& config, const TensorStore& weights) : c_(config), w_(weights) {}

  // Logits [ids.size(), vocab] for the whole sequence from position 0.
  std::vector<double> forward(const std::vector<int32_t>& ids) const {
    const int d = c_["hidden_size"], n_layer = c_["num_hidden_layers"], nh = c_["num_attention_heads"];
    const int nkv = c_.value("num_key_value_heads", nh);
    const int hd = c_.value("head_dim", d / nh);
    const int vocab = c_["vocab_size"];
    const double eps = c_["rms_norm_eps"];
    const std::string type = c_["model_type"];
    const int T = static_cast<int>(ids.size());
    const auto inv_freq = rope_inv_freq(hd);

    auto h = ref::embed(get("model.embed_tokens.weight"), ids, d);

    for (int l = 0; l < n_layer; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      std::vector<std::vector<double>> q(T), k(T), v(T);
      for (int t = 0; t < T; ++t) {
        auto x = rmsnorm(h[t], get(p + "input_layernorm.weight"), eps);
        q[t] = linear(x, p + "self_attn.q_proj");
        k[t] = linear(x, p + "self_attn.k_proj");
        v[t] = linear(x, p + "self_attn.v_proj");
        if (type == "qwen3") {
          ref::head_norm(q[t], nh, hd, get(p + "self_attn.q_norm.weight"), eps);
          ref::head_norm(k[t], nkv, hd, get(p + "self_attn.k_norm.weight"), eps);
        }
        ref::rope(q[t], nh, hd, t, inv_freq);
        ref::rope(k[t], nkv, hd, t, inv_freq);
      }
      for (int t = 0; t < T; ++t) {
        auto o = linear(ref::attend(q, k, v, t, nh, nkv, hd), p + "self_attn.o_proj");
        for (int i = 0; i < d; ++i) h[t][i] += o[i];
        auto x = rmsnorm(h[t], get(p + "post_attention_layernorm.weight"), eps);
        auto g = linear(x, p + "mlp.gate_proj");
        auto u = linear(x, p + "mlp.up_proj");
        ref::silu_mul(g, u);
        auto down = linear(g, p + "mlp.down_proj");
        for (int i = 0; i < d; ++i) h[t][i] += down[i];
      }
    }
    const bool tied = c_.value("tie_word_embeddings", false);
    const std::string head = tied ? "model.embed_tokens.weight" : "lm_head.weight";
    const auto lm = ref::load_unembedding(w_, head);
    std::vector<double> logits(size_t(T) * vocab);
    for (int t = 0; t < T; ++t) {
      ref::unembed(lm, rmsnorm(h[t], get("model.norm.weight"), eps), vocab, t, logits);
    }
    return logits;
  }

 private:
  std::vector<double> get(const std::string& name) const { return ref::load(w_, name); }
  std::vector<double> linear(const std::vector<double>& x, const std::string& prefix) const {
    return ref::linear(w_, x, prefix);
  }
  static std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
    return ref::rmsnorm(x, w, eps);
  }
  std::vector<double> rope_inv_freq(int hd) const {
    const double theta = c_.value("rope_theta", 10000.0);
    auto f = ref::rope_inv_freq(theta, hd);
    if (c_.contains("rope_scaling") && c_["rope_scaling"].is_object() &&
        c_["rope_scaling"].value("rope_type", "") == "llama3") {
      // transformers _compute_llama3_parameters
      const auto& rs = c_["rope_scaling"];
      const double factor = rs["factor"], lo = rs["low_freq_factor"], hi = rs["high_freq_factor"];
      const double old_ctx = rs["original_max_position_embeddings"];
      for (double& x : f) {
        const double wavelen = 2 * M_PI / x;
        if (wavelen > old_ctx / lo) {
          x = x / factor;
        } else if (wavelen >= old_ctx / hi) {
          const double smooth = (old_ctx / wavelen - lo) / (hi - lo);
          x = (1 - smooth) * x / factor + smooth * x;
        }
      }
    }
    return f;
  }

  const nlohmann::json& c_;
  const TensorStore& w_;
};

}  // namespace nagi::test
