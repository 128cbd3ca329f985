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
};

}  // namespace nagi
