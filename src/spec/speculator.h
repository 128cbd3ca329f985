// A speculator guesses the next tokens cheaply; the target model checks the
// guesses in one batched pass (verifier.h). Implementations: prompt lookup
// (lookup_speculator.h), a smaller draft model (draft_model_speculator.h),
// the target's own multi-token-prediction head (mtp_speculator.h), which
// also gets the target's hidden states.
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
  // of token p + 1). When true, the decoder calls on_hidden_states() with the
  // target's residual stream after its last layer (before the final norm,
  // [rows, n_embd]) for context positions pos0, pos0 + 1, ...: once after
  // the prefill (the prompt positions it evaluated; a reused prefix is not
  // re-evaluated, so pos0 may be > 0), then after every verification pass
  // (pos0 = the context's last token, followed by the accepted draft
  // tokens). Positions from pos0 on replace anything sent before.
  virtual bool wants_hidden_states() const { return false; }
  virtual void on_hidden_states(std::span<const float> /*hidden*/, int /*n_embd*/, int /*pos0*/) {}
};

}  // namespace nagi
