#include "model/transformer.h"

#include <algorithm>
#include <cmath>

#include "base/thread_pool.h"
#include "kernels/ops.h"
#include "model/mixers/attention.h"
#include "model/mixers/short_conv.h"
#include "model/mixers/gated_deltanet.h"
#include "model/token_loop.h"
#include "model/weights.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

// Workspace slots of the stack itself; FFN and mixers use higher ones.
enum Slot { kX = 0, kXn = 1, kOut = 2, kFinal = 3 };

std::unique_ptr<Mixer> make_mixer(const ModelSpec& spec, int layer, const TensorStore& store,
                                  const std::string& what) {
  switch (spec.layers[layer].mixer) {
    case MixerKind::kAttention:
      return std::make_unique<AttentionMixer>(spec, layer, store, what);
    case MixerKind::kShortConv:
      return std::make_unique<ShortConvMixer>(spec, layer, store, what);
    case MixerKind::kDeltaNet:
      return std::make_unique<GatedDeltaNetMixer>(spec, layer, store, what);
  }
  throw Error(ErrorCode::kUnsupported, what + ": layer " + std::to_string(layer) +
                                           " has a mixer kind this build cannot run");
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
    const std::string p = "blk." + std::to_string(il) + ".";
    Layer L;
    L.attn_norm = bind_vector(store, p + "attn_norm.weight", d, what);
    L.ffn_norm = bind_vector(store, p + spec_.ffn_norm_name, d, what);
    if (spec_.layers[il].post_norms) {
      L.post_attn_norm = bind_vector(store, p + "post_attention_norm.weight", d, what);
      L.post_ffn_norm = bind_vector(store, p + "post_ffw_norm.weight", d, what);
    }
    L.mixer = make_mixer(spec_, il, store, what);
    L.ffn = std::make_unique<FeedForward>(spec_, il, store, what);
    // Recurrent mixers only know the present; a sliding-window ring forgets
    // rows older than its margin. Either way deep rollbacks need snapshots.
    if (spec_.layers[il].mixer != MixerKind::kAttention) has_recurrent_ = true;
    if (spec_.layers[il].mixer != MixerKind::kAttention || spec_.layers[il].attn.window > 0) {
      needs_snapshots_ = true;
    }
    layers_.push_back(std::move(L));
  }
}

Transformer::~Transformer() = default;

ModelState Transformer::new_state(int n_ctx, KvType kv) const {
  std::vector<std::unique_ptr<LayerState>> states;
  for (const Layer& L : layers_) states.push_back(L.mixer->new_state(n_ctx, kv));
  return ModelState(std::move(states), n_ctx);
}

KvType Transformer::default_kv_type() const {
  return output_.dtype == DType::kF32 ? KvType::kF32 : KvType::kF16;
}

bool Transformer::supports_kv_type(KvType kv) const {
  for (const LayerSpec& L : spec_.layers) {
    if (L.mixer == MixerKind::kAttention && !kv_type_supports(kv, L.attn.head_dim)) return false;
  }
  return true;
}

size_t Transformer::state_bytes_read(int n_past, KvType kv) const {
  size_t b = 0;
  for (const Layer& L : layers_) b += L.mixer->state_bytes_read(n_past, kv);
  return b;
}

void Transformer::forward(std::span<const int32_t> tokens, ModelState& state, Workspace& ws,
                          float* logits, bool all_logits, ThreadPool& pool,
                          std::span<const int32_t> parents, bool per_token) const {
  const int n = static_cast<int>(tokens.size());
  const int d = spec_.n_embd;
  const size_t nd = size_t(n) * d;
  Batch batch{n, state.n_past()};
  batch.per_token = per_token;
  const PerTokenMatmuls matmul_mode(per_token);
  std::vector<int32_t> depth;
  if (!parents.empty()) {
    // Refused before anything is written: a ring or recurrent state
    // half-updated by a failed pass could not be rolled back.
    if (!state.can_keep_path()) {
      throw Error(ErrorCode::kUnsupported,
                  "tree batch: this model has layer state that can only follow a chain "
                  "(recurrent, or a sliding-window ring)");
    }
    tree_batch(parents, n, batch, depth);
  }
  float* x = ws.get(kX, nd);
  float* xn = ws.get(kXn, nd);
  float* out = ws.get(kOut, nd);
  for (int t = 0; t < n; ++t) matrix_row_f32(embed_, tokens[t], x + size_t(t) * d);
  if (spec_.embed_scale != 1.f) {
    for (size_t i = 0; i < nd; ++i) x[i] *= spec_.embed_scale;
  }
  // Gemma's sandwich norm: the block output is normed before the residual
  // add. Per token: x += out (post-normed if the layer has one), then
  // xn = norm(x) with the next block's weights (none after the last layer).
  auto residual_then_norm = [&](const std::vector<float>& post, const std::vector<float>* next) {
    for_tokens(n, pool, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        float* xt = x + size_t(t) * d;
        float* ot = out + size_t(t) * d;
        if (!post.empty()) rmsnorm(ot, post.data(), ot, d, spec_.norm_eps);
        for (int i = 0; i < d; ++i) xt[i] += ot[i];
        if (next != nullptr) rmsnorm(xt, next->data(), xn + size_t(t) * d, d, spec_.norm_eps);
      }
    });
  };

  for_tokens(n, pool, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      rmsnorm(x + size_t(t) * d, layers_[0].attn_norm.data(), xn + size_t(t) * d, d, spec_.norm_eps);
    }
  });
  for (int il = 0; il < spec_.n_layer(); ++il) {
    const Layer& L = layers_[il];
    L.mixer->forward(xn, out, batch, state.layer(il), ws, pool);
    residual_then_norm(L.post_attn_norm, &L.ffn_norm);
    L.ffn->forward(xn, out, n, ws, pool);
    residual_then_norm(L.post_ffn_norm, il + 1 < spec_.n_layer() ? &layers_[il + 1].attn_norm : nullptr);
  }
  state.append(tokens.data(), n);
  if (!logits) return;

  const int first = all_logits ? 0 : n - 1;
  float* xf = ws.get(kFinal, size_t(n - first) * d);
  for (int t = first; t < n; ++t) {
    rmsnorm(x + size_t(t) * d, output_norm_.data(), xf + size_t(t - first) * d, d, spec_.norm_eps);
  }
  matmul(output_, xf, n - first, d, logits, spec_.n_vocab, pool);
  if (const float cap = spec_.final_logit_softcap; cap > 0.f) {
    const size_t nl = size_t(n - first) * spec_.n_vocab;
    for (size_t i = 0; i < nl; ++i) logits[i] = cap * std::tanh(logits[i] / cap);
  }
}

void Transformer::tree_batch(std::span<const int32_t> parents, int n, Batch& batch,
                             std::vector<int32_t>& depth) const {
  if (static_cast<int>(parents.size()) != n)
    throw Error(ErrorCode::kInvalidArgument, "tree batch: one parent per token needed");
  depth.resize(size_t(n));
  for (int t = 0; t < n; ++t) {
    const int32_t p = parents[size_t(t)];
    if (p < -1 || p >= t)
      throw Error(ErrorCode::kInvalidArgument, "tree batch: parent of token " + std::to_string(t) + " must be in [-1, " + std::to_string(t) + ")");
    depth[size_t(t)] = p < 0 ? 1 : depth[size_t(p)] + 1;
  }
  batch.parent = parents.data();
  batch.depth = depth.data();
}

const float* Transformer::last_hidden(Workspace& ws, int n) const {
  return ws.get(kX, size_t(n) * size_t(spec_.n_embd));
}

void Transformer::keep_path(ModelState& state, int pos0, const std::vector<int32_t>& path) const {
  if (!state.keep_path(pos0, path))
    throw Error(ErrorCode::kUnsupported, "tree batch: a layer state cannot keep a path (recurrent)");
}

void Transformer::rollback(ModelState& state, int n, Workspace& ws, ThreadPool& pool, bool per_token) const {
  if (n < 0 || n > state.n_past()) {
    throw Error(ErrorCode::kInvalidArgument, "rollback: " + std::to_string(n) +
                                                 " is outside [0, " +
                                                 std::to_string(state.n_past()) + "]");
  }
  if (n == state.n_past() || state.truncate(n)) return;
  std::vector<int32_t> history(state.tokens().begin(), state.tokens().begin() + n);
  const int from = state.restore_snapshot_at_or_before(n);
  if (from < n) {
    forward(std::span<const int32_t>(history).subspan(from), state, ws, nullptr, false, pool, {}, per_token);
  }
}

}  // namespace nagi
