// A speculator guesses the next tokens cheaply; the target model checks the
// guesses in one batched pass (verifier.h). Implementations: prompt lookup
// (lookup_speculator.h), a smaller draft model (draft_model_speculator.h).
// A multi-token-prediction head (Qwen3.5 MTP) plugs in the same way: it gets
// the context and proposes from the target's own hidden state, which it can
// reach through whatever it was constructed with.
#pragma once

#include <span>

#include "spec/draft.h"

namespace nagi {

class Speculator {
 public:
  virtual ~Speculator() = default;

  // `context` is every token so far (prompt and accepted output); its last
  // token sits at position context.size() - 1 and has not been evaluated by
  // the target yet. Proposes at most `max_tokens` tokens (all of them
  // together, whatever the tree shape) into `out` (cleared first); proposing
  // nothing is allowed and makes the step a plain decode.
  virtual void propose(std::span<const int32_t> context, int max_tokens, Draft& out) = 0;

  // For speculators that draft from the target's own hidden states (an MTP
  // head predicts token p + 2 from the hidden state at p and the embedding
  // of token p + 1). When true, after every verification pass the decoder
  // calls on_verified() with the hidden states (after the last layer, before
  // the final norm, [rows, n_embd]) of the batch rows that were kept, in
  // order: the context's last token, then the accepted draft tokens.
  virtual bool wants_hidden_states() const { return false; }
  virtual void on_verified(std::span<const float> /*hidden*/, int /*n_embd*/) {}
};

}  // namespace nagi
