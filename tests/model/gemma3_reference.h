// An independent float64 forward pass for Gemma 3 text models written from
// Hugging Face transformers' modeling_gemma3.py (Gemma3TextModel,
// Gemma3ForCausalLM): reads the HF tensor names and config.json directly (no
// nagi name mapping, spec or kernels). What it implements:
//   Gemma3TextScaledWordEmbedding: embed * sqrt(hidden_size) (the scale cast to
//     the checkpoint dtype: torch_dtype)
//   Gemma3RMSNorm: x / sqrt(mean(x^2) + eps) * (1 + w)
//   Gemma3DecoderLayer: h += post_attention_layernorm(attn(input_layernorm(h)));
//     h += post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)))
//   Gemma3Attention: q_norm/k_norm per head, rotate_half RoPE (rope_theta +
//     linear rope_scaling on full_attention layers, rope_local_base_freq on
//     sliding ones), scaling query_pre_attn_scalar^-0.5, optional
//     attn_logit_softcapping, sliding window j > t - sliding_window
//   Gemma3MLP: down(gelu_tanh(gate(x)) * up(x)), exact tanh formula
//   final norm, lm_head (tied to the embedding), final_logit_softcapping.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/half.h"
#include "reference_ops.h"

namespace nagi::test {

class Gemma3Reference {
 public:
  Gemma3Reference(const nlohmann::json& config, const TensorStore& weights) : c_(config), w_(weights) {}

  // Logits [ids.size(), vocab] for the whole sequence from position 0.
  std::vector<double> forward(const std::vector<int32_t>& ids) const {
    const int d = c_["hidden_size"], n_layer = c_["num_hidden_layers"], nh = c_["num_attention_heads"];
    const int nkv = c_["num_key_value_heads"], hd = c_["head_dim"], vocab = c_["vocab_size"];
    const double eps = c_["rms_norm_eps"];
    const double scaling = 1.0 / std::sqrt(double(c_["query_pre_attn_scalar"]));
    const int window = c_["sliding_window"];
    const double attn_cap = c_["attn_logit_softcapping"].is_null() ? 0.0 : double(c_["attn_logit_softcapping"]);
    const double final_cap = c_["final_logit_softcapping"].is_null() ? 0.0 : double(c_["final_logit_softcapping"]);
    const int T = static_cast<int>(ids.size());

    // Global layers: rope_theta with optional linear scaling; local: rope_local_base_freq.
    auto inv_freq = [&](double theta, double factor) {
      auto f = ref::rope_inv_freq(theta, hd);
      for (double& x : f) x /= factor;
      return f;
    };
    double factor = 1.0;
    if (c_.contains("rope_scaling") && c_["rope_scaling"].is_object() &&
        c_["rope_scaling"].value("rope_type", "default") == "linear") {
      factor = c_["rope_scaling"]["factor"];
    }
    const auto global_freq = inv_freq(c_["rope_theta"], factor);
    const auto local_freq = inv_freq(c_["rope_local_base_freq"], 1.0);

    // embed_scale.to(weight dtype)
    double embed_scale = std::sqrt(float(d));
    const std::string dtype = c_.value("torch_dtype", "float32");
    if (dtype == "bfloat16") embed_scale = bf16_to_f32(f32_to_bf16(float(std::sqrt(float(d)))));
    if (dtype == "float16") embed_scale = fp16_to_f32(f32_to_fp16(float(std::sqrt(float(d)))));

    auto h = ref::embed(get("model.embed_tokens.weight"), ids, d, embed_scale);

    for (int l = 0; l < n_layer; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      const bool sliding = c_["layer_types"][l] == "sliding_attention";
      const auto& freq = sliding ? local_freq : global_freq;
      std::vector<std::vector<double>> q(T), k(T), v(T);
      for (int t = 0; t < T; ++t) {
        auto x = rmsnorm(h[t], get(p + "input_layernorm.weight"), eps);
        q[t] = linear(x, p + "self_attn.q_proj.weight");
        k[t] = linear(x, p + "self_attn.k_proj.weight");
        v[t] = linear(x, p + "self_attn.v_proj.weight");
        ref::head_norm(q[t], nh, hd, get(p + "self_attn.q_norm.weight"), eps, 1.0);
        ref::head_norm(k[t], nkv, hd, get(p + "self_attn.k_norm.weight"), eps, 1.0);
        ref::rope(q[t], nh, hd, t, freq);
        ref::rope(k[t], nkv, hd, t, freq);
      }
      for (int t = 0; t < T; ++t) {
        const auto att = ref::attend(q, k, v, t, nh, nkv, hd,
                                     {.scaling = scaling, .softcap = attn_cap, .window = sliding ? window : 0});
        auto o = rmsnorm(linear(att, p + "self_attn.o_proj.weight"), get(p + "post_attention_layernorm.weight"), eps);
        for (int i = 0; i < d; ++i) h[t][i] += o[i];
        auto x = rmsnorm(h[t], get(p + "pre_feedforward_layernorm.weight"), eps);
        auto g = linear(x, p + "mlp.gate_proj.weight");
        auto u = linear(x, p + "mlp.up_proj.weight");
        for (size_t i = 0; i < g.size(); ++i) {
          const double a = g[i];
          g[i] = 0.5 * a * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (a + 0.044715 * a * a * a))) * u[i];
        }
        auto down = rmsnorm(linear(g, p + "mlp.down_proj.weight"), get(p + "post_feedforward_layernorm.weight"), eps);
        for (int i = 0; i < d; ++i) h[t][i] += down[i];
      }
    }
    const bool tied = c_.value("tie_word_embeddings", true);
    const auto lm = ref::load_unembedding(w_, tied ? "model.embed_tokens.weight" : "lm_head.weight");
    std::vector<double> logits(size_t(T) * vocab);
    for (int t = 0; t < T; ++t) {
      ref::unembed(lm, rmsnorm(h[t], get("model.norm.weight"), eps), vocab, t, logits, final_cap);
    }
    return logits;
  }

 private:
  std::vector<double> get(const std::string& name) const { return ref::load(w_, name); }
  std::vector<double> linear(const std::vector<double>& x, const std::string& name) const {
    return ref::matvec(w_, x, name);
  }
  // Gemma3RMSNorm: the stored weight is an offset from 1.
  static std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
    return ref::rmsnorm(x, w, eps, 1.0);
  }

  const nlohmann::json& c_;
  const TensorStore& w_;
};

}  // namespace nagi::test
