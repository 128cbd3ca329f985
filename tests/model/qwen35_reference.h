// An independent float64 forward pass of a Qwen3.5 text model, written from
// transformers' modeling_qwen3_5.py (Qwen3_5ForCausalLM) and the Qwen3-Next
// pieces it reuses: reads config.json and the HF tensors directly (no nagi
// name mapping, spec or kernels). RMSNorm is x/rms * (1 + w) except the
// DeltaNet output norm (plain w, gated by silu(z)); full attention has a
// sigmoid output gate and rotate_half RoPE on the first partial_rotary_factor
// of each head; DeltaNet value head h reads key head h / (n_v / n_k)
// (repeat_interleave), l2norm is x * rsqrt(sum x^2 + 1e-6), and the
// recurrence is torch_recurrent_gated_delta_rule.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reference_ops.h"

namespace nagi::test {

class Qwen35Reference {
 public:
  // Deliberate mistakes, to show that the comparisons can fail.
  enum class Mistake { kNone, kTiledValueHeads, kPlainNormWeights };
  Qwen35Reference(const nlohmann::json& config, const TensorStore& weights, Mistake m = Mistake::kNone)
      : c_(config), w_(weights), mistake_(m) {}

  // Logits [T, vocab] of every position.
  std::vector<double> forward(const std::vector<int32_t>& ids) const {
    const int vocab = c_["vocab_size"];
    const double eps = c_["rms_norm_eps"];
    const auto h = residual(ids);
    const bool tied = c_.value("tie_word_embeddings", false);
    const auto lm = ref::load_unembedding(w_, tied ? "model.embed_tokens.weight" : "lm_head.weight");
    const int T = static_cast<int>(ids.size());
    std::vector<double> logits(size_t(T) * vocab);
    for (int t = 0; t < T; ++t) {
      ref::unembed(lm, rmsnorm1p(h[t], get("model.norm.weight"), eps), vocab, t, logits);
    }
    return logits;
  }

  // The residual stream after the last decoder layer (before model.norm).
  std::vector<std::vector<double>> residual(const std::vector<int32_t>& ids) const {
    const int d = c_["hidden_size"], n_layer = c_["num_hidden_layers"];
    auto h = ref::embed(get("model.embed_tokens.weight"), ids, d);
    for (int l = 0; l < n_layer; ++l) {
      layer(h, "model.layers." + std::to_string(l) + ".", c_["layer_types"][l] == "full_attention");
    }
    return h;
  }

  // One decoder layer (Qwen3_5DecoderLayer) named by prefix p over the
  // sequence h (token t at position t), in place.
  void layer(std::vector<std::vector<double>>& h, const std::string& p, bool full) const {
    using Vec = std::vector<double>;
    const int d = c_["hidden_size"];
    const int nh = c_["num_attention_heads"], nkv = c_["num_key_value_heads"], hd = c_["head_dim"];
    const double eps = c_["rms_norm_eps"];
    const auto& rp = c_["rope_parameters"];
    const int n_rot = static_cast<int>(hd * rp.value("partial_rotary_factor", 1.0));
    const double theta = rp["rope_theta"];
    const int nk = c_["linear_num_key_heads"], nv = c_["linear_num_value_heads"];
    const int dk = c_["linear_key_head_dim"], dv = c_["linear_value_head_dim"], K = c_["linear_conv_kernel_dim"];
    const int T = static_cast<int>(h.size());
    std::vector<Vec> x(T);
    for (int t = 0; t < T; ++t) x[t] = rmsnorm1p(h[t], get(p + "input_layernorm.weight"), eps);
    std::vector<Vec> mix(T);
    if (full) {
      std::vector<Vec> q(T, Vec(size_t(nh) * hd)), gate(T, Vec(size_t(nh) * hd)), k(T), v(T);
      for (int t = 0; t < T; ++t) {
        auto qg = linear(x[t], p + "self_attn.q_proj.weight");  // view(..., -1, 2*hd).chunk(2)
        for (int a = 0; a < nh; ++a)
          for (int i = 0; i < hd; ++i) {
            q[t][a * hd + i] = qg[size_t(a) * 2 * hd + i];
            gate[t][a * hd + i] = qg[size_t(a) * 2 * hd + hd + i];
          }
        k[t] = linear(x[t], p + "self_attn.k_proj.weight");
        v[t] = linear(x[t], p + "self_attn.v_proj.weight");
        head_norm1p(q[t], nh, hd, get(p + "self_attn.q_norm.weight"), eps);
        head_norm1p(k[t], nkv, hd, get(p + "self_attn.k_norm.weight"), eps);
        rope(q[t], nh, hd, n_rot, theta, t);
        rope(k[t], nkv, hd, n_rot, theta, t);
      }
      for (int t = 0; t < T; ++t) {
        auto att = ref::attend(q, k, v, t, nh, nkv, hd);
        for (size_t i = 0; i < att.size(); ++i) att[i] *= 1.0 / (1.0 + std::exp(-gate[t][i]));
        mix[t] = linear(att, p + "self_attn.o_proj.weight");
      }
    } else {
      const int key_dim = nk * dk, conv_dim = 2 * key_dim + nv * dv;
      std::vector<Vec> qkv(T), z(T), b(T), a(T);
      for (int t = 0; t < T; ++t) {
        qkv[t] = linear(x[t], p + "linear_attn.in_proj_qkv.weight");
        z[t] = linear(x[t], p + "linear_attn.in_proj_z.weight");
        b[t] = linear(x[t], p + "linear_attn.in_proj_b.weight");
        a[t] = linear(x[t], p + "linear_attn.in_proj_a.weight");
      }
      // F.silu(conv1d(x)[..., :T]) with padding K-1: causal.
      auto cw = get(p + "linear_attn.conv1d.weight");  // [C, 1, K]
      std::vector<Vec> u(T, Vec(conv_dim));
      for (int t = 0; t < T; ++t)
        for (int ch = 0; ch < conv_dim; ++ch) {
          double s = 0;
          for (int j = 0; j < K; ++j) {
            const int src = t - (K - 1) + j;
            if (src >= 0) s += cw[size_t(ch) * K + j] * qkv[src][ch];
          }
          u[t][ch] = s / (1.0 + std::exp(-s));
        }
      auto A_log = get(p + "linear_attn.A_log");
      auto dt_bias = get(p + "linear_attn.dt_bias");
      auto norm_w = get(p + "linear_attn.norm.weight");
      std::vector<Vec> S(nv, Vec(size_t(dk) * dv, 0.0));
      for (int t = 0; t < T; ++t) {
        Vec core(size_t(nv) * dv);
        for (int hv = 0; hv < nv; ++hv) {
          const int kh = mistake_ == Mistake::kTiledValueHeads ? hv % nk : hv / (nv / nk);
          Vec q(u[t].begin() + kh * dk, u[t].begin() + (kh + 1) * dk);
          Vec k(u[t].begin() + key_dim + kh * dk, u[t].begin() + key_dim + (kh + 1) * dk);
          const double* v = u[t].data() + 2 * key_dim + hv * dv;
          l2norm(q);
          l2norm(k);
          for (double& e : q) e /= std::sqrt(double(dk));
          const double beta = 1.0 / (1.0 + std::exp(-b[t][hv]));
          const double g = -std::exp(A_log[hv]) * std::log1p(std::exp(a[t][hv] + dt_bias[hv]));
          Vec& s = S[hv];
          for (double& e : s) e *= std::exp(g);
          for (int j = 0; j < dv; ++j) {
            double kv = 0;
            for (int i = 0; i < dk; ++i) kv += s[i * dv + j] * k[i];
            const double delta = (v[j] - kv) * beta;
            for (int i = 0; i < dk; ++i) s[i * dv + j] += k[i] * delta;
          }
          for (int j = 0; j < dv; ++j) {
            double o = 0;
            for (int i = 0; i < dk; ++i) o += s[i * dv + j] * q[i];
            core[hv * dv + j] = o;
          }
          // Qwen3NextRMSNormGated: w * x/rms(x) * silu(z)
          double ss = 0;
          for (int j = 0; j < dv; ++j) ss += core[hv * dv + j] * core[hv * dv + j];
          const double inv = 1.0 / std::sqrt(ss / dv + eps);
          for (int j = 0; j < dv; ++j) {
            const double zz = z[t][hv * dv + j];
            core[hv * dv + j] = norm_w[j] * core[hv * dv + j] * inv * zz / (1.0 + std::exp(-zz));
          }
        }
        mix[t] = linear(core, p + "linear_attn.out_proj.weight");
      }
    }
    for (int t = 0; t < T; ++t) {
      for (int i = 0; i < d; ++i) h[t][i] += mix[t][i];
      auto y = rmsnorm1p(h[t], get(p + "post_attention_layernorm.weight"), eps);
      auto g = linear(y, p + "mlp.gate_proj.weight");
      auto up = linear(y, p + "mlp.up_proj.weight");
      ref::silu_mul(g, up);
      auto down = linear(g, p + "mlp.down_proj.weight");
      for (int i = 0; i < d; ++i) h[t][i] += down[i];
    }
  }

  // Qwen3NextRMSNorm: x / rms(x) * (1 + w)
  std::vector<double> rmsnorm1p(const std::vector<double>& x, const std::vector<double>& w, double eps) const {
    return ref::rmsnorm(x, w, eps, norm_offset());
  }
  std::vector<double> get(const std::string& name) const { return ref::load(w_, name); }
  std::vector<double> linear(const std::vector<double>& x, const std::string& name) const {
    return ref::matvec(w_, x, name);
  }

 private:
  double norm_offset() const { return mistake_ == Mistake::kPlainNormWeights ? 0.0 : 1.0; }
  void head_norm1p(std::vector<double>& x, int heads, int hd, const std::vector<double>& w, double eps) const {
    ref::head_norm(x, heads, hd, w, eps, norm_offset());
  }
  static void l2norm(std::vector<double>& x) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss + 1e-6);
    for (double& v : x) v *= s;
  }
  // rotate_half on the first n_rot dims, the rest passes through.
  static void rope(std::vector<double>& x, int heads, int hd, int n_rot, double theta, int pos) {
    const int half = n_rot / 2;
    for (int h = 0; h < heads; ++h) {
      double* v = x.data() + size_t(h) * hd;
      std::vector<double> out(v, v + n_rot);
      for (int i = 0; i < n_rot; ++i) {
        const double ang = pos / std::pow(theta, double(2 * (i % half)) / n_rot);
        const double rot = i < half ? -v[i + half] : v[i - half];
        out[i] = v[i] * std::cos(ang) + rot * std::sin(ang);
      }
      std::copy(out.begin(), out.end(), v);
    }
  }

  const nlohmann::json& c_;
  const TensorStore& w_;
  Mistake mistake_;
};

}  // namespace nagi::test
