#include "model/mtp_head.h"

#include <algorithm>
#include <cstring>

#include "model/mixers/attention.h"
#include "model/weights.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

// Workspace slots of the head itself; FFN and mixer use theirs (>= 4).
enum Slot { kCat = 0, kZ = 1, kZn = 2, kOut = 3 };

// The main spec plus the MTP block as layer n_layer, shaped like the main
// stack's full-attention layers (vLLM builds it as a Qwen3NextDecoderLayer
// with layer_type "full_attention" and the model's config), with the FFN
// width its tensors have.
ModelSpec with_mtp_layer(const ModelSpec& spec, const TensorStore& store, const std::string& what) {
  if (spec.n_mtp_layers < 1) {
    throw Error(ErrorCode::kUnsupported, what + " has no multi-token-prediction (MTP) head");
  }
  auto attn = std::find_if(spec.layers.begin(), spec.layers.end(),
                           [](const LayerSpec& l) { return l.mixer == MixerKind::kAttention; });
  if (attn == spec.layers.end()) {
    throw Error(ErrorCode::kUnsupported, what + ": an MTP head needs a full-attention layer to take its shape from");
  }
  ModelSpec s = spec;
  LayerSpec L = *attn;
  const std::string gate = "blk." + std::to_string(spec.n_layer()) + ".ffn_gate.weight";
  const TensorView& g = store.get(gate, what);
  if (g.shape.size() != 2 || g.shape[0] <= 0 || g.shape[0] > (int64_t(1) << 30)) {
    throw Error(ErrorCode::kFormat, g.source + ": expected a [n_ff, n_embd] matrix");
  }
  L.n_ff = static_cast<int>(g.shape[0]);
  s.layers.push_back(L);
  return s;
}

}  // namespace

MtpHead::MtpHead(const ModelSpec& spec, const TensorStore& store, const std::string& what)
    : n_embd_(spec.n_embd), n_vocab_(spec.n_vocab), norm_eps_(spec.norm_eps) {
  const ModelSpec s = with_mtp_layer(spec, store, what);
  const int b = spec.n_layer();
  const std::string p = "blk." + std::to_string(b) + ".";
  const int64_t d = n_embd_;
  auto matrix_or = [&](const std::string& own, const std::string& shared) {
    return bind_matrix(store, store.find(own) ? own : shared, n_vocab_, d, what);
  };
  embed_ = matrix_or(p + "nextn.embed_tokens.weight", "token_embd.weight");
  output_ = matrix_or(p + "nextn.shared_head_head.weight", spec.tied_embeddings ? "token_embd.weight" : "output.weight");
  eh_proj_ = bind_matrix(store, p + "nextn.eh_proj.weight", d, 2 * d, what);
  target_norm_ = bind_vector(store, "output_norm.weight", d, what);
  enorm_ = bind_vector(store, p + "nextn.enorm.weight", d, what);
  hnorm_ = bind_vector(store, p + "nextn.hnorm.weight", d, what);
  head_norm_ = bind_vector(store, p + "nextn.shared_head_norm.weight", d, what);
  attn_norm_ = bind_vector(store, p + "attn_norm.weight", d, what);
  ffn_norm_ = bind_vector(store, p + spec.ffn_norm_name, d, what);
  attn_ = std::make_unique<AttentionMixer>(s, b, store, what);
  ffn_ = std::make_unique<FeedForward>(s, b, store, what);
}

MtpHead::~MtpHead() = default;
MtpHead::MtpHead(MtpHead&&) noexcept = default;

ModelState MtpHead::new_state(int n_ctx, KvType kv) const {
  std::vector<std::unique_ptr<LayerState>> states;
  states.push_back(attn_->new_state(n_ctx, kv));
  return ModelState(std::move(states), n_ctx);
}

void MtpHead::target_input(const float* residual, int n, float* out) const {
  for (int t = 0; t < n; ++t) {
    rmsnorm(residual + size_t(t) * n_embd_, target_norm_.data(), out + size_t(t) * n_embd_, n_embd_, norm_eps_);
  }
}

void MtpHead::forward(std::span<const int32_t> tokens, const float* hidden, ModelState& state, Workspace& ws,
                      float* hidden_out, float* logits, bool all_logits, ThreadPool& pool) const {
  const int n = static_cast<int>(tokens.size());
  const int d = n_embd_;
  const size_t nd = size_t(n) * d;
  float* cat = ws.get(kCat, 2 * nd);
  float* z = ws.get(kZ, nd);
  float* zn = ws.get(kZn, nd);
  float* out = ws.get(kOut, nd);
  // [enorm(embedding) ; hnorm(hidden)]: vLLM concatenates inputs_embeds first.
  for (int t = 0; t < n; ++t) {
    float* row = cat + size_t(t) * 2 * d;
    matrix_row_f32(embed_, tokens[size_t(t)], out);
    rmsnorm(out, enorm_.data(), row, d, norm_eps_);
    rmsnorm(hidden + size_t(t) * d, hnorm_.data(), row + d, d, norm_eps_);
  }
  matmul(eh_proj_, cat, n, 2 * d, z, d, pool);

  const Batch batch{n, state.n_past()};
  for (int t = 0; t < n; ++t) rmsnorm(z + size_t(t) * d, attn_norm_.data(), zn + size_t(t) * d, d, norm_eps_);
  attn_->forward(zn, out, batch, state.layer(0), ws, pool);
  for (size_t i = 0; i < nd; ++i) z[i] += out[i];
  for (int t = 0; t < n; ++t) rmsnorm(z + size_t(t) * d, ffn_norm_.data(), zn + size_t(t) * d, d, norm_eps_);
  ffn_->forward(zn, out, n, ws, pool);
  for (size_t i = 0; i < nd; ++i) z[i] += out[i];
  state.append(tokens.data(), n);

  for (int t = 0; t < n; ++t) rmsnorm(z + size_t(t) * d, head_norm_.data(), hidden_out + size_t(t) * d, d, norm_eps_);
  if (!logits) return;
  const int first = all_logits ? 0 : n - 1;
  matmul(output_, hidden_out + size_t(first) * d, n - first, d, logits, n_vocab_, pool);
}

}  // namespace nagi
