#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/thread_pool.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

// Binding checks that the stored tensor is exactly what the spec implies; the
// message names the tensor's file and both shapes.
const TensorView& expect_shape(const TensorStore& store, const std::string& name,
                               const std::vector<int64_t>& shape, const std::string& what) {
  const TensorView& t = store.get(name, what);
  if (t.shape != shape) {
    throw Error(ErrorCode::kFormat, t.source + ": shape " + t.shape_str() + ", expected " +
                                        shape_string(shape));
  }
  if (!dtype_info(t.dtype).is_float) {
    throw Error(ErrorCode::kFormat, t.source + ": dtype " + std::string(dtype_name(t.dtype)) +
                                        " cannot be used as a weight");
  }
  auto bytes = dtype_bytes(t.dtype, static_cast<uint64_t>(t.numel()));
  if (!bytes || *bytes != t.nbytes) {
    throw Error(ErrorCode::kFormat, t.source + ": " + std::to_string(t.nbytes) +
                                        " bytes do not hold " + t.shape_str() + " of " +
                                        std::string(dtype_name(t.dtype)));
  }
  return t;
}

Matrix bind_matrix(const TensorStore& store, const std::string& name, int64_t rows, int64_t cols,
                   const std::string& what) {
  const TensorView& t = expect_shape(store, name, {rows, cols}, what);
  auto row_bytes = dtype_bytes(t.dtype, static_cast<uint64_t>(cols));
  if (!row_bytes) {
    throw Error(ErrorCode::kFormat, t.source + ": rows of " + std::to_string(cols) +
                                        " values are not whole " +
                                        std::string(dtype_name(t.dtype)) + " blocks");
  }
  return Matrix{t.dtype, rows, cols, *row_bytes, t.data};
}

std::vector<float> bind_vector(const TensorStore& store, const std::string& name, int64_t n,
                               const std::string& what) {
  const TensorView& t = expect_shape(store, name, {n}, what);
  std::vector<float> v(static_cast<size_t>(n));
  dequantize_row(t.dtype, t.data, v.data(), n);
  return v;
}

}  // namespace

Transformer::Transformer(ModelSpec spec, const TensorStore& store, const std::string& what)
    : spec_(std::move(spec)) {
  const int64_t d = spec_.n_embd;
  embed_ = bind_matrix(store, "token_embd.weight", spec_.n_vocab, d, what);
  output_ = spec_.tied_embeddings ? embed_
                                  : bind_matrix(store, "output.weight", spec_.n_vocab, d, what);
  output_norm_ = bind_vector(store, "output_norm.weight", d, what);
  for (int il = 0; il < spec_.n_layer(); ++il) {
    const LayerSpec& ls = spec_.layers[il];
    const AttentionSpec& a = ls.attn;
    const std::string p = "blk." + std::to_string(il) + ".";
    const int64_t nq = int64_t(a.n_head) * a.head_dim;
    const int64_t nkv = int64_t(a.n_head_kv) * a.head_dim;
    kv_dim_ = std::max<int>(kv_dim_, static_cast<int>(nkv));
    Layer L;
    L.attn_norm = bind_vector(store, p + "attn_norm.weight", d, what);
    L.ffn_norm = bind_vector(store, p + "ffn_norm.weight", d, what);
    L.wq = bind_matrix(store, p + "attn_q.weight", nq, d, what);
    L.wk = bind_matrix(store, p + "attn_k.weight", nkv, d, what);
    L.wv = bind_matrix(store, p + "attn_v.weight", nkv, d, what);
    L.wo = bind_matrix(store, p + "attn_output.weight", d, nq, what);
    if (a.qkv_bias) {
      L.q_bias = bind_vector(store, p + "attn_q.bias", nq, what);
      L.k_bias = bind_vector(store, p + "attn_k.bias", nkv, what);
      L.v_bias = bind_vector(store, p + "attn_v.bias", nkv, what);
    }
    if (a.qk_norm) {
      L.q_norm = bind_vector(store, p + "attn_q_norm.weight", a.head_dim, what);
      L.k_norm = bind_vector(store, p + "attn_k_norm.weight", a.head_dim, what);
    }
    L.gate = bind_matrix(store, p + "ffn_gate.weight", ls.n_ff, d, what);
    L.up = bind_matrix(store, p + "ffn_up.weight", ls.n_ff, d, what);
    L.down = bind_matrix(store, p + "ffn_down.weight", d, ls.n_ff, what);
    layers_.push_back(std::move(L));
  }
}

void Transformer::resize_scratch(Scratch& s, int batch) const {
  if (s.max_batch >= batch) return;
  int max_q = 0, max_ff = 0;
  for (const LayerSpec& ls : spec_.layers) {
    max_q = std::max(max_q, ls.attn.n_head * ls.attn.head_dim);
    max_ff = std::max(max_ff, ls.n_ff);
  }
  const size_t b = static_cast<size_t>(batch);
  s.max_batch = batch;
  s.x.resize(b * spec_.n_embd);
  s.xn.resize(b * spec_.n_embd);
  s.q.resize(b * max_q);
  s.k.resize(b * kv_dim_);
  s.v.resize(b * kv_dim_);
  s.att.resize(b * max_q);
  s.gate.resize(b * max_ff);
  s.up.resize(b * max_ff);
  s.logits.resize(b * spec_.n_vocab);
}

void Transformer::apply_rope(float* vec, int n_heads, const AttentionSpec& a, int pos) const {
  const RopeSpec& r = a.rope;
  const int half = r.n_rot / 2;
  for (int i = 0; i < half; ++i) {
    const double angle = double(pos) * r.inv_freq[i];
    const float c = static_cast<float>(std::cos(angle));
    const float s = static_cast<float>(std::sin(angle));
    for (int h = 0; h < n_heads; ++h) {
      float* head = vec + h * a.head_dim;
      // Interleaved checkpoints rotate neighbours; rotate_half ones rotate
      // element i with element i + n_rot/2.
      const int i0 = r.style == RopeStyle::kInterleaved ? 2 * i : i;
      const int i1 = r.style == RopeStyle::kInterleaved ? 2 * i + 1 : i + half;
      const float x0 = head[i0], x1 = head[i1];
      head[i0] = x0 * c - x1 * s;
      head[i1] = x0 * s + x1 * c;
    }
  }
}

void Transformer::attention(const Layer& L, const AttentionSpec& a, int layer, int n, int pos0,
                            KvCache& cache, Scratch& s, ThreadPool& pool) const {
  const int d = spec_.n_embd;
  const int nq = a.n_head * a.head_dim;
  const int nkv = a.n_head_kv * a.head_dim;
  float* xn = s.xn.data();
  matmul(L.wq, xn, n, d, s.q.data(), nq, pool);
  matmul(L.wk, xn, n, d, s.k.data(), nkv, pool);
  matmul(L.wv, xn, n, d, s.v.data(), nkv, pool);
  for (int t = 0; t < n; ++t) {
    float* q = s.q.data() + size_t(t) * nq;
    float* k = s.k.data() + size_t(t) * nkv;
    float* v = s.v.data() + size_t(t) * nkv;
    if (a.qkv_bias) {
      for (int i = 0; i < nq; ++i) q[i] += L.q_bias[i];
      for (int i = 0; i < nkv; ++i) k[i] += L.k_bias[i];
      for (int i = 0; i < nkv; ++i) v[i] += L.v_bias[i];
    }
    if (a.qk_norm) {
      for (int h = 0; h < a.n_head; ++h) {
        float* head = q + h * a.head_dim;
        rmsnorm(head, L.q_norm.data(), head, a.head_dim, spec_.norm_eps);
      }
      for (int h = 0; h < a.n_head_kv; ++h) {
        float* head = k + h * a.head_dim;
        rmsnorm(head, L.k_norm.data(), head, a.head_dim, spec_.norm_eps);
      }
    }
    apply_rope(q, a.n_head, a, pos0 + t);
    apply_rope(k, a.n_head_kv, a, pos0 + t);
    std::memcpy(cache.k(layer, pos0 + t), k, sizeof(float) * nkv);
    std::memcpy(cache.v(layer, pos0 + t), v, sizeof(float) * nkv);
  }
  // Causal attention: token t (position pos0+t) sees positions 0..pos0+t.
  const int group = a.n_head / a.n_head_kv;
  pool.parallel_for(int64_t(n) * a.n_head, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    scores.resize(size_t(pos0 + n));
    for (int64_t job = begin; job < end; ++job) {
      const int t = static_cast<int>(job / a.n_head);
      const int h = static_cast<int>(job % a.n_head);
      const int kvh = h / group;
      const float* q = s.q.data() + size_t(t) * nq + size_t(h) * a.head_dim;
      const int n_keys = pos0 + t + 1;
      for (int j = 0; j < n_keys; ++j) {
        scores[j] = dot_f32(q, cache.k(layer, j) + kvh * a.head_dim, a.head_dim) * a.scale;
      }
      softmax(scores.data(), n_keys);
      float* out = s.att.data() + size_t(t) * nq + size_t(h) * a.head_dim;
      std::fill(out, out + a.head_dim, 0.f);
      for (int j = 0; j < n_keys; ++j) {
        const float p = scores[j];
        const float* v = cache.v(layer, j) + kvh * a.head_dim;
        for (int i = 0; i < a.head_dim; ++i) out[i] += p * v[i];
      }
    }
  });
}

void Transformer::forward(std::span<const int32_t> tokens, int pos0, KvCache& cache,
                          Scratch& s, float* logits, bool all_logits, ThreadPool& pool) const {
  const int n = static_cast<int>(tokens.size());
  const int d = spec_.n_embd;
  resize_scratch(s, n);
  float* x = s.x.data();
  float* xn = s.xn.data();
  for (int t = 0; t < n; ++t) matrix_row_f32(embed_, tokens[t], x + size_t(t) * d);

  for (int il = 0; il < spec_.n_layer(); ++il) {
    const Layer& L = layers_[il];
    const LayerSpec& ls = spec_.layers[il];
    for (int t = 0; t < n; ++t) rmsnorm(x + size_t(t) * d, L.attn_norm.data(), xn + size_t(t) * d, d, spec_.norm_eps);
    attention(L, ls.attn, il, n, pos0, cache, s, pool);
    const int nq = ls.attn.n_head * ls.attn.head_dim;
    matmul(L.wo, s.att.data(), n, nq, xn, d, pool);
    for (size_t i = 0; i < size_t(n) * d; ++i) x[i] += xn[i];

    for (int t = 0; t < n; ++t) rmsnorm(x + size_t(t) * d, L.ffn_norm.data(), xn + size_t(t) * d, d, spec_.norm_eps);
    const int ff = ls.n_ff;
    matmul(L.gate, xn, n, d, s.gate.data(), ff, pool);
    matmul(L.up, xn, n, d, s.up.data(), ff, pool);
    for (int t = 0; t < n; ++t) {
      swiglu(s.gate.data() + size_t(t) * ff, s.up.data() + size_t(t) * ff, s.gate.data() + size_t(t) * ff, ff);
    }
    matmul(L.down, s.gate.data(), n, ff, xn, d, pool);
    for (size_t i = 0; i < size_t(n) * d; ++i) x[i] += xn[i];
  }

  const int first = all_logits ? 0 : n - 1;
  for (int t = first; t < n; ++t) rmsnorm(x + size_t(t) * d, output_norm_.data(), xn + size_t(t - first) * d, d, spec_.norm_eps);
  matmul(output_, xn, n - first, d, logits, spec_.n_vocab, pool);
}

}  // namespace nagi
