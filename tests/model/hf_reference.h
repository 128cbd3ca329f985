// An independent float64 forward pass written from Hugging Face transformers'
// modeling_llama.py / modeling_qwen2.py / modeling_qwen3.py: reads the HF
// tensor names and config.json directly (no nagi name mapping, spec or
// kernels), rotate_half RoPE, repeat_kv GQA, causal softmax attention.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "format/safetensors.h"
#include "reference_data.h"

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

    auto embed = get("model.embed_tokens.weight");
    std::vector<std::vector<double>> h(T, std::vector<double>(d));
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < d; ++i) h[t][i] = embed[size_t(ids[t]) * d + i];

    for (int l = 0; l < n_layer; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      std::vector<std::vector<double>> q(T), k(T), v(T);
      for (int t = 0; t < T; ++t) {
        auto x = rmsnorm(h[t], get(p + "input_layernorm.weight"), eps);
        q[t] = linear(x, p + "self_attn.q_proj");
        k[t] = linear(x, p + "self_attn.k_proj");
        v[t] = linear(x, p + "self_attn.v_proj");
        if (type == "qwen3") {
          head_norm(q[t], nh, hd, get(p + "self_attn.q_norm.weight"), eps);
          head_norm(k[t], nkv, hd, get(p + "self_attn.k_norm.weight"), eps);
        }
        rope(q[t], nh, hd, t, inv_freq);
        rope(k[t], nkv, hd, t, inv_freq);
      }
      for (int t = 0; t < T; ++t) {
        std::vector<double> att(size_t(nh) * hd, 0.0);
        for (int head = 0; head < nh; ++head) {
          const int kvh = head / (nh / nkv);  // repeat_kv
          std::vector<double> s(t + 1);
          double mx = -1e300;
          for (int j = 0; j <= t; ++j) {
            double dot = 0;
            for (int i = 0; i < hd; ++i) dot += q[t][head * hd + i] * k[j][kvh * hd + i];
            s[j] = dot / std::sqrt(double(hd));
            mx = std::max(mx, s[j]);
          }
          double sum = 0;
          for (double& x : s) sum += (x = std::exp(x - mx));
          for (int j = 0; j <= t; ++j)
            for (int i = 0; i < hd; ++i) att[head * hd + i] += s[j] / sum * v[j][kvh * hd + i];
        }
        auto o = linear(att, p + "self_attn.o_proj");
        for (int i = 0; i < d; ++i) h[t][i] += o[i];
        auto x = rmsnorm(h[t], get(p + "post_attention_layernorm.weight"), eps);
        auto g = linear(x, p + "mlp.gate_proj");
        auto u = linear(x, p + "mlp.up_proj");
        for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
        auto down = linear(g, p + "mlp.down_proj");
        for (int i = 0; i < d; ++i) h[t][i] += down[i];
      }
    }
    const bool tied = c_.value("tie_word_embeddings", false);
    const std::string head = tied ? "model.embed_tokens.weight" : "lm_head.weight";
    auto lm = get(head);
    std::vector<double> logits(size_t(T) * vocab);
    for (int t = 0; t < T; ++t) {
      auto x = rmsnorm(h[t], get("model.norm.weight"), eps);
      for (int r = 0; r < vocab; ++r) {
        double s = 0;
        for (int i = 0; i < d; ++i) s += lm[size_t(r) * d + i] * x[i];
        logits[size_t(t) * vocab + r] = s;
      }
    }
    return logits;
  }

 private:
  std::vector<double> get(const std::string& name) const {
    auto f = tensor_f32(w_.get(name, "reference"));
    return std::vector<double>(f.begin(), f.end());
  }
  std::vector<double> linear(const std::vector<double>& x, const std::string& prefix) const {
    const TensorView& wt = w_.get(prefix + ".weight", "reference");
    auto w = get(prefix + ".weight");
    const int64_t out = wt.shape[0], in = wt.shape[1];
    std::vector<double> y(out, 0.0);
    for (int64_t r = 0; r < out; ++r)
      for (int64_t i = 0; i < in; ++i) y[r] += w[r * in + i] * x[i];
    if (w_.find(prefix + ".bias")) {
      auto b = get(prefix + ".bias");
      for (int64_t r = 0; r < out; ++r) y[r] += b[r];
    }
    return y;
  }
  static std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / x.size() + eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = w[i] * (x[i] * s);
    return y;
  }
  static void head_norm(std::vector<double>& x, int heads, int hd, const std::vector<double>& w, double eps) {
    for (int h = 0; h < heads; ++h) {
      std::vector<double> part(x.begin() + h * hd, x.begin() + (h + 1) * hd);
      auto y = rmsnorm(part, w, eps);
      std::copy(y.begin(), y.end(), x.begin() + h * hd);
    }
  }
  std::vector<double> rope_inv_freq(int hd) const {
    const double theta = c_.value("rope_theta", 10000.0);
    std::vector<double> f(hd / 2);
    for (int i = 0; i < hd / 2; ++i) f[i] = 1.0 / std::pow(theta, double(2 * i) / hd);
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
  static void rope(std::vector<double>& x, int heads, int hd, int pos, const std::vector<double>& inv_freq) {
    for (int h = 0; h < heads; ++h) {
      double* v = x.data() + size_t(h) * hd;
      std::vector<double> out(hd);
      for (int i = 0; i < hd; ++i) {
        const double ang = pos * inv_freq[i % (hd / 2)];
        const double rot = i < hd / 2 ? -v[i + hd / 2] : v[i - hd / 2];  // rotate_half
        out[i] = v[i] * std::cos(ang) + rot * std::sin(ang);
      }
      std::copy(out.begin(), out.end(), v);
    }
  }

  const nlohmann::json& c_;
  const TensorStore& w_;
};

}  // namespace nagi::test
