#include "model/mixers/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/thread_pool.h"
#include "model/mixers/tree_mask.h"
#include "model/weights.h"

namespace nagi {

AttentionMixer::AttentionMixer(const ModelSpec& spec, int layer, const TensorStore& store,
                               const std::string& what)
    : a_(spec.layers[layer].attn), n_embd_(spec.n_embd), norm_eps_(spec.norm_eps) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  const int64_t d = spec.n_embd;
  const int64_t nq = int64_t(a_.n_head) * a_.head_dim;
  const int64_t nkv = int64_t(a_.n_head_kv) * a_.head_dim;
  wq_ = bind_matrix(store, p + "attn_q.weight", nq, d, what);
  wk_ = bind_matrix(store, p + "attn_k.weight", nkv, d, what);
  wv_ = bind_matrix(store, p + "attn_v.weight", nkv, d, what);
  wo_ = bind_matrix(store, p + "attn_output.weight", d, nq, what);
  if (a_.qkv_bias) {
    q_bias_ = bind_vector(store, p + "attn_q.bias", nq, what);
    k_bias_ = bind_vector(store, p + "attn_k.bias", nkv, what);
    v_bias_ = bind_vector(store, p + "attn_v.bias", nkv, what);
  }
  if (a_.qk_norm) {
    q_norm_ = bind_vector(store, p + "attn_q_norm.weight", a_.head_dim, what);
    k_norm_ = bind_vector(store, p + "attn_k_norm.weight", a_.head_dim, what);
  }
}

std::unique_ptr<LayerState> AttentionMixer::new_state(int n_ctx) const {
  return std::make_unique<KvState>(n_ctx, a_.n_head_kv * a_.head_dim);
}

size_t AttentionMixer::state_bytes_read(int n_past) const {
  return size_t(2) * n_past * a_.n_head_kv * a_.head_dim * sizeof(float);
}

void AttentionMixer::apply_rope(float* vec, int n_heads, int pos) const {
  const RopeSpec& r = a_.rope;
  const int half = r.n_rot / 2;
  for (int i = 0; i < half; ++i) {
    const double angle = double(pos) * r.inv_freq[i];
    const float c = static_cast<float>(std::cos(angle));
    const float s = static_cast<float>(std::sin(angle));
    for (int h = 0; h < n_heads; ++h) {
      float* head = vec + h * a_.head_dim;
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

void AttentionMixer::forward(const float* xn, float* out, const Batch& batch, LayerState& state,
                             Workspace& ws, ThreadPool& pool) const {
  auto& cache = static_cast<KvState&>(state);
  const int n = batch.n, pos0 = batch.pos0, d = n_embd_;
  const int nq = a_.n_head * a_.head_dim;
  const int nkv = a_.n_head_kv * a_.head_dim;
  float* q_all = ws.get(kMixerSlot0 + 0, size_t(n) * nq);
  float* k_all = ws.get(kMixerSlot0 + 1, size_t(n) * nkv);
  float* v_all = ws.get(kMixerSlot0 + 2, size_t(n) * nkv);
  float* att = ws.get(kMixerSlot0 + 3, size_t(n) * nq);
  matmul(wq_, xn, n, d, q_all, nq, pool);
  matmul(wk_, xn, n, d, k_all, nkv, pool);
  matmul(wv_, xn, n, d, v_all, nkv, pool);
  for (int t = 0; t < n; ++t) {
    float* q = q_all + size_t(t) * nq;
    float* k = k_all + size_t(t) * nkv;
    float* v = v_all + size_t(t) * nkv;
    if (a_.qkv_bias) {
      for (int i = 0; i < nq; ++i) q[i] += q_bias_[i];
      for (int i = 0; i < nkv; ++i) k[i] += k_bias_[i];
      for (int i = 0; i < nkv; ++i) v[i] += v_bias_[i];
    }
    if (a_.qk_norm) {
      for (int h = 0; h < a_.n_head; ++h) {
        float* head = q + h * a_.head_dim;
        rmsnorm(head, q_norm_.data(), head, a_.head_dim, norm_eps_);
      }
      for (int h = 0; h < a_.n_head_kv; ++h) {
        float* head = k + h * a_.head_dim;
        rmsnorm(head, k_norm_.data(), head, a_.head_dim, norm_eps_);
      }
    }
    apply_rope(q, a_.n_head, batch.position(t));
    apply_rope(k, a_.n_head_kv, batch.position(t));
    std::memcpy(cache.k(pos0 + t), k, sizeof(float) * nkv);
    std::memcpy(cache.v(pos0 + t), v, sizeof(float) * nkv);
  }
  // Causal attention: token t (position pos0+t) sees positions 0..pos0+t;
  // in a tree batch only the cached prefix, its ancestors and itself.
  const std::vector<uint8_t> tree_mask = batch.is_tree() ? ancestor_mask(batch) : std::vector<uint8_t>{};
  const int group = a_.n_head / a_.n_head_kv;
  pool.parallel_for(int64_t(n) * a_.n_head, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    scores.resize(size_t(pos0 + n));
    for (int64_t job = begin; job < end; ++job) {
      const int t = static_cast<int>(job / a_.n_head);
      const int h = static_cast<int>(job % a_.n_head);
      const int kvh = h / group;
      const float* q = q_all + size_t(t) * nq + size_t(h) * a_.head_dim;
      const int n_keys = pos0 + t + 1;
      for (int j = 0; j < n_keys; ++j) {
        scores[j] = dot_f32(q, cache.k(j) + kvh * a_.head_dim, a_.head_dim) * a_.scale;
      }
      if (!tree_mask.empty()) mask_non_ancestors(tree_mask, n, t, scores.data() + pos0);
      softmax(scores.data(), n_keys);
      float* o = att + size_t(t) * nq + size_t(h) * a_.head_dim;
      std::fill(o, o + a_.head_dim, 0.f);
      for (int j = 0; j < n_keys; ++j) {
        const float p = scores[j];
        const float* v = cache.v(j) + kvh * a_.head_dim;
        for (int i = 0; i < a_.head_dim; ++i) o[i] += p * v[i];
      }
    }
  });
  matmul(wo_, att, n, nq, out, d, pool);
}

}  // namespace nagi
