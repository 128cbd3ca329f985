// An independent float64 forward pass of LFM2 written from Hugging Face
// transformers' modeling_lfm2.py / configuration_lfm2.py: reads config.json
// and the HF tensor names directly (no nagi name mapping, spec or kernels).
// Lfm2ShortConv.slow_forward: BCx = in_proj(x), B, C, x = chunk(3),
// y = out_proj(C * conv1d(B * x)) with padding L-1 cut to the sequence;
// Lfm2Attention: q/k_layernorm per head, rotate_half RoPE, repeat_kv GQA;
// Lfm2MLP: w2(silu(w1 x) * w3 x) with the block_auto_adjust_ff_dim rule;
// embedding_norm after the last layer; tied lm_head unless tie_embedding is false.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference_ops.h"

namespace nagi::test {

class Lfm2Reference {
 public:
  Lfm2Reference(const nlohmann::json& config, const TensorStore& weights) : c_(config), w_(weights) {}

  // Lfm2MLP's intermediate size, exactly as transformers computes it.
  static int ff_size(const nlohmann::json& c) {
    int ff = c.contains("block_ff_dim") ? c["block_ff_dim"].get<int>() : c.value("intermediate_size", 12288);
    if (!c.value("block_auto_adjust_ff_dim", true)) return ff;
    ff = static_cast<int>(2 * ff / 3.0);  // int(2 * intermediate_size / 3)
    const bool has_mult = !c.contains("block_ffn_dim_multiplier") || !c["block_ffn_dim_multiplier"].is_null();
    if (has_mult) {
      const double mult = c.contains("block_ffn_dim_multiplier") ? c["block_ffn_dim_multiplier"].get<double>() : 1.0;
      const int multiple_of = c.value("block_multiple_of", 256);
      ff = static_cast<int>(mult * ff);
      ff = multiple_of * ((ff + multiple_of - 1) / multiple_of);
    }
    return ff;
  }

  std::vector<bool> attention_layers() const {
    const int n_layer = c_["num_hidden_layers"];
    std::vector<bool> attn(n_layer, true);
    if (c_.contains("layer_types") && !c_["layer_types"].is_null()) {
      for (int i = 0; i < n_layer; ++i) attn[i] = c_["layer_types"][i] == "full_attention";
    } else if (c_.contains("full_attn_idxs") && !c_["full_attn_idxs"].is_null()) {
      attn.assign(n_layer, false);
      for (int i : c_["full_attn_idxs"]) attn[i] = true;
    }
    return attn;
  }

  // Logits [ids.size(), vocab] for the whole sequence from position 0.
  std::vector<double> forward(const std::vector<int32_t>& ids) const {
    const int d = c_["hidden_size"], nh = c_["num_attention_heads"];
    const int nkv = c_.value("num_key_value_heads", 8);
    const int hd = c_.value("head_dim", d / nh);
    const int vocab = c_["vocab_size"];
    const double eps = c_.value("norm_eps", 1e-5);
    const double theta = c_.contains("theta") ? c_["theta"].get<double>() : c_.value("rope_theta", 1000000.0);
    const int L = c_.value("conv_L_cache", 3);
    const int T = static_cast<int>(ids.size());
    const auto attn_layers = attention_layers();

    auto h = ref::embed(get("model.embed_tokens.weight"), ids, d);

    for (size_t l = 0; l < attn_layers.size(); ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      std::vector<std::vector<double>> xs(T);
      for (int t = 0; t < T; ++t) xs[t] = rmsnorm(h[t], get(p + "operator_norm.weight"), eps);
      const auto op = attn_layers[l] ? attention(xs, p, nh, nkv, hd, eps, theta) : short_conv(xs, p, d, L);
      for (int t = 0; t < T; ++t) {
        for (int i = 0; i < d; ++i) h[t][i] += op[t][i];
        auto x = rmsnorm(h[t], get(p + "ffn_norm.weight"), eps);
        if (w_.get(p + "feed_forward.w1.weight", "reference").shape[0] != ff_size(c_)) {
          throw std::runtime_error("w1 rows differ from the Lfm2MLP size rule");
        }
        auto g = linear(x, p + "feed_forward.w1");
        auto u = linear(x, p + "feed_forward.w3");
        ref::silu_mul(g, u);
        auto down = linear(g, p + "feed_forward.w2");
        for (int i = 0; i < d; ++i) h[t][i] += down[i];
      }
    }
    const bool tied = c_.contains("tie_embedding") ? c_["tie_embedding"].get<bool>() : c_.value("tie_word_embeddings", true);
    const auto lm = ref::load_unembedding(w_, tied ? "model.embed_tokens.weight" : "lm_head.weight");
    std::vector<double> logits(size_t(T) * vocab);
    for (int t = 0; t < T; ++t) {
      ref::unembed(lm, rmsnorm(h[t], get("model.embedding_norm.weight"), eps), vocab, t, logits);
    }
    return logits;
  }

 private:
  using Rows = ref::Rows;

  Rows short_conv(const Rows& xs, const std::string& p, int d, int L) const {
    const int T = static_cast<int>(xs.size());
    const TensorView& cw = w_.get(p + "conv.conv.weight", "reference");
    if (cw.shape != std::vector<int64_t>{d, 1, L}) throw std::runtime_error("conv weight is not (d, 1, L)");
    auto w = get(p + "conv.conv.weight");  // [c][0][k]
    const bool bias = c_.value("conv_bias", false);
    Rows bx(T), cgate(T), out(T);
    for (int t = 0; t < T; ++t) {
      auto bcx = linear(xs[t], p + "conv.in_proj");
      bx[t].resize(d);
      cgate[t].assign(bcx.begin() + d, bcx.begin() + 2 * d);
      for (int c = 0; c < d; ++c) bx[t][c] = bcx[c] * bcx[2 * d + c];
    }
    const auto cb = bias ? get(p + "conv.conv.bias") : std::vector<double>(d, 0.0);
    for (int t = 0; t < T; ++t) {
      // nn.Conv1d with padding L-1, first seqlen outputs: output t reads inputs t-(L-1) .. t.
      std::vector<double> y(d);
      for (int c = 0; c < d; ++c) {
        double s = cb[c];
        for (int k = 0; k < L; ++k) {
          const int src = t - (L - 1) + k;
          if (src >= 0) s += w[size_t(c) * L + k] * bx[src][c];
        }
        y[c] = cgate[t][c] * s;
      }
      out[t] = linear(y, p + "conv.out_proj");
    }
    return out;
  }

  Rows attention(const Rows& xs, const std::string& p, int nh, int nkv, int hd, double eps, double theta) const {
    const int T = static_cast<int>(xs.size());
    const auto inv_freq = ref::rope_inv_freq(theta, hd);
    Rows q(T), k(T), v(T), out(T);
    for (int t = 0; t < T; ++t) {
      q[t] = linear(xs[t], p + "self_attn.q_proj");
      k[t] = linear(xs[t], p + "self_attn.k_proj");
      v[t] = linear(xs[t], p + "self_attn.v_proj");
      ref::head_norm(q[t], nh, hd, get(p + "self_attn.q_layernorm.weight"), eps);
      ref::head_norm(k[t], nkv, hd, get(p + "self_attn.k_layernorm.weight"), eps);
      ref::rope(q[t], nh, hd, t, inv_freq);
      ref::rope(k[t], nkv, hd, t, inv_freq);
    }
    for (int t = 0; t < T; ++t) {
      out[t] = linear(ref::attend(q, k, v, t, nh, nkv, hd), p + "self_attn.out_proj");
    }
    return out;
  }

  std::vector<double> get(const std::string& name) const { return ref::load(w_, name); }
  std::vector<double> linear(const std::vector<double>& x, const std::string& prefix) const {
    return ref::linear(w_, x, prefix);
  }
  static std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
    return ref::rmsnorm(x, w, eps);
  }

  const nlohmann::json& c_;
  const TensorStore& w_;
};

}  // namespace nagi::test
