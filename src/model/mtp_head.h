// The multi-token-prediction (MTP) head Qwen3.5 / Qwen3-Next ship beside the
// main stack, evaluable: given the target's hidden state at position p and
// the token at p + 1 it predicts the token at p + 2, so speculative decoding
// can draft without a second model (spec/mtp_speculator.h).
//
// Canonical tensors are llama.cpp's GGUF names for the block after the main
// stack, b = n_layer (the HF loader renames mtp.* to them):
//   blk.b.nextn.enorm      mtp.pre_fc_norm_embedding   (stored as 1 + w)
//   blk.b.nextn.hnorm      mtp.pre_fc_norm_hidden      (1 + w)
//   blk.b.nextn.eh_proj    mtp.fc  [n_embd, 2 n_embd]
//   blk.b.attn_*, ffn_*    mtp.layers.0.* (a gated full-attention layer)
//   blk.b.nextn.shared_head_norm  mtp.norm             (1 + w)
// plus the model's token embedding and output matrix (shared; a GGUF may carry
// blk.b.nextn.embed_tokens / shared_head_head instead).
//
// The computation follows vLLM's Qwen3NextMultiTokenPredictor.forward
// (vllm/model_executor/models/qwen3_next_mtp.py):
//   z   = eh_proj · [enorm(embed(x_{p+1})) ; hnorm(h_p)]   (embedding first)
//   z  += attn(attn_norm(z));  z += ffn(ffn_norm(z))        (its own KV cache)
//   g   = shared_head_norm(z);  logits = output · g
// h_p is what the target hands its drafter: in vLLM the model's forward
// output, i.e. the residual stream after the last layer AND the final norm
// (target_input() applies it). For further draft steps vLLM's proposer feeds
// the head's own g back as h (SpecDecodeBaseProposer: for "mtp" the hidden
// state it returns is the one the logits are computed from). Qwen3.5 ships
// one MTP layer; with more, vLLM uses layer k for draft step k, while this
// head always uses the first (drafts differ, outputs never do).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "format/tensor_store.h"
#include "kernels/ops.h"
#include "model/ffn.h"
#include "model/mixer.h"
#include "model/model_state.h"
#include "model/spec.h"

namespace nagi {

class ThreadPool;

class MtpHead {
 public:
  // Binds the first MTP block of `spec` from `store` with every shape
  // checked. Throws Error(kUnsupported) naming `what` (the model's path)
  // when the model has no MTP block or no full-attention layer to take the
  // block's shape from, Error(kFormat) naming the tensor when one is
  // missing or has the wrong shape.
  MtpHead(const ModelSpec& spec, const TensorStore& store, const std::string& what);
  ~MtpHead();
  MtpHead(MtpHead&&) noexcept;

  int n_embd() const { return n_embd_; }
  int n_vocab() const { return n_vocab_; }

  // The head's own state: one KV cache for up to n_ctx entries.
  ModelState new_state(int n_ctx, KvType kv = KvType::kF32) const;

  // The target's residual stream after its last layer ([n, n_embd], what
  // Transformer::last_hidden gives) -> the hidden state the head consumes.
  void target_input(const float* residual, int n, float* out) const;

  // Evaluates n entries at positions state.n_past()..: entry t pairs
  // hidden[t] (a target_input() row, or a previous step's hidden_out row)
  // with the embedding of tokens[t], and is appended to `state`.
  // hidden_out [n, n_embd] receives g (the input of a further step);
  // logits (if not null) [n, n_vocab] or, unless all_logits, the last row's.
  // `ws` is the caller's, distinct from the target's.
  void forward(std::span<const int32_t> tokens, const float* hidden, ModelState& state, Workspace& ws,
               float* hidden_out, float* logits, bool all_logits, ThreadPool& pool) const;

 private:
  int n_embd_ = 0;
  int n_vocab_ = 0;
  float norm_eps_ = 0;
  Matrix embed_, output_, eh_proj_;
  std::vector<float> target_norm_, enorm_, hnorm_, attn_norm_, ffn_norm_, head_norm_;
  std::unique_ptr<Mixer> attn_;
  std::unique_ptr<FeedForward> ffn_;
};

}  // namespace nagi
