// The decoder stack shared by every architecture: token embedding, one
// (norm -> mixer -> residual, norm -> FFN -> residual) block per layer with
// the layer's mixer (attention, short convolution, gated DeltaNet), final
// norm and output projection. Weights are bound from a TensorStore with
// every shape and dtype checked.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "format/tensor_store.h"
#include "kernels/ops.h"
#include "model/ffn.h"
#include "model/layer_state.h"
#include "model/mixer.h"
#include "model/model_state.h"
#include "model/spec.h"

namespace nagi {

class ThreadPool;

class Transformer {
 public:
  // Binds and validates weights; throws Error(kFormat) naming the tensor's
  // source and the mismatch. `what` names the model for messages (its path).
  Transformer(ModelSpec spec, const TensorStore& store, const std::string& what);
  ~Transformer();

  const ModelSpec& spec() const { return spec_; }

  // A fresh, empty state for up to n_ctx positions, K/V rows stored as `kv`.
  ModelState new_state(int n_ctx, KvType kv = KvType::kF32) const;

  // The KV storage a session gets unless it asks for one: f32 for models
  // whose output projection is f32 (reference checkpoints, where f16 keys
  // would cost the 1e-4 agreement), f16 otherwise, as llama.cpp does.
  KvType default_kv_type() const;
  // Whether every attention layer can store its heads as `kv`.
  bool supports_kv_type(KvType kv) const;

  // Evaluates `tokens` at positions state.n_past().. and appends them to the
  // state. Writes logits [n, n_vocab] (all_logits) or the last row only
  // [1, n_vocab] into `logits`; logits == nullptr skips the output
  // projection. Token ids and the context limit must have been checked by
  // the caller.
  // `parents` (empty: a chain) makes the batch a tree, see Batch; only
  // models without recurrent state accept trees (Error kUnsupported).
  // `per_token`: each token's logits, and the state it leaves, are bit for
  // bit those of one-token passes (Batch::per_token), at about the cost of
  // decode's kernels per token. Speculative verification needs it: with
  // int8-quantized activations, rounding differences of a GEMM or a tiled
  // attention flip quantization steps and move quantized models' logits by
  // up to ~0.1, enough to change sampled tokens.
  void forward(std::span<const int32_t> tokens, ModelState& state, Workspace& ws,
               float* logits, bool all_logits, ThreadPool& pool,
               std::span<const int32_t> parents = {}, bool per_token = false) const;

  // Makes `state` hold exactly its first n tokens, as if the later ones had
  // never been evaluated: truncation where every layer allows it, else the
  // newest snapshot at or before n plus a replay of the tokens after it.
  // `per_token`: the replay runs as one-token passes (see forward), which
  // reproduces bit for bit tokens that were evaluated that way (speculative
  // verification); otherwise it is a batch, as a prompt's prefill.
  void rollback(ModelState& state, int n, Workspace& ws, ThreadPool& pool, bool per_token = false) const;

  // Keeps the accepted path of a tree batch evaluated at pos0 (see
  // ModelState::keep_path); throws Error(kUnsupported) for recurrent models.
  void keep_path(ModelState& state, int pos0, const std::vector<int32_t>& path) const;

  // The residual stream after the last layer (before the final norm) of the
  // last forward()'s tokens, [n, n_embd], valid until the next forward with
  // the same workspace. MTP heads draft from it.
  const float* last_hidden(Workspace& ws, int n) const;

  // True when some layer's state cannot always be truncated (conv/recurrent
  // states, sliding-window rings): rollback then relies on snapshots.
  bool needs_snapshots() const { return needs_snapshots_; }
  // True when some layer is not attention (conv/recurrent state: chains only,
  // rollback by snapshot + replay).
  bool has_recurrent_state() const { return has_recurrent_; }

  // Bytes of KV/recurrent state read per decoded token at context n_past.
  size_t state_bytes_read(int n_past, KvType kv = KvType::kF32) const;

 private:
  struct Layer {
    std::vector<float> attn_norm, ffn_norm;
    std::vector<float> post_attn_norm, post_ffn_norm;  // empty unless LayerSpec::post_norms
    std::unique_ptr<Mixer> mixer;
    std::unique_ptr<FeedForward> ffn;
  };

  void tree_batch(std::span<const int32_t> parents, int n, Batch& batch,
                  std::vector<int32_t>& depth) const;

  ModelSpec spec_;
  Matrix embed_, output_;
  std::vector<float> output_norm_;
  std::vector<Layer> layers_;
  bool needs_snapshots_ = false;
  bool has_recurrent_ = false;
};

}  // namespace nagi
