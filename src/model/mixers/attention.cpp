#include "model/mixers/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/matmul_group.h"
#include "model/mixers/tree_mask.h"
#include "model/token_loop.h"
#include "model/weights.h"
#include "nagi/error.hpp"

namespace nagi {

AttentionMixer::AttentionMixer(const ModelSpec& spec, int layer, const TensorStore& store,
                               const std::string& what)
    : a_(spec.layers[layer].attn), n_embd_(spec.n_embd), norm_eps_(spec.norm_eps) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  const int64_t d = spec.n_embd;
  const int64_t nq = int64_t(a_.n_head) * a_.head_dim;
  const int64_t nkv = int64_t(a_.n_head_kv) * a_.head_dim;
  wq_ = bind_matrix(store, p + "attn_q.weight", a_.output_gate ? 2 * nq : nq, d, what);
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

std::unique_ptr<LayerState> AttentionMixer::new_state(int n_ctx, KvType kv) const {
  return std::make_unique<KvState>(n_ctx, a_.n_head_kv, a_.head_dim, a_.window, kv);
}

size_t AttentionMixer::state_bytes_read(int n_past, KvType kv) const {
  const int keys = a_.window > 0 ? std::min(n_past, a_.window) : n_past;
  return size_t(2) * keys * a_.n_head_kv * kv_head_bytes(kv, a_.head_dim);
}

void AttentionMixer::rope_angles(int pos, float* cos_out, float* sin_out) const {
  const RopeSpec& r = a_.rope;
  const int half = r.n_rot / 2;
  // A decode step asks every layer for the same position, and layers with
  // the same frequencies get the same angles: the last ones are kept per
  // thread (computing them took ~2.5 us of each Qwen3-0.6B layer, 64
  // sin/cos pairs in double, on one thread while the other waited).
  struct Last {
    std::vector<double> inv_freq;
    int pos = -1;
    std::vector<float> cos, sin;
  };
  thread_local Last last;
  if (last.pos != pos || last.inv_freq.size() != size_t(half) ||
      !std::equal(last.inv_freq.begin(), last.inv_freq.end(), r.inv_freq.begin())) {
    last.inv_freq.assign(r.inv_freq.begin(), r.inv_freq.begin() + half);
    last.pos = pos;
    last.cos.resize(size_t(half));
    last.sin.resize(size_t(half));
    for (int i = 0; i < half; ++i) {
      const double angle = double(pos) * r.inv_freq[i];
      last.cos[i] = static_cast<float>(std::cos(angle));
      last.sin[i] = static_cast<float>(std::sin(angle));
    }
  }
  std::copy(last.cos.begin(), last.cos.end(), cos_out);
  std::copy(last.sin.begin(), last.sin.end(), sin_out);
}

void AttentionMixer::apply_rope(float* vec, int n_heads, const float* cos, const float* sin) const {
  const RopeSpec& r = a_.rope;
  const int half = r.n_rot / 2;
  // Interleaved checkpoints rotate neighbours; rotate_half ones rotate
  // element i with element i + n_rot/2.
  const bool interleaved = r.style == RopeStyle::kInterleaved;
  for (int h = 0; h < n_heads; ++h) {
    float* head = vec + h * a_.head_dim;
    for (int i = 0; i < half; ++i) {
      const int i0 = interleaved ? 2 * i : i;
      const int i1 = interleaved ? 2 * i + 1 : i + half;
      const float x0 = head[i0], x1 = head[i1];
      head[i0] = x0 * cos[i] - x1 * sin[i];
      head[i1] = x0 * sin[i] + x1 * cos[i];
    }
  }
}

void AttentionMixer::forward(const float* xn, float* out, const Batch& batch, LayerState& state,
                             Workspace& ws, ThreadPool& pool) const {
  auto& cache = static_cast<KvState&>(state);
  const int n = batch.n, pos0 = batch.pos0, d = n_embd_;
  const int nq = a_.n_head * a_.head_dim;
  const int nkv = a_.n_head_kv * a_.head_dim;
  const int q_rows = a_.output_gate ? 2 * nq : nq;
  float* q_all = ws.get(kMixerSlot0 + 0, size_t(n) * q_rows);
  // Keys go to the cache before the output projection writes `out`, so
  // they can wait there when they fit (every model so far: n_kv_heads *
  // head_dim <= n_embd); 2 MiB less for a 512-token Qwen3-0.6B prompt.
  float* k_all = nkv <= d ? out : ws.get(kMixerSlot0 + 1, size_t(n) * nkv);
  float* v_all = ws.get(kMixerSlot0 + 2, size_t(n) * nkv);
  // The attention output overwrites the queries: each (token, head) output
  // is written after the last read of its own query (both paths below), and
  // a 512-token prompt keeps 4 MiB less (Qwen3-0.6B).
  float* const att = q_all;
  // q, k and v read the same input: one parallel region for the three.
  const MatmulJob qkv[] = {{&wq_, q_all, q_rows}, {&wk_, k_all, nkv}, {&wv_, v_all, nkv}};
  matmul_group(qkv, xn, n, d, pool);
  float* gate = nullptr;
  if (a_.output_gate) {
    // Qwen3.5: each head's rows are [query | gate]. Move the gates aside and
    // pack the queries to [n, nq] (destinations never pass their sources).
    gate = ws.get(kMixerSlot0 + 3, size_t(n) * nq);
    const int hd = a_.head_dim;
    for (int t = 0; t < n; ++t) {
      for (int h = 0; h < a_.n_head; ++h) {
        const float* src = q_all + size_t(t) * q_rows + size_t(h) * 2 * hd;
        std::memcpy(gate + size_t(t) * nq + size_t(h) * hd, src + hd, sizeof(float) * hd);
        std::memmove(q_all + size_t(t) * nq + size_t(h) * hd, src, sizeof(float) * hd);
      }
    }
  }
  // Per token: biases, q/k norms and RoPE (tokens are independent).
  for_tokens(n, pool, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> rope_cos, rope_sin;
    rope_cos.resize(size_t(a_.rope.n_rot / 2));
    rope_sin.resize(rope_cos.size());
    for (int64_t t = t0; t < t1; ++t) {
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
      rope_angles(batch.position(int(t)), rope_cos.data(), rope_sin.data());
      apply_rope(q, a_.n_head, rope_cos.data(), rope_sin.data());
      apply_rope(k, a_.n_head_kv, rope_cos.data(), rope_sin.data());
    }
  });
  // Causal attention: token t (position p = pos0+t) sees positions
  // first_key(p)..p. A sliding-window ring can only take a few new rows
  // before it evicts keys that earlier queries of the batch still need, so
  // the batch is stored and attended in chunks of at most max_chunk tokens.
  // A tree batch (speculative verification) sees the cached prefix, its
  // ancestors and itself; rows sit at slots pos0 + t (see Batch).
  if (batch.is_tree() && a_.window > 0)
    throw Error(ErrorCode::kUnsupported, "tree batch: sliding-window attention verifies chains only");
  const std::vector<uint8_t> tree_mask = batch.is_tree() ? ancestor_mask(batch) : std::vector<uint8_t>{};
  const int group = a_.n_head / a_.n_head_kv;
  auto first_key = [&](int p) { return a_.window > 0 ? std::max(0, p - a_.window + 1) : 0; };
  // Tokens [t0, t1) of the batch go to their cache rows.
  const Kernels& kern = kernels();
  auto store_rows = [&](int t0, int t1) {
    for (int t = t0; t < t1; ++t) {
      for (int g = 0; g < a_.n_head_kv; ++g) {
        const size_t at = size_t(t) * nkv + size_t(g) * a_.head_dim;
        kv_store_head(kern, cache.type(), k_all + at, a_.head_dim, cache.k(pos0 + t, g));
        kv_store_head(kern, cache.type(), v_all + at, a_.head_dim, cache.v(pos0 + t, g));
      }
    }
  };
  // The common case (a chain over rows stored in order, no score soft-cap)
  // goes to the flash kernel: online softmax over key tiles, the q heads of
  // a KV group sharing each row; so do per-token tree batches (speculative
  // verification), each node reading its path's rows in order. Other trees,
  // soft-capping and wrapping rings keep the plain loop below.
  if ((!batch.is_tree() || batch.per_token) && a_.softcap == 0.f && cache.contiguous()) {
    // Each token writes its own cache rows.
    for_tokens(n, pool, [&](int64_t t0, int64_t t1) { store_rows(int(t0), int(t1)); });
    AttentionParams p;
    p.n_tok = n;
    p.n_head = a_.n_head;
    p.n_kv_head = a_.n_head_kv;
    p.head_dim = a_.head_dim;
    p.q = q_all;
    p.q_stride = nq;
    p.k = cache.k(0);
    p.v = cache.v(0);
    p.kv_pos_bytes = cache.head_bytes();
    p.kv_head_stride = cache.head_stride();
    p.kv_type = cache.type();
    p.pos0 = pos0;
    p.window = a_.window;
    p.scale = a_.scale;
    p.per_token = batch.per_token;
    p.parent = batch.parent;
    p.out = att;
    p.out_stride = nq;
    attention_flash(p, pool);
  } else {
    for (int c0 = 0; c0 < n; c0 += cache.max_chunk()) {
      const int c1 = std::min(n, c0 + cache.max_chunk());
      store_rows(c0, c1);
      pool.parallel_for(int64_t(c1 - c0) * a_.n_head, [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> scores, row;
        scores.resize(size_t(pos0 + c1));
        row.resize(a_.head_dim);
        for (int64_t job = begin; job < end; ++job) {
          const int t = c0 + static_cast<int>(job / a_.n_head);
          const int h = static_cast<int>(job % a_.n_head);
          const int g = h / group;
          const float* q = q_all + size_t(t) * nq + size_t(h) * a_.head_dim;
          const int p = pos0 + t, j0 = first_key(p), n_keys = p - j0 + 1;
          for (int j = 0; j < n_keys; ++j) {
            kv_load_head(kern, cache.type(), cache.k(j0 + j, g), a_.head_dim, row.data());
            scores[j] = dot_f32(q, row.data(), a_.head_dim) * a_.scale;
          }
          if (a_.softcap > 0.f) {
            for (int j = 0; j < n_keys; ++j) scores[j] = a_.softcap * std::tanh(scores[j] / a_.softcap);
          }
          if (!tree_mask.empty()) mask_non_ancestors(tree_mask, n, t, scores.data() + pos0);
          softmax(scores.data(), n_keys);
          float* o = att + size_t(t) * nq + size_t(h) * a_.head_dim;
          std::fill(o, o + a_.head_dim, 0.f);
          for (int j = 0; j < n_keys; ++j) {
            kv_load_head(kern, cache.type(), cache.v(j0 + j, g), a_.head_dim, row.data());
            kern.axpy_f32(scores[j], row.data(), o, a_.head_dim);
          }
        }
      });
    }
  }
  if (gate) {
    kern.sigmoid_mul(gate, att, att, int64_t(n) * nq);
  }
  matmul(wo_, att, n, nq, out, d, pool);
}

}  // namespace nagi
