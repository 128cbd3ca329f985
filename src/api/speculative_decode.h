// The speculative-decoding loop of Session::generate: propose with a
// speculator, verify in one batched pass of the model, keep the accepted
// tokens and roll the cache back to them (spec/ has the pieces).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "api/model_impl.h"
#include "runtime/sampler.h"
#include "spec/speculator.h"

namespace nagi {

// The speculator options.speculative asks for (owned by `s`: the MTP one
// lives as long as the session), or null for plain decoding.
// Throws Error(kInvalidArgument) for bad options (draft_max < 1, no draft
// model, a draft with another vocabulary) and Error(kUnsupported) for MTP on
// a model without an MTP head (naming the model's path).
Speculator* make_speculator(const GenerateOptions& options, Session::Impl& s);

// Generates from `work` (the logits after history's last token, already
// evaluated) until `emit` returns false. `emit` appends a token to history
// and the result, as plain decoding does. Fills result.n_decode and
// result.speculative. Expects result.n_prefill / n_reused of the prefill
// that just ran (its hidden states go to speculators that want them).
void speculative_decode(Session::Impl& s, const GenerateOptions& options, Sampler& sampler,
                        Speculator& speculator, std::vector<float>& work,
                        std::vector<int32_t>& history, const std::function<bool(int32_t)>& emit,
                        GenerateResult& result);

}  // namespace nagi
