// float64 building blocks shared by the independent reference forward passes
// (hf_reference.h, lfm2_reference.h, gemma3_reference.h, qwen35_reference.h):
// weight loading, matrix-vector products, RMSNorm, rotate_half RoPE, causal
// softmax attention with repeat_kv GQA, SwiGLU and the lm_head product.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "base/half.h"
#include "format/safetensors.h"
#include "reference_data.h"

namespace nagi::test::ref {

using Vec = std::vector<double>;
using Rows = std::vector<Vec>;

// A tensor of the checkpoint, widened to float64.
inline Vec load(const TensorStore& ws, const std::string& name) {
  auto f = tensor_f32(ws.get(name, "reference"));
  return Vec(f.begin(), f.end());
}

// nagi multiplies BF16 weights by its f32 activation rounded to bf16
// (kernels/ops.h, round_to_bf16); the reference rounds the input of every
// product with a BF16 weight the same way (through f32, as nagi holds it).
inline Vec bf16_input(Vec x) {
  for (double& v : x) v = bf16_to_f32(f32_to_bf16(float(v)));
  return x;
}

// y = W x for the [out, in] weight NAME.
inline Vec matvec(const TensorStore& ws, const Vec& x, const std::string& name) {
  const TensorView& wt = ws.get(name, "reference");
  auto w = load(ws, name);
  const int64_t out = wt.shape[0], in = wt.shape[1];
  const Vec xr = wt.dtype == DType::kBF16 ? bf16_input(x) : x;
  Vec y(out, 0.0);
  for (int64_t r = 0; r < out; ++r)
    for (int64_t i = 0; i < in; ++i) y[r] += w[r * in + i] * xr[i];
  return y;
}

// nn.Linear PREFIX: PREFIX.weight, plus PREFIX.bias when the checkpoint has it.
inline Vec linear(const TensorStore& ws, const Vec& x, const std::string& prefix) {
  auto y = matvec(ws, x, prefix + ".weight");
  if (ws.find(prefix + ".bias")) {
    auto b = load(ws, prefix + ".bias");
    for (size_t r = 0; r < y.size(); ++r) y[r] += b[r];
  }
  return y;
}

// x / sqrt(mean(x^2) + eps) * (offset + w): offset 0 for LlamaRMSNorm, 1 where
// the stored weight is an offset from 1 (Gemma3RMSNorm, Qwen3NextRMSNorm).
inline Vec rmsnorm(const Vec& x, const Vec& w, double eps, double offset = 0.0) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double s = 1.0 / std::sqrt(ss / x.size() + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = (offset == 0.0 ? w[i] : offset + w[i]) * (x[i] * s);
  return y;
}

// rmsnorm over each of the HEADS slices of size hd, with one shared weight.
inline void head_norm(Vec& x, int heads, int hd, const Vec& w, double eps, double offset = 0.0) {
  for (int h = 0; h < heads; ++h) {
    Vec part(x.begin() + h * hd, x.begin() + (h + 1) * hd);
    auto y = rmsnorm(part, w, eps, offset);
    std::copy(y.begin(), y.end(), x.begin() + h * hd);
  }
}

// The default RoPE frequencies 1 / theta^(2i / hd), i < hd / 2.
inline Vec rope_inv_freq(double theta, int hd) {
  Vec f(hd / 2);
  for (int i = 0; i < hd / 2; ++i) f[i] = 1.0 / std::pow(theta, double(2 * i) / hd);
  return f;
}

// rotate_half RoPE at position POS over each whole head.
inline void rope(Vec& x, int heads, int hd, int pos, const Vec& inv_freq) {
  for (int h = 0; h < heads; ++h) {
    double* v = x.data() + size_t(h) * hd;
    Vec out(hd);
    for (int i = 0; i < hd; ++i) {
      const double ang = pos * inv_freq[i % (hd / 2)];
      const double rot = i < hd / 2 ? -v[i + hd / 2] : v[i - hd / 2];  // rotate_half
      out[i] = v[i] * std::cos(ang) + rot * std::sin(ang);
    }
    std::copy(out.begin(), out.end(), v);
  }
}

// Rows of the embedding table for IDS, times SCALE.
inline Rows embed(const Vec& table, const std::vector<int32_t>& ids, int d, double scale = 1.0) {
  Rows h(ids.size(), Vec(d));
  for (size_t t = 0; t < ids.size(); ++t)
    for (int i = 0; i < d; ++i) h[t][i] = table[size_t(ids[t]) * d + i] * scale;
  return h;
}

// g = silu(g) * u
inline void silu_mul(Vec& g, const Vec& u) {
  for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
}

struct AttentionOptions {
  double scaling = 0;  // scores are dot * scaling; 0: dot / sqrt(head_dim)
  double softcap = 0;  // > 0: scores are tanh(score / softcap) * softcap
  int window = 0;      // > 0: query t sees keys t - window + 1 .. t
};

// Causal softmax attention of query row t over key/value rows 0..t, query
// head h reading kv head h / (nh / nkv) (repeat_kv); [nh * hd].
inline Vec attend(const Rows& q, const Rows& k, const Rows& v, int t, int nh, int nkv, int hd,
                  const AttentionOptions& o = {}) {
  const int j0 = o.window > 0 ? std::max(0, t - o.window + 1) : 0;
  Vec att(size_t(nh) * hd, 0.0);
  for (int head = 0; head < nh; ++head) {
    const int kvh = head / (nh / nkv);  // repeat_kv
    Vec s(t + 1 - j0);
    double mx = -1e300;
    for (int j = j0; j <= t; ++j) {
      double dot = 0;
      for (int i = 0; i < hd; ++i) dot += q[t][head * hd + i] * k[j][kvh * hd + i];
      double sc = o.scaling > 0 ? dot * o.scaling : dot / std::sqrt(double(hd));
      if (o.softcap > 0) sc = std::tanh(sc / o.softcap) * o.softcap;
      s[j - j0] = sc;
      mx = std::max(mx, sc);
    }
    double sum = 0;
    for (double& x : s) sum += (x = std::exp(x - mx));
    for (int j = j0; j <= t; ++j)
      for (int i = 0; i < hd; ++i) att[head * hd + i] += s[j - j0] / sum * v[j][kvh * hd + i];
  }
  return att;
}

// The lm_head (or tied embedding) matrix [vocab, d], and whether it is
// stored as bf16 (then unembed rounds its input, as matvec does).
struct Unembedding {
  Vec w;
  bool bf16 = false;
};
inline Unembedding load_unembedding(const TensorStore& ws, const std::string& name) {
  return {load(ws, name), ws.get(name, "reference").dtype == DType::kBF16};
}

// Row t of the logits: lm times x, optionally soft-capped.
inline void unembed(const Unembedding& lm, const Vec& x_in, int vocab, int t, Vec& logits, double softcap = 0) {
  const Vec x = lm.bf16 ? bf16_input(x_in) : x_in;
  const size_t d = x.size();
  for (int r = 0; r < vocab; ++r) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) s += lm.w[size_t(r) * d + i] * x[i];
    if (softcap > 0) s = std::tanh(s / softcap) * softcap;
    logits[size_t(t) * vocab + r] = s;
  }
}

}  // namespace nagi::test::ref
